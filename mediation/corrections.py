"""The operator's corrections of a case: naming its shop, correcting its category.

Called from the command line (``siegel case REF --merchant``, ``--category``) in the
shell's unit of work, at the time the shell passes.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from mediation import loading, storage, transitions
from mediation.events import MerchantIdentified
from mediation.outcomes import Outcome
from mediation.settings import Settings
from mediation.storage import Case, CategoryCorrection


def assign_merchant(
    session: Session, ref: str, slug: str, now: datetime, settings: Settings
) -> Outcome:
    """The operator names the shop of a case waiting in ``needs_merchant``."""
    case = storage.load_case(session, ref)
    merchant = storage.merchant_by_slug(session, slug)
    if case is None or merchant is None:
        raise LookupError(f"no case {ref}" if case is None else f"no merchant {slug}")
    customer = storage.customer_of(session, case)
    if loading.own_shop(session, merchant.slug, customer.address):
        # A shop cannot complain about itself (`holds.self_complaint`): not even by hand.
        raise LookupError(
            f"{case.ref}: its customer {customer.address} is an address of {merchant.slug};"
            " a shop cannot complain about itself"
        )
    snapshot = loading.naming_the_shop(
        loading.snapshot(session, case, settings), merchant, settings
    )
    acts = [transitions.Act(MerchantIdentified(merchant.slug), "operator", "named by the operator")]
    steps = transitions.advance(snapshot, acts, now, settings, session)
    transitions.save(session, case, steps, now)
    transitions.record(session, case, steps, now, None)
    return Outcome(
        tuple(transitions.notify(session, case, steps, None, None, settings)),
        case.ref,
    )


def correct_category(session: Session, ref: str, category: str, now: datetime) -> Case:
    """The operator corrects a case's category; kept as training data for the classifier."""
    case = storage.load_case(session, ref)
    if case is None:
        raise LookupError(f"no case {ref}")
    opened = next(
        (e for e in storage.events_of(session, case.id) if e.kind == "ComplaintReceived"),  # type: ignore[arg-type]
        None,
    )
    previous = case.category
    storage.add_correction(
        session,
        CategoryCorrection(
            case_id=case.id,  # type: ignore[arg-type]
            mail_id=case.complaint_mail_id,
            subject=case.subject,
            body=str(opened.data.get("text", "")) if opened else "",
            language=case.language,
            category=category,
            previous_category=previous,
            corrected_at=now,
        ),
    )
    storage.update_case(session, case, {"category": category, "needs_triage": False})
    transitions.log(session, case, "CategoryCorrected", "operator", f"{previous} → {category}", now)
    return case
