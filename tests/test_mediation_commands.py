"""Mediator commands: # lines in German and English, read only above quoted text."""

from __future__ import annotations

import pytest

from mediation.commands import Problem, ProblemCode, parse
from mediation.events import (
    DeadlineExtended,
    MediationClosed,
    MediatorMessaged,
    MediatorNoted,
    ProposalMade,
)


@pytest.mark.parametrize(
    "line, event",
    [
        ("#vorschlag Erstattung von 50 Euro", ProposalMade("Erstattung von 50 Euro")),
        ("#proposal A refund of 50 euros", ProposalMade("A refund of 50 euros")),
        ("#Vorschlag: Erstattung", ProposalMade("Erstattung")),
        ("#frist 5", DeadlineExtended(5)),
        ("#extend 3 business days", DeadlineExtended(3)),
        ("#notiz Händler telefonisch erreicht", MediatorNoted("Händler telefonisch erreicht")),
        ("#note called the merchant", MediatorNoted("called the merchant")),
        ("#abschluss gelöst", MediationClosed(resolved=True)),
        ("#abschluss ungelöst", MediationClosed(resolved=False)),
        ("#abschluss geloest", MediationClosed(resolved=True)),
        ("#close resolved", MediationClosed(resolved=True)),
        ("  #CLOSE Unresolved.", MediationClosed(resolved=False)),
    ],
)
def test_each_command_in_german_and_english(line: str, event: object) -> None:
    """Every command word of PRODUCT.md becomes its event."""
    parsed = parse(line)
    assert parsed.events == (event,) and parsed.problems == ()


def test_the_message_comes_first_then_the_commands_in_order() -> None:
    """Text outside commands is the message to both parties; it is applied first."""
    parsed = parse(
        "Liebe Parteien,\n\nich habe beide Seiten gehört.\n"
        "#notiz Kunde wirkt kompromissbereit\n"
        "#frist 2\n"
        "Bitte antworten Sie bis dahin.\n"
        "#vorschlag Der Händler erstattet 120 Euro.\nDie Rücksendung entfällt.\n"
    )
    assert parsed.events == (
        MediatorMessaged(
            "Liebe Parteien,\n\nich habe beide Seiten gehört.\nBitte antworten Sie bis dahin."
        ),
        MediatorNoted("Kunde wirkt kompromissbereit"),
        DeadlineExtended(2),
        ProposalMade("Der Händler erstattet 120 Euro.\nDie Rücksendung entfällt."),
    )
    assert parsed.message.startswith("Liebe Parteien")


def test_a_blank_line_ends_a_proposal_and_the_rest_is_the_message() -> None:
    """The greeting and signature after a proposal go to both parties as the message;
    a proposal's own lines (points, without a blank line) stay together, and a
    proposal that starts on the line after the command is read too."""
    parsed = parse(
        "#proposal The shop refunds 50 EUR.\n- The customer keeps the sofa.\n\n"
        "Dear both, please consider this proposal.\nMia\n"
    )
    assert parsed.events == (
        MediatorMessaged("Dear both, please consider this proposal.\nMia"),
        ProposalMade("The shop refunds 50 EUR.\n- The customer keeps the sofa."),
    )
    later = parse("#vorschlag\n\nDer Händler erstattet 50 Euro.\n\nViele Grüße\nMia\n")
    assert later.events == (
        MediatorMessaged("Viele Grüße\nMia"),
        ProposalMade("Der Händler erstattet 50 Euro."),
    )


def test_the_blank_lines_around_a_removed_command_are_one() -> None:
    """A command between blank lines leaves one blank line in the message, however many
    commands stood there; the mediator's own blank lines stay as written."""
    parsed = parse("I suggest the following solution.\n\n#proposal 50 EUR refund.\n\nSam\n")
    assert parsed.message == "I suggest the following solution.\n\nSam"
    assert parse("Hallo,\n\n#frist 5\n\n#notiz intern\n\nMia").message == "Hallo,\n\nMia"
    assert parse("Erstens.\n#frist 3\nZweitens.").message == "Erstens.\nZweitens."
    assert parse("Erstens.\n\n\nZweitens.\n#frist 3").message == "Erstens.\n\n\nZweitens."


def test_quoted_lines_are_never_read() -> None:
    """Reading stops at the first quoted line, so a quoted #abschluss does nothing."""
    parsed = parse("Danke für die Fotos.\n\n> #abschluss gelöst\n#abschluss gelöst\n")
    assert parsed.events == (MediatorMessaged("Danke für die Fotos."),)


def test_an_order_number_with_a_hash_is_text() -> None:
    """#12345 at the start of a line is an order number, not a command."""
    parsed = parse("#12345 wurde storniert")
    assert parsed.events == (MediatorMessaged("#12345 wurde storniert"),)
    assert parsed.problems == ()


@pytest.mark.parametrize(
    "line, code",
    [
        ("#abschlus gelöst", ProblemCode.UNKNOWN_COMMAND),
        ("#frist", ProblemCode.BAD_DAYS),
        ("#frist fünf", ProblemCode.BAD_DAYS),
        ("#extend 0", ProblemCode.BAD_DAYS),
        ("#extend 9999", ProblemCode.BAD_DAYS),
        ("#abschluss vielleicht", ProblemCode.BAD_OUTCOME),
        ("#close", ProblemCode.BAD_OUTCOME),
        ("#vorschlag", ProblemCode.MISSING_TEXT),
        ("#note   ", ProblemCode.MISSING_TEXT),
    ],
)
def test_a_command_that_cannot_be_read_is_a_problem(line: str, code: ProblemCode) -> None:
    """Misspelt commands and missing or bad arguments are reported, not guessed."""
    parsed = parse(f"Hallo\n{line}")
    assert parsed.problems == (Problem(code, line.strip()),)


def test_a_reply_without_text_has_no_events() -> None:
    """Empty or whitespace-only new text asks for nothing."""
    assert parse("\n  \n").events == ()
