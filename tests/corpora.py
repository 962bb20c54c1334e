"""The real mail files the tests run over: the shared corpora and the stdlib's email data.

`corpus_files()` lists every file that is a whole mail (headers and body), in a stable
order; fixtures that are bodies only (reply-extraction texts, address lists, expected
outputs, images) are left out. Files come back as paths into the read-only folders:
tests read them, never copy them. An absent folder contributes nothing; tests that need
the corpora skip when `CORPORA` is missing.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from tests.conftest import CORPORA

# (folder below CORPORA, glob): the folders that hold whole mails.
_MAIL_GLOBS = (
    ("flanker/messages", "**/*.eml"),
    ("mail-parser/mails", "*"),
    ("flufl-bounce/data", "*.txt"),
    ("talon/fixtures", "**/*.eml"),
)
# Files in the bounce folders that are not bounces, and what they are instead.
NOT_BOUNCES = {
    # An Outlook 2003 reply written by a person (X-Mailer, Thread-Index, a quoted thread);
    # flufl.bounce's own table expects no bouncing address from it.
    "groupwise_03.txt": None,
    # A Spanish "thanks for contacting us" auto-reply (Precedence: auto_reply).
    "qmail_08.txt": "auto_reply",
}
FLUFL_BOUNCES = CORPORA / "flufl-bounce" / "data"
FLANKER_BOUNCES = CORPORA / "flanker" / "messages" / "bounce"


def stdlib_email_data() -> Path | None:
    """CPython's `test/test_email/data` folder, or None where the `test` package is absent."""
    try:
        import test.test_email
    except ImportError:
        return None
    folder = Path(test.test_email.__file__).parent / "data"
    return folder if folder.is_dir() else None


def stdlib_mail_files() -> list[Path]:
    folder = stdlib_email_data()
    return sorted(folder.glob("msg_*.txt")) if folder else []


def shared_mail_files() -> list[Path]:
    files: list[Path] = []
    for folder, pattern in _MAIL_GLOBS:
        files += sorted(p for p in (CORPORA / folder).glob(pattern) if p.is_file())
    return files


def corpus_files() -> list[Path]:
    """Every whole mail in the shared corpora, then the stdlib's 48 test messages."""
    return shared_mail_files() + stdlib_mail_files()


def bounce_files() -> list[Path]:
    """The files that are all delivery failures or warnings (flufl.bounce and flanker)."""
    return sorted(FLUFL_BOUNCES.glob("*.txt")) + sorted(FLANKER_BOUNCES.glob("*.eml"))


@cache
def flufl_expectations() -> dict[str, dict[str, Any]]:
    """flufl.bounce's expected addresses and temporariness per file name."""
    data = json.loads((CORPORA / "flufl-bounce" / "expected.json").read_text())
    expected = dict(data["by_file"])
    expected.update(data.get("extra", {}))
    return expected


@cache
def flanker_labels() -> dict[str, dict[str, Any]]:
    """flanker's labels (kind, status) per path below `flanker/messages`."""
    data = json.loads((CORPORA / "flanker" / "expected_labels.json").read_text())
    return {name: label for name, label in data.items() if not name.startswith("_")}


def label(path: Path) -> str:
    """A short name for test ids and reports: the path below the corpora or stdlib folder."""
    for root in (CORPORA, stdlib_email_data()):
        if root is not None and path.is_relative_to(root):
            return str(path.relative_to(root))
    return path.name
