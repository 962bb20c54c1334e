"""A merchant's fields as the operator gives them on the command line, checked.

One set of checks for ``siegel merchant add`` (all fields) and ``siegel merchant set``
(the merchant's current fields with the changed ones over them).
"""

from __future__ import annotations

import argparse
import re
import zoneinfo
from collections.abc import Iterable
from datetime import time
from typing import Any

from mailflow.command_support import UsageError, person_address
from mediation import routing
from mediation.business_time import BusinessCalendar
from mediation.outgoing import BIDI_CONTROLS, CONTROLS_BUT_LINE_BREAK
from mediation.storage import Merchant

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_HOURS = re.compile(r"^\d{2}:\d{2}-\d{2}:\d{2}$")
MAX_NAME_ALIASES = 20
MAX_NAME_CHARS = 200
"""As the merchant's `name` column holds."""
MIN_ALIAS_CHARS = 3
"""Letters or digits an alias needs: a shorter one would name a shop in any mail."""
SHARED_DOMAINS = frozenset({
    # Mail providers: their customers, the shop's included, write from these.
    "gmail.com", "googlemail.com", "outlook.com", "outlook.de", "hotmail.com", "hotmail.de",
    "live.com", "live.de", "msn.com", "yahoo.com", "yahoo.de", "ymail.com", "icloud.com",
    "me.com", "mac.com", "aol.com", "aol.de", "gmx.de", "gmx.net", "gmx.at", "gmx.ch",
    "gmx.com", "web.de", "t-online.de", "freenet.de", "posteo.de", "mailbox.org",
    "protonmail.com", "proton.me", "arcor.de", "online.de", "email.de", "vodafone.de",
    "kabelmail.de", "mail.de", "yandex.com", "yandex.ru", "mail.ru", "zoho.com",
    "bluewin.ch", "gmx.li", "a1.net", "aon.at", "chello.at",
    # Marketplaces and shop platforms: one domain for every seller on them.
    "amazon.de", "amazon.com", "marketplace.amazon.de", "ebay.de", "ebay.com", "etsy.com",
    "myshopify.com", "otto.de", "kaufland.de", "zalando.de", "jimdo.com", "wixsite.com",
})  # fmt: skip
"""Domains that many unrelated senders share. As a shop's `--domain` every customer of
the provider, or every seller of the platform, would act as that shop and every
complaint from them would count as the shop's complaint about itself."""
_UNSHOWABLE = re.compile(
    f"[\n\t{CONTROLS_BUT_LINE_BREAK}{''.join(sorted(BIDI_CONTROLS))}\u200b-\u200d\u2060\ufeff]"
)
"""What a shop's name may not hold: it stands in page titles, badges, mail subjects and
tables; a line break or control character breaks them, a bidi control turns the text
after it around, an invisible character makes a look-alike of another shop's name."""


def _ascii_domain(domain: str) -> str:
    """`domain` as DNS writes it: "münzhaus.example" becomes "xn--mnzhaus-n2a.example"."""
    domain = domain.strip().lower().rstrip(".")
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain  # refused below: not a domain name


