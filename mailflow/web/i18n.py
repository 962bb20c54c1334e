"""Languages of the web side: which one a request gets, its texts, and its notation.

German and English. `?lang=de|en` wins (the visible switch; every link in our mails
carries it), then the language of the mail whose one-time link opened the page (a
rating or confirmation link), then the browser's Accept-Language with its q-values,
then `[siegel] default_language`. Texts live in
`texts/de.toml` and `texts/en.toml`, the same keys in both (a test checks). Numbers
follow the language's notation: German writes "87,5 %" and "31.12.2026".
"""

from __future__ import annotations

import tomllib
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from mediation import templates

LANGUAGES = ("de", "en")


@cache
def texts(language: str) -> dict[str, Any]:
    """The texts of `language` (one of `LANGUAGES`)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    source = resources.files("mailflow.web") / "texts" / f"{language}.toml"
    return tomllib.loads(source.read_text(encoding="utf-8"))


def negotiate(
    query_language: str | None,
    accept_language: str | None,
    default: str,
    mailed: str | None = None,
) -> str:
    """The language of a response: the switch, else the language of the mail whose link
    opened the page (`mailed`), else the browser's best, else `default`."""
    query = (query_language or "").strip().lower()
    if query in LANGUAGES:
        return query
    if mailed in LANGUAGES:
        return mailed  # type: ignore[return-value]
    best, best_q = default, 0.0
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES and primary != "*":
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary == "*":
            primary = default
        # Equal weights: the earlier one wins (a browser lists its favourite first).
        if q > best_q:
            best, best_q = primary, q
    return best if best_q > 0 else default


def number(value: float, language: str, digits: int = 1) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if language == "de" else text


def percent(share: float, language: str) -> str:
    return f"{number(share * 100, language)} %"


def day(value: date, language: str) -> str:
    return templates.calendar_day(value, language)
