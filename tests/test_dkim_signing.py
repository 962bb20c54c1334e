"""DKIM signing of outgoing mail: the relay signs each message just before it sends it,
and the bytes the relay received verify with dkimpy against the published key.

Keys are made by `openssl` for each test session; `dkim.verify` gets the public key
from a `dnsfunc` that answers the selector's TXT query as DNS would. Mail goes through
the real relay to the in-process SMTP sink.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from dkim.util import parse_tag_value
from sqlalchemy import Engine, update

from mailflow import outbox
from mailflow.config import Config, ConfigError
from mailflow.db import session_scope
from mailflow.models import OutboxMail, OutboxStatus
from mailflow.relay import Relay
from mailflow.signing import SIGNED_HEADERS
from mediation.outgoing import OutgoingMail
from tests.conftest import TEST_DOMAIN, TEST_SECRET, make_config
from tests.net import free_port
from tests.outbox_rows import enqueued_row
from tests.sink import Received, Sink

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SELECTOR = "siegel2026"
HAS_NACL = getattr(dkim, "nacl", None) is not None


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    txt: bytes  # the DNS TXT record of the public key (RFC 6376 §3.6.1)


def _openssl(*arguments: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["openssl", *arguments], input=data, capture_output=True, check=True, timeout=60
    ).stdout


def _rsa(*generate: str) -> KeyPair:
    private = _openssl(*generate)
    public = _openssl("pkey", "-pubout", "-outform", "DER", data=private)
    return KeyPair(private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public))


@pytest.fixture(scope="session")
def rsa_keys() -> dict[str, KeyPair]:
    """An RSA key in PKCS#8 (what OpenSSL 3 writes) and one in PKCS#1 ("traditional")."""
    return {
        "pkcs8": _rsa("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"),
        "pkcs1": _rsa("genrsa", "-traditional", "2048"),
    }


@pytest.fixture(scope="session")
def ed25519_key() -> KeyPair:
    private = _openssl("genpkey", "-algorithm", "ed25519")
    public = _openssl("pkey", "-pubout", "-outform", "DER", data=private)[-32:]  # RFC 8463 §4
    return KeyPair(private, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(public))


def key_file(directory: Path, key: KeyPair, mode: int = 0o600) -> Path:
    path = directory / "dkim.pem"
    path.write_bytes(key.private_pem)
    path.chmod(mode)
    return path


def dns(domain: str, key: KeyPair) -> Callable[..., bytes | None]:
    """A resolver that knows one record: the key under SELECTOR._domainkey.domain."""
    name = f"{SELECTOR}._domainkey.{domain}.".encode()

    def txt(query: bytes, timeout: float = 5) -> bytes | None:
        return key.txt if query == name else None

    return txt


def signing_config(tmp_path: Path, sink: Sink, key_path: Path | None, **dkim_keys: str) -> Config:
    section = {"selector": SELECTOR, "private_key_file": key_path.name} if key_path else {}
    return make_config(tmp_path, relay=sink.relay_settings(), dkim=section | dkim_keys)


def mail(to: str = "haendler@shop.example", **changes: object) -> OutgoingMail:
    return replace(MAIL, to=to, **changes)  # type: ignore[arg-type]


MAIL = OutgoingMail(
    to="haendler@shop.example",
    subject="[SSG-2026-000123] Neue Beschwerde – erste Antwort bis Mittwoch",
    text="Guten Tag,\n\neine Kundin hat sich über Größe und Maße beschwert.\n",
    html="<p>Guten Tag</p>",
    kind="merchant.complaint_forwarded",
    language="de",
    case_ref="SSG-2026-000123",
    reply_to=f"fall+ssg-2026-000123.merchant.abcdefghijklmnop@{TEST_DOMAIN}",
    in_reply_to="<original@shop.example>",
    references=("<root@shop.example>",),
)


def enqueue(engine: Engine, config: Config, outgoing: OutgoingMail) -> OutboxMail:
    return enqueued_row(engine, config, outgoing, NOW)


def signature(received: Received) -> dict[bytes, bytes]:
    header = received.message["DKIM-Signature"]
    assert header is not None, "no DKIM-Signature"
    return parse_tag_value(str(header).encode())


@pytest.fixture
def utf8_sink() -> Iterator[Sink]:
    server = Sink(smtputf8=True).start()
    yield server
    server.stop()


# ------------------------------------------------------------------ signing


@pytest.mark.parametrize("form", ["pkcs8", "pkcs1"])
def test_sent_mail_carries_a_signature_that_verifies(
    engine: Engine, tmp_path: Path, sink: Sink, rsa_keys: dict[str, KeyPair], form: str
) -> None:
    """With an RSA key (PKCS#8 or PKCS#1 PEM) every sent message is signed for our domain
    over the listed headers, the received bytes verify, and the stored row stays unsigned."""
    key = rsa_keys[form]
    config = signing_config(tmp_path, sink, key_file(tmp_path, key))
    row = enqueue(engine, config, mail())
    assert Relay(engine, config).run_once() == 1
    [received] = sink.received
    assert dkim.verify(received.raw, dnsfunc=dns(TEST_DOMAIN, key))
    fields = signature(received)
    assert (fields[b"d"], fields[b"s"], fields[b"a"]) == (
        TEST_DOMAIN.encode(),
        SELECTOR.encode(),
        b"rsa-sha256",
    )
    signed = [name.strip() for name in fields[b"h"].split(b":")]
    assert signed == [name.lower().encode() for name in SIGNED_HEADERS]
    assert b"DKIM-Signature" not in outbox.message(row, config)
    assert received.raw.endswith(outbox.message(row, config).split(b"\r\n\r\n", 1)[1])


