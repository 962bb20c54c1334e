"""The case state machine: every (state, event) pair, the workflows of PRODUCT.md, docs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mediation.addresses import Role
from mediation.business_time import BusinessCalendar
from mediation.deadline_policy import Policy
from mediation.events import (
    EVENT_TYPES,
    ComplaintReceived,
    CustomerConfirmedSolved,
    CustomerRated,
    CustomerReportedUnsolved,
    CustomerSilenceExpired,
    CustomerWithdrew,
    CustomerWrote,
    DeadlineExtended,
    Event,
    ForwardBounced,
    MediationClosed,
    MediatorAssigned,
    MediatorMessaged,
    MediatorNoted,
    MediatorReassigned,
    MerchantDeadlinePassed,
    MerchantIdentified,
    MerchantReplied,
    MerchantWrote,
    OperatorClosed,
    ProposalAccepted,
    ProposalMade,
    ProposalRejected,
    ReminderDue,
)
from mediation.workflow import (
    CLOSED,
    DUE_EVENTS,
    NEW_CASE,
    TRANSITIONS,
    CaseSnapshot,
    Deadline,
    DeadlineNotDue,
    Decision,
    Party,
    State,
    UnexpectedEvent,
    decide,
    diagram,
    transitions,
)

ROOT = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")
POLICY = Policy()
CALENDAR = BusinessCalendar()
NOW = datetime(2026, 11, 19, 9, tzinfo=UTC)  # Thursday 10:00 in Berlin


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def new_case() -> CaseSnapshot:
    return CaseSnapshot(ref="SSG-2026-000123", calendar=CALENDAR)


def sent(decision: Decision) -> list[tuple[Party, str]]:
    return [(notice.to, notice.template) for notice in decision.notifications]


def fire(case: CaseSnapshot, kind: Deadline) -> Decision:
    """What the sweep does when `kind` is due: fire its event at the deadline."""
    return decide(case, DUE_EVENTS[kind](), POLICY, case.deadlines[kind])


# --- every pair ---------------------------------------------------------------------

# For each event type: sample events, the case facts they need, and the guard they meet.
SAMPLES: dict[type, list[tuple[Event, dict, str]]] = {
    ComplaintReceived: [
        (ComplaintReceived("shop-a"), {}, "merchant known"),
        (ComplaintReceived(), {}, "merchant unknown"),
    ],
    MerchantReplied: [
        (MerchantReplied(substantive=True, text="Wir erstatten."), {}, "substantive"),
        (MerchantReplied(substantive=False), {}, "empty"),
    ],
    MerchantWrote: [(MerchantWrote("Danke."), {}, "")],
    MediationClosed: [
        (MediationClosed(resolved=True), {}, "resolved"),
        (MediationClosed(resolved=False), {}, "unresolved"),
    ],
    ProposalAccepted: [
        (ProposalAccepted(Role.CUSTOMER), {}, "one accepted"),
        (
            ProposalAccepted(Role.CUSTOMER),
            {"proposal_accepted_by": {Role.CUSTOMER}},
            "one accepted",
        ),
        (
            ProposalAccepted(Role.CUSTOMER),
            {"proposal_accepted_by": frozenset({Role.MERCHANT})},
            "both accepted",
        ),
    ],
    MerchantIdentified: [(MerchantIdentified("shop-a"), {}, "")],
    ProposalRejected: [(ProposalRejected(Role.MERCHANT), {}, "")],
    DeadlineExtended: [(DeadlineExtended(5), {}, "")],
    MediatorAssigned: [(MediatorAssigned("schlichter@siegel.localhost"), {}, "")],
    MediatorMessaged: [(MediatorMessaged("Bitte Belege senden."), {}, "")],
    MediatorNoted: [(MediatorNoted("Telefonat mit dem Shop."), {}, "")],
    ProposalMade: [(ProposalMade("50 % Erstattung."), {}, "")],
    CustomerWrote: [(CustomerWrote("Noch eine Frage."), {}, "")],
    CustomerRated: [(CustomerRated(service=4, reachability=2, reaction_time=3), {}, "")],
    MediatorReassigned: [
        (MediatorReassigned("neu@siegel.localhost", "alt@siegel.localhost"), {}, "")
    ],
    OperatorClosed: [
        (OperatorClosed(resolved=True, reason="Doppelte Beschwerde."), {}, "resolved"),
        (OperatorClosed(resolved=False, reason="Kein Shop zu finden."), {}, "unresolved"),
    ],
}


def samples(event_type: type) -> list[tuple[Event, dict, str]]:
    return SAMPLES[event_type] if event_type in SAMPLES else [(event_type(), {}, "")]


def case_in(state: State | None, **facts: object) -> CaseSnapshot:
    """A case in `state` with every deadline already due, so deadline events may fire."""
    if state is NEW_CASE:
        return new_case()
    due = NOW - timedelta(minutes=1)
    return dataclasses.replace(
        new_case(),
        state=state,
        merchant=None if state is State.NEEDS_MERCHANT else "shop-a",
        mediator="schlichter@siegel.localhost",
        deadlines=dict.fromkeys(Deadline, due),
        merchant_given_at=NOW - timedelta(days=3),
        **facts,
    )


ALL_PAIRS = [(state, event_type) for state in (NEW_CASE, *State) for event_type in EVENT_TYPES]


@pytest.mark.parametrize(
    ("state", "event_type"), ALL_PAIRS, ids=[f"{s}-{e.__name__}" for s, e in ALL_PAIRS]
)
def test_every_pair_follows_the_table_or_is_held(state: State | None, event_type: type) -> None:
    """A pair in the table reaches the table's target (per guard); any other is held."""
    edges = {(s, e, g): rule for s, e, g, rule in transitions()}
    for event, facts, guard in samples(event_type):
        case = case_in(state, **facts)
        if (state, event_type) not in TRANSITIONS:
            with pytest.raises(UnexpectedEvent):
                decide(case, event, POLICY, NOW)
            continue
        rule = edges[(state, event_type, guard)]
        decision = decide(case, event, POLICY, NOW)
        assert decision.state == rule.target
        assert decision.records[0] == event
        for kind in rule.start:
            assert decision.deadlines[kind] > NOW
        for kind in rule.stop:
            assert kind not in decision.deadlines
        if rule.target in CLOSED:
            assert decision.deadlines == {}
        assert sent(decision) == [(concrete(n.to, event), n.template) for n in rule.notify]


