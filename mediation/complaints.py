"""A complaint opens a case.

A person's mail to the complaint address (``beschwerde@`` or ``beschwerde+SLUG@``) that
is not praise: the merchant is found in it (`loading.find_merchant`), the customer
recorded, a case number drawn, ``ComplaintReceived`` applied, the case stored with its
first deadlines, and the customer (and a known merchant) notified.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from mediation import loading, notices, storage, transitions
from mediation.addresses import Role
from mediation.events import ComplaintReceived
from mediation.incoming import Classify, IncomingMail, reading_summary
from mediation.outcomes import Outcome
from mediation.settings import Settings
from mediation.storage import Case
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
    reading = classify(None)
    found = loading.find_merchant(session, mail.subject, mail.text, named_slug)
    match, merchant = found.match, found.merchant
    language = settings.language(reading.language)
    customer = storage.ensure_customer(
        session, mail.sender, mail.sender_name, language, mail.received_at
    )
    ref = storage.next_ref(session, mail.received_at.year)
    snapshot = CaseSnapshot(ref=ref, calendar=loading.calendar_of(merchant, settings))
    event = ComplaintReceived(merchant=match.slug if match else None)
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
    complaint = {"text": mail.text[: notices.MAX_QUOTED_CHARS]}
    transitions.record(session, case, steps, mail.received_at, mail, complaint)
    outgoing = transitions.notify(session, case, steps, mail, Role.CUSTOMER, settings)
    log.debug("case %s opened (%s), %s", ref, final.state, how)
    return Outcome(tuple(outgoing), ref)
