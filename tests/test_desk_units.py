"""The operator's desk, pure parts: mediator choice by load, withdrawal wording, one mail
per party per act, and the new workflow edges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mediation.business_time import BusinessCalendar
from mediation.deadline_policy import Policy
from mediation.events import (
    CustomerWithdrew,
    MediatorReassigned,
    MediatorUnavailable,
    OperatorClosed,
)
from mediation.mediators import Mediator, choose, roster
from mediation.withdrawal import withdraws
from mediation.workflow import (
    CaseSnapshot,
    Notification,
    Party,
    State,
    UnexpectedEvent,
    decide,
    one_per_party,
)

NOW = datetime(2026, 3, 4, 10, tzinfo=UTC)
A, B, C = "a@schlichtung.test", "b@schlichtung.test", "c@schlichtung.test"


def test_the_mediator_with_the_fewest_open_cases_is_chosen_skipping_paused_ones() -> None:
    """Fewest open cases wins, a tie goes to the first listed, a paused one gets none."""
    everyone = (Mediator(A), Mediator(B, paused=True), Mediator(C))
    assert choose(everyone, {A: 3, B: 0, C: 1}) == Mediator(C)
    assert choose(everyone, {A: 1, C: 1}) == Mediator(A)
    assert choose((Mediator(B, paused=True),), {}) is None
    assert choose((), {}) is None


def test_a_mediator_writing_the_customers_language_is_chosen_where_one_is_free() -> None:
    """An English customer's case goes to the free mediator writing English, even with
    more open cases (a black-box run's English customer read German mediator words in
    English mails); without one free, the fewest open cases decide as before. A mediator
    without a language writes the operator's default."""
    everyone = (Mediator(A), Mediator(B, language="en"), Mediator(C, paused=True, language="en"))
    loads = {A: 0, B: 4}
    assert choose(everyone, loads, "en", "de") == Mediator(B, language="en")
    assert choose(everyone, loads, "de", "de") == Mediator(A)
    assert choose(everyone[:1], loads, "en", "de") == Mediator(A)
    assert choose(everyone, loads, "fr", "de") == Mediator(A)


def test_records_win_over_the_configured_seed() -> None:
    """A seeded address without a record is active; a record (paused) wins over it."""
    merged = roster([Mediator(B, paused=True)], [A.upper(), B])
    assert merged == (Mediator(B, paused=True), Mediator(A))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ich ziehe meine Beschwerde zurück.", True),
        ("Hiermit nehme ich die Beschwerde zurück, es hat sich erledigt.", True),
        ("Ich möchte meine Beschwerde zurückziehen.", True),
        ("I withdraw my complaint.", True),
        ("Please consider my complaint withdrawn.", True),
        ("Ich ziehe meine Beschwerde nicht zurück!", False),
        ("Kann ich die Beschwerde zurückziehen?", False),
        ("I do not withdraw my complaint.", False),
        ("Die Ware ging zurück, das Geld fehlt.", False),
        ("Das Problem ist gelöst.", False),
        ("I would like to withdraw my complaint.", True),
        ("Ich ziehe meine Beschwerde zurück, auch wenn ich enttäuscht bin.", True),
        # A black-box run's merchant pressed its customers; none of these withdraws.
        (
            "Der Händler hat mich angerufen und gebeten, die Beschwerde zurückzuziehen. "
            "Das werde ich nicht tun, der Schrank ist immer noch kaputt.",
            False,
        ),
        ("Ich würde die Beschwerde zurückziehen, wenn der Händler mir den Preis erstattet.", False),
        (
            "The shop called and asked me to withdraw my complaint in exchange for a 10 euro "
            "voucher. I refuse, the wardrobe is still broken.",
            False,
        ),
        ("Der Händler meint, ich soll die Beschwerde zurückziehen.", False),
        ("Vielleicht ziehe ich die Beschwerde zurück.", False),
        ("The merchant wants me to withdraw the complaint.", False),
        ("They want me to withdraw my complaint.", False),
        ("The shop told me to withdraw my complaint.", False),
        ("I will withdraw the complaint when the money arrives.", False),
        ("I withdraw my complaint in return for a voucher.", False),
    ],
)
def test_a_withdrawal_is_read_from_the_customers_own_words(text: str, expected: bool) -> None:
    """Withdrawing needs the words; a negation, a question, a condition, a hesitation,
    someone else's wish or a refusal elsewhere in the text withdraws nothing."""
    assert withdraws(text) is expected