def concrete(party: Party, event: Event) -> Party:
    """A rule's party as the decision names it: the acting party and the other one."""
    if party not in (Party.ACTING, Party.OTHER):
        return party
    acting = Party(str(event.role))  # type: ignore[union-attr]
    if party is Party.ACTING:
        return acting
    return Party.MERCHANT if acting is Party.CUSTOMER else Party.CUSTOMER


def test_the_walk_covers_every_edge_of_the_table() -> None:
    """Every (state, event, guard) edge of the table has a sample that reaches it."""
    reached = {(e, guard) for e, samples_ in SAMPLES.items() for _, _, guard in samples_}
    for _, event_type, guard, _ in transitions():
        assert guard == "" or (event_type, guard) in reached


def test_a_fired_deadline_never_stays_set() -> None:
    """Every deadline event stops its own deadline, so the sweep cannot fire it twice."""
    fired = {event_type: kind for kind, event_type in DUE_EVENTS.items()}
    for state, event_type, _, rule in transitions():
        if event_type in fired:
            assert rule.target in CLOSED or fired[event_type] in rule.stop, (state, event_type)


def test_every_closing_with_a_merchant_asks_the_customer_for_a_rating() -> None:
    """PRODUCT.md step 7: a case that closes asks its customer for a rating."""
    for state, event_type, _, rule in transitions():
        if rule.target in CLOSED and state not in CLOSED and state is not State.NEEDS_MERCHANT:
            assert (Party.CUSTOMER, "rating_request") in [
                (n.to, n.template) for n in rule.notify
            ], (state, event_type)