def merchant_values(args: argparse.Namespace, our_domain: str) -> dict[str, Any]:
    """The merchant's fields from `args`, each checked; a bad one is a `UsageError`.
    A shop's support addresses are mailboxes outside the service at `our_domain`."""
    slug = args.slug.lower()
    if len(slug) > 64:
        raise UsageError(f"slug {slug[:40]!r}...: at most 64 characters, {len(slug)} given")
    if not _SLUG.match(slug):
        raise UsageError(f"slug {slug!r}: lower-case letters, digits and dashes (beschwerde+SLUG@)")
    if not args.name or not args.name.strip():
        raise UsageError("--name: a shop needs its name")
    if len(args.name.strip()) > MAX_NAME_CHARS:
        raise UsageError(f"--name: at most {MAX_NAME_CHARS} characters, {len(args.name)} given")
    _showable("--name", args.name.strip())
    if not args.email:
        raise UsageError("--email: a shop needs a support address; it cannot be cleared")
    emails = [person_address(e, "--email", our_domain) for e in args.email]
    for email in emails:
        if routing.at_domain(email, [our_domain]):
            # Mail to it would come back into our own intake, and it would act as the shop.
            raise UsageError(f"--email {email}: at the service's own domain, not a shop's")
    domains = [_ascii_domain(d) for d in args.domain or []]
    for domain in domains:
        if not _DOMAIN.match(domain):
            raise UsageError(f"--domain {domain!r}: not a domain name")
        if domain == our_domain or domain.endswith("." + our_domain):
            # Every address of ours would be the shop's: its mail would act as the shop.
            raise UsageError(f"--domain {domain}: the service's own domain, not a shop's")
        if routing.at_domain(f"x@{domain}", SHARED_DOMAINS):
            raise UsageError(
                f"--domain {domain}: a mail provider's or platform's domain, shared by many "
                "senders; register the shop's support addresses with --email instead"
            )
    aliases = _name_aliases(args.name_alias or [])
    if args.order_pattern:
        try:
            re.compile(args.order_pattern)
        except re.error as error:
            raise UsageError(f"--order-pattern: not a regular expression: {error}") from None
    if args.hours:
        opens, _, closes = args.hours.partition("-")
        try:
            valid = bool(_HOURS.match(args.hours)) and (
                time.fromisoformat(opens) < time.fromisoformat(closes)
            )
        except ValueError:  # 25:00, 09:60: a time of day that does not exist
            valid = False
        if not valid:
            raise UsageError(
                f"--hours {args.hours!r}: expected HH:MM-HH:MM (00:00 to 23:59), opening first"
            )
    if args.timezone:
        try:
            zoneinfo.ZoneInfo(args.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"--timezone {args.timezone!r}: unknown time zone") from None
    if args.calendar:
        try:
            BusinessCalendar.from_region(args.calendar)
        except ValueError as error:
            raise UsageError(f"--calendar {args.calendar!r}: {error}") from None
    return dict(
        slug=slug,
        name=args.name.strip(),
        name_aliases=aliases,
        support_addresses=emails,
        domains=domains,
        order_pattern=args.order_pattern or None,
        language=args.language,
        calendar_region=args.calendar,
        timezone=args.timezone,
        opening_hours=args.hours,
    )


def _showable(option: str, text: str) -> None:
    found = _UNSHOWABLE.search(text)
    if found is not None:
        raise UsageError(
            f"{option}: U+{ord(found.group()):04X} is a control, bidi or invisible character; "
            "a shop's name is shown in pages, badges and mails"
        )


class Registered:
    """The support addresses and domains the registered shops hold: another shop may not
    have one too, for mail from it, or naming it, would act for or be routed to either
    shop. Made once, then each new shop is checked and added (an import of thousands)."""

    def __init__(self, merchants: Iterable[Merchant]) -> None:
        self.addresses: dict[str, str] = {}
        self.domains: dict[str, str] = {}
        for merchant in merchants:
            self.add(merchant.slug, merchant.support_addresses, merchant.domains)

    def add(self, slug: str, addresses: Iterable[str], domains: Iterable[str]) -> None:
        self.addresses.update((address.lower(), slug) for address in addresses)
        self.domains.update((domain, slug) for domain in domains)

    def check(self, values: dict[str, Any]) -> None:
        """Refuse `values` (a UsageError) where another shop holds one of its support
        addresses or domains."""
        slug = values["slug"]
        addresses = values["support_addresses"]
        taken = sorted(a for a in addresses if self.addresses.get(a, slug) != slug)
        if taken:
            other = self.addresses[taken[0]]
            raise UsageError(f"--email {taken[0]}: registered for the shop {other} already")
        shared = sorted(d for d in values["domains"] if self.domains.get(d, slug) != slug)
        if shared:
            other = self.domains[shared[0]]
            raise UsageError(f"--domain {shared[0]}: registered for the shop {other} already")


def clashes(values: dict[str, Any], merchants: Iterable[Merchant]) -> None:
    """`Registered.check` against `merchants` (a UsageError)."""
    Registered(merchants).check(values)


def _name_aliases(given: list[str]) -> list[str]:
    """The aliases as given, spaces tidied, each once (whatever its case), bounded."""
    aliases: dict[str, str] = {}
    for alias in (" ".join(a.split()) for a in given):
        if sum(character.isalnum() for character in alias) < MIN_ALIAS_CHARS:
            raise UsageError(
                f"--name-alias {alias!r}: at least {MIN_ALIAS_CHARS} letters or digits"
            )
        if len(alias) > MAX_NAME_CHARS:
            raise UsageError(f"--name-alias {alias[:40]!r}...: at most {MAX_NAME_CHARS} characters")
        _showable("--name-alias", alias)
        aliases.setdefault(alias.casefold(), alias)
    if len(aliases) > MAX_NAME_ALIASES:
        raise UsageError(f"--name-alias: at most {MAX_NAME_ALIASES} names, {len(aliases)} given")
    return list(aliases.values())