def case(state: State, **facts: object) -> CaseSnapshot:
    facts = {"merchant": "shop"} | facts
    return CaseSnapshot(
        ref="SSG-2026-000001",
        calendar=BusinessCalendar(),
        state=state,
        **facts,  # type: ignore[arg-type]
    )


def sent(decision: object) -> list[tuple[str, str]]:
    return [(str(n.to), n.template) for n in decision.notifications]  # type: ignore[attr-defined]


def test_the_operator_closes_with_a_reason_every_party_reads() -> None:
    """OperatorClosed closes any open case; its reason is in the notices' values."""
    closed = decide(
        case(State.IN_MEDIATION, mediator=A), OperatorClosed(False, "Doppelt."), Policy(), NOW
    )
    assert closed.state is State.CLOSED_UNRESOLVED
    assert sent(closed) == [
        ("customer", "closed_by_operator"),
        ("merchant", "closed_by_operator"),
        ("mediator", "closed_by_operator"),
        ("customer", "rating_request"),  # travels in the customer's closing notice
    ]
    assert closed.notifications[0].params["reason"] == "Doppelt."
    with pytest.raises(ValueError):
        OperatorClosed(True, " ")
    with pytest.raises(UnexpectedEvent):
        decide(case(State.CLOSED_RESOLVED), OperatorClosed(True, "x"), Policy(), NOW)


def test_a_withdrawal_before_the_shop_is_known_tells_only_the_customer() -> None:
    withdrawn = decide(
        case(State.NEEDS_MERCHANT, merchant=None), CustomerWithdrew("Ich ziehe zurück."),
        Policy(), NOW,
    )  # fmt: skip
    assert withdrawn.state is State.CLOSED_WITHDRAWN
    assert sent(withdrawn) == [("customer", "withdrawal_confirmed")]


def test_reassigning_tells_the_new_and_the_former_mediator_and_both_parties() -> None:
    moved = decide(case(State.IN_MEDIATION, mediator=A), MediatorReassigned(B, A), Policy(), NOW)
    assert moved.case.mediator == B
    assert sent(moved) == [
        ("mediator", "case_file"),
        ("former_mediator", "case_reassigned"),
        ("customer", "mediator_changed"),
        ("merchant", "mediator_changed"),
    ]


def test_no_free_mediator_reminds_the_operator_and_the_case_waits() -> None:
    waiting = decide(case(State.IN_MEDIATION), MediatorUnavailable(), Policy(), NOW)
    assert waiting.state is State.IN_MEDIATION and waiting.case.mediator is None
    assert sent(waiting) == [("operator", "no_mediator")]


def test_entering_mediation_with_a_mediator_is_one_mail_per_party() -> None:
    """mediation_started and mediator_assigned to the same party in one act: one mail."""
    params: dict[str, object] = {}
    notes = [
        Notification(Party.CUSTOMER, "mediation_started", params),
        Notification(Party.MERCHANT, "deadline_missed", params),
        Notification(Party.MEDIATOR, "case_file", params),
        Notification(Party.CUSTOMER, "mediator_assigned", params),
        Notification(Party.MERCHANT, "mediator_assigned", params),
    ]
    kept = [(str(n.to), n.template) for n in one_per_party(notes)]
    assert kept == [
        ("customer", "mediation_started"),
        ("merchant", "deadline_missed"),
        ("mediator", "case_file"),
    ]
    later = [Notification(Party.CUSTOMER, "mediator_assigned", params)]
    assert one_per_party(later) == later  # assigned later: the parties are told then
