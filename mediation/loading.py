"""What a room reads of a case before it decides, built from storage rows.

The workflow's `CaseSnapshot` of a stored case, who may act in it (`CaseParties`, for
`authority`), the business calendar of its merchant, the registered merchant a mail
names (`routing.MerchantIndex`, from `storage.merchant_index`), and whether an address
is a shop's own (`own_shop`). The rows come from `storage`; nothing here writes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import time
from functools import lru_cache

from sqlmodel import Session

from mediation import mediator_store, routing, storage
from mediation.addresses import Role
from mediation.business_time import BusinessCalendar, opening_hours
from mediation.settings import Settings
from mediation.storage import Case, Merchant
from mediation.workflow import NEW_CASE, CaseSnapshot, State


def snapshot(session: Session, case: Case, settings: Settings) -> CaseSnapshot:
    """`case` as the workflow sees it: state, merchant, mediator, running deadlines."""
    merchant = storage.merchant_of(session, case)
    return CaseSnapshot(
        ref=case.ref,
        calendar=calendar_of(merchant, settings),
        state=State(case.state) if case.state else NEW_CASE,
        merchant=merchant.slug if merchant else None,
        mediator=case.mediator,
        deadlines={
            kind: row.due_at
            for kind, row in storage.deadlines_of(session, case.id).items()  # type: ignore[arg-type]
        },
        merchant_given_at=case.merchant_given_at,
        first_reply_at=case.first_reply_at,
        merchant_missed_deadline=case.merchant_missed_deadline,
        proposal_accepted_by=frozenset(Role(role) for role in case.proposal_accepted_by),
        language=case.language,
    )


def naming_the_shop(
    snapshot: CaseSnapshot, merchant: Merchant | None, settings: Settings
) -> CaseSnapshot:
    """`snapshot` of a case about to be given the shop `merchant` (by the customer's
    answer or the operator): its deadlines count in the shop's calendar from then on,
    as when the complaint names the shop at once (a New York shop got Berlin's)."""
    return dataclasses.replace(snapshot, calendar=calendar_of(merchant, settings))


def parties(session: Session, case: Case, settings: Settings) -> routing.CaseParties:
    """Who may act in `case`, for `authority.judge`."""
    customer = storage.customer_of(session, case)
    merchant = storage.merchant_of(session, case)
    return routing.CaseParties(
        customer=customer.address,
        merchant_addresses=tuple(merchant.support_addresses) if merchant else (),
        merchant_domains=tuple(merchant.domains) if merchant else (),
        mediator=case.mediator,
        # Only an assigned mediator acts; the records (paused ones too) count with the seed.
        mediators=tuple(m.address for m in mediator_store.roster(session, settings.mediators))
        if case.mediator
        else settings.mediators,
    )


@dataclass(frozen=True)
class FoundMerchant:
    """The registered merchant a mail names, and the routing rule that found it."""

    match: routing.MerchantMatch | None
    merchant: Merchant | None
    also_named: tuple[str, ...] = ()
    """The names of the other registered merchants the mail names too; without a match,
    of all the registered merchants it names when they are several."""


def find_merchant(
    session: Session, subject: str, text: str, named_slug: str | None = None
) -> FoundMerchant:
    """The registered merchant a mail is about (`routing.MerchantIndex.find`), with its
    row and the names of the other shops it names."""
    index = storage.merchant_index(session)
    match = index.find(subject, text, named_slug)
    merchant = storage.merchant_by_slug(session, match.slug) if match else None
    if match is not None:
        also = match.also
    else:  # several shops, none decided: the customer is asked, and told why
        named = index.named(subject, text)
        also = named if len(named) > 1 else ()
    return FoundMerchant(match, merchant, index.names_of(also))


def own_shop(session: Session, slug: str, address: str | None) -> Merchant | None:
    """Merchant `slug` when `address` is one of its own (`routing.of_merchant`: its
    registered addresses, domains and their subdomains), else None: a complaint about
    it from there is the shop's about itself."""
    merchant = storage.merchant_by_slug(session, slug)
    return merchant if merchant is not None and storage.is_own(merchant, address) else None


def calendar_of(merchant: Merchant | None, settings: Settings) -> BusinessCalendar:
    """The business calendar of `merchant`: its own, or the operator's default."""
    if merchant is None or not (
        merchant.calendar_region or merchant.timezone or merchant.opening_hours
    ):
        return settings.calendar
    return merchant_calendar(
        merchant.calendar_region, merchant.timezone, merchant.opening_hours, settings.calendar
    )


@lru_cache(maxsize=256)
def merchant_calendar(
    region: str | None, timezone: str | None, hours: str | None, default: BusinessCalendar
) -> BusinessCalendar:
    """A merchant's own calendar: its region, time zone or hours over the default's."""
    opening = default.hours
    if hours:
        opens, _, closes = hours.partition("-")
        opening = opening_hours(time.fromisoformat(opens), time.fromisoformat(closes))
    if region:
        return BusinessCalendar.from_region(
            region, timezone or default.timezone, opening, default.closed_dates
        )
    return dataclasses.replace(default, timezone=timezone or default.timezone, hours=opening)
