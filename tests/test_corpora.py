"""Real mail from other projects: every file parses within a second, the bounces are
recognised as bounces with their failed recipients, and people's mail is left alone.

The file lists live in `tests/corpora.py` so that the end-to-end corpus test (store
through the spool, run the worker) can walk the same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier import machine
from classifier.machine import detect
from mailflow.parsing import ParsedMail, parse
from tests.conftest import CORPORA
from tests.corpora import (
    FLANKER_BOUNCES,
    FLUFL_BOUNCES,
    NOT_BOUNCES,
    bounce_files,
    corpus_files,
    flanker_labels,
    flufl_expectations,
    label,
    stdlib_mail_files,
)
from tests.cpu_time import cpu_seconds

DOMAIN = "siegel.example"
NO_CORPORA = f"shared corpora not found at {CORPORA}"
PARSE_SECONDS = 1.0

# CPython's test messages that are machine mail, and their kind.
STDLIB_MACHINE = {
    "msg_05.txt": "bounce",  # multipart/report delivery-status
    "msg_16.txt": "bounce",  # RFC 3464 DSN from a mailing list host
    "msg_25.txt": "bounce",  # "Returned mail" from Mail Delivery Subsystem
    "msg_32.txt": "bulk",  # Precedence: bulk list post
    "msg_33.txt": "bulk",  # Precedence: bulk list post
    "msg_42.txt": "bounce",  # From "Mail Delivery Subsystem" with the returned message
    "msg_43.txt": "bounce",  # multipart/report delivery-status
}


def params(paths: list[Path], reason: str) -> list:
    """One test per file; one skipped placeholder with `reason` when there are none."""
    found = [pytest.param(path, id=label(path)) for path in paths]
    return found or [pytest.param(None, marks=pytest.mark.skip(reason=reason))]


def verdict_for(path: Path) -> machine.MachineVerdict | None:
    return detect(parse(path.read_bytes()).message, None, DOMAIN)


@pytest.mark.parametrize("path", params(corpus_files(), NO_CORPORA))
def test_every_corpus_mail_parses_within_a_second(path: Path) -> None:
    """Parsing never raises, takes under a second and gives JSON-storable UTF-8."""
    raw = path.read_bytes()
    parsed = parse(raw)
    elapsed = cpu_seconds(lambda: parse(raw))
    assert elapsed < PARSE_SECONDS, f"{label(path)} took {elapsed:.3f} s"
    json.dumps(parsed.to_json(), ensure_ascii=False).encode("utf-8")
    fallbacks = [d for d in parsed.defects if d.split(":")[0].endswith("-failed")]
    assert fallbacks == []  # mail-parser and the stdlib both coped; no step down was needed


@pytest.mark.parametrize("path", params(corpus_files(), NO_CORPORA))
def test_every_rule_runs_on_every_corpus_mail(path: Path) -> None:
    """No machine rule raises on real, broken MIME (detect would hide it as "not fired")."""
    facts = machine.Facts(parse(path.read_bytes()).message, None, DOMAIN)
    for _, rule in machine.RULES:
        rule(facts)


@pytest.mark.parametrize("path", params(bounce_files(), NO_CORPORA))
def test_every_bounce_is_recognised_as_a_bounce_or_delay(path: Path) -> None:
    """flufl.bounce's and flanker's bounces are bounces or delay warnings."""
    verdict = verdict_for(path)
    if path.name in NOT_BOUNCES and path.parent == FLUFL_BOUNCES:
        expected = NOT_BOUNCES[path.name]
        assert (verdict.kind if verdict else None) == expected
        return
    assert verdict is not None, label(path)
    assert verdict.kind in {"bounce", "delay"}, (label(path), verdict)


FLUFL_LABELLED = [
    p
    for p in sorted(FLUFL_BOUNCES.glob("*.txt"))
    if p.name in flufl_expectations() and p.name not in NOT_BOUNCES
] if FLUFL_BOUNCES.is_dir() else []  # fmt: skip


@pytest.mark.parametrize("path", params(FLUFL_LABELLED, NO_CORPORA))
def test_delay_warnings_are_told_from_final_failures(path: Path) -> None:
    """flufl.bounce's `temporary` flag matches our delay-versus-bounce decision."""
    verdict = verdict_for(path)
    assert verdict is not None
    assert verdict.detail["temporary"] is flufl_expectations()[path.name]["temporary"]
    assert (verdict.kind == "delay") is flufl_expectations()[path.name]["temporary"]


def test_rfc3464_reports_name_the_expected_failed_recipients() -> None:
    """Where our DSN rule decided, every address flufl.bounce expects is among ours."""
    if not FLUFL_LABELLED:
        pytest.skip(NO_CORPORA)
    reports, missed = 0, []
    for path in FLUFL_LABELLED:
        verdict = verdict_for(path)
        if verdict is None or verdict.rule != "dsn":
            continue
        reports += 1
        expected = {a.lower() for a in flufl_expectations()[path.name]["addresses"]}
        if not expected <= {a.lower() for a in verdict.detail["failed_recipients"]}:
            missed.append((path.name, sorted(expected), verdict.detail["failed_recipients"]))
    assert reports >= 20
    assert missed == []


