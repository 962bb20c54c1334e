"""What the operator's views read: the cases that need someone, and the merchants'
seals at a glance (`mailflow.web.operator`).

Cases needing attention: waiting for the customer to name the shop (`needs_merchant`),
waiting for the shop's address because the forward bounced (`mediation.bounces`), in
mediation without a mediator, with a deadline overdue (past due and not fired, or held
because no transition fitted), and mails held for the operator. Each list is
bounded and newest first; nothing here writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from mediation.storage import Case, CaseDeadline, HeldMail, Merchant
from mediation.workflow import Deadline, State

LIMIT = 200
MEDIATION_STATES = (State.IN_MEDIATION, State.PROPOSAL_PENDING)


def _case_row(case: Case) -> dict[str, Any]:
    return {"ref": case.ref, "state": case.state, "opened_at": case.opened_at}


def needs_merchant(session: Session) -> list[dict[str, Any]]:
    query = select(Case).where(Case.state == State.NEEDS_MERCHANT)
    query = query.order_by(Case.opened_at.desc()).limit(LIMIT)  # type: ignore[attr-defined]
    return [_case_row(case) for case in session.scalars(query)]


def merchant_unreachable(session: Session) -> list[dict[str, Any]]:
    """Cases whose forward to the merchant bounced: waiting for the operator to give the
    shop's address (``siegel merchant set SLUG --email``), without a deadline."""
    running = select(CaseDeadline.case_id).where(CaseDeadline.kind == Deadline.MERCHANT_REPLY.value)
    query = (
        select(Case, Merchant.slug)
        .join(Merchant, Merchant.id == Case.merchant_id)  # type: ignore[arg-type]
        .where(Case.state == State.AWAITING_MERCHANT, Case.id.not_in(running))  # type: ignore[union-attr]
        .order_by(Case.opened_at.desc())  # type: ignore[attr-defined]
        .limit(LIMIT)
    )
    return [_case_row(case) | {"merchant": slug} for case, slug in session.execute(query)]


def mediation_without_mediator(session: Session) -> list[dict[str, Any]]:
    query = select(Case).where(
        Case.state.in_([str(state) for state in MEDIATION_STATES]),  # type: ignore[attr-defined]
        Case.mediator.is_(None),  # type: ignore[union-attr]
    )
    query = query.order_by(Case.opened_at.desc()).limit(LIMIT)  # type: ignore[attr-defined]
    return [_case_row(case) for case in session.scalars(query)]


def overdue_deadlines(session: Session, before: datetime) -> list[dict[str, Any]]:
    """Deadlines due before `before` (the sweep fires due ones every minute: one still
    here is stuck) or held with a reason."""
    query = (
        select(CaseDeadline, Case.ref, Case.state)
        .join(Case, Case.id == CaseDeadline.case_id)  # type: ignore[arg-type]
        .where(or_(CaseDeadline.due_at < before, CaseDeadline.held_reason.is_not(None)))  # type: ignore[arg-type, operator, union-attr]
        .order_by(CaseDeadline.due_at)  # type: ignore[arg-type]
        .limit(LIMIT)
    )
    return [
        {"ref": ref, "state": state, "kind": deadline.kind, "due_at": deadline.due_at,
         "held_reason": deadline.held_reason}
        for deadline, ref, state in session.execute(query)
    ]  # fmt: skip


def held_mails(session: Session) -> list[dict[str, Any]]:
    query = (
        select(HeldMail, Case.ref)
        .outerjoin(Case, Case.id == HeldMail.case_id)  # type: ignore[arg-type]
        .order_by(HeldMail.held_at.desc())  # type: ignore[attr-defined]
        .limit(LIMIT)
    )
    return [
        {"id": held.id, "mail_id": held.mail_id, "reason": held.reason, "detail": held.detail,
         "ref": ref, "held_at": held.held_at}
        for held, ref in session.execute(query)
    ]  # fmt: skip