def test_a_changed_subject_or_body_no_longer_verifies(
    engine: Engine, tmp_path: Path, sink: Sink, rsa_keys: dict[str, KeyPair]
) -> None:
    """The signature covers the subject and the body: changing either breaks it."""
    key = rsa_keys["pkcs8"]
    config = signing_config(tmp_path, sink, key_file(tmp_path, key))
    enqueue(engine, config, mail(subject="Ihre Beschwerde"))
    Relay(engine, config).run_once()
    [received] = sink.received
    resolver = dns(TEST_DOMAIN, key)
    assert dkim.verify(received.raw, dnsfunc=resolver)
    forged_subject = received.raw.replace(b"Subject: Ihre Beschwerde", b"Subject: Ihre Rechnung")
    assert forged_subject != received.raw
    assert not dkim.verify(forged_subject, dnsfunc=resolver)
    forged_body = received.raw.replace(b"Guten Tag", b"Guten Abend")
    assert forged_body != received.raw
    assert not dkim.verify(forged_body, dnsfunc=resolver)


def test_the_configured_signing_domain_is_used(
    engine: Engine, tmp_path: Path, sink: Sink, rsa_keys: dict[str, KeyPair]
) -> None:
    """`[dkim] domain` names the signing domain (d=); its key verifies, ours would not."""
    key = rsa_keys["pkcs8"]
    config = signing_config(tmp_path, sink, key_file(tmp_path, key), domain="mail.example")
    enqueue(engine, config, mail())
    Relay(engine, config).run_once()
    [received] = sink.received
    assert signature(received)[b"d"] == b"mail.example"
    assert dkim.verify(received.raw, dnsfunc=dns("mail.example", key))
    assert not dkim.verify(received.raw, dnsfunc=dns(TEST_DOMAIN, key))


def test_without_a_key_nothing_is_signed(engine: Engine, tmp_path: Path, sink: Sink) -> None:
    """With no `[dkim]` key the relay sends the stored bytes as they are: no signature."""
    config = signing_config(tmp_path, sink, None)
    row = enqueue(engine, config, mail())
    assert Relay(engine, config).signer is None
    assert Relay(engine, config).run_once() == 1
    [received] = sink.received
    assert received.message["DKIM-Signature"] is None
    sent = outbox.message(row, config)
    assert received.raw.replace(b"\r\n", b"\n") == sent.replace(b"\r\n", b"\n")


def test_a_message_with_utf8_headers_is_signed_and_verifies(
    engine: Engine, tmp_path: Path, utf8_sink: Sink, rsa_keys: dict[str, KeyPair]
) -> None:
    """Mail to a non-ASCII local part (UTF-8 headers, SMTPUTF8) is signed like any other."""
    key = rsa_keys["pkcs8"]
    config = signing_config(tmp_path, utf8_sink, key_file(tmp_path, key))
    enqueue(engine, config, mail(to="jürgen@beispiel.de", to_name="Jürgen Müller"))
    assert Relay(engine, config).run_once() == 1
    [received] = utf8_sink.received
    assert received.smtputf8
    assert "To: Jürgen Müller <jürgen@beispiel.de>".encode() in received.raw
    assert dkim.verify(received.raw, dnsfunc=dns(TEST_DOMAIN, key))


def test_a_message_that_cannot_be_signed_fails_alone(
    engine: Engine, tmp_path: Path, sink: Sink, rsa_keys: dict[str, KeyPair]
) -> None:
    """A stored message dkimpy cannot parse fails with the reason; the next row of the
    same pass is still signed and sent."""
    key = rsa_keys["pkcs8"]
    config = signing_config(tmp_path, sink, key_file(tmp_path, key))
    broken = enqueue(engine, config, mail())
    good = enqueue(engine, config, mail(to="andere@shop.example"))
    with session_scope(engine) as session:
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == broken.id)
            .values(raw=b"this line is no header\r\n\r\nbody\r\n", payload=None)
        )
    assert Relay(engine, config).run_once() == 2
    with session_scope(engine) as session:
        failed = session.get(OutboxMail, broken.id)
        sent = session.get(OutboxMail, good.id)
        assert failed is not None and sent is not None
        assert failed.status == OutboxStatus.FAILED
        assert failed.last_error is not None
        assert failed.last_error.startswith("DKIM signing failed")
        assert sent.status == OutboxStatus.SENT
    [received] = sink.received
    assert received.rcpt_tos == ("andere@shop.example",)
    assert dkim.verify(received.raw, dnsfunc=dns(TEST_DOMAIN, key))


