"""The case state machine: a transition table (data) and a pure decision function.

`TRANSITIONS` maps (state, event type) to a `Rule`: the target state, the deadlines
to start, stop or extend, and the notifications to send, as data. Where one event
leads to different places, a `Choice` names the guard. `decide()` applies the rule
to a `CaseSnapshot` and returns a `Decision`; it does no I/O, reads no clock and
touches no database. An event that fits no transition raises `UnexpectedEvent`: the
caller holds the mail for the operator, so nothing is dropped and a closed case is
never silently reopened.

When a case enters ``in_mediation`` without a mediator, `mediation.transitions` picks
one and feeds `MediatorAssigned`. The sweep fires `DUE_EVENTS[kind]` for each due deadline.

``python -m mediation.workflow --diagram > docs/states.md`` regenerates the docs.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mediation.addresses import Role
from mediation.business_time import BusinessCalendar
from mediation.deadline_policy import Policy
from mediation.events import (
    ComplaintReceived,
    CustomerConfirmedSolved,
    CustomerRated,
    CustomerReportedUnsolved,
    CustomerSilenceExpired,
    CustomerWithdrew,
    CustomerWrote,
    DeadlineExtended,
    Event,
    FirstReplyMeasured,
    ForwardBounced,
    MediationClosed,
    MediationOverdue,
    MediatorAssigned,
    MediatorMessaged,
    MediatorNoted,
    MediatorReassigned,
    MediatorUnavailable,
    MerchantAddressCorrected,
    MerchantDeadlinePassed,
    MerchantIdentified,
    MerchantReplied,
    MerchantWrote,
    OperatorClosed,
    ProposalAccepted,
    ProposalExpired,
    ProposalMade,
    ProposalRejected,
    ReminderDue,
)


class State(enum.StrEnum):
    NEEDS_MERCHANT = "needs_merchant"
    AWAITING_MERCHANT = "awaiting_merchant"
    AWAITING_CUSTOMER = "awaiting_customer"
    IN_MEDIATION = "in_mediation"
    PROPOSAL_PENDING = "proposal_pending"
    CLOSED_RESOLVED = "closed_resolved"
    CLOSED_SETTLED = "closed_settled"
    CLOSED_UNRESOLVED = "closed_unresolved"
    CLOSED_NO_RESPONSE = "closed_no_response"
    CLOSED_WITHDRAWN = "closed_withdrawn"


CLOSED = frozenset(state for state in State if state.startswith("closed_"))
NEW_CASE = None
"""The pseudo-state of a case that does not exist yet (``[*]`` in the diagram)."""


class Deadline(enum.StrEnum):
    MERCHANT_REMINDER = "merchant_reminder"
    MERCHANT_REPLY = "merchant_reply"
    CUSTOMER_ANSWER = "customer_answer"
    PROPOSAL_ANSWER = "proposal_answer"
    MEDIATION_END = "mediation_end"


DUE_EVENTS: Mapping[Deadline, type[Event]] = {
    Deadline.MERCHANT_REMINDER: ReminderDue,
    Deadline.MERCHANT_REPLY: MerchantDeadlinePassed,
    Deadline.CUSTOMER_ANSWER: CustomerSilenceExpired,
    Deadline.PROPOSAL_ANSWER: ProposalExpired,
    Deadline.MEDIATION_END: MediationOverdue,
}
"""The event the sweep fires when a deadline is due."""


class Party(enum.StrEnum):
    """Who a notification goes to: the roles of a case (`Role`) and the operator.

    In the table a rule may also name, relative to its event, the party that answered
    (`ACTING`: the event's `role`, customer or merchant), the other of the two
    (`OTHER`) or the mediator the case was taken from (`FORMER_MEDIATOR`); `decide`
    resolves them, so a `Notification` names a party of the first four (or the
    former mediator)."""

    CUSTOMER = "customer"
    MERCHANT = "merchant"
    MEDIATOR = "mediator"
    OPERATOR = "operator"
    ACTING = "acting"
    OTHER = "other"
    FORMER_MEDIATOR = "former_mediator"


PARTIES = (Party.CUSTOMER, Party.MERCHANT)
"""The two parties of a dispute, whose answers a proposal waits for."""


@dataclass(frozen=True)
class Notify:
    """Send template `template` to `to` (the rule's part; `decide` adds the parameters)."""

    to: Party
    template: str


def customer(template: str) -> Notify:
    return Notify(Party.CUSTOMER, template)


def merchant(template: str) -> Notify:
    return Notify(Party.MERCHANT, template)


def mediator(template: str) -> Notify:
    return Notify(Party.MEDIATOR, template)


def operator(template: str) -> Notify:
    return Notify(Party.OPERATOR, template)


def acting(template: str) -> Notify:
    """To the party whose answer the event is: its confirmation."""
    return Notify(Party.ACTING, template)


def other(template: str) -> Notify:
    """To the other party of the dispute than the one that answered."""
    return Notify(Party.OTHER, template)


@dataclass(frozen=True)
class Rule:
    """What one transition does. Entering a closed state stops every deadline."""

    target: State
    start: tuple[Deadline, ...] = ()
    stop: tuple[Deadline, ...] = ()
    extend: Deadline | None = None
    notify: tuple[Notify, ...] = ()


@dataclass(frozen=True)
class CaseSnapshot:
    """What the machine needs to know about a case."""

    ref: str
    calendar: BusinessCalendar
    """The calendar its business deadlines count in (the merchant's or the default)."""
    state: State | None = NEW_CASE
    merchant: str | None = None
    mediator: str | None = None
    deadlines: Mapping[Deadline, datetime] = field(default_factory=dict)
    merchant_given_at: datetime | None = None
    """When the merchant was given the complaint: the start of the first-reply clock."""
    first_reply_at: datetime | None = None
    merchant_missed_deadline: bool = False
    proposal_accepted_by: frozenset[Role] = frozenset()
    language: str | None = None
    """The customer's language, which a mediator is chosen to write in where one can."""


@dataclass(frozen=True)
class Guard:
    """A named condition that splits one (state, event type) pair in two."""

    yes: str
    no: str
    test: Callable[[CaseSnapshot, Event], bool]


@dataclass(frozen=True)
class Choice:
    """One (state, event type) pair whose rule depends on a guard."""

    guard: Guard
    then: Rule
    otherwise: Rule

    def pick(self, case: CaseSnapshot, event: Event) -> Rule:
        return self.then if self.guard.test(case, event) else self.otherwise


MERCHANT_KNOWN = Guard("merchant known", "merchant unknown", lambda _, e: e.merchant is not None)
SUBSTANTIVE = Guard("substantive", "empty", lambda _, e: e.substantive)
RESOLVED = Guard("resolved", "unresolved", lambda _, e: e.resolved)
BOTH_ACCEPTED = Guard(
    "both accepted",
    "one accepted",
    lambda case, e: case.proposal_accepted_by | {e.role} >= {Role.CUSTOMER, Role.MERCHANT},
)

MERCHANT_CLOCK = (Deadline.MERCHANT_REPLY, Deadline.MERCHANT_REMINDER)
RATING = customer("rating_request")
"""The rating request of every closing with a merchant: it travels inside the customer's
closing notice of the same edge (`FOLDED`), so the customer gets one mail."""
OPERATOR_CLOSING = (
    customer("closed_by_operator"),
    merchant("closed_by_operator"),
    mediator("closed_by_operator"),
    RATING,
)


MEDIATING = (State.IN_MEDIATION, State.PROPOSAL_PENDING)
EXTENDED = (
    customer("deadline_extended"),
    merchant("deadline_extended"),
    mediator("deadline_extended"),
)


def _mediating(state: State) -> dict[tuple[State, type[Event]], Rule | Choice]:
    """The edges `state` (in mediation, a proposal pending or not) shares with the other."""
    closing = (mediator("case_closed"), RATING)
    return {
        (state, MediatorAssigned): Rule(
            state,
            notify=(
                mediator("case_file"),
                customer("mediator_assigned"),
                merchant("mediator_assigned"),
            ),
        ),
        (state, MediatorMessaged): Rule(
            state,
            notify=(
                customer("mediator_message"),
                merchant("mediator_message"),
                mediator("message_sent"),
            ),
        ),
        (state, MediatorNoted): Rule(state, notify=(mediator("note_recorded"),)),
        (state, CustomerWrote): Rule(
            state, notify=(mediator("customer_message"), customer("message_forwarded"))
        ),
        (state, MerchantReplied): Choice(
            SUBSTANTIVE,
            then=Rule(state, notify=(mediator("merchant_message"), merchant("message_forwarded"))),
            otherwise=Rule(state),
        ),
        (state, MerchantWrote): Rule(
            state, notify=(mediator("merchant_message"), merchant("message_forwarded"))
        ),
        (state, ProposalMade): Rule(
            State.PROPOSAL_PENDING,
            start=(Deadline.PROPOSAL_ANSWER,),
            notify=(customer("proposal"), merchant("proposal"), mediator("proposal_sent")),
        ),
        (state, MediationOverdue): Rule(
            state,
            stop=(Deadline.MEDIATION_END,),
            notify=(operator("mediation_overdue"), mediator("mediation_overdue")),
        ),
        # The forward bounced only after the merchant's deadline had passed (an MTA gives
        # up after days of retrying): the miss is taken back; the mediation goes on.
        (state, ForwardBounced): Rule(state),
        (state, MediationClosed): Choice(
            RESOLVED,
            then=Rule(
                State.CLOSED_RESOLVED,
                notify=(customer("case_resolved"), merchant("case_resolved"), *closing),
            ),
            otherwise=Rule(
                State.CLOSED_UNRESOLVED,
                notify=(customer("case_unresolved"), merchant("case_unresolved"), *closing),
            ),
        ),
        (state, CustomerWithdrew): Rule(
            State.CLOSED_WITHDRAWN,
            notify=(
                customer("withdrawal_confirmed"),
                merchant("case_withdrawn"),
                mediator("case_withdrawn"),
                RATING,
            ),
        ),
    }


TRANSITIONS: Mapping[tuple[State | None, type[Event]], Rule | Choice] = {
    # A complaint arrives; the shop is named, found, or asked for.
    (NEW_CASE, ComplaintReceived): Choice(
        MERCHANT_KNOWN,
        then=Rule(
            State.AWAITING_MERCHANT,
            start=MERCHANT_CLOCK,
            notify=(customer("complaint_acknowledged"), merchant("complaint_forwarded")),
        ),
        otherwise=Rule(
            State.NEEDS_MERCHANT,
            start=(Deadline.CUSTOMER_ANSWER,),
            notify=(customer("merchant_requested"),),
        ),
    ),
    (State.NEEDS_MERCHANT, MerchantIdentified): Rule(
        State.AWAITING_MERCHANT,
        start=MERCHANT_CLOCK,
        stop=(Deadline.CUSTOMER_ANSWER,),
        notify=(customer("complaint_acknowledged"), merchant("complaint_forwarded")),
    ),
    # The customer answered but routing still found no shop: the operator decides.
    (State.NEEDS_MERCHANT, CustomerWrote): Rule(
        State.NEEDS_MERCHANT,
        stop=(Deadline.CUSTOMER_ANSWER,),
        notify=(customer("merchant_search"), operator("merchant_not_found")),
    ),
    (State.NEEDS_MERCHANT, CustomerSilenceExpired): Rule(
        State.CLOSED_NO_RESPONSE, notify=(customer("case_closed_no_response"),)
    ),
    (State.NEEDS_MERCHANT, CustomerWithdrew): Rule(
        State.CLOSED_WITHDRAWN, notify=(customer("withdrawal_confirmed"),)
    ),
    # The merchant's turn: a deadline in business days, a reminder before it.
    (State.AWAITING_MERCHANT, MerchantReplied): Choice(
        SUBSTANTIVE,
        then=Rule(
            State.AWAITING_CUSTOMER,
            start=(Deadline.CUSTOMER_ANSWER,),
            stop=MERCHANT_CLOCK,
            notify=(customer("merchant_reply_forwarded"), merchant("message_forwarded")),
        ),
        # No word of its own (only the quote, or an attachment): the merchant is told
        # that nothing reached the customer and its deadline still runs.
        otherwise=Rule(State.AWAITING_MERCHANT, notify=(merchant("reply_without_text"),)),
    ),
    # A few words ("Danke", "ok") answer nothing: the customer reads them, the clock
    # runs on, and the merchant is told that its deadline still runs.
    (State.AWAITING_MERCHANT, MerchantWrote): Rule(
        State.AWAITING_MERCHANT,
        notify=(customer("merchant_short_message"), merchant("reply_not_substantive")),
    ),
    (State.AWAITING_MERCHANT, ReminderDue): Rule(
        State.AWAITING_MERCHANT,
        stop=(Deadline.MERCHANT_REMINDER,),
        notify=(merchant("merchant_reminder"),),
    ),
    (State.AWAITING_MERCHANT, MerchantDeadlinePassed): Rule(
        State.IN_MEDIATION,
        start=(Deadline.MEDIATION_END,),
        stop=MERCHANT_CLOCK,
        notify=(customer("mediation_started"), merchant("deadline_missed")),
    ),
    (State.AWAITING_MERCHANT, CustomerWrote): Rule(
        State.AWAITING_MERCHANT,
        notify=(merchant("customer_message"), customer("message_forwarded")),
    ),
    # The forward bounced: the merchant never got the complaint. Its clock stops and the
    # case waits until the operator gives the shop's address (`mediation.bounces`), which
    # forwards the complaint again with a new deadline and tells the customer so.
    (State.AWAITING_MERCHANT, ForwardBounced): Rule(State.AWAITING_MERCHANT, stop=MERCHANT_CLOCK),
    (State.AWAITING_MERCHANT, MerchantAddressCorrected): Rule(
        State.AWAITING_MERCHANT,
        start=MERCHANT_CLOCK,
        notify=(merchant("complaint_forwarded"), customer("complaint_forwarded_again")),
    ),
    # Solved without a written reply (by phone, by a refund): nothing left to wait for.
    (State.AWAITING_MERCHANT, CustomerConfirmedSolved): Rule(
        State.CLOSED_RESOLVED,
        notify=(customer("case_resolved"), merchant("case_resolved"), RATING),
    ),
    (State.AWAITING_MERCHANT, CustomerWithdrew): Rule(
        State.CLOSED_WITHDRAWN,
        notify=(customer("withdrawal_confirmed"), merchant("case_withdrawn"), RATING),
    ),
    # The customer's turn: solved, not solved, or silence.
    (State.AWAITING_CUSTOMER, CustomerConfirmedSolved): Rule(
        State.CLOSED_RESOLVED,
        notify=(customer("case_resolved"), merchant("case_resolved"), RATING),
    ),
    (State.AWAITING_CUSTOMER, CustomerReportedUnsolved): Rule(
        State.IN_MEDIATION,
        start=(Deadline.MEDIATION_END,),
        stop=(Deadline.CUSTOMER_ANSWER,),
        notify=(customer("mediation_started"), merchant("mediation_started")),
    ),
    # An answer the classifier is unsure of: ask again, and the customer gets new time.
    (State.AWAITING_CUSTOMER, CustomerWrote): Rule(
        State.AWAITING_CUSTOMER,
        start=(Deadline.CUSTOMER_ANSWER,),
        notify=(customer("solved_question"), merchant("customer_message")),
    ),
    (State.AWAITING_CUSTOMER, CustomerSilenceExpired): Rule(
        State.CLOSED_NO_RESPONSE,
        notify=(customer("case_closed_no_response"), merchant("case_closed_no_response"), RATING),
    ),
    (State.AWAITING_CUSTOMER, MerchantReplied): Choice(
        SUBSTANTIVE,
        then=Rule(
            State.AWAITING_CUSTOMER,
            notify=(customer("merchant_message"), merchant("message_forwarded")),
        ),
        otherwise=Rule(State.AWAITING_CUSTOMER),
    ),
    (State.AWAITING_CUSTOMER, MerchantWrote): Rule(
        State.AWAITING_CUSTOMER,
        notify=(customer("merchant_message"), merchant("message_forwarded")),
    ),
    (State.AWAITING_CUSTOMER, CustomerWithdrew): Rule(
        State.CLOSED_WITHDRAWN,
        notify=(customer("withdrawal_confirmed"), merchant("case_withdrawn"), RATING),
    ),
    # Mediation: the mediator works the case by replying; a proposal may be pending.
    **{edge: rule for state in MEDIATING for edge, rule in _mediating(state).items()},
    (State.IN_MEDIATION, DeadlineExtended): Rule(
        State.IN_MEDIATION,
        extend=Deadline.MEDIATION_END,
        notify=EXTENDED,
    ),
    # A proposal stands: both parties must accept it; one rejection ends it.
    (State.PROPOSAL_PENDING, ProposalAccepted): Choice(
        BOTH_ACCEPTED,
        then=Rule(
            State.CLOSED_SETTLED,
            notify=(customer("settled"), merchant("settled"), mediator("settled"), RATING),
        ),
        otherwise=Rule(
            State.PROPOSAL_PENDING,
            notify=(
                acting("acceptance_confirmed"),
                other("proposal_accepted"),
                mediator("proposal_accepted"),
            ),
        ),
    ),
    (State.PROPOSAL_PENDING, ProposalRejected): Rule(
        State.IN_MEDIATION,
        stop=(Deadline.PROPOSAL_ANSWER,),
        notify=(
            acting("rejection_confirmed"),
            other("proposal_rejected"),
            mediator("proposal_rejected"),
        ),
    ),
    (State.PROPOSAL_PENDING, ProposalExpired): Rule(
        State.IN_MEDIATION,
        stop=(Deadline.PROPOSAL_ANSWER,),
        notify=(
            customer("proposal_expired"),
            merchant("proposal_expired"),
            mediator("proposal_expired"),
        ),
    ),
    (State.PROPOSAL_PENDING, DeadlineExtended): Rule(
        State.PROPOSAL_PENDING,
        extend=Deadline.PROPOSAL_ANSWER,
        notify=EXTENDED,
    ),
    # No mediator free: the case waits for one, and the operator is reminded.
    **{
        (state, MediatorUnavailable): Rule(state, notify=(operator("no_mediator"),))
        for state in MEDIATING
    },
    # The operator gives the case to another mediator.
    **{
        (state, MediatorReassigned): Rule(
            state,
            notify=(
                mediator("case_file"),
                Notify(Party.FORMER_MEDIATOR, "case_reassigned"),
                customer("mediator_changed"),
                merchant("mediator_changed"),
            ),
        )
        for state in MEDIATING
    },
    # The operator closes an open case, with a reason every party reads.
    (State.NEEDS_MERCHANT, OperatorClosed): Choice(
        RESOLVED,
        then=Rule(State.CLOSED_RESOLVED, notify=(customer("closed_by_operator"),)),
        otherwise=Rule(State.CLOSED_UNRESOLVED, notify=(customer("closed_by_operator"),)),
    ),
    **{
        (state, OperatorClosed): Choice(
            RESOLVED,
            then=Rule(State.CLOSED_RESOLVED, notify=OPERATOR_CLOSING),
            otherwise=Rule(State.CLOSED_UNRESOLVED, notify=OPERATOR_CLOSING),
        )
        for state in (
            State.AWAITING_MERCHANT,
            State.AWAITING_CUSTOMER,
            State.IN_MEDIATION,
            State.PROPOSAL_PENDING,
        )
    },
    # After closing only the customer's rating is taken; anything else is held.
    **{
        (state, CustomerRated): Rule(state, notify=(customer("rating_thanks"),))
        for state in State
        if state in CLOSED
    },
    # But the settled mail asks the customer to write if the settlement is not carried
    # out: their words soon after it (the room checks `[mediation] settlement_reply_days`)
    # go to the operator and the mediator. The case stays closed.
    (State.CLOSED_SETTLED, CustomerWrote): Rule(
        State.CLOSED_SETTLED,
        notify=(
            operator("settlement_reply"),
            mediator("settlement_reply"),
            customer("settlement_reply_passed_on"),
        ),
    ),
}


class UnexpectedEvent(Exception):
    """No transition fits: the caller holds the mail (or the deadline) for the operator."""

    def __init__(self, state: State | None, event: Event, reason: str = "") -> None:
        super().__init__(
            f"{type(event).__name__} is not expected in state {state or 'new case'}"
            + (f": {reason}" if reason else "")
        )
        self.state = state
        self.event = event


class DeadlineNotDue(UnexpectedEvent):
    """A deadline event for a deadline that is not set or not yet due (a stale sweep)."""


@dataclass(frozen=True)
class Notification:
    to: Party
    template: str
    params: Mapping[str, object]
    """The case reference, state, parties, deadlines (aware UTC) and the event's fields."""


Record = Event | FirstReplyMeasured


@dataclass(frozen=True)
class Decision:
    case: CaseSnapshot
    """The case after the event: what to store."""
    notifications: tuple[Notification, ...]
    records: tuple[Record, ...]
    """What to append to the event log, in order: the event, then derived facts."""

    @property
    def state(self) -> State:
        return self.case.state  # type: ignore[return-value]

    @property
    def deadlines(self) -> Mapping[Deadline, datetime]:
        return self.case.deadlines

    @property
    def first_reply(self) -> FirstReplyMeasured | None:
        """The reply latency to store, when this event stopped the first-reply clock."""
        found = [record for record in self.records if isinstance(record, FirstReplyMeasured)]
        return found[0] if found else None


def rule_for(case: CaseSnapshot, event: Event) -> Rule:
    """The rule that applies to `event` in `case`, or `UnexpectedEvent`."""
    entry = TRANSITIONS.get((case.state, type(event)))
    if entry is None:
        raise UnexpectedEvent(case.state, event)
    return entry.pick(case, event) if isinstance(entry, Choice) else entry


def accepts(state: State | None, event_type: type[Event]) -> bool:
    """Whether `event_type` has a transition in `state` (for routing a mail's intent)."""
    return (state, event_type) in TRANSITIONS


def decide(case: CaseSnapshot, event: Event, policy: Policy, now: datetime) -> Decision:
    """Apply `event` to `case` at `now` (aware): the new case, what to send, what to record."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    rule = rule_for(case, event)
    _check_due(case, event, now)
    updated, derived = _apply(case, event, policy, now)
    updated = dataclasses.replace(
        updated, state=rule.target, deadlines=_deadlines(case, event, rule, policy, now)
    )
    params = _params(updated, event)
    notifications = tuple(
        Notification(party, notice.template, params)
        for notice in rule.notify
        if (party := _addressee(notice.to, event)) is not None and _reachable(updated, party)
    )
    return Decision(updated, notifications, (event, *derived))


def _addressee(party: Party, event: Event) -> Party | None:
    """`party` of a rule made concrete for `event` (the acting and the other party)."""
    if party not in (Party.ACTING, Party.OTHER):
        return party
    role = getattr(event, "role", None)
    if role not in PARTIES:
        return None
    acting_party = Party(str(role))
    if party is Party.ACTING:
        return acting_party
    return next(p for p in PARTIES if p is not acting_party)


SUPERSEDED_BY: Mapping[str, frozenset[str]] = {
    "mediator_assigned": frozenset({"mediation_started", "deadline_missed"}),
    # The mediator's confirmations: one says what its mail did.
    "message_sent": frozenset({"proposal_sent", "case_closed", "deadline_extended"}),
    "note_recorded": frozenset(
        {"message_sent", "proposal_sent", "case_closed", "deadline_extended"}
    ),
    # Several commands in one mediator's mail: the last word says it all (a proposal
    # states its answer deadline, extended or not; a closing ends a proposal).
    "deadline_extended": frozenset(
        {"proposal", "proposal_sent", "case_resolved", "case_unresolved", "case_closed"}
    ),
    "proposal": frozenset({"case_resolved", "case_unresolved"}),
    "proposal_sent": frozenset({"case_closed"}),
}
"""A notice a party need not get when one of these goes to it for the same act: entering
mediation and the mediator's assignment at once are one mail (the first says it all)."""

FOLDED = frozenset({"rating_request", "mediator_message"})
"""Notices that travel inside another mail to the same party for the same act, as the
block ``${NAME}`` of that mail's template (`mediation.notices`): the rating request in
the closing notice, the mediator's message in the proposal, extension or closing it
came with. Alone, such a notice is a mail of its own."""


def one_per_party(notifications: Sequence[Notification]) -> list[Notification]:
    """`notifications` of one act (the decisions of one mail, deadline or command) without
    those another of the same party's already says (`SUPERSEDED_BY`), and without the
    earlier of the same notice to the same party (two commands of one kind)."""
    sent = {(n.to, n.template) for n in notifications}
    last = {(n.to, n.template): index for index, n in enumerate(notifications)}
    return [
        n
        for index, n in enumerate(notifications)
        if last[(n.to, n.template)] == index
        and not any((n.to, other) in sent for other in SUPERSEDED_BY.get(n.template, ()))
    ]


def _check_due(case: CaseSnapshot, event: Event, now: datetime) -> None:
    for kind, event_type in DUE_EVENTS.items():
        if isinstance(event, event_type):
            due = case.deadlines.get(kind)
            if due is None or due > now:
                raise DeadlineNotDue(case.state, event, f"{kind} is {due or 'not set'}")


def _apply(
    case: CaseSnapshot, event: Event, policy: Policy, now: datetime
) -> tuple[CaseSnapshot, tuple[FirstReplyMeasured, ...]]:
    """The case facts an event changes, whatever the transition."""
    replace = dataclasses.replace
    match event:
        case ComplaintReceived(merchant=str(slug)) | MerchantIdentified(merchant=slug):
            return replace(case, merchant=slug, merchant_given_at=now), ()
        case MerchantReplied(substantive=True) if (
            case.first_reply_at is None and case.merchant_given_at is not None
        ):
            return replace(case, first_reply_at=now), (_measure_first_reply(case, policy, now),)
        case MerchantDeadlinePassed():
            return replace(case, merchant_missed_deadline=True), ()
        case ForwardBounced() if case.first_reply_at is None:
            # It never had the complaint: no deadline it could have kept was missed.
            return replace(case, merchant_missed_deadline=False), ()
        case MerchantAddressCorrected():
            # The first-reply clock starts again: the complaint is given to it now.
            return replace(case, merchant_given_at=now), ()
        case MediatorAssigned(mediator=address) | MediatorReassigned(mediator=address):
            return replace(case, mediator=address), ()
        case ProposalAccepted(role=role):
            return replace(case, proposal_accepted_by=case.proposal_accepted_by | {role}), ()
        case ProposalMade() | ProposalRejected() | ProposalExpired():
            return replace(case, proposal_accepted_by=frozenset()), ()
    return case, ()


def _measure_first_reply(case: CaseSnapshot, policy: Policy, now: datetime) -> FirstReplyMeasured:
    """The merchant's first reply against the deadline it was given. Where a report that
    the forward bounced stopped that clock, the reply shows the forward arrived after
    all (only the forward gave the shop its case address), and a report is anybody's to
    forge: the reply is measured against the deadline the forward set."""
    given_at = case.merchant_given_at
    assert given_at is not None
    deadline = case.deadlines.get(Deadline.MERCHANT_REPLY) or _deadline(
        Deadline.MERCHANT_REPLY, policy, case.calendar, given_at
    )
    return FirstReplyMeasured(
        seconds=(now - given_at).total_seconds(),
        business_hours=case.calendar.business_hours_between(given_at, now),
        within_deadline=not case.merchant_missed_deadline and now <= deadline,
    )


def _deadlines(
    case: CaseSnapshot, event: Event, rule: Rule, policy: Policy, now: datetime
) -> dict[Deadline, datetime]:
    if rule.target in CLOSED:
        return {}
    deadlines = {kind: at for kind, at in case.deadlines.items() if kind not in rule.stop}
    for kind in rule.start:
        deadlines[kind] = _deadline(kind, policy, case.calendar, now)
    if rule.extend is not None:
        assert isinstance(event, DeadlineExtended)
        base = deadlines.get(rule.extend, now)
        deadlines[rule.extend] = case.calendar.add_business_days(base, event.days)
    return deadlines


def _deadline(
    kind: Deadline, policy: Policy, calendar: BusinessCalendar, now: datetime
) -> datetime:
    match kind:
        case Deadline.MERCHANT_REPLY:
            return calendar.add_business_days(now, policy.merchant_reply_business_days)
        case Deadline.MERCHANT_REMINDER:
            reply_due = _deadline(Deadline.MERCHANT_REPLY, policy, calendar, now)
            span = calendar.business_hours_between(now, reply_due)
            return calendar.add_business_hours(now, span * policy.reminder_fraction)
        case Deadline.CUSTOMER_ANSWER:
            return calendar.add_calendar_days(now, policy.customer_answer_days)
        case Deadline.PROPOSAL_ANSWER:
            return calendar.add_calendar_days(now, policy.proposal_answer_days)
        case Deadline.MEDIATION_END:
            return calendar.add_calendar_days(now, policy.mediation_days)


def _reachable(case: CaseSnapshot, party: Party) -> bool:
    # Before assignment a mediator notice has no recipient; the case file sent on
    # assignment carries the whole timeline, so nothing is lost.
    if party is Party.MEDIATOR:
        return case.mediator is not None
    if party is Party.FORMER_MEDIATOR:
        return True
    if party is Party.MERCHANT:
        return case.merchant is not None
    return True


def _params(case: CaseSnapshot, event: Event) -> dict[str, object]:
    return {
        "ref": case.ref,
        "state": case.state,
        "merchant": case.merchant,
        "mediator": case.mediator,
        **{str(kind): at for kind, at in case.deadlines.items()},
        **dataclasses.asdict(event),
    }


# --- the table, walked: for tests, templates and the docs ---------------------------


def transitions() -> Iterator[tuple[State | None, type[Event], str, Rule]]:
    """Every edge of the table: (state, event type, guard label or "", rule)."""
    for (state, event_type), entry in TRANSITIONS.items():
        if isinstance(entry, Choice):
            yield state, event_type, entry.guard.yes, entry.then
            yield state, event_type, entry.guard.no, entry.otherwise
        else:
            yield state, event_type, "", entry


def template_names() -> dict[Party, frozenset[str]]:
    """The templates each party may be sent (each must exist in German and English)."""
    names: dict[Party, set[str]] = {party: set() for party in Party}
    for _, _, _, rule in transitions():
        for notice in rule.notify:
            relative = notice.to in (Party.ACTING, Party.OTHER)
            for party in PARTIES if relative else (notice.to,):
                names[party].add(notice.template)
    # The former mediator is a mediator: its templates are the mediator's.
    names[Party.MEDIATOR] |= names.pop(Party.FORMER_MEDIATOR)
    del names[Party.ACTING], names[Party.OTHER]
    return {party: frozenset(found) for party, found in names.items()}


def diagram() -> str:
    """docs/states.md: a Mermaid state diagram and a transition table, from `TRANSITIONS`."""
    edges: dict[tuple[str, str], list[str]] = {}
    rows = []
    for state, event_type, guard, rule in transitions():
        source = "[*]" if state is None else str(state)
        trigger = event_type.__name__ + (f" [{guard}]" if guard else "")
        edges.setdefault((source, str(rule.target)), []).append(trigger)
        changes = [f"start {d}" for d in rule.start] + [f"stop {d}" for d in rule.stop]
        changes += [f"extend {rule.extend}"] if rule.extend else []
        notices = ", ".join(f"{n.to}: {n.template}" for n in rule.notify)
        rows.append(f"| {source} | {trigger} | {rule.target} | {', '.join(changes)} | {notices} |")
    lines = [
        "# Case states",
        "",
        "Generated from `mediation.workflow.TRANSITIONS` by",
        "`python -m mediation.workflow --diagram > docs/states.md`; do not edit by hand.",
        "Events not listed for a state are held for the operator (`UnexpectedEvent`).",
        "Entering a closed state stops every deadline.",
        "",
        "```mermaid",
        "stateDiagram-v2",
        *(
            f"    {source} --> {target}: {'<br/>'.join(labels)}"
            for (source, target), labels in edges.items()
        ),
        *(f"    {state} --> [*]" for state in State if state in CLOSED),
        "```",
        "",
        "| state | event [guard] | target | deadlines | notifications |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv != ["--diagram"]:
        print("usage: python -m mediation.workflow --diagram", file=sys.stderr)
        return 2
    sys.stdout.write(diagram())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
