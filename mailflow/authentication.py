"""DKIM checked by us, where Service-Siegel is the MX and no MTA in front of it writes
Authentication-Results (`[authentication] verify_dkim`).

`dkim_results(raw, authserv_id)` verifies up to `MAX_SIGNATURES` DKIM signatures of a
stored mail with dkimpy (DNS look-ups of the signers' keys, each bounded by
`DNS_TIMEOUT_SECONDS`) and writes what it found as one Authentication-Results value
(RFC 8601), so that `mediation.authority.check_sender` reads our own verdict exactly as
it reads an MTA's. It runs before the worker's transaction (`processing.analyse`): DNS
must never hold the database's write lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from mailflow.config import AuthenticationSection

if TYPE_CHECKING:
    import dkim

log = logging.getLogger("mailflow.authentication")

OWN_AUTHSERV_ID = "service-siegel.dkim"
"""The authserv-id of our own results when no MTA's id is configured. Headers in the
mail are then not passed on at all, so no sender can write results under it."""
MAX_SIGNATURES = 5
DNS_TIMEOUT_SECONDS = 5

DnsLookup = Callable[..., bytes | None]


def trusted_authserv_id(section: AuthenticationSection) -> str | None:
    """The authserv-id whose results decide, or None where nobody authenticates senders."""
    return section.authserv_id or (OWN_AUTHSERV_ID if section.verify_dkim else None)


def results_for(
    raw: bytes,
    headers: Mapping[str, Sequence[str]],
    section: AuthenticationSection,
    source: str = "",
) -> tuple[str, ...]:
    """The Authentication-Results values the case service may read for one mail: the
    MTA's headers where an MTA is configured and the mail came from it, our own DKIM
    verdict where we verify. `source` is the stored mail's ("smtp from 192.0.2.1")."""
    from_mta = _from_mta(source, section.mta_peers)
    found = (
        list(headers.get("authentication-results", ())) if section.authserv_id and from_mta else []
    )
    authserv_id = trusted_authserv_id(section)
    if section.verify_dkim and authserv_id:
        found.insert(0, dkim_results(raw, authserv_id))
    return tuple(found)


def _from_mta(source: str, mta_peers: Sequence[str]) -> bool:
    """Whether a mail came through the MTA in front of us. Only SMTP and LMTP clients
    are checked: a pipe (`siegel ingest`) and an IMAP mailbox are the MTA's delivery."""
    protocol, _, peer = source.partition(" from ")
    if not mta_peers or protocol not in ("smtp", "lmtp"):
        return True
    return peer.strip() in mta_peers


def dkim_results(raw: bytes, authserv_id: str, dnsfunc: DnsLookup | None = None) -> str:
    """One Authentication-Results value with a ``dkim=`` result per signature checked."""
    import dkim  # dkimpy and its DNS resolver load only where we verify ourselves

    results = []
    try:
        verifier = dkim.DKIM(raw, timeout=DNS_TIMEOUT_SECONDS)
        count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    except Exception as error:  # dkimpy raises many kinds on malformed mail
        log.info("DKIM: message not readable: %s", error)
        count = 0
    for index in range(min(count, MAX_SIGNATURES)):
        outcome, domain = _verify_one(verifier, index, dnsfunc)
        results.append(f"dkim={outcome}" + (f" header.d={domain}" if domain else ""))
    return f"{authserv_id}; " + ("; ".join(results) if results else "dkim=none")


def _verify_one(verifier: dkim.DKIM, index: int, dnsfunc: DnsLookup | None) -> tuple[str, str]:
    """("pass" | "fail" | "temperror" | "permerror", the signing domain) of signature `index`."""
    import dkim

    verifier.domain = None  # set again by this signature's own d= tag
    try:
        passed = verifier.verify(index, dnsfunc=dnsfunc) if dnsfunc else verifier.verify(index)
    except dkim.DnsTimeoutError:
        return "temperror", _domain(verifier)
    except dkim.DKIMException as error:
        log.info("DKIM signature %d not verifiable: %s", index, error)
        return "permerror", _domain(verifier)
    return ("pass" if passed else "fail"), _domain(verifier)


def _domain(verifier: dkim.DKIM) -> str:
    domain = getattr(verifier, "domain", None) or b""
    text = domain.decode("ascii", "replace") if isinstance(domain, bytes) else str(domain)
    # Only a plain domain name goes into the header we write.
    return text if text and all(c.isalnum() or c in ".-" for c in text) else ""