def test_an_ed25519_key_signs_or_is_refused_with_the_reason(
    engine: Engine, tmp_path: Path, sink: Sink, ed25519_key: KeyPair
) -> None:
    """An ed25519 PEM key signs (ed25519-sha256, RFC 8463) where PyNaCl is installed;
    where it is not, the configuration is refused naming PyNaCl, never sent unsigned."""
    path = key_file(tmp_path, ed25519_key)
    if not HAS_NACL:
        with pytest.raises(ConfigError, match="PyNaCl") as refused:
            signing_config(tmp_path, sink, path)
        assert refused.value.key == "[dkim] private_key_file"
        return
    config = signing_config(tmp_path, sink, path)
    enqueue(engine, config, mail())
    Relay(engine, config).run_once()
    [received] = sink.received
    assert signature(received)[b"a"] == b"ed25519-sha256"
    assert dkim.verify(received.raw, dnsfunc=dns(TEST_DOMAIN, ed25519_key))


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o700 | 0o004])
def test_a_key_file_others_may_read_is_refused(
    tmp_path: Path, sink: Sink, rsa_keys: dict[str, KeyPair], mode: int
) -> None:
    """A private key that group or others may read stops the configuration, naming the
    key and the fix; the same file with mode 0600 is accepted."""
    path = key_file(tmp_path, rsa_keys["pkcs8"], mode)
    with pytest.raises(ConfigError, match="chmod 600") as refused:
        signing_config(tmp_path, sink, path)
    assert refused.value.key == "[dkim] private_key_file"
    path.chmod(0o600)
    assert signing_config(tmp_path, sink, path).dkim.enabled


def test_the_relay_checks_the_key_again_when_it_starts(
    engine: Engine, tmp_path: Path, sink: Sink, rsa_keys: dict[str, KeyPair]
) -> None:
    """A key made readable to others after the configuration was read stops the relay."""
    path = key_file(tmp_path, rsa_keys["pkcs8"])
    config = signing_config(tmp_path, sink, path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="group or others"):
        Relay(engine, config)


def test_siegel_serve_refuses_to_start_with_a_readable_key(
    tmp_path: Path, rsa_keys: dict[str, KeyPair]
) -> None:
    """`siegel serve` with a world-readable key exits 2 with one line naming the key."""
    key_file(tmp_path, rsa_keys["pkcs8"], 0o644)
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f'[siegel]\ndomain = "{TEST_DOMAIN}"\nsecret = "{TEST_SECRET}"\ndata_dir = "data"\n'
        f"[smtp]\nport = {free_port()}\n[relay]\nport = {free_port()}\n"
        f'[dkim]\nselector = "{SELECTOR}"\nprivate_key_file = "dkim.pem"\n',
        encoding="utf-8",
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIEGEL_")}
    completed = subprocess.run(
        [sys.executable, "-m", "mailflow.cli", "--config", str(config_path), "serve"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=30,  # a service that does start fails here rather than hang the run
    )
    assert completed.returncode == 2, completed.stderr
    [line] = completed.stderr.strip().splitlines()
    assert line.startswith("siegel: configuration error: [dkim] private_key_file: ")
    assert "chmod 600" in line


@pytest.mark.parametrize(
    ("section", "key", "problem"),
    [
        ({"selector": SELECTOR}, "[dkim] private_key_file", "required"),
        ({"domain": TEST_DOMAIN}, "[dkim] private_key_file", "required"),
        ({"private_key_file": "dkim.pem"}, "[dkim] selector", "DNS name"),
        ({"selector": "a b", "private_key_file": "dkim.pem"}, "[dkim] selector", "DNS name"),
        (
            {"selector": SELECTOR, "domain": "bücher.example", "private_key_file": "dkim.pem"},
            "[dkim] domain",
            "ASCII domain",
        ),
        (
            {"selector": SELECTOR, "private_key_file": "absent.pem"},
            "[dkim] private_key_file",
            "cannot read",
        ),
        ({"selector": SELECTOR, "private_key_file": "note.txt"}, "[dkim] private_key_file", "PEM"),
        ({"selector": SELECTOR, "private_key_file": "."}, "[dkim] private_key_file", "regular"),
    ],
)
def test_an_incomplete_or_unusable_dkim_section_is_refused(
    tmp_path: Path, rsa_keys: dict[str, KeyPair], section: dict[str, str], key: str, problem: str
) -> None:
    """Half a configuration, a bad selector or domain, or a file that is no usable key
    is a configuration error naming the key: never a silent start without signing."""
    key_file(tmp_path, rsa_keys["pkcs8"])
    note = tmp_path / "note.txt"
    note.write_text("not a key\n")
    note.chmod(0o600)
    with pytest.raises(ConfigError, match=problem) as refused:
        make_config(tmp_path, dkim=section)
    assert refused.value.key == key


def test_the_shipped_config_signs_nothing() -> None:
    """config.toml documents every [dkim] key, all empty: no signing by default."""
    import tomllib

    shipped = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))["dkim"]
    assert shipped == {"selector": "", "domain": "", "private_key_file": ""}
