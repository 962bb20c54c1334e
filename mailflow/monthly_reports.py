"""Monthly reports: per merchant and for the operator, as data, as text and as mail.

One calendar month in the operator's time zone. The figures are the seal's own: every
merchant's cases and ratings of the month aggregated in SQL (`mediation.figure_store`, a
window from the month's start) and measured by `scoring.measure`, so a report never
computes a figure a second way; the operator's totals are the sum of the merchants'
aggregates, measured the same way. The figures are as of the month's end, or as of now
while the month runs: a case counts for the share of first replies within the deadline
once it is due (answered, or its deadline passed by then), as `siegel score` and the
barometer count it. Tier movement is the seal history's ``tier-changed`` entries in the
month (`mediation.seal`).

`send_due(session, config, now)` mails last month's reports that have not been sent
(`mediation.report_store` keeps one row per month and recipient, in the same
transaction as the mail); `send` runs it in its own transaction after the scheduler's
nightly recompute (`mailflow.service`), so each goes once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import fields
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from mailflow import outbox, sealwork
from mailflow.config import Config
from mailflow.db import session_scope
from mediation import figure_store, report_store, seal, storage, templates
from mediation.outgoing import OutgoingMail
from mediation.storage import Merchant
from scoring import (
    TIER_NAMES,
    MerchantAggregate,
    RatingTotals,
    Tier,
    add_months,
    days_text,
    figure_text,
)
from scoring.figures import measure

log = logging.getLogger("mailflow.reports")

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SHOWN = (
    "cases",
    "cases_due",
    "first_replies",
    "replies_within_deadline",
    "closed",
    "resolved",
    "mediated",
    "ratings",
    "within_deadline_share",
    "first_reply_hours_median",
    "first_reply_hours_p90",
    "resolution_rate",
    "resolution_days_median",
    "resolution_days_p90",
    "mediation_rate",
)


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the first day of that month; ValueError otherwise."""
    found = MONTH.match(text)
    if not found:
        raise ValueError(f"{text!r}: expected YYYY-MM, e.g. 2026-03")
    return date(int(found.group(1)), int(found.group(2)), 1)


def bounds(month: date, zone: str) -> tuple[datetime, datetime]:
    """The month's first and the next month's first moment in time zone `zone`."""
    tz = ZoneInfo(zone)
    start = datetime.combine(month, time(), tz)
    return start, datetime.combine(add_months(month, 1), time(), tz)


def last_month(config: Config, now: datetime) -> date:
    """The month before the one `now` falls in (the operator's time zone)."""
    today = now.astimezone(ZoneInfo(config.siegel.timezone)).date()
    return add_months(today.replace(day=1), -1)


def reports(
    session: Session, config: Config, month: date, slug: str | None = None, *, now: datetime
) -> dict[str, Any]:
    """The month's report: every merchant's (or `slug`'s) figures and tier movement, and
    the operator's totals, as of the month's end (as of `now` while the month runs)."""
    start, end = bounds(month, config.siegel.timezone)
    # A deadline that has not passed yet is no miss: the month's cases are counted as of
    # its end, or of now for the current month (a later month has no cases yet).
    as_of = min(end, now)
    merchant_ids = sealwork.merchants_named(session, slug)
    policy = config.scoring.policy
    aggregates = figure_store.aggregates(session, as_of, 1, merchant_ids, start=start)  # type: ignore[arg-type]
    by_slug = {m.slug: m for m in storage.merchants(session)}
    merchants = []
    for aggregate in aggregates:
        merchant = by_slug[aggregate.merchant]
        if not _registered_before(merchant, end):
            continue  # a month before it held the seal: nothing to report to it or about it
        measured = measure(aggregate, policy)
        moves = [
            {"at": h.at.isoformat(), "before": h.tier_before, "after": h.tier_after}
            for h in seal.history(session, merchant.id)  # type: ignore[arg-type]
            if h.kind == "tier-changed" and start <= h.at < end
        ]
        merchants.append(
            {"merchant": merchant.slug, "name": merchant.name,
             "figures": {k: measured.get(k) for k in SHOWN}, "tier_changes": moves}
        )  # fmt: skip
    reported = {entry["merchant"] for entry in merchants}
    total = measure(_sum([a for a in aggregates if a.merchant in reported]), policy)
    return {
        "month": f"{month:%Y-%m}",
        "from": start.isoformat(),
        "until": end.isoformat(),
        "as_of": as_of.isoformat(),
        "operator": {
            "merchants": len(merchants),
            "figures": {k: total.get(k) for k in SHOWN},
            "tier_changes": sum(len(m["tier_changes"]) for m in merchants),
        },
        "merchants": merchants,
    }


