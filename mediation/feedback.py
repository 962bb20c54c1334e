"""Lob & Tadel outside any case: praise and criticism of a shop, taken from mail.

A person's mail to ``lob@`` (or ``lob+SLUG@``), or praise at the complaint address
(`is_praise`), is recorded for the merchant found in it (`take`) and its author thanked;
when no registered shop is found the author is asked for it at the entry's own signed
address, and `name_merchant` reads the answer. Nothing here opens a case, reaches the
merchant or enters mediation; the rows and their queries are in `feedback_store`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from sqlmodel import Session

from mediation import feedback_store, holds, loading, notices, storage
from mediation.addresses import feedback_address
from mediation.feedback_store import Feedback, Source
from mediation.incoming import Classify, IncomingMail, automatic
from mediation.open_problem import open_problem
from mediation.outcomes import Outcome
from mediation.outgoing import OutgoingMail
from mediation.settings import Settings
from mediation.storage import HeldReason, Merchant

if TYPE_CHECKING:
    from classifier import Classification

log = logging.getLogger("mediation.case_service")


def is_praise(reading: Classification, subject: str, settings: Settings) -> bool:
    """Whether a mail to the complaint address is Lob rather than a complaint: read as
    praise at `[classifier] praise_threshold` or above, and telling of no problem still
    open (`open_problem`: "aber die Lieferung ist seit zwei Wochen überfällig", "Danke
    für nichts"). A complaint taken for praise would get no case at all."""
    return (
        reading.category == "praise"
        and reading.confidence >= settings.praise_threshold
        and open_problem(f"{subject}\n{reading.own_text}") is None
    )


def take(
    session: Session,
    mail: IncomingMail,
    named_slug: str | None,
    source: Source,
    classify: Classify,
    settings: Settings,
) -> Outcome:
    """Lob & Tadel outside any case, from a person: recorded for the merchant found in
    it (as for a complaint), the author thanked, or asked for the shop when none was
    found. From one of the shop's own addresses or domains it is held, not recorded
    (`holds.self_feedback`), as the web form refuses it."""
    assert mail.sender is not None
    reading = classify(None)
    found = loading.find_merchant(session, mail.subject, reading.own_text, named_slug)
    match, merchant = found.match, found.merchant
    if merchant is not None and storage.is_own(merchant, mail.sender):
        return holds.self_feedback(session, mail, merchant, classify, settings)
    praise, criticism = _texts(reading, source)
    language = settings.language(reading.language)
    entry = feedback_store.record(
        session,
        merchant_id=merchant.id if merchant else None,
        author=mail.sender,
        language=language,
        praise=praise,
        criticism=criticism,
        source=source,
        mail_id=mail.id,
        received_at=mail.received_at,
        merchant_named_by=match.rule if match else None,
    )
    log.debug("Lob & Tadel %s from mail %s (%s), merchant %s", entry.id, mail.id, source,
             merchant.slug if merchant else "not found")  # fmt: skip
    return Outcome((_notice(mail, entry, merchant, language, settings),))


def name_merchant(
    session: Session, mail: IncomingMail, feedback_id: int, classify: Classify, settings: Settings
) -> Outcome:
    """The author's answer naming the shop of its Lob & Tadel; asked again (and held for
    the operator) when no registered shop is found in it, held when the shop is the
    author's own (`holds.self_feedback`)."""
    entry = feedback_store.entry(session, feedback_id)
    detail = f"answer to Lob & Tadel {feedback_id}"
    machine = automatic(mail, classify)
    if entry is None or (mail.sender or "").lower() != entry.author.lower():
        return holds.hold(session, mail, HeldReason.SENDER_NOT_PARTY, detail, settings)
    if machine or entry.merchant_id is not None:
        why = f"{detail}: {machine or 'the shop is already named'}"
        return holds.hold(session, mail, HeldReason.MACHINE_MAIL if machine else
                          HeldReason.UNEXPECTED_EVENT, why, settings)  # fmt: skip
    merchant = loading.find_merchant(session, mail.subject, classify(None).own_text).merchant
    if merchant is None:
        held = holds.hold(session, mail, HeldReason.UNKNOWN_MERCHANT, f"{detail}: no shop found",
                          settings)  # fmt: skip
        notice = _notice(mail, entry, None, entry.language, settings)
        return dataclasses.replace(held, outgoing=(notice,))
    if storage.is_own(merchant, mail.sender):
        return holds.self_feedback(session, mail, merchant, classify, settings)
    feedback_store.name_merchant(session, entry, merchant.id)  # type: ignore[arg-type]
    return Outcome((_notice(mail, entry, merchant, entry.language, settings),))


def _texts(reading: Classification, source: Source) -> tuple[str, str]:
    """(Lob, Tadel) of a mail: its labelled fields where it has them ("Lob: …",
    "Tadel: …"), else the author's whole own text as Lob when it reads as praise, as Tadel when
    not. Praise at the complaint address is Lob as a whole."""
    from classifier.ratings import parse_rating

    text = reading.own_text.strip()
    if source is Source.PRAISE_ADDRESS:
        answer = parse_rating(text)
        if answer.readable and (answer.praise or answer.criticism):
            return answer.praise, answer.criticism
    return (text, "") if reading.category == "praise" else ("", text)


def _notice(
    mail: IncomingMail,
    entry: Feedback,
    merchant: Merchant | None,
    language: str,
    settings: Settings,
) -> OutgoingMail:
    if merchant is None:
        assert entry.id is not None
        reply_to = feedback_address(settings.secret, settings.domain, entry.id)
        return notices.to_sender(
            "customer.feedback_which_shop", mail, None, language, settings, reply_to=reply_to
        )
    values = {"merchant_name": merchant.name}
    return notices.to_sender("customer.feedback_thanks", mail, None, language, settings, values)
