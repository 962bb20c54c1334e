"""A due deadline fires: its event applied to the case at the due time.

The sweep (`mailflow.casework.sweep`) finds due deadlines (`storage.due_deadline_ids`)
and calls `fire` for each, one unit of work each. A deadline whose event fits no
transition is held for the operator (the sweep skips it from then on). A reminder that
a sweep finds due only when the deadline it reminds of has passed too is dropped.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from mediation import loading, storage, transitions
from mediation.outcomes import Fired
from mediation.settings import Settings
from mediation.workflow import DUE_EVENTS, Deadline, UnexpectedEvent

log = logging.getLogger("mediation.case_service")


def fire(session: Session, deadline_id: int, now: datetime, settings: Settings) -> Fired | None:
    """Fire deadline `deadline_id` if it is still due at `now`; None when it is not.

    The case is locked first (the order every writer of a case's deadlines uses), then
    the deadline is re-read and claimed by a conditional delete: of two sweeps racing
    for it, one fires it and the other finds it gone. The event happens at the due time,
    so a sweep that catches up after downtime replays the case as it would have run.
    """
    found = storage.deadline(session, deadline_id)
    if found is None:
        return None
    case = storage.lock_case(session, found.case_id)
    due = storage.deadline(session, deadline_id)
    if case is None or due is None or due.due_at > now or due.held_reason is not None:
        return None
    kind = Deadline(due.kind)
    snapshot = loading.snapshot(session, case, settings)
    reply_due = snapshot.deadlines.get(Deadline.MERCHANT_REPLY)
    if kind is Deadline.MERCHANT_REMINDER and reply_due is not None and reply_due <= now:
        # A sweep that comes late would remind of a deadline this sweep finds passed:
        # the merchant would read "answer by …" beside "deadline missed".
        if not storage.claim_deadline(session, due):
            return None
        why = f"{kind} due at {due.due_at.isoformat()}: not sent, the deadline has passed too"
        transitions.log(session, case, "ReminderSkipped", "system", why, due.due_at)
        return Fired(case.ref, kind)
    event = DUE_EVENTS[kind]()
    reason = f"{kind} due at {due.due_at.isoformat()}"
    acts = [transitions.Act(event, "system", reason)]
    try:
        steps = transitions.advance(snapshot, acts, due.due_at, settings, session)
    except UnexpectedEvent as error:
        if storage.hold_deadline(session, due, str(error)):
            transitions.log(session, case, "DeadlineHeld", "system", str(error), due.due_at,
                            data={"kind": kind})  # fmt: skip
            log.warning("deadline %s of %s held: %s", kind, case.ref, error)
        return Fired(case.ref, kind, held=str(error))
    if not storage.claim_deadline(session, due):
        return None
    transitions.save(session, case, steps, due.due_at)
    transitions.record(session, case, steps, due.due_at, None)
    outgoing = transitions.notify(session, case, steps, None, None, settings)
    return Fired(case.ref, kind, tuple(outgoing))
