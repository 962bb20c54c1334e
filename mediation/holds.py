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
) -> Outcome:
    """Keep `mail` for the operator; with `tell`, a person who sent it is told in their
    language (never a machine: no answer loops). `role` is the sender's role in `case`,
    for a mail attached as evidence: its notice names that role's case address."""
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
        kind = "EvidenceAttached" if reason is HeldReason.NOT_CASE_ADDRESS else "MailHeld"
        why = f"{reason}: {detail}"
        transitions.log(session, case, kind, "system", why, mail.received_at, mail)
    log.debug("mail %s held (%s): %s", mail.id, reason, detail)
    if not told:
        return Outcome(case_ref=ref, held=reason, detail=detail)
    assert tell is not None and mail.sender and ref
    language = settings.language(tell(None).language)
    key = SENDER_NOTICES.get(reason, "sender.mail_held")
    reply_to = None
    if role is not None and reason is HeldReason.NOT_CASE_ADDRESS:
        reply_to = case_address(settings.secret, settings.domain, ref, role)
    else:
        key = "sender.mail_held" if key == "sender.use_case_address" else key
    values = {"case_address": reply_to or ""}
    notice = notices.to_sender(key, mail, ref, language, settings, values, reply_to)
    return Outcome((notice,), ref, reason, detail)


SENDER_NOTICES = {
    HeldReason.SENDER_NOT_PARTY: "sender.not_party",
    HeldReason.CLOSED_CASE: "sender.case_closed",
    HeldReason.NOT_CASE_ADDRESS: "sender.use_case_address",
}
"""The notice a person gets for each reason its mail was held (others: "being reviewed")."""
