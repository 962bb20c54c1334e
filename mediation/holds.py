"""Holding a mail that cannot act: kept for the operator, its sender told.

A mail that cannot act is never dropped: `hold` stores it with the reason
(`storage.HeldReason`, listed by ``siegel held``), logs it on its case when it has one
(``EvidenceAttached`` for a party's mail that found its case by threading headers or
subject, ``MailHeld`` otherwise) and, when asked to, answers a person who sent it, in
their language, with what to do instead (never a machine: no answer loops).
`too_many_cases` holds a mail in the cases beyond those one mail may act in, its sender
told once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from sqlmodel import Session

from mediation import notices, storage, transitions
from mediation.addresses import Role, case_address
from mediation.incoming import Classify, IncomingMail, automatic
from mediation.outcomes import Outcome
from mediation.settings import Settings
from mediation.storage import Case, HeldMail, HeldReason, Merchant

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
    notice: str | None = None,
) -> Outcome:
    """Keep `mail` for the operator; with `tell`, a person who sent it is told in their
    language (never a machine: no answer loops). `role` is the sender's role in `case`,
    for a mail attached as evidence, or one that a party sent to another party's case
    address: its notice names that role's case address; `values` fill the notice's
    other blanks; `notice` is the template to tell with, where not the reason's. Without
    a case (`ref` None) only a reason in `CASELESS_NOTICES` is answered."""
    answerable = ref or reason in CASELESS_NOTICES
    told = bool(tell is not None and answerable and _person(mail, tell))
    _keep(session, mail, reason, detail, case, told)
    if not told:
        return Outcome(case_ref=ref, held=reason, detail=detail)
    assert tell is not None and mail.sender
    language = settings.language(tell(None).language)
    key = notice or SENDER_NOTICES.get(reason, "sender.mail_held")
    reply_to = None
    if role is not None and ref and (reason in EVIDENCE or reason is HeldReason.SENDER_NOT_PARTY):
        # The sender's own case address: where its mail would have acted.
        reply_to = case_address(settings.secret, settings.domain, ref, role)
        if reason is HeldReason.SENDER_NOT_PARTY:
            key = "sender.other_role_address"
    elif reason in EVIDENCE:
        key = "sender.mail_held"
    values = {"case_address": reply_to or "", **(values or {})}
    notice = notices.to_sender(key, mail, ref, language, settings, values, reply_to)
    return Outcome((notice,), ref, reason, detail)


def self_complaint(
    session: Session,
    mail: IncomingMail,
    merchant: Merchant,
    tell: Classify,
    settings: Settings,
    case: Case | None = None,
) -> Outcome:
    """Hold a complaint about `merchant` from one of its own addresses or domains
    (`routing.of_merchant`), a new one or the answer naming the shop of `case`: no case
    is opened or given that shop, nothing counts, and the sender is told that a shop
    cannot complain about itself."""
    detail = (
        f"complaint about {merchant.slug} from {mail.sender}, an address of that shop: "
        "a shop cannot complain about itself"
    )
    return hold(
        session, mail, HeldReason.SELF_COMPLAINT, detail, settings, tell=tell,
        ref=case.ref if case else None, case=case, values={"merchant_name": merchant.name},
    )  # fmt: skip


def empty_complaint(
    session: Session, mail: IncomingMail, tell: Classify, settings: Settings
) -> Outcome:
    """Hold a mail to the complaint address that says nothing (no word in its subject or
    text, nothing attached): no case is opened for it, and the sender is asked to write
    what happened and about which shop."""
    detail = f"complaint mail {mail.id} from {mail.sender} has no text and no attachment"
    return hold(session, mail, HeldReason.EMPTY_COMPLAINT, detail, settings, tell=tell)


def self_feedback(
    session: Session, mail: IncomingMail, merchant: Merchant, tell: Classify, settings: Settings
) -> Outcome:
    """Hold Lob & Tadel about `merchant` mailed from one of its own addresses or domains
    (`routing.of_merchant`), as the web form refuses it: nothing is recorded, and the
    sender is told that a shop cannot rate itself."""
    detail = (
        f"Lob & Tadel about {merchant.slug} from {mail.sender}, an address of that shop: "
        "a shop cannot rate itself"
    )
    return hold(
        session, mail, HeldReason.SELF_FEEDBACK, detail, settings, tell=tell,
        values={"merchant_name": merchant.name},
    )  # fmt: skip


def too_many_cases(
    session: Session,
    mail: IncomingMail,
    over: Sequence[tuple[str, Case | None]],
    limit: int,
    tell: Classify,
    settings: Settings,
) -> list[Outcome]:
    """Hold `mail` in the cases `over` (reference, and the case where it exists): the
    cases of its case addresses beyond the `limit` it may act in (`[mediation]
    max_cases_per_mail`). Each case logs it; a person who sent it is told once, in one
    notice naming them all, to write to each on its own."""
    told = _person(mail, tell)
    detail = (
        f"one of {limit + len(over)} cases the mail went to; "
        f"a mail acts in {limit} at most ([mediation] max_cases_per_mail)"
    )
    reason = HeldReason.TOO_MANY_CASES
    outcomes = []
    for ref, case in over:
        _keep(session, mail, reason, f"{detail} ({ref})", case, told)
        outcomes.append(Outcome(case_ref=ref, held=reason, detail=f"{detail} ({ref})"))
    if told and outcomes:
        assert mail.sender
        language = settings.language(tell(None).language)
        refs = "\n".join(f"- {ref}" for ref, _ in over)
        notice = notices.to_sender(
            "sender.too_many_cases", mail, None, language, settings, {"case_refs": refs}
        )
        outcomes[0] = dataclasses.replace(outcomes[0], outgoing=(notice,))
    return outcomes


def _person(mail: IncomingMail, tell: Classify) -> bool:
    """Whether `mail` may be answered: a person wrote it (never a machine: no loops)."""
    return bool(mail.sender and automatic(mail, tell) is None)


def _keep(
    session: Session,
    mail: IncomingMail,
    reason: HeldReason,
    detail: str,
    case: Case | None,
    told: bool,
) -> None:
    """Store `mail` as held (``siegel held``) and log it on its case, if it has one."""
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


EVIDENCE = frozenset({HeldReason.NOT_CASE_ADDRESS, HeldReason.OPEN_CASE})
"""Reasons of a party's mail that is attached to its case as evidence, never acting."""

SENDER_NOTICES = {
    HeldReason.SENDER_NOT_PARTY: "sender.not_party",
    HeldReason.CLOSED_CASE: "sender.case_closed",
    HeldReason.NOT_CASE_ADDRESS: "sender.use_case_address",
    HeldReason.OPEN_CASE: "sender.complaint_already_open",
    HeldReason.SELF_COMPLAINT: "sender.self_complaint",
    HeldReason.SELF_FEEDBACK: "sender.self_feedback",
    HeldReason.EMPTY_COMPLAINT: "sender.complaint_empty",
    HeldReason.TOO_MANY_MESSAGES: "sender.too_many_messages",
}
"""The notice a person gets for each reason its mail was held (others: "being reviewed")."""

CASELESS_NOTICES = frozenset(
    {HeldReason.SELF_COMPLAINT, HeldReason.SELF_FEEDBACK, HeldReason.EMPTY_COMPLAINT}
)
"""Reasons whose notice needs no case: the sender is told although no case was opened."""
