"""A complaint opens a case.

A person's mail to the complaint address (``beschwerde@`` or ``beschwerde+SLUG@``) that
is not praise: the merchant is found in it (`loading.find_merchant`), the customer
recorded, a case number drawn, ``ComplaintReceived`` applied, the case stored with its
first deadlines, and the customer (and a known merchant) notified. A complaint that
repeats the customer's open case about the same shop (no order number, or one of that
case's) opens no second case: it is attached to the open one as evidence and the
customer is told how to write into it. A complaint about a shop from one of that
shop's own addresses or domains (`routing.of_merchant`) opens nothing: a shop cannot
complain about itself, and such a case would hand it both parts (customer and merchant)
and every figure of it. It is held (``self-complaint``) and the sender told.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from mediation import holds, loading, notices, routing, storage, transitions
from mediation.addresses import Role
from mediation.events import ComplaintReceived
from mediation.incoming import Classify, IncomingMail, reading_summary, words
from mediation.outcomes import Outcome
from mediation.settings import Settings
from mediation.storage import Case, HeldReason, Merchant
from mediation.workflow import CaseSnapshot, State

log = logging.getLogger("mediation.case_service")


def open_case(
    session: Session,
    mail: IncomingMail,
    named_slug: str | None,
    classify: Classify,
    settings: Settings,
) -> Outcome:
    """Open a case for the complaint `mail`; `named_slug` from ``beschwerde+SLUG@``."""
    assert mail.sender is not None
    if not words(f"{mail.subject}\n{mail.text}") and not mail.attachments:
        return holds.empty_complaint(session, mail, classify, settings)
    reading = classify(None)
    found = loading.find_merchant(session, mail.subject, mail.text, named_slug)
    match, merchant = found.match, found.merchant
    if merchant is not None and storage.is_own(merchant, mail.sender):
        return holds.self_complaint(session, mail, merchant, classify, settings)
    language = settings.language(reading.language)
    customer = storage.ensure_customer(
        session, mail.sender, mail.sender_name, language, mail.received_at
    )
    if merchant is not None and (
        repeated := _open_case_repeated(session, customer.id, merchant, mail)  # type: ignore[arg-type]
    ):
        detail = f"complaint mail {mail.id}; {repeated.ref} about {merchant.slug} is still open"
        return holds.hold(
            session, mail, HeldReason.OPEN_CASE, detail, settings, tell=classify,
            ref=repeated.ref, case=repeated, role=Role.CUSTOMER,
            values={"merchant_name": merchant.name},
        )  # fmt: skip
    ref = storage.next_ref(session, mail.received_at.year)
    snapshot = CaseSnapshot(ref=ref, calendar=loading.calendar_of(merchant, settings))
    event = ComplaintReceived(merchant=match.slug if match else None, also_named=found.also_named)
    how = f"merchant by {match.rule}: {match.detail}" if match else "merchant not found"
    reason = f"complaint mail {mail.id}; {how}; {reading_summary(reading)}"
    acts = [transitions.Act(event, "customer", reason)]
    steps = transitions.advance(snapshot, acts, mail.received_at, settings, session)
    final = steps[-1].decision.case
    case = storage.insert_case(
        session,
        Case(
            ref=ref,
            state=final.state or State.NEEDS_MERCHANT,
            merchant_id=merchant.id if merchant else None,
            customer_id=customer.id,  # type: ignore[arg-type]
            mediator=final.mediator,
            category=reading.category,
            category_confidence=reading.confidence,
            needs_triage=reading.needs_triage,
            language=language,
            subject=mail.subject[:998],
            complaint_mail_id=mail.id,
            opened_at=mail.received_at,
            updated_at=mail.received_at,
            merchant_given_at=final.merchant_given_at,
        ),
    )
    storage.sync_deadlines(session, case.id, final.deadlines)  # type: ignore[arg-type]
    complaint = {
        "text": mail.text[: notices.MAX_QUOTED_CHARS],
        "text_chars": len(mail.text),
        "attachments": [attachment.to_json() for attachment in mail.attachments],
    }
    transitions.record(session, case, steps, mail.received_at, mail, complaint)
    outgoing = transitions.notify(session, case, steps, mail, Role.CUSTOMER, settings)
    log.debug("case %s opened (%s), %s", ref, final.state, how)
    return Outcome(tuple(outgoing), ref)


def _open_case_repeated(
    session: Session, customer_id: int, merchant: Merchant, mail: IncomingMail
) -> Case | None:
    """The customer's open case about `merchant` that this complaint repeats ("still no
    delivery!"): the newest, unless the two name different order numbers of the shop,
    which makes it a separate matter."""
    named: set[str] | None = None  # read only when an open case is there to compare with
    for case in storage.open_cases_of(session, customer_id, merchant.id):  # type: ignore[arg-type]
        if named is None:
            named = routing.order_numbers(merchant.order_pattern, f"{mail.subject}\n{mail.text}")
        if not named:
            return case
        first = storage.events_of(session, case.id)[:1]  # type: ignore[arg-type]
        complaint = str(first[0].data.get("text", "")) if first else ""
        earlier = routing.order_numbers(merchant.order_pattern, f"{case.subject}\n{complaint}")
        if not earlier or named & earlier:
            return case
    return None
