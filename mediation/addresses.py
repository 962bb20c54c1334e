"""The address scheme: the whole user interface of Service-Siegel.

Under the operator's domain these local parts exist:

- ``beschwerde`` / ``complaints``: a new complaint; ``beschwerde+SLUG``: about merchant SLUG.
- ``fall+REF.ROLE.TOKEN``: the case address of one party (ROLE) of one case (REF).
- ``bounce+ID.TOKEN``: the VERP envelope sender of outbox row ID; bounces come back here.
- ``lob`` / ``praise``: Lob & Tadel about a shop outside any case; ``lob+SLUG``: about
  merchant SLUG.
- ``lob+ID.TOKEN``: the reply address of one Lob & Tadel entry (ID), where its author
  names the shop when we could not find it.
- ``postmaster`` and ``abuse`` (RFC 5321 §4.5.1, RFC 2142), and ``service``, the From
  address of our own mails: for the operator (a reply that lost its Reply-To is still
  attached to its case as evidence by its threading headers).

TOKEN is an HMAC-SHA256 over what the address names, truncated to 80 bits and
written in lower-case base32, so that case-folding MTAs keep it valid. ``+`` and
``.`` are both accepted as separators, since some providers refuse ``+``. Tokens are
compared in constant time and never logged: use `redact()`. A case address is the key
to act for its party, so no text we pass from one party to another shows one
(`mask_case_addresses`).
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass

COMPLAINT_LOCALS = ("beschwerde", "complaints")
PRAISE_LOCALS = ("lob", "praise")
OPERATOR_LOCALS = ("postmaster", "abuse", "service")
CASE_LOCAL = "fall"
BOUNCE_LOCAL = "bounce"
TOKEN_LENGTH = 16

_SEP = r"[+.]"
_TOKEN = rf"(?P<token>[a-z2-7]{{{TOKEN_LENGTH}}})"
_CASE_RE = re.compile(
    rf"^{CASE_LOCAL}{_SEP}(?P<ref>ssg-\d{{4}}-\d{{6}}){_SEP}(?P<role>customer|merchant|mediator)"
    rf"{_SEP}{_TOKEN}$"
)
_BOUNCE_RE = re.compile(rf"^{BOUNCE_LOCAL}{_SEP}(?P<outbox_id>\d{{1,18}}){_SEP}{_TOKEN}$")
_COMPLAINT_RE = re.compile(
    rf"^(?:{'|'.join(COMPLAINT_LOCALS)})(?:{_SEP}(?P<slug>[a-z0-9](?:[a-z0-9-]{{0,62}}[a-z0-9])?))?$"
)
_FEEDBACK_RE = re.compile(rf"^{PRAISE_LOCALS[0]}{_SEP}(?P<feedback_id>\d{{1,18}}){_SEP}{_TOKEN}$")
_PRAISE_RE = re.compile(
    rf"^(?:{'|'.join(PRAISE_LOCALS)})(?:{_SEP}(?P<slug>[a-z0-9](?:[a-z0-9-]{{0,62}}[a-z0-9])?))?$"
)
# The token field of every signed address, whatever was typed there (a token with a
# character added or changed must not show the real token beside it), and any run of
# token-long letters and digits after a separator elsewhere, but a name in CamelCase
# ("sqlite3.OperationalError": capitalised words, no digits), which is no token.
_REDACT_RE = re.compile(
    rf"(?<![a-z0-9])((?:{CASE_LOCAL}{_SEP}ssg-\d{{4}}-\d{{6}}{_SEP}[a-z]+|(?:{BOUNCE_LOCAL}|lob)"
    rf"{_SEP}\d{{1,18}}){_SEP})[^@\s<>\"',;]+"
    rf"|(?<=[+.])(?-i:(?!(?:[A-Z][a-z]+){{2,}}(?![A-Za-z0-9]))[A-Za-z0-9]{{{TOKEN_LENGTH},}})"
    rf"(?![a-z0-9])",
    re.IGNORECASE,
)

# A case address as someone may write it in a text: any letter case, either separator
# (or "+" URL-encoded, as in a mailto link), any token (one with a character changed
# must not show the real one beside it), with its domain or without.
_SEP_IN_TEXT = r"(?:[+.]|%2b)"
_CASE_ADDRESS_IN_TEXT = re.compile(
    rf"{CASE_LOCAL}{_SEP_IN_TEXT}ssg-\d{{4}}-\d{{6}}{_SEP_IN_TEXT}(?:customer|merchant|mediator)"
    rf"(?:{_SEP_IN_TEXT}[a-z0-9]*)?(?:@[a-z0-9-]+(?:\.[a-z0-9-]+)*)?",
    re.IGNORECASE,
)


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    MERCHANT = "merchant"
    MEDIATOR = "mediator"


class Kind(enum.StrEnum):
    COMPLAINT = "complaint"
    CASE = "case"
    BOUNCE = "bounce"
    OPERATOR = "operator"
    PRAISE = "praise"
    FEEDBACK = "feedback"


@dataclass(frozen=True)
class Recipient:
    """What one of our addresses names."""

    kind: Kind
    address: str
    merchant_slug: str | None = None
    case_ref: str | None = None
    role: Role | None = None
    outbox_id: int | None = None
    feedback_id: int | None = None


class AddressError(ValueError):
    """Not one of our addresses: foreign domain, unknown local part or a bad token."""

    def __init__(self, reason: str, foreign: bool = False) -> None:
        super().__init__(reason)
        self.foreign = foreign


@functools.lru_cache(maxsize=4)
def _keyed(secret: bytes) -> hmac.HMAC:
    """An HMAC keyed for addresses, copied for each token (keying costs two hashes).
    A key of its own, so that the secret's other uses never share MACs with addresses."""
    key = hmac.new(secret, b"service-siegel address v1", hashlib.sha256).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def _token(secret: bytes, message: str) -> str:
    mac = _keyed(secret).copy()
    mac.update(message.encode())
    return base64.b32encode(mac.digest()[:10]).decode().lower()


