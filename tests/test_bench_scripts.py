"""Every benchmark script under bench/ runs to its figures on a small load.

The targets are judged at the scripts' full sizes, by hand and in closing notes; here
only that each still runs: a schema change once broke `bench/scoring.py` (a new NOT NULL
column its rows did not fill) and nothing noticed. Exit 1 is a target missed, which a
small load may well do; a traceback or no figures is a failure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SMALL_LOADS = {
    "scoring.py": ["--merchants", "40", "--cases", "2000", "--ratings", "400"],
    "web.py": ["--cases", "20", "--ratings", "60", "--requests", "10"],
    "intake.py": ["--clients", "2", "--mails", "10", "--rounds", "1"],
    "replies.py": [],
}
NOT_HERE = {
    "memory.py": "a helper of the others",
    # Each trains the classifier first (15 to 20 s of CI); both run in every session's
    # closing measurements, and their parts run in the e2e tests.
    "pipeline.py": "trains the classifier",
    "classify.py": "trains the classifier",
}


def test_every_benchmark_script_has_a_small_load_or_a_reason() -> None:
    scripts = {path.name for path in (REPO / "bench").glob("*.py")}
    assert scripts == set(SMALL_LOADS) | set(NOT_HERE)


@pytest.mark.parametrize("script", sorted(SMALL_LOADS))
def test_benchmark_script_runs_to_its_figures(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *SMALL_LOADS[script]],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert done.stdout.strip(), done.stderr[-3000:]