def test_non_standard_bounces_name_their_recipients_mostly() -> None:
    """Bounces in no standard format: at least 90 % of the files with expected addresses
    yield all of them (two name the recipient without a domain: aol_01, yale_01)."""
    if not FLUFL_LABELLED:
        pytest.skip(NO_CORPORA)
    hits = total = 0
    for path in FLUFL_LABELLED:
        verdict = verdict_for(path)
        expected = {a.lower() for a in flufl_expectations()[path.name]["addresses"]}
        if verdict is None or verdict.rule == "dsn" or not expected:
            continue
        total += 1
        hits += expected <= {a.lower() for a in verdict.detail["failed_recipients"]}
    assert total > 50
    assert hits / total >= 0.9, f"{hits}/{total}"


FLANKER_LABELLED = sorted(FLANKER_BOUNCES.glob("*.eml")) if FLANKER_BOUNCES.is_dir() else []


@pytest.mark.parametrize("path", params(FLANKER_LABELLED, NO_CORPORA))
def test_flanker_bounces_have_the_labelled_kind_and_status(path: Path) -> None:
    """flanker's labels: a final failure is a bounce, a delay warning a delay, and the
    RFC 3464 Status code is the one the report carries."""
    expected = flanker_labels()[f"bounce/{path.name}"]
    verdict = verdict_for(path)
    assert verdict is not None
    assert verdict.kind == {"bounce": "bounce", "delay_warning": "delay"}[expected["kind"]]
    if expected["status"]:
        assert verdict.detail["status"] == expected["status"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("complaints/aol.eml", "feedback_report"),
        ("complaints/yahoo.eml", "feedback_report"),
        ("disposition-notification.eml", "read_receipt"),
        ("signed.eml", None),
    ],
)
def test_flanker_reports_and_signed_mail(name: str, kind: str | None) -> None:
    """ARF reports and the read receipt are recognised; the signed mail is a person's."""
    path = CORPORA / "flanker" / "messages" / name
    if not path.is_file():
        pytest.skip(NO_CORPORA)
    verdict = verdict_for(path)
    assert (verdict.kind if verdict else None) == kind


TALON_REPLIES = (
    sorted((CORPORA / "talon" / "fixtures").glob("**/*.eml"))
    if (CORPORA / "talon").is_dir()
    else []
)


@pytest.mark.parametrize("path", params(TALON_REPLIES, NO_CORPORA))
def test_replies_people_wrote_are_not_machine_mail(path: Path) -> None:
    """talon's replies from twelve mail clients are people's mail."""
    assert verdict_for(path) is None


@pytest.mark.parametrize(
    "path", params(stdlib_mail_files(), "the stdlib's test.test_email data is not installed")
)
def test_stdlib_messages_are_machine_mail_only_where_they_are(path: Path) -> None:
    """CPython's test messages: the DSNs and list posts are machine mail, nothing else."""
    verdict = verdict_for(path)
    assert (verdict.kind if verdict else None) == STDLIB_MACHINE.get(path.name)


MAIL_PARSER = CORPORA / "mail-parser" / "mails"


def mail_parser_file(name: str) -> ParsedMail:
    path = MAIL_PARSER / name
    if not path.is_file():
        pytest.skip(NO_CORPORA)
    return parse(path.read_bytes())


def test_mail_parser_corpus_addresses_with_commas_and_quotes() -> None:
    """mail_test_18: an encoded display name with a comma, a quoted nickname in Cc."""
    parsed = mail_parser_file("mail_test_18")
    assert (parsed.from_name, parsed.from_address) == (
        "LastßlName, FirstName",
        "comma.name@example.com",
    )
    assert parsed.to == ["tony.stark@example.com"]
    assert parsed.cc == ["simple@example.net", "john.doe@example.com"]


def test_mail_parser_corpus_broken_boundaries_are_defects() -> None:
    """Missing start and close boundaries are recorded and the attachments still listed."""
    malformed = mail_parser_file("mail_malformed_1")
    assert any("StartBoundaryNotFoundDefect" in d for d in malformed.defects)
    assert [a["content_type"] for a in malformed.attachments] == ["application/zip"]
    unclosed = mail_parser_file("mail_test_1")
    assert any("CloseBoundaryNotFoundDefect" in d for d in unclosed.defects)
    assert [a["filename"] for a in unclosed.attachments] == ["ФНС_РФ558.zip"]


def test_mail_parser_corpus_attachment_names_are_text() -> None:
    """Encoded and RFC 2231 filenames (Polish, Cyrillic) decode to text."""
    assert len(mail_parser_file("mail_test_5").attachments) == 5
    names = [a["filename"] for a in mail_parser_file("mail_test_11").attachments]
    assert names and "Śródmieście" in names[0]
    assert len(mail_parser_file("mail_test_3").attachments) == 1