def _sum(aggregates: list[MerchantAggregate]) -> MerchantAggregate:
    """All merchants' aggregates as one (counts, histograms and rating totals added)."""
    values: dict[str, Any] = {}
    for field in fields(MerchantAggregate):
        if field.name == "merchant":
            continue
        parts = [getattr(a, field.name) for a in aggregates]
        if field.type in ("int",) or (all(isinstance(p, int) for p in parts) and parts):
            values[field.name] = sum(parts)
        elif parts and isinstance(parts[0], RatingTotals):
            values[field.name] = RatingTotals(sum(p.count for p in parts),
                                              sum(p.total for p in parts))  # fmt: skip
        elif parts:
            width = max(len(p) for p in parts)
            values[field.name] = tuple(sum(p[i] for p in parts if i < len(p)) for i in range(width))
    return MerchantAggregate("*", **values)


# ------------------------------------------------------------------ text

_LABELS = {
    "de": {
        "cases": "Neue Fälle",
        "cases_due": "davon fällig (Antwort oder Frist um)",
        "first_replies": "davon mit erster Antwort",
        "replies_within_deadline": "erste Antwort innerhalb der Frist",
        "closed": "Abgeschlossen",
        "resolved": "davon gelöst oder beigelegt",
        "mediated": "In die Schlichtung gegangen",
        "ratings": "Bewertungen",
        "within_deadline_share": "Anteil fristgerechter erster Antworten",
        "first_reply_hours_median": "Erste Antwort, Median",
        "first_reply_hours_p90": "Erste Antwort, 90 % der Fälle",
        "resolution_rate": "Lösungsquote",
        "resolution_days_median": "Dauer bis zur Lösung, Median",
        "resolution_days_p90": "Dauer bis zur Lösung, 90 % der Fälle",
        "mediation_rate": "Anteil mit Schlichtung",
    },
    "en": {
        "cases": "New cases",
        "cases_due": "due (replied or deadline passed)",
        "first_replies": "with a first reply",
        "replies_within_deadline": "first reply within the deadline",
        "closed": "Closed",
        "resolved": "of them resolved or settled",
        "mediated": "Went to mediation",
        "ratings": "Ratings",
        "within_deadline_share": "Share of first replies within the deadline",
        "first_reply_hours_median": "First reply, median",
        "first_reply_hours_p90": "First reply, 90 % of cases",
        "resolution_rate": "Resolution rate",
        "resolution_days_median": "Time to resolution, median",
        "resolution_days_p90": "Time to resolution, 90 % of cases",
        "mediation_rate": "Share that needed mediation",
    },
}
_NONE = {"de": "nicht messbar", "en": "not measurable"}
_NO_MOVES = {
    "de": "Die Stufe blieb im Monat unverändert.",
    "en": "The tier did not change this month.",
}
_MOVE = {
    "de": "Stufe geändert am {day}: {before} → {after}",
    "en": "Tier changed on {day}: {before} → {after}",
}


def figure_lines(values: dict[str, Any], language: str) -> str:
    """The figures as aligned lines in `language` ("78,4 %", "4 Geschäftsstunden"); a
    reply time beyond the histogram's last edge while cases are due is "more than 160
    business hours", not "not measurable"."""
    cases_due = values.get("cases_due") or 0
    labels = _LABELS[language]
    width = max(len(label) for label in labels.values())
    lines = []
    for key in SHOWN:
        value = values.get(key)
        if key.endswith(("_share", "_rate")):
            shown = _NONE[language] if value is None else _percent(value, language)
        elif key.startswith("first_reply_hours"):
            shown = figure_text(value, key, language, cases_due)
        elif key.startswith("resolution_days_"):
            shown = _NONE[language] if not values.get("resolved") else days_text(value, language)
        else:
            shown = str(value or 0)
        lines.append(f"{labels[key] + ':':<{width + 1}} {shown}")
    return "\n".join(lines)