def test_open_cases_can_be_withdrawn_and_closed_cases_take_only_ratings() -> None:
    """The customer may withdraw at any open step; a closed case accepts nothing but a
    rating, and a settled one the customer's words (the settled mail asks for them if
    the settlement is not carried out), which leave it closed."""
    for state in State:
        accepted = {e for s, e in TRANSITIONS if s == state}
        if state is State.CLOSED_SETTLED:
            assert accepted == {CustomerRated, CustomerWrote}
        elif state in CLOSED:
            assert accepted == {CustomerRated}
        else:
            assert CustomerWithdrew in accepted
    told = decide(case_in(State.CLOSED_SETTLED), CustomerWrote("Nichts erstattet."), POLICY, NOW)
    assert told.state is State.CLOSED_SETTLED and told.deadlines == {}
    assert {(n.to, n.template) for n in told.notifications} == {
        (Party.OPERATOR, "settlement_reply"),
        (Party.MEDIATOR, "settlement_reply"),
        (Party.CUSTOMER, "settlement_reply_passed_on"),
    }


def test_mail_after_closing_does_not_reopen_the_case() -> None:
    """A merchant reply to a closed case is held for the operator, not applied."""
    closed = case_in(State.CLOSED_RESOLVED)
    with pytest.raises(UnexpectedEvent, match="closed_resolved"):
        decide(closed, MerchantReplied(), POLICY, NOW)


def test_a_deadline_event_before_its_deadline_is_stale() -> None:
    """A reminder that is not due (or already fired) is refused: a racing sweep changes nothing."""
    case = decide(new_case(), ComplaintReceived("shop-a"), POLICY, NOW).case
    with pytest.raises(DeadlineNotDue):
        decide(case, ReminderDue(), POLICY, NOW + timedelta(hours=1))
    reminded = fire(case, Deadline.MERCHANT_REMINDER).case
    with pytest.raises(DeadlineNotDue):
        decide(reminded, ReminderDue(), POLICY, reminded.deadlines[Deadline.MERCHANT_REPLY])


def test_naive_now_is_refused() -> None:
    """The decision needs an aware `now`; a naive one is a caller bug."""
    with pytest.raises(ValueError, match="aware"):
        decide(new_case(), ComplaintReceived("shop-a"), POLICY, datetime(2026, 11, 19, 10))


def test_events_refuse_impossible_values() -> None:
    """Only the parties answer proposals, extensions are positive, ratings are 1 to 5."""
    with pytest.raises(ValueError):
        ProposalAccepted(Role.MEDIATOR)
    with pytest.raises(ValueError):
        DeadlineExtended(0)
    with pytest.raises(ValueError):
        CustomerRated(service=6)


# --- the workflows of PRODUCT.md ------------------------------------------------------


def test_a_reply_after_a_bounce_report_is_measured_against_the_forwards_deadline() -> None:
    """A report that the forward bounced stops the merchant's clock; a reply to its case
    address shows the forward arrived all the same (a black-box run's merchant forged
    the report, then answered days later and counted as in time)."""
    opened = decide(new_case(), ComplaintReceived("shop-a"), POLICY, berlin(2026, 11, 19, 10))
    assert opened.deadlines[Deadline.MERCHANT_REPLY] == berlin(2026, 11, 23, 10)
    stopped = decide(
        opened.case, ForwardBounced("s@shop-a.test", "5.1.1"), POLICY, berlin(2026, 11, 19, 11)
    )
    assert Deadline.MERCHANT_REPLY not in stopped.deadlines
    late = decide(stopped.case, MerchantReplied(text="Wir prüfen."), POLICY, berlin(2026, 12, 1, 9))
    assert late.first_reply is not None and not late.first_reply.within_deadline
    early = decide(
        stopped.case, MerchantReplied(text="Wir prüfen."), POLICY, berlin(2026, 11, 23, 9)
    )
    assert early.first_reply is not None and early.first_reply.within_deadline


