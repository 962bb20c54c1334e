"""Holding a mail that cannot act: kept for the operator, its sender told.

A mail that cannot act is never dropped: `hold` stores it with the reason
(`storage.HeldReason`, listed by ``siegel held``), logs it on its case when it has one
(``EvidenceAttached`` for a party's mail that found its case by threading headers or
subject, ``MailHeld`` otherwise) and, when asked to, answers a person who sent it, in
their language, with what to do instead (never a machine: no answer loops).
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from mediation import notices, storage, transitions
from mediation.addresses import Role, case_address
from mediation.incoming import Classify, IncomingMail, automatic
from mediation.outcomes import Outcome
from mediation.settings import Settings
from mediation.storage import Case, HeldMail, HeldReason

log = logging.getLogger("mediation.case_service")


def hold(
    session: Session,
    mail: IncomingMail,
    reason: HeldReason,
    detail: str,
    settings: Settings,
    *,
    tell: Classify | None = None,
    ref: str | None = None,
    case: Case | None = None,
    role: Role | None = None,
    values: dict[str, str] | None = None,
) -> Outcome:
    """Keep `mail` for the operator; with `tell`, a person who sent it is told in their
    language (never a machine: no answer loops). `role` is the sender's role in `case`,
    for a mail attached as evidence, or one that a party sent to another party's case
    address: its notice names that role's case address; `values` fill the notice's
    other blanks."""
    told = bool(tell is not None and mail.sender and ref and automatic(mail, tell) is None)
    storage.hold_mail(
        session,
        HeldMail(
            mail_id=mail.id,
            reason=reason,
            detail=detail,
            sender=mail.sender,
            case_id=case.id if case else None,
            held_at=mail.received_at,
            sender_told=told,
        ),
    )
    if case is not None:
        kind = "EvidenceAttached" if reason in EVIDENCE else "MailHeld"
        why = f"{reason}: {detail}"
        transitions.log(session, case, kind, "system", why, mail.received_at, mail)
    log.debug("mail %s held (%s): %s", mail.id, reason, detail)
    if not told:
        return Outcome(case_ref=ref, held=reason, detail=detail)
    assert tell is not None and mail.sender and ref
    language = settings.language(tell(None).language)
    key = SENDER_NOTICES.get(reason, "sender.mail_held")
    reply_to = None
    if role is not None and (reason in EVIDENCE or reason is HeldReason.SENDER_NOT_PARTY):
        # The sender's own case address: where its mail would have acted.
        reply_to = case_address(settings.secret, settings.domain, ref, role)
        if reason is HeldReason.SENDER_NOT_PARTY:
            key = "sender.other_role_address"
    elif reason in EVIDENCE:
        key = "sender.mail_held"
    values = {"case_address": reply_to or "", **(values or {})}
    notice = notices.to_sender(key, mail, ref, language, settings, values, reply_to)
    return Outcome((notice,), ref, reason, detail)


EVIDENCE = frozenset({HeldReason.NOT_CASE_ADDRESS, HeldReason.OPEN_CASE})
"""Reasons of a party's mail that is attached to its case as evidence, never acting."""

SENDER_NOTICES = {
    HeldReason.SENDER_NOT_PARTY: "sender.not_party",
    HeldReason.CLOSED_CASE: "sender.case_closed",
    HeldReason.NOT_CASE_ADDRESS: "sender.use_case_address",
    HeldReason.OPEN_CASE: "sender.complaint_already_open",
}
"""The notice a person gets for each reason its mail was held (others: "being reviewed")."""
