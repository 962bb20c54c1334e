"""The operator's acts on a case: withdraw it, close it with a reason, give it to
another mediator, and hand waiting mediations to a mediator who became free.

Called from the command line (``siegel case REF --withdraw|--close|--mediator|
--forward-not-received``,
``siegel mediator add|resume``) in the shell's unit of work, at the time the shell
passes. Every act goes through the workflow (`transitions.advance`), is logged with the
operator as its actor and the reason given, and tells the parties (`notices`). An act
the case's state does not allow raises `NotAllowed`, and nothing is changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from mediation import loading, mediator_store, storage, transitions
from mediation.events import (
    CustomerWithdrew,
    Event,
    ForwardBounced,
    MediatorAssigned,
    MediatorReassigned,
    OperatorClosed,
)
from mediation.outcomes import Outcome
from mediation.settings import Settings
from mediation.storage import Case
from mediation.workflow import UnexpectedEvent

OPERATOR = "operator"


class NotAllowed(Exception):
    """The act does not fit the case's state (a closed case, no mediation): one line."""


def withdraw(session: Session, ref: str, reason: str, now: datetime, settings: Settings) -> Outcome:
    """Record that the customer withdrew the complaint (by phone, by letter), with a
    `reason` the parties read (none: "")."""
    case = _case(session, ref)
    why = (
        f"withdrawn for the customer by the operator: {reason}"
        if reason
        else ("withdrawn for the customer by the operator")
    )
    event = CustomerWithdrew(reason=reason.strip())
    return _act(session, case, [event], why, now, settings)


def close(
    session: Session, ref: str, resolved: bool, reason: str, now: datetime, settings: Settings
) -> Outcome:
    """Close the open case `ref` as resolved or not, with a `reason` every party reads."""
    case = _case(session, ref)
    event = OperatorClosed(resolved=resolved, reason=reason.strip())
    return _act(session, case, [event], f"closed by the operator: {reason}", now, settings)


def forward_not_received(session: Session, ref: str, now: datetime, settings: Settings) -> Outcome:
    """The operator confirms that the merchant never got case `ref`'s complaint (its
    forward bounced, reported only after the deadline): the missed deadline is taken
    back (`ForwardBounced`), the mediation goes on."""
    case = _case(session, ref)
    if not case.merchant_missed_deadline or case.first_reply_at is not None:
        raise NotAllowed(f"{case.ref} has no missed deadline of the merchant to take back")
    merchant = storage.merchant_of(session, case)
    address = merchant.support_addresses[0] if merchant and merchant.support_addresses else ""
    event = ForwardBounced(address=address, reason="confirmed by the operator")
    why = "the operator confirmed that the forward of the complaint did not arrive"
    return _act(session, case, [event], why, now, settings)


def reassign(
    session: Session, ref: str, address: str, now: datetime, settings: Settings
) -> Outcome:
    """Give the case in mediation `ref` to the mediator `address` (registered or seeded)."""
    case = _case(session, ref)
    address = address.strip().lower()
    known = {m.address for m in mediator_store.roster(session, settings.mediators)}
    if address not in known:
        raise LookupError(f"no mediator {address} (see `siegel mediator list`)")
    if case.mediator == address:
        raise NotAllowed(f"{case.ref} is already with {address}")
    merchant = storage.merchant_of(session, case)
    if merchant is not None and storage.is_own(merchant, address):
        raise NotAllowed(f"{address} is the shop's own address: it cannot mediate its case")
    event: Event = (
        MediatorAssigned(address)
        if case.mediator is None
        else MediatorReassigned(address, case.mediator)
    )
    return _act(
        session, case, [event], f"mediator chosen by the operator: {address}", now, settings
    )


def assign_waiting(session: Session, now: datetime, settings: Settings) -> list[Outcome]:
    """Give every mediation waiting for a mediator to the free one with the fewest open
    cases, oldest case first, until nobody is free; returns what to send."""
    outcomes = []
    for ref in mediator_store.waiting_cases(session):
        case = storage.load_case(session, ref)
        if case is None or case.mediator is not None:
            continue
        steps = transitions.advance(loading.snapshot(session, case, settings), [], now,
                                    settings, session)  # fmt: skip
        if not steps:
            break  # nobody free: the rest wait too
        outcomes.append(_finish(session, case, steps, now, settings))
    return outcomes


def _case(session: Session, ref: str) -> Case:
    case = storage.load_case(session, ref)
    if case is None:
        raise LookupError(f"no case {ref}")
    return case


def _act(
    session: Session,
    case: Case,
    events: Sequence[Event],
    reason: str,
    now: datetime,
    settings: Settings,
) -> Outcome:
    acts = [transitions.Act(event, OPERATOR, reason) for event in events]
    try:
        steps = transitions.advance(loading.snapshot(session, case, settings), acts, now,
                                    settings, session)  # fmt: skip
    except UnexpectedEvent:
        act = _ACT_NAMES.get(type(events[0]), "that") if events else "that"
        raise NotAllowed(f"{case.ref} is {case.state}: {act} is not possible now") from None
    return _finish(session, case, steps, now, settings)


_ACT_NAMES: dict[type[Event], str] = {
    CustomerWithdrew: "a withdrawal",
    OperatorClosed: "closing it",
    MediatorAssigned: "giving it to a mediator",
    MediatorReassigned: "giving it to another mediator",
    ForwardBounced: "taking the missed deadline back",
}
"""The operator's acts as the refusal names them (not by their event's class name)."""


def _finish(
    session: Session,
    case: Case,
    steps: Sequence[transitions.Step],
    now: datetime,
    settings: Settings,
) -> Outcome:
    ref = case.ref
    transitions.save(session, case, steps, now)
    transitions.record(session, case, steps, now, None)
    return Outcome(tuple(transitions.notify(session, case, steps, None, None, settings)), ref)