def test_complaint_reply_solved_and_rated() -> None:
    """Steps 1-4 and 7: forward, auto-reply ignored, first reply measured, solved, rated."""
    opened = decide(new_case(), ComplaintReceived("shop-a"), POLICY, berlin(2026, 11, 19, 10))
    assert opened.state is State.AWAITING_MERCHANT
    assert sent(opened) == [
        (Party.CUSTOMER, "complaint_acknowledged"),
        (Party.MERCHANT, "complaint_forwarded"),
    ]
    # 2 business days; the reminder at 75 % of its 16 business hours (12 h).
    assert opened.deadlines == {
        Deadline.MERCHANT_REPLY: berlin(2026, 11, 23, 10),
        Deadline.MERCHANT_REMINDER: berlin(2026, 11, 20, 14),
    }
    params = opened.notifications[0].params
    assert params["ref"] == "SSG-2026-000123"
    assert params["merchant_reply"] == berlin(2026, 11, 23, 10)

    # Only the quote, no word of its own (automatic mail never gets this far):
    quote_only = decide(opened.case, MerchantReplied(substantive=False), POLICY, NOW)
    assert quote_only.case == opened.case
    assert [(n.to, n.template) for n in quote_only.notifications] == [
        (Party.MERCHANT, "reply_without_text")
    ]
    assert quote_only.records == (MerchantReplied(substantive=False),)
    assert quote_only.first_reply is None

    replied = decide(
        quote_only.case,
        MerchantReplied(text="Ersatz ist unterwegs."),
        POLICY,
        berlin(2026, 11, 20, 16),
    )
    assert replied.state is State.AWAITING_CUSTOMER
    assert sent(replied) == [
        (Party.CUSTOMER, "merchant_reply_forwarded"),
        (Party.MERCHANT, "message_forwarded"),  # the merchant's confirmation
    ]
    assert replied.notifications[0].params["text"] == "Ersatz ist unterwegs."
    assert replied.first_reply is not None
    assert replied.first_reply.seconds == 30 * 3600
    assert replied.first_reply.business_hours == 14  # Thu 10-17, Fri 9-16
    assert replied.first_reply.within_deadline
    assert replied.deadlines == {Deadline.CUSTOMER_ANSWER: berlin(2026, 12, 4, 16)}

    later = decide(replied.case, MerchantReplied(), POLICY, berlin(2026, 11, 23, 9))
    assert later.first_reply is None  # only the first substantive reply stops the clock
    assert sent(later) == [
        (Party.CUSTOMER, "merchant_message"),
        (Party.MERCHANT, "message_forwarded"),
    ]

    solved = decide(later.case, CustomerConfirmedSolved(), POLICY, berlin(2026, 11, 23, 12))
    assert solved.state is State.CLOSED_RESOLVED
    assert solved.deadlines == {}
    assert sent(solved) == [
        (Party.CUSTOMER, "case_resolved"),  # carries the rating request: one mail
        (Party.MERCHANT, "case_resolved"),
        (Party.CUSTOMER, "rating_request"),
    ]

    rating = CustomerRated(service=5, reachability=4, reaction_time=5, praise="Schnell!")
    rated = decide(solved.case, rating, POLICY, berlin(2026, 11, 24, 8))
    assert rated.state is State.CLOSED_RESOLVED
    assert sent(rated) == [(Party.CUSTOMER, "rating_thanks")]
    assert rated.notifications[0].params["praise"] == "Schnell!"


def test_unknown_shop_is_asked_for_then_forwarded() -> None:
    """Without a merchant the customer is asked; naming it starts the merchant's clock."""
    asked = decide(new_case(), ComplaintReceived(), POLICY, berlin(2026, 11, 19, 10))
    assert asked.state is State.NEEDS_MERCHANT
    assert sent(asked) == [(Party.CUSTOMER, "merchant_requested")]
    assert asked.deadlines == {Deadline.CUSTOMER_ANSWER: berlin(2026, 12, 3, 10)}

    named_at = berlin(2026, 11, 20, 11)
    named = decide(asked.case, MerchantIdentified("shop-b"), POLICY, named_at)
    assert named.state is State.AWAITING_MERCHANT
    assert named.case.merchant == "shop-b"
    assert named.case.merchant_given_at == named_at
    assert set(named.deadlines) == {Deadline.MERCHANT_REPLY, Deadline.MERCHANT_REMINDER}
    assert named.deadlines[Deadline.MERCHANT_REPLY] == berlin(2026, 11, 24, 11)


