"""The certificate page's content in one language: what `certificate.html` shows.

Turns a `certificate_data.Certificate` into plain values: the seal's state, the
barometer with each dimension's interval, the process figures with their counts, the
chart, the released Lob & Tadel and the tier's explanation. Figures are written the
way the tier reasons write them (`scoring.figure_text`, `scoring.days_text`).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from mailflow.web import chart, i18n
from mailflow.web.certificate_data import Certificate
from scoring import (
    TIER_NAMES,
    SealPhase,
    Tier,
    days_text,
    figure_name,
    figure_text,
    rating_barometer,
    threshold_text,
)


def status(certificate: Certificate, language: str) -> dict[str, Any]:
    """The seal's state: active (with the held tier), trial, pre-check or expired. An
    expired seal never shows its old tier."""
    t = i18n.texts(language)
    seal = certificate.assessment.seal
    names = TIER_NAMES[language]
    held = Tier(certificate.seal.tier)
    shown: dict[str, Any] = {
        "kind": seal.phase.value,
        "tier": Tier.NONE.value,
        "tier_name": names[Tier.NONE],
        "valid_until": None,
        "valid_label": t["valid_until"],
        "note": None,
        "text": "",
    }
    if seal.phase is SealPhase.ACTIVE:
        title = t["state_active"] if held is not Tier.NONE else t["state_no_tier"]
        shown |= {"title": title, "tier": held.value, "tier_name": names[held]}
        if held is Tier.NONE:  # certified, no tier: the state says so, no "tier: no seal"
            shown["valid_label"] = t["certified_until"]
        if seal.last_valid_day is not None:
            shown["valid_until"] = i18n.day(seal.last_valid_day, language)
        live = certificate.assessment.tier
        if live is not held:
            shown["note"] = t["live_differs"].format(tier=names[live])
    elif seal.phase is SealPhase.TRIAL:
        day = i18n.day(seal.trial_ends_on, language) if seal.trial_ends_on else ""
        shown |= {"title": t["state_trial"], "text": t["state_trial_text"].format(day=day)}
    elif seal.phase is SealPhase.RECHECK_DUE:
        day = i18n.day(seal.valid_until, language) if seal.valid_until else ""
        shown |= {"title": t["state_expired"], "text": t["state_expired_text"].format(day=day)}
    else:
        shown |= {"title": t["state_precheck"], "text": t["state_precheck_text"]}
    return shown


def barometer(certificate: Certificate, language: str) -> list[dict[str, Any]]:
    """Each rating dimension: mean, count and confidence interval, and the bar's width;
    the public figures of `scoring.rating_barometer`, as ``siegel barometer`` shows them
    (the shrunk score the tier is judged on is in the explanation, not here)."""
    t = i18n.texts(language)
    assessment = certificate.assessment
    shown = rating_barometer(
        assessment.figures, certificate.distribution, assessment.policy.confidence
    )
    rows = []
    for name, dimension in shown.dimensions.items():
        mean, interval = dimension.mean, dimension.interval
        rows.append(
            {
                "name": t[f"dimension_{name}"],
                "count": dimension.count,
                "mean": i18n.number(mean, language) if mean is not None else None,
                "interval": (
                    f"{i18n.number(interval[0], language)} – {i18n.number(interval[1], language)}"
                    if interval
                    else None
                ),
                # The bar: the scale 1 to 5 over 100 units; the interval as a whisker.
                "bar": round((mean - 1) * 25, 1) if mean is not None else 0,
                "low": round((interval[0] - 1) * 25, 1) if interval else None,
                "high": round((interval[1] - 1) * 25, 1) if interval else None,
            }
        )
    return rows


def process(certificate: Certificate, language: str) -> list[dict[str, str]]:
    """The reaction and handling figures, each with the counts it is measured on."""
    t = i18n.texts(language)
    f = certificate.assessment.figures
    due = int(f["cases_due"] or 0)
    timed = int(f.get("resolution_days_count") or 0)

    def row(name: str, value: str, part: object, whole: object, note: str) -> dict[str, str]:
        noun = t[note]
        if isinstance(noun, dict):  # singular and plural, by the count it follows
            noun = noun["one" if (part if whole is None else whole) == 1 else "other"]
        basis = f"{part} {t['of']} {whole} {noun}" if whole is not None else f"{part} {noun}"
        return {"name": t[name], "value": value, "basis": basis}

    def share(value: float | None) -> str:
        return i18n.percent(value, language) if value is not None else t["not_measurable"]

    def hours(name: str) -> str:
        return figure_text(f[name], name, language, due)

    def days(name: str) -> str:
        return days_text(f[name], language) if timed else t["not_measurable"]

    replies = (f["first_replies"], due, "cases_due_note")
    return [
        row("within_deadline", share(f["within_deadline_share"]),
            f["replies_within_deadline"], due, "cases_due_note"),
        row("first_reply_median", hours("first_reply_hours_median"), *replies),
        row("first_reply_p90", hours("first_reply_hours_p90"), *replies),
        row("resolution_median", days("resolution_days_median"), timed, None, "resolved_note"),
        row("resolution_p90", days("resolution_days_p90"), timed, None, "resolved_note"),
        row("resolution_rate", share(f["resolution_rate"]), f["resolved"], f["closed"],
            "closed_note"),
        row("mediation_rate", share(f["mediation_rate"]), f["mediated"], f["cases"],
            "cases_note"),
    ]  # fmt: skip


def explanation(certificate: Certificate, language: str) -> list[dict[str, Any]]:
    """Every threshold of every tier with the figure's value, tier by tier."""
    assessment = certificate.assessment
    names = TIER_NAMES[language]
    due = int(assessment.figures["cases_due"] or 0)
    tiers: dict[Tier, list[dict[str, Any]]] = {}
    for check in assessment.explanation:
        tiers.setdefault(check.tier, []).append(
            {
                "figure": figure_name(check.figure, language),
                "value": figure_text(check.value, check.figure, language, due),
                "threshold": threshold_text(
                    check.threshold, check.figure, check.comparison, language
                ),
                "met": check.met,
            }
        )
    return [
        {
            "tier": tier.value,
            "name": names[tier],
            "checks": checks,
            "met": all(check["met"] for check in checks),
        }
        for tier, checks in tiers.items()
    ]


def page(certificate: Certificate, language: str, timezone: str) -> dict[str, Any]:
    """The whole page's content in `language`."""
    t = i18n.texts(language)
    zone = ZoneInfo(timezone)
    as_of = certificate.as_of.astimezone(zone)
    stamp = f"{i18n.day(as_of.date(), language)}, {as_of:%H:%M}"
    start = i18n.day(certificate.window_start.astimezone(zone).date(), language)
    return {
        "name": certificate.merchant.name,
        "slug": certificate.merchant.slug,
        "status": status(certificate, language),
        "barometer": barometer(certificate, language),
        "process": process(certificate, language),
        "chart": chart.monthly(certificate.months, t["months"]),
        "feedback": [
            entry | {"day": i18n.day(entry["received_at"].astimezone(zone).date(), language)}
            for entry in certificate.feedback
        ],
        "explanation": explanation(certificate, language),
        # The first reason is the headline addressed to the merchant ("Your tier: ..."),
        # which the state above says for the public.
        "reasons": certificate.assessment.reasons(language)[1:],
        "window": t["window"].format(start=start, end=i18n.day(as_of.date(), language)),
        "computed": t["computed"].format(at=stamp),
        "confidence": i18n.number(certificate.assessment.policy.confidence * 100, language, 0),
    }