def split_address(address: str) -> tuple[str, str]:
    local, at, domain = address.strip().strip("<>").rpartition("@")
    local = local.strip('"')  # a quoted local part names the same mailbox (RFC 5321 §4.1.2)
    if not at or not local:
        raise AddressError(f"not a mail address: {redact(address)!r}")
    return local.lower(), domain.lower().rstrip(".")


def case_address(secret: bytes, domain: str, case_ref: str, role: Role) -> str:
    ref = case_ref.lower()
    return f"{CASE_LOCAL}+{ref}.{role.value}.{_token(secret, f'case:{ref}:{role.value}')}@{domain}"


def bounce_address(secret: bytes, domain: str, outbox_id: int) -> str:
    return f"{BOUNCE_LOCAL}+{outbox_id}.{_token(secret, f'bounce:{outbox_id}')}@{domain}"


def feedback_address(secret: bytes, domain: str, feedback_id: int) -> str:
    token = _token(secret, f"feedback:{feedback_id}")
    return f"{PRAISE_LOCALS[0]}+{feedback_id}.{token}@{domain}"


def complaint_address(domain: str, merchant_slug: str | None = None) -> str:
    local = COMPLAINT_LOCALS[0] if merchant_slug is None else f"beschwerde+{merchant_slug}"
    return f"{local}@{domain}"


def _verify(secret: bytes, message: str, token: str) -> bool:
    return hmac.compare_digest(_token(secret, message), token)


def parse_recipient(secret: bytes, domain: str, address: str) -> Recipient:
    """Decode one of our addresses, or raise `AddressError` saying why it is not one."""
    local, address_domain = split_address(address)
    if address_domain != domain.lower():
        raise AddressError(f"not our domain: {address_domain}", foreign=True)
    normalised = f"{local}@{address_domain}"
    if local in OPERATOR_LOCALS:
        return Recipient(Kind.OPERATOR, normalised)
    if match := _COMPLAINT_RE.match(local):
        return Recipient(Kind.COMPLAINT, normalised, merchant_slug=match["slug"])
    if match := _CASE_RE.match(local):
        ref, role = match["ref"], match["role"]
        if not _verify(secret, f"case:{ref}:{role}", match["token"]):
            raise AddressError("case address with an invalid token")
        return Recipient(Kind.CASE, normalised, case_ref=ref.upper(), role=Role(role))
    if match := _BOUNCE_RE.match(local):
        outbox_id = int(match["outbox_id"])
        if not _verify(secret, f"bounce:{outbox_id}", match["token"]):
            raise AddressError("bounce address with an invalid token")
        return Recipient(Kind.BOUNCE, normalised, outbox_id=outbox_id)
    if match := _FEEDBACK_RE.match(local):
        feedback_id = int(match["feedback_id"])
        if not _verify(secret, f"feedback:{feedback_id}", match["token"]):
            raise AddressError("feedback address with an invalid token")
        return Recipient(Kind.FEEDBACK, normalised, feedback_id=feedback_id)
    if match := _PRAISE_RE.match(local):
        return Recipient(Kind.PRAISE, normalised, merchant_slug=match["slug"])
    raise AddressError("no such address")


def in_scheme(domain: str, address: str) -> bool:
    """Whether `address` is one of our scheme's addresses at `domain` (operator,
    complaint and praise addresses, and anything shaped like a case, bounce or
    feedback address, whatever its token): no person's mailbox."""
    try:
        local, address_domain = split_address(address)
    except AddressError:
        return False
    if address_domain != domain.lower().rstrip("."):
        return False
    return local in OPERATOR_LOCALS or any(
        pattern.match(local)
        for pattern in (_COMPLAINT_RE, _CASE_RE, _BOUNCE_RE, _FEEDBACK_RE, _PRAISE_RE)
    )


def names_a_case(address: str) -> bool:
    """Whether `address` has the form of a case address (its token and domain unchecked)."""
    return _CASE_RE.match(address.rpartition("@")[0].strip().lower()) is not None


def mask_case_addresses(text: str, placeholder: str) -> str:
    """`text` with every case address in it, of any case and role, replaced by
    `placeholder`: what a party wrote is passed on without the key to act for it."""
    return _CASE_ADDRESS_IN_TEXT.sub(placeholder, text)


def redact(text: str) -> str:
    """Hide address tokens, for logs and error messages."""
    return _REDACT_RE.sub(lambda m: f"{m.group(1) or ''}<token>", text)