def test_a_silent_customer_closes_as_no_response_after_14_days() -> None:
    """Step 4: fourteen days without an answer close the case as closed_no_response."""
    opened = decide(new_case(), ComplaintReceived("shop-a"), POLICY, berlin(2026, 3, 20, 9))
    replied = decide(opened.case, MerchantReplied(), POLICY, berlin(2026, 3, 20, 12))
    due = replied.deadlines[Deadline.CUSTOMER_ANSWER]
    assert due == berlin(2026, 4, 3, 12)  # wall-clock time kept across the DST change
    with pytest.raises(DeadlineNotDue):
        decide(replied.case, CustomerSilenceExpired(), POLICY, due - timedelta(seconds=1))
    closed = fire(replied.case, Deadline.CUSTOMER_ANSWER)
    assert closed.state is State.CLOSED_NO_RESPONSE
    assert closed.deadlines == {}
    assert (Party.CUSTOMER, "rating_request") in sent(closed)


def test_an_unclear_customer_answer_asks_again_with_new_time() -> None:
    """A customer answer that is neither solved nor unsolved gets a confirmation question."""
    opened = decide(new_case(), ComplaintReceived("shop-a"), POLICY, berlin(2026, 11, 19, 10))
    replied = decide(opened.case, MerchantReplied(), POLICY, berlin(2026, 11, 19, 12))
    unclear = decide(replied.case, CustomerWrote("Hm, mal sehen."), POLICY, berlin(2026, 11, 25, 8))
    assert unclear.state is State.AWAITING_CUSTOMER
    assert sent(unclear) == [
        (Party.CUSTOMER, "solved_question"),
        (Party.MERCHANT, "customer_message"),
    ]
    assert unclear.deadlines[Deadline.CUSTOMER_ANSWER] == berlin(2026, 12, 9, 8)


def test_missed_deadline_reminds_then_escalates_and_counts_the_miss() -> None:
    """Step 5, across Reformationstag: reminder at 75 %, escalation at the deadline, miss kept."""
    opened = decide(new_case(), ComplaintReceived("shop-a"), POLICY, berlin(2025, 10, 30, 10))
    assert opened.deadlines[Deadline.MERCHANT_REPLY] == berlin(2025, 11, 4, 10)  # Fri 31 Oct off
    assert opened.deadlines[Deadline.MERCHANT_REMINDER] == berlin(2025, 11, 3, 14)

    reminded = fire(opened.case, Deadline.MERCHANT_REMINDER)
    assert reminded.state is State.AWAITING_MERCHANT
    assert sent(reminded) == [(Party.MERCHANT, "merchant_reminder")]
    assert set(reminded.deadlines) == {Deadline.MERCHANT_REPLY}

    escalated = fire(reminded.case, Deadline.MERCHANT_REPLY)
    assert escalated.state is State.IN_MEDIATION
    assert escalated.case.merchant_missed_deadline
    assert escalated.records == (MerchantDeadlinePassed(),)
    assert sent(escalated) == [
        (Party.CUSTOMER, "mediation_started"),
        (Party.MERCHANT, "deadline_missed"),
    ]
    assert escalated.deadlines == {Deadline.MEDIATION_END: berlin(2026, 2, 2, 10)}  # 90 days

    late = decide(escalated.case, MerchantReplied(), POLICY, berlin(2025, 11, 4, 15))
    # No mediator yet: the case file will carry the reply; the merchant is told it arrived.
    assert sent(late) == [(Party.MERCHANT, "message_forwarded")]
    assert late.first_reply is not None
    assert late.first_reply.business_hours == 7 + 8 + 6
    assert not late.first_reply.within_deadline

    assigned = decide(late.case, MediatorAssigned("s@siegel.localhost"), POLICY, NOW)
    assert assigned.case.mediator == "s@siegel.localhost"
    assert sent(assigned) == [
        (Party.MEDIATOR, "case_file"),
        (Party.CUSTOMER, "mediator_assigned"),
        (Party.MERCHANT, "mediator_assigned"),
    ]


