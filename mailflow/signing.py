"""DKIM signing of outgoing mail (RFC 6376; ed25519 keys RFC 8463).

The relay signs each message just before it hands it over (`Signer.sign`), so that a
retry or a recovered row is signed afresh and the stored bytes stay as rendered. The
key is read at start, by `load_key` (when the configuration is checked, and again
when the relay is built), which refuses a key file that its group or other users may
access: a leaked signing key lets anyone send mail in our name, so the service does
not start rather than warn. Without a configured key nothing is signed.

dkimpy takes an RSA key in PEM (PKCS#1 or PKCS#8) as it is; an ed25519 key is read
from its PKCS#8 PEM (as `openssl genpkey -algorithm ed25519` writes it) and signed
with PyNaCl, which dkimpy needs for ed25519 and which is optional here.
"""

from __future__ import annotations

import base64
import binascii
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_private_key

# RFC 6376 §5.4 recommends these; Auto-Submitted and Content-Transfer-Encoding are
# added because loop safety and the body's meaning depend on them. A listed header
# the message lacks is signed as absent, so nobody can add it later.
SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Auto-Submitted",
)
# relaxed/relaxed: survives relays that refold headers or trim trailing spaces.
CANONICALIZE = (b"relaxed", b"relaxed")
RSA = b"rsa-sha256"
ED25519 = b"ed25519-sha256"

_PEM = re.compile(rb"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)
# PKCS#8 PrivateKeyInfo of an ed25519 key (RFC 8410 §7): this prefix, then the seed.
_ED25519_PKCS8 = bytes.fromhex("302e020100300506032b657004220420")
_ED25519_SEED = 32


class KeyFileError(ValueError):
    """The key file cannot be used; the message says why."""


@dataclass(frozen=True)
class DkimKey:
    """A private key as dkimpy takes it for `algorithm`."""

    algorithm: bytes
    material: bytes  # RSA: the PEM file; ed25519: the base64 seed


def check_key_file(path: Path) -> None:
    """Raise `KeyFileError` unless `path` is a regular file only its owner may access."""
    try:
        status = path.stat()
    except OSError as error:
        raise KeyFileError(f"cannot read {path}: {error.strerror}") from None
    if not stat.S_ISREG(status.st_mode):
        raise KeyFileError(f"{path} is not a regular file")
    mode = stat.S_IMODE(status.st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"{path} may be accessed by group or others (mode {mode:04o}); "
            f"a private key must be its owner's only: chmod 600 {path}"
        )


def load_key(path: Path) -> DkimKey:
    """Read a PEM RSA or ed25519 private key after `check_key_file`; `KeyFileError` if not."""
    check_key_file(path)
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read {path}: {error.strerror}") from None
    match = _PEM.search(pem)
    if match is None:
        raise KeyFileError(f"{path} holds no PEM private key")
    try:
        der = base64.b64decode(match.group(2), validate=False)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{path}: the PEM block is not valid base64") from None
    if der.startswith(_ED25519_PKCS8) and len(der) == len(_ED25519_PKCS8) + _ED25519_SEED:
        if getattr(dkim, "nacl", None) is None:
            raise KeyFileError(
                f"{path} is an ed25519 key, and signing with it needs PyNaCl "
                "(pip install pynacl); or use an RSA key"
            )
        seed = der[len(_ED25519_PKCS8) :]
        return DkimKey(ED25519, base64.b64encode(seed))
    try:
        parse_private_key(der)
    except UnparsableKeyError:
        raise KeyFileError(f"{path} holds neither an RSA nor an ed25519 private key") from None
    return DkimKey(RSA, pem)


@dataclass(frozen=True)
class Signer:
    """Signs messages for `domain` with the key published under `selector`."""

    selector: str
    domain: str
    key: DkimKey

    def sign(self, raw: bytes) -> bytes:
        """`raw` with a DKIM-Signature header in front; raises `dkim.DKIMException`."""
        header = dkim.sign(
            raw,
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self.key.material,
            canonicalize=CANONICALIZE,
            signature_algorithm=self.key.algorithm,
            include_headers=[name.encode("ascii") for name in SIGNED_HEADERS],
        )
        return header + raw
