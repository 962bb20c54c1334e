"""The reasons a merchant reads with its tier, in German and English.

An assessment keeps its reasons as `Reason` data (a code and what it refers to);
`render` turns one into a sentence in the merchant's language, with numbers in that
language's notation (German: decimal comma, "78,4 %").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from scoring.aggregates import REPLY_HOUR_EDGES
from scoring.policy import CRITERIA, Tier
from scoring.resolution import RESOLUTION_DAY_EDGES
from scoring.tiers import Check

LANGUAGES = ("de", "en")

TIER_NAMES = {
    "de": {
        Tier.NONE: "kein Siegel",
        Tier.BRONZE: "Bronze",
        Tier.SILBER: "Silber",
        Tier.GOLD: "Gold",
    },
    "en": {Tier.NONE: "no seal", Tier.BRONZE: "Bronze", Tier.SILBER: "Silber", Tier.GOLD: "Gold"},
}
"""A tier as its readers name it, by language."""
_FIGURE_NAMES = {
    "cases": ("Zahl der Fälle im Zeitraum", "number of cases in the window"),
    "ratings": ("Zahl der Bewertungen", "number of ratings"),
    "within_deadline_lower": (
        "Anteil der Erstantworten innerhalb der Frist (untere Vertrauensgrenze)",
        "share of first replies within the deadline (lower confidence bound)",
    ),
    "first_reply_hours_median": (
        "Median der Zeit bis zur ersten Antwort",
        "median time to the first reply",
    ),
    "first_reply_hours_p90": (
        "90-%-Wert der Zeit bis zur ersten Antwort",
        "90th percentile of the time to the first reply",
    ),
    "resolution_lower": (
        "Lösungsquote (untere Vertrauensgrenze)",
        "resolution rate (lower confidence bound)",
    ),
    "mediation_upper": (
        "Anteil der Fälle in Schlichtung (obere Vertrauensgrenze)",
        "share of cases in mediation (upper confidence bound)",
    ),
    # Not the mean the barometer shows (`scoring.barometer`): named as the tier's score.
    "rating_overall": (
        "Bewertungswert für die Stufe (bei wenigen Bewertungen zur Mitte hin geglättet)",
        "rating score for the tier (pulled towards the middle while ratings are few)",
    ),
}
_COMPARISONS = {">=": ("mindestens", "at least"), "<=": ("höchstens", "at most")}
_KIND = {criterion.figure: criterion.tolerance for criterion in CRITERIA}

_SENTENCES = {
    "tier": ("Ihre Stufe: {tier}.", "Your tier: {tier}."),
    "no-tier": ("Derzeit kein Siegel.", "Currently no seal."),
    "all-met": (
        "Alle Schwellen für {tier} sind erfüllt.",
        "Every threshold for {tier} is met.",
    ),
    "threshold-missed": (
        "Für {tier} fehlt: {figure} ist {value}, nötig sind {comparison} {threshold}.",
        "For {tier}: the {figure} is {value}, it needs to be {comparison} {threshold}.",
    ),
    "tier-held": (
        "{tier} bleibt, obwohl {figure} mit {value} die Schwelle ({comparison} {threshold})"
        " knapp verfehlt: innerhalb der Toleranz von {tolerance}.",
        "{tier} is kept although the {figure} of {value} narrowly misses the threshold"
        " ({comparison} {threshold}): within the tolerance of {tolerance}.",
    ),
    "precheck-missing": (
        "Die Vorprüfung ist noch nicht bestanden; ohne sie wird kein Siegel vergeben.",
        "The pre-check has not been passed yet; without it no seal is awarded.",
    ),
    "trial": (
        "Testphase: Bewertungen werden gesammelt und zählen für das erste Siegel;"
        " ein Siegel wird ab dem {day} angezeigt.",
        "Trial: ratings are collected and count towards the first seal;"
        " a seal is shown from {day}.",
    ),
    "earned-hidden": (
        "Nach den Messwerten wäre es {tier}.",
        "By the figures it would be {tier}.",
    ),
    "recheck-due": (
        "Die Zertifizierung ist am {day} abgelaufen; für ein Siegel ist eine Nachprüfung nötig.",
        "The certification expired on {day}; a re-check is needed for a seal.",
    ),
    "resolution-time": (
        "Zeit von der Beschwerde bis zur Lösung (angezeigt, nicht bewertet): Median {median},"
        " 90-%-Wert {p90}.",
        "Time from complaint to resolution (shown, not judged): median {median},"
        " 90th percentile {p90}.",
    ),
    "valid-until": (
        "Die Zertifizierung gilt bis einschließlich {day}.",
        "The certification is valid up to and including {day}.",
    ),
}


@dataclass(frozen=True)
class Reason:
    """One reason as data: `code` names the sentence, the rest fills it in."""

    code: str
    tier: Tier | None = None
    check: Check | None = None
    day: date | None = None
    days: tuple[float | None, float | None] | None = None
    """Median and 90th percentile of the days to resolution (None: beyond the last edge)."""


def render(reason: Reason, language: str, cases_due: int) -> str:
    """`reason` as a sentence in `language` ("de" or "en")."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    de = language == "de"
    fields: dict[str, str] = {}
    if reason.tier is not None:
        fields["tier"] = TIER_NAMES[language][reason.tier]
    if reason.day is not None:
        # As `mediation.templates.calendar_day` writes days ("6 December 2027"); %B is
        # English under the C locale, which nothing in the service changes.
        day = reason.day
        fields["day"] = day.strftime("%d.%m.%Y") if de else f"{day.day} {day:%B} {day.year}"
    if reason.days is not None:
        median, p90 = reason.days
        fields |= {"median": days_text(median, language), "p90": days_text(p90, language)}
    if reason.check is not None:
        check = reason.check
        kind = _KIND[check.figure]
        fields |= {
            "tier": TIER_NAMES[language][check.tier],
            "figure": _FIGURE_NAMES[check.figure][0 if de else 1],
            "value": _value(check.value, kind, de, cases_due),
            "comparison": _COMPARISONS[check.comparison][0 if de else 1],
            "threshold": _number(check.threshold, kind, de),
            "tolerance": _tolerance(check.tolerance, kind, de),
        }
    return _SENTENCES[reason.code][0 if de else 1].format(**fields)