def _percent(value: float, language: str) -> str:
    text = f"{value * 100:.1f} %"
    return text.replace(".", ",") if language == "de" else text


def moves_text(moves: list[dict[str, Any]], language: str) -> str:
    if not moves:
        return _NO_MOVES[language]

    def tier(value: str | None) -> str:
        return TIER_NAMES[language][Tier(value)] if value else "-"

    return "\n".join(
        _MOVE[language].format(
            day=templates.calendar_day(date.fromisoformat(m["at"][:10]), language),
            before=tier(m["before"]),
            after=tier(m["after"]),
        )
        for m in moves
    )


def merchant_mail(
    report: dict[str, Any], entry: dict[str, Any], to: str, language: str
) -> OutgoingMail:
    values = {
        "month": report["month"],
        "merchant_name": entry["name"],
        "figures": figure_lines(entry["figures"], language),
        "tier_changes": moves_text(entry["tier_changes"], language),
    }
    return _mail("merchant.monthly_report", to, language, values)


def operator_mail(report: dict[str, Any], to: str, language: str) -> OutgoingMail:
    median = "first_reply_hours_median"
    rows = [
        f"- {m['merchant']}: {m['figures']['cases'] or 0} / "
        f"{figure_text(m['figures'][median], median, language, m['figures']['cases_due'])}"
        + (f" / {moves_text(m['tier_changes'], language)}" if m["tier_changes"] else "")
        for m in report["merchants"]
    ]
    values = {
        "month": report["month"],
        "merchant_name": "",
        "figures": figure_lines(report["operator"]["figures"], language),
        "tier_changes": "\n".join(rows) or "-",
    }
    return _mail("operator.monthly_report", to, language, values)


def _mail(key: str, to: str, language: str, values: dict[str, str]) -> OutgoingMail:
    rendered = templates.render_report(key, language, values)
    return OutgoingMail(
        to=to, subject=rendered.subject, text=rendered.text, html=rendered.html,
        kind=key, language=language,
    )  # fmt: skip


# ------------------------------------------------------------------ sending


def send_due(session: Session, config: Config, now: datetime) -> int:
    """Enqueue last month's reports not sent yet (each merchant's, the operator's);
    returns how many. Recorded in the same transaction, so each goes once."""
    month = last_month(config, now)
    key = f"{month:%Y-%m}"
    done = report_store.sent(session, key)
    _, end = bounds(month, config.siegel.timezone)
    merchants = {m.slug: m for m in storage.merchants(session) if _registered_before(m, end)}
    if set(merchants) | {report_store.OPERATOR} <= done:
        return 0
    report = reports(session, config, month, now=now)
    count = 0
    for entry in report["merchants"]:
        merchant = merchants[entry["merchant"]]
        if merchant.slug in done or not merchant.support_addresses:
            continue
        mail = merchant_mail(report, entry, merchant.support_addresses[0], merchant.language)
        outbox.enqueue(session, mail, config, now)
        report_store.mark_sent(session, key, merchant.slug, now)
        count += 1
    operator = config.mediation.operator
    if operator and report_store.OPERATOR not in done:
        mail = operator_mail(report, operator, config.siegel.default_language)
        outbox.enqueue(session, mail, config, now)
        report_store.mark_sent(session, key, report_store.OPERATOR, now)
        count += 1
    return count


def _registered_before(merchant: Merchant, end: datetime) -> bool:
    return merchant.created_at < end


def send(engine: Engine, config: Config, now: datetime) -> int:
    """`send_due` in its own transaction (the nightly job); 0 when another process sent
    them at the same moment (the unique key refused the second)."""
    try:
        with session_scope(engine) as session:
            count = send_due(session, config, now)
    except IntegrityError:
        log.debug("monthly reports sent by another process")
        return 0
    if count:
        log.info("monthly reports of %s: %d mails", f"{last_month(config, now):%Y-%m}", count)
    return count