def mediation(at: datetime) -> CaseSnapshot:
    """A case the customer reported unsolved, with a mediator assigned."""
    case = decide(new_case(), ComplaintReceived("shop-a"), POLICY, at).case
    case = decide(case, MerchantReplied(), POLICY, at + timedelta(hours=2)).case
    unsolved = decide(case, CustomerReportedUnsolved(), POLICY, at + timedelta(days=1))
    assert unsolved.state is State.IN_MEDIATION
    assert sent(unsolved) == [
        (Party.CUSTOMER, "mediation_started"),
        (Party.MERCHANT, "mediation_started"),
    ]
    return decide(unsolved.case, MediatorAssigned("s@siegel.localhost"), POLICY, at).case


def test_proposal_accepted_by_both_parties_settles_the_case() -> None:
    """Step 6: a proposal settles only when both accept; one acceptance keeps it pending."""
    case = mediation(berlin(2026, 11, 2, 10))
    message = decide(case, MediatorMessaged("Bitte Fotos."), POLICY, berlin(2026, 11, 5, 10))
    assert sent(message) == [
        (Party.CUSTOMER, "mediator_message"),
        (Party.MERCHANT, "mediator_message"),
        (Party.MEDIATOR, "message_sent"),
    ]
    note = decide(message.case, MediatorNoted("Shop angerufen."), POLICY, berlin(2026, 11, 5, 11))
    assert sent(note) == [(Party.MEDIATOR, "note_recorded")]  # to nobody else
    assert note.records == (MediatorNoted("Shop angerufen."),)

    proposed = decide(note.case, ProposalMade("50 % zurück."), POLICY, berlin(2026, 11, 6, 10))
    assert proposed.state is State.PROPOSAL_PENDING
    assert proposed.deadlines[Deadline.PROPOSAL_ANSWER] == berlin(2026, 11, 13, 10)
    assert Deadline.MEDIATION_END in proposed.deadlines  # the 90-day clock keeps running
    assert proposed.notifications[0].params["text"] == "50 % zurück."

    merchant_yes = decide(
        proposed.case, ProposalAccepted(Role.MERCHANT), POLICY, berlin(2026, 11, 7, 10)
    )
    assert merchant_yes.state is State.PROPOSAL_PENDING
    assert merchant_yes.case.proposal_accepted_by == {Role.MERCHANT}
    assert sent(merchant_yes) == [
        (Party.MERCHANT, "acceptance_confirmed"),
        (Party.CUSTOMER, "proposal_accepted"),
        (Party.MEDIATOR, "proposal_accepted"),
    ]
    again = decide(merchant_yes.case, ProposalAccepted(Role.MERCHANT), POLICY, NOW)
    assert again.state is State.PROPOSAL_PENDING  # the same party twice is not both

    settled = decide(
        merchant_yes.case, ProposalAccepted(Role.CUSTOMER), POLICY, berlin(2026, 11, 8, 10)
    )
    assert settled.state is State.CLOSED_SETTLED
    assert settled.deadlines == {}
    assert sent(settled) == [
        (Party.CUSTOMER, "settled"),
        (Party.MERCHANT, "settled"),
        (Party.MEDIATOR, "settled"),
        (Party.CUSTOMER, "rating_request"),
    ]