def figure_name(figure: str, language: str) -> str:
    """The name of a judged figure (`CRITERIA`) as the reasons use it."""
    return _FIGURE_NAMES[figure][0 if language == "de" else 1]


def figure_text(value: float | None, figure: str, language: str, cases_due: int = 0) -> str:
    """A judged figure's value as the reasons write it ("78,4 %", "4 business hours")."""
    return _value(value, _KIND[figure], language == "de", cases_due)


def threshold_text(threshold: float, figure: str, comparison: str, language: str) -> str:
    """A threshold with its comparison: "mindestens 85,0 %", "at most 4 business hours"."""
    de = language == "de"
    word = _COMPARISONS[comparison][0 if de else 1]
    return f"{word} {_number(threshold, _KIND[figure], de)}"


def days_text(days: float | None, language: str) -> str:
    """A quantile of the days to resolution: "höchstens 3 Tage", "at most 1 day"; None
    (beyond the histogram's last edge): "mehr als 365 Tage"."""
    de = language == "de"
    if days is None:
        last = RESOLUTION_DAY_EDGES[-1]
        return f"mehr als {last} Tage" if de else f"more than {last} days"
    if days == 0:  # the first bucket: resolved the moment it was opened
        return "weniger als 1 Tag" if de else "less than 1 day"
    count = f"{days:g}"
    if de:
        return f"höchstens {count} {'Tag' if days == 1 else 'Tage'}"
    return f"at most {count} {'day' if days == 1 else 'days'}"


def _value(value: float | None, kind: str, de: bool, cases_due: int) -> str:
    if value is not None:
        return _number(value, kind, de)
    if kind == "hours" and cases_due:
        beyond = _number(REPLY_HOUR_EDGES[-1], kind, de)
        return f"mehr als {beyond}" if de else f"more than {beyond}"
    return "nicht messbar" if de else "not measurable"


def _tolerance(value: float, kind: str, de: bool) -> str:
    if kind == "share":
        points = f"{value * 100:.1f}"
        return f"{points.replace('.', ',')} Prozentpunkten" if de else f"{points} percentage points"
    return _number(value, kind, de)


def _number(value: float, kind: str, de: bool) -> str:
    if kind == "sample":
        text = f"{value:g}"
    elif kind == "share":
        text = f"{value * 100:.1f} %"
    elif kind == "hours":
        unit = ("Geschäftsstunde" if de else "business hour") + (
            "" if value == 1 else "n" if de else "s"
        )
        text = f"{value:g} {unit}"
    else:
        text = f"{value:.2f}"
    return text.replace(".", ",") if de else text
