"""The import contracts of pyproject.toml (`lint-imports`): kept by the code, and able to fail.

`scripts/test` runs `lint-imports` on the repository; these tests also prove that each
contract bites: a copy of the four packages with one forbidden import added, directly or
through another module, must break exactly that contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("mailflow", "classifier", "mediation", "scoring")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def broken(output: str) -> set[str]:
    return {line.removesuffix(" BROKEN") for line in output.splitlines() if line.endswith("BROKEN")}


def copy_of_repository(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "data")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_repository_keeps_every_contract() -> None:
    """The code as it is keeps all import contracts."""
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        ("mediation/_probe.py", "from mailflow import db", "nothing imports mailflow (the shell)"),
        ("scoring/_probe.py", "import mailflow", "nothing imports mailflow (the shell)"),
        (
            "classifier/_probe.py",
            "from mediation import routing",
            "classifier imports neither mediation, scoring nor a database",
        ),
        (
            "classifier/_probe.py",
            "import sqlalchemy",
            "classifier imports neither mediation, scoring nor a database",
        ),
        (
            "classifier/_probe.py",
            "from scoring import Tier",
            "classifier imports neither mediation, scoring nor a database",
        ),
        (
            "scoring/_probe.py",
            "from sqlmodel import Session",
            "scoring imports neither mediation, classifier nor a database",
        ),
        (
            "scoring/_probe.py",
            "import psycopg",
            "scoring imports neither mediation, classifier nor a database",
        ),
        (
            "scoring/_probe.py",
            "from classifier import machine",
            "scoring imports neither mediation, classifier nor a database",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, statement: str, contract: str
) -> None:
    """One forbidden import, added to a copy of the code, breaks exactly its contract."""
    root = copy_of_repository(tmp_path)
    (root / module).write_text(f"{statement}\n", encoding="utf-8")
    result = lint_imports(root)
    assert result.returncode != 0, result.stdout
    assert broken(result.stdout) == {contract}, result.stdout


def test_an_indirect_import_breaks_the_contract_too(tmp_path: Path) -> None:
    """classifier -> a helper of its own -> sqlalchemy is as forbidden as the direct import."""
    root = copy_of_repository(tmp_path)
    (root / "classifier" / "_helper.py").write_text("import sqlalchemy\n", encoding="utf-8")
    (root / "classifier" / "_probe.py").write_text("from classifier import _helper\n")
    result = lint_imports(root)
    assert broken(result.stdout) == {
        "classifier imports neither mediation, scoring nor a database"
    }, result.stdout


LAYERS = "mediation layers: entry, rooms, acts, notices, storage"
ACYCLIC = "no import cycles inside mediation"
DOMAIN_PURE = "the mediation domain reads no database"
NO_SQL = "the case service writes no SQL outside storage"


@pytest.mark.parametrize(
    ("module", "statement", "contracts"),
    [
        # One room calling another: the mail would visit two rooms.
        ("mediation/party_replies.py", "from mediation import deadlines", {LAYERS}),
        # Storage reaching up into a room.
        ("mediation/storage.py", "from mediation import complaints", {LAYERS, ACYCLIC}),
        # The cycle the service once had: notices importing the entry that imports it.
        ("mediation/notices.py", "from mediation import case_service", {LAYERS, ACYCLIC}),
        # (storage asks routing whose an address is: a cycle as well)
        ("mediation/routing.py", "from mediation import storage", {DOMAIN_PURE, ACYCLIC}),
        ("mediation/workflow.py", "import sqlalchemy", {DOMAIN_PURE}),
        ("mediation/party_replies.py", "from sqlalchemy import select", {NO_SQL}),
    ],
)
def test_an_import_against_the_mediation_layers_breaks_its_contracts(
    tmp_path: Path, module: str, statement: str, contracts: set[str]
) -> None:
    """An import added to a module of mediation that breaks its layering, purity or
    SQL rule breaks exactly the contracts that say so."""
    root = copy_of_repository(tmp_path)
    path = root / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{statement}\n", encoding="utf-8")
    result = lint_imports(root)
    assert result.returncode != 0, result.stdout
    assert broken(result.stdout) == contracts, result.stdout


def test_a_cycle_between_new_modules_of_mediation_breaks_the_acyclic_contract(
    tmp_path: Path,
) -> None:
    """Two modules outside the layers that import each other are a cycle all the same."""
    root = copy_of_repository(tmp_path)
    (root / "mediation" / "_probe.py").write_text("from mediation import _helper\n")
    (root / "mediation" / "_helper.py").write_text("from mediation import _probe\n")
    result = lint_imports(root)
    assert broken(result.stdout) == {ACYCLIC}, result.stdout


@pytest.mark.parametrize(
    ("module", "statement"),
    [
        # The cycles the shell once had, type-only imports included.
        ("mailflow/casework.py", "from mailflow.processing import Analysis"),
        ("mailflow/maildir.py", "from mailflow.relay import Relay"),
        ("mailflow/desk_commands.py", "from mailflow import case_commands"),
    ],
)
def test_an_import_cycle_inside_the_shell_breaks_its_contract(
    tmp_path: Path, module: str, statement: str
) -> None:
    root = copy_of_repository(tmp_path)
    path = root / module
    guarded = f"\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    {statement}\n"
    path.write_text(path.read_text(encoding="utf-8") + guarded, encoding="utf-8")
    result = lint_imports(root)
    assert result.returncode != 0, result.stdout
    assert broken(result.stdout) == {
        "no import cycles inside mailflow (type-only imports count)"
    }, result.stdout
