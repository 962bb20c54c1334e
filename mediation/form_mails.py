"""Mails outside any case that the web side and the seal's lifecycle send: the
confirmation of a Lob & Tadel entry (double opt-in) and the merchants' lifecycle
notices (`mediation.lifecycle_notices`).

Texts live in ``templates/forms_{de,en}.toml`` and ``templates/lifecycle_{de,en}.toml``,
one table per mail with a ``subject`` and a ``text`` (``${name}`` placeholders; a
missing value fails loudly), rendered like every mail (`templates.fill`: the links in
the recipient's language, the HTML part the escaped text with those links).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from mediation import templates
from mediation.outgoing import OutgoingMail

_TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def catalogue(name: str, language: str) -> dict[str, dict[str, dict[str, str]]]:
    """The mail texts of catalogue `name` (``forms``, ``lifecycle``) in `language`."""
    with (_TEMPLATES / f"{name}_{language}.toml").open("rb") as handle:
        return tomllib.load(handle)


def compose(name: str, key: str, language: str, values: Mapping[str, str], to: str) -> OutgoingMail:
    """Mail `key` (``party.template``) of catalogue `name`, rendered for `to`."""
    party, template = key.split(".", 1)
    rendered = templates.fill(catalogue(name, language)[party][template], language, values)
    return OutgoingMail(
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        kind=key,
        language=language,
    )


def feedback_confirmation(
    to: str, language: str, merchant_name: str, confirm_url: str, hours: int
) -> OutgoingMail:
    """The mail with the link that confirms a Lob & Tadel entry from the web form."""
    values = {"merchant_name": merchant_name, "confirm_url": confirm_url, "hours": str(hours)}
    return compose("forms", "shopper.feedback_confirm", language, values, to)
