"""Moving a case on: events through the workflow, then saved, logged and announced.

Every room that changes a case does the same four things, in this order:

1. `advance`: feed its events (`Act`s) to `workflow.decide` one after another, and
   assign a mediator when the case needs one; raises `UnexpectedEvent` before anything
   is saved, so that the room can hold the mail instead.
2. `save`: write the final state, figures and deadlines (`storage.update_case`,
   guarded by the case's version, and `storage.sync_deadlines`).
3. `record`: append every record of every step to the event log.
4. `notify`: render the notifications of the decisions (`notices`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from mediation import mediator_store, notices, storage
from mediation.addresses import Role
from mediation.events import Event, MediatorAssigned, MediatorUnavailable
from mediation.incoming import IncomingMail
from mediation.outgoing import OutgoingMail
from mediation.settings import Settings
from mediation.storage import Case, CaseEvent
from mediation.workflow import CLOSED, MEDIATING, CaseSnapshot, Decision, State, decide


@dataclass(frozen=True)
class Act:
    """An event to apply, with who caused it and why (the event log's actor and reason)."""

    event: Event
    actor: str
    reason: str


@dataclass(frozen=True)
class Step:
    """One event applied to a case, with who caused it and why."""

    event: Event
    actor: str
    reason: str
    before: State | None
    decision: Decision


def advance(
    snapshot: CaseSnapshot,
    acts: Sequence[Act],
    now: datetime,
    settings: Settings,
    session: Session,
) -> list[Step]:
    """Apply `acts` in order; then assign a mediator if the case needs one.

    Pure but for the mediator count; raises `UnexpectedEvent` before anything is saved.
    """
    steps: list[Step] = []
    for act in acts:
        decision = decide(snapshot, act.event, settings.policy, now)
        steps.append(Step(act.event, act.actor, act.reason, snapshot.state, decision))
        snapshot = decision.case
    needs_mediator = snapshot.state in MEDIATING
    if needs_mediator and snapshot.mediator is None:
        merchant = storage.merchant_by_slug(session, snapshot.merchant or "")
        chosen, loads, free = mediator_store.choose(
            session, settings.mediators, snapshot.language, settings.default_language, merchant
        )
        event: Event
        if chosen is not None:
            event = MediatorAssigned(chosen.address)
            reason = f"fewest open cases ({loads.get(chosen.address, 0)}) of {free} free mediators"
        elif steps and steps[0].before not in MEDIATING:
            # Just entered mediation and nobody is free: it waits; the operator is told.
            event = MediatorUnavailable()
            reason = "no mediator free (none registered or all paused)"
        else:
            return steps
        decision = decide(snapshot, event, settings.policy, now)
        steps.append(Step(event, "system", reason, snapshot.state, decision))
    return steps


def save(session: Session, case: Case, steps: Sequence[Step], now: datetime) -> None:
    """Write the case as the last step left it: state, parties, measured figures, deadlines."""
    final = steps[-1].decision.case
    values: dict[str, Any] = {
        "state": str(final.state),
        "mediator": final.mediator,
        "merchant_given_at": final.merchant_given_at,
        "first_reply_at": final.first_reply_at,
        "merchant_missed_deadline": final.merchant_missed_deadline,
        "proposal_accepted_by": sorted(str(role) for role in final.proposal_accepted_by),
        "updated_at": now,
    }
    current = storage.merchant_of(session, case)
    if final.merchant != (current.slug if current else None):
        merchant = storage.merchant_by_slug(session, final.merchant) if final.merchant else None
        values["merchant_id"] = merchant.id if merchant else None
    if final.state in CLOSED and case.closed_at is None:
        values["closed_at"] = now
    in_mediation = final.state in (State.IN_MEDIATION, State.PROPOSAL_PENDING)
    if in_mediation and case.mediation_started_at is None:
        values["mediation_started_at"] = now
    for step in steps:
        measured = step.decision.first_reply
        if measured is not None:
            values["first_reply_seconds"] = measured.seconds
            values["first_reply_business_hours"] = measured.business_hours
            values["first_reply_business_seconds"] = round(measured.business_hours * 3600)
            values["first_reply_within_deadline"] = measured.within_deadline
    case_id = case.id
    storage.update_case(session, case, values)
    storage.sync_deadlines(session, case_id, final.deadlines)  # type: ignore[arg-type]


def record(
    session: Session,
    case: Case,
    steps: Sequence[Step],
    at: datetime,
    mail: IncomingMail | None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Log every record of every step; `extra` fills gaps in the first event's data."""
    rows = []
    for index, step in enumerate(steps):
        for entry in step.decision.records:
            data = _jsonable(dataclasses.asdict(entry))
            if index == 0 and entry is step.event and extra:
                data = dict(extra) | data  # the event's own fields win
            rows.append(
                CaseEvent(
                    case_id=case.id,  # type: ignore[arg-type]
                    at=at,
                    kind=type(entry).__name__,
                    actor=step.actor,
                    actor_address=mail.sender if mail and step.actor != "system" else None,
                    reason=step.reason,
                    mail_id=mail.id if mail else None,
                    state_before=str(step.before) if step.before else None,
                    state_after=str(step.decision.state),
                    data=data,
                )
            )
    storage.append_events(session, rows)


def notify(
    session: Session,
    case: Case,
    steps: Sequence[Step],
    mail: IncomingMail | None,
    sender_role: Role | None,
    settings: Settings,
) -> list[OutgoingMail]:
    """The mails the steps' decisions send; one to `sender_role` answers `mail`."""
    decisions = [step.decision for step in steps]
    return notices.for_decisions(session, case, decisions, mail, sender_role, settings)


def log(
    session: Session,
    case: Case,
    kind: str,
    actor: str,
    reason: str,
    at: datetime,
    mail: IncomingMail | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Log something that happened to a case without a transition (a hold, a correction)."""
    storage.add_event(
        session,
        CaseEvent(
            case_id=case.id,  # type: ignore[arg-type]
            at=at,
            kind=kind,
            actor=actor,
            actor_address=mail.sender if mail else None,
            reason=reason,
            mail_id=mail.id if mail else None,
            state_before=case.state,
            state_after=case.state,
            data=_jsonable(dict(data or {})),
        ),
    )


def _jsonable(value: Any) -> Any:
    """`value` as the JSON of an event's data (datetimes in ISO 8601, the rest as text)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