def test_rejected_and_expired_proposals_return_to_mediation_which_may_run_over() -> None:
    """Rejection or expiry reopens mediation; #frist extends; 90 days alert the operator."""
    case = mediation(berlin(2026, 11, 2, 10))
    proposed = decide(case, ProposalMade("Gutschein."), POLICY, berlin(2026, 11, 3, 10))
    accepted = decide(
        proposed.case, ProposalAccepted(Role.CUSTOMER), POLICY, berlin(2026, 11, 3, 12)
    )
    rejected = decide(
        accepted.case, ProposalRejected(Role.MERCHANT), POLICY, berlin(2026, 11, 4, 10)
    )
    assert rejected.state is State.IN_MEDIATION
    assert rejected.case.proposal_accepted_by == frozenset()
    assert Deadline.PROPOSAL_ANSWER not in rejected.deadlines

    proposed = decide(
        rejected.case, ProposalMade("Neuer Vorschlag."), POLICY, berlin(2026, 11, 5, 10)
    )
    extended = decide(proposed.case, DeadlineExtended(3), POLICY, berlin(2026, 11, 6, 10))
    # 12 Nov 10:00 + 3 business days
    assert extended.deadlines[Deadline.PROPOSAL_ANSWER] == berlin(2026, 11, 17, 10)
    expired = fire(extended.case, Deadline.PROPOSAL_ANSWER)
    assert expired.state is State.IN_MEDIATION
    assert (Party.MEDIATOR, "proposal_expired") in sent(expired)
    assert Deadline.PROPOSAL_ANSWER not in expired.deadlines

    end = expired.deadlines[Deadline.MEDIATION_END]
    assert end == berlin(2027, 2, 1, 10)  # 90 days after the customer's "not solved"
    longer = decide(expired.case, DeadlineExtended(5), POLICY, berlin(2026, 12, 1, 10))
    assert longer.deadlines[Deadline.MEDIATION_END] == berlin(2027, 2, 8, 10)

    overdue = fire(longer.case, Deadline.MEDIATION_END)
    assert overdue.state is State.IN_MEDIATION
    assert sent(overdue) == [
        (Party.OPERATOR, "mediation_overdue"),
        (Party.MEDIATOR, "mediation_overdue"),
    ]
    assert overdue.deadlines == {}

    closed = decide(overdue.case, MediationClosed(resolved=False), POLICY, berlin(2027, 2, 9, 10))
    assert closed.state is State.CLOSED_UNRESOLVED
    assert (Party.CUSTOMER, "rating_request") in sent(closed)


def test_withdrawal_in_mediation_tells_everyone() -> None:
    """A customer who withdraws during mediation closes the case; all parties are told."""
    case = mediation(berlin(2026, 11, 2, 10))
    withdrawn = decide(case, CustomerWithdrew(), POLICY, berlin(2026, 11, 9, 10))
    assert withdrawn.state is State.CLOSED_WITHDRAWN
    assert withdrawn.deadlines == {}
    assert sent(withdrawn) == [
        (Party.CUSTOMER, "withdrawal_confirmed"),
        (Party.MERCHANT, "case_withdrawn"),
        (Party.MEDIATOR, "case_withdrawn"),
        (Party.CUSTOMER, "rating_request"),
    ]


def test_deadlines_count_in_the_case_calendar() -> None:
    """A merchant with its own calendar (closed on 20 Nov) gets its deadline a day later."""
    own = BusinessCalendar(closed_dates=frozenset({datetime(2026, 11, 20).date()}))
    case = dataclasses.replace(new_case(), calendar=own)
    opened = decide(case, ComplaintReceived("shop-a"), POLICY, berlin(2026, 11, 19, 10))
    assert opened.deadlines[Deadline.MERCHANT_REPLY] == berlin(2026, 11, 24, 10)


def test_policy_changes_the_deadlines() -> None:
    """A 3-day merchant deadline with a reminder at half of it comes from the policy."""
    policy = Policy(merchant_reply_business_days=3, reminder_fraction=0.5)
    opened = decide(new_case(), ComplaintReceived("shop-a"), policy, berlin(2026, 11, 16, 9))
    assert opened.deadlines[Deadline.MERCHANT_REPLY] == berlin(2026, 11, 19, 9)
    assert opened.deadlines[Deadline.MERCHANT_REMINDER] == berlin(2026, 11, 17, 13)


@pytest.mark.parametrize(
    "bad",
    [
        {"merchant_reply_business_days": 0},
        {"reminder_fraction": 1.0},
        {"customer_answer_days": 2.5},
        {"business_calendar": ""},
    ],
)
def test_policy_refuses_impossible_values(bad: dict) -> None:
    """A policy that would make no deadline is refused when it is built."""
    with pytest.raises(ValueError):
        Policy(**bad)


# --- the generated docs -------------------------------------------------------------


def test_committed_state_docs_equal_the_generated_text() -> None:
    """docs/states.md is exactly what `python -m mediation.workflow --diagram` prints."""
    committed = (ROOT / "docs" / "states.md").read_text(encoding="utf-8")
    assert committed == diagram()
    printed = subprocess.run(
        [sys.executable, "-m", "mediation.workflow", "--diagram"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout == committed
    for state in State:
        assert state in committed
