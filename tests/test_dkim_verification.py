"""Our own DKIM verdict (`[authentication] verify_dkim`, we are the MX): real signatures
made with dkimpy and an RSA key from openssl, verified with the signer's key served by
an injected DNS look-up, then read by the same sender check as an MTA's results."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import dkim
import pytest

from mailflow.authentication import OWN_AUTHSERV_ID, dkim_results, results_for
from mailflow.config import AuthenticationSection
from mediation.authority import check_sender

MAIL = (
    b"From: Shop Support <support@shop.example>\r\n"
    b"To: fall+ssg-2026-000001.merchant.abcdefghijklmnop@siegel.test\r\n"
    b"Subject: Re: [SSG-2026-000001] Sofa\r\n"
    b"Message-ID: <1@shop.example>\r\n\r\n"
    b"Wir tauschen das Sofa aus.\r\n"
)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """(private key PEM, DNS TXT record) of a fresh 1024-bit RSA key."""
    folder: Path = tmp_path_factory.mktemp("dkim")
    private = folder / "key.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(private), "1024"], check=True,
                   capture_output=True)  # fmt: skip
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return private.read_bytes(), b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def signed(mail: bytes, private: bytes, domain: bytes = b"shop.example") -> bytes:
    headers = [b"from", b"to", b"subject", b"message-id"]
    return dkim.sign(mail, b"s1", domain, private, include_headers=headers) + mail


def dns_for(record: bytes, domain: str = "shop.example"):
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == f"s1._domainkey.{domain}.".encode() else None

    return lookup


def test_a_valid_signature_of_the_from_domain_authenticates_the_sender(
    key: tuple[bytes, bytes],
) -> None:
    """A signature by the From domain verifies and passes the sender check."""
    private, record = key
    value = dkim_results(signed(MAIL, private), "mx.test", dns_for(record))
    assert value == "mx.test; dkim=pass header.d=shop.example"
    assert check_sender([value], "mx.test", "support@shop.example").authenticated


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda mail: mail.replace(b"tauschen", b"erstatten"), "permerror"),  # body changed
        (lambda mail: mail.replace(b"Subject: Re:", b"Subject: Fw:"), "fail"),  # header changed
    ],
    ids=["body", "header"],
)
def test_a_changed_mail_does_not_pass(key: tuple[bytes, bytes], change, expected: str) -> None:
    """A mail altered after signing fails verification and authenticates nobody."""
    private, record = key
    value = dkim_results(change(signed(MAIL, private)), "mx.test", dns_for(record))
    assert f"dkim={expected}" in value
    assert not check_sender([value], "mx.test", "support@shop.example").authenticated


def test_a_signature_by_another_domain_does_not_authenticate_the_from_domain(
    key: tuple[bytes, bytes],
) -> None:
    """A valid signature of the attacker's own domain says nothing of the From domain."""
    private, record = key
    mail = signed(MAIL, private, b"attacker.example")
    value = dkim_results(mail, "mx.test", dns_for(record, "attacker.example"))
    assert value == "mx.test; dkim=pass header.d=attacker.example"
    assert not check_sender([value], "mx.test", "support@shop.example").authenticated


def test_an_unsigned_or_unreadable_mail_has_no_result(key: tuple[bytes, bytes]) -> None:
    """No signature, or bytes that are not a mail: dkim=none, never an exception."""
    _, record = key
    assert dkim_results(MAIL, "mx.test", dns_for(record)) == "mx.test; dkim=none"
    assert dkim_results(b"\x00\xff not a mail", "mx.test", dns_for(record)) == "mx.test; dkim=none"


def test_when_we_verify_the_mails_own_results_headers_are_not_passed_on(
    key: tuple[bytes, bytes],
) -> None:
    """As the MX without an MTA's id, a sender's own Authentication-Results header
    claiming a pass under our id is dropped: only our verdict is read."""
    forged = {"authentication-results": [f"{OWN_AUTHSERV_ID}; dkim=pass header.d=shop.example"]}
    section = AuthenticationSection(verify_dkim=True)
    found = results_for(MAIL, forged, section)
    assert found == (f"{OWN_AUTHSERV_ID}; dkim=none",)
    assert not check_sender(found, OWN_AUTHSERV_ID, "support@shop.example").authenticated
    # Without verification and without an MTA, no header is passed on at all.
    assert results_for(MAIL, forged, AuthenticationSection()) == ()


@pytest.mark.parametrize(
    "source, trusted",
    [
        ("smtp from 192.0.2.25", True),
        ("lmtp from 192.0.2.25", True),
        ("smtp from 127.0.0.1", False),
        ("file stdin", True),
        ("imap support@siegel.test INBOX", True),
    ],
)
def test_mta_results_count_only_from_the_mta(source: str, trusted: bool) -> None:
    """With `mta_peers`, Authentication-Results of mail from any other SMTP client are
    dropped (a sender could have written them); a pipe or mailbox is the MTA's delivery."""
    header = {"authentication-results": ["mx.test; dkim=pass header.d=shop.example"]}
    section = AuthenticationSection(authserv_id="mx.test", mta_peers=("192.0.2.25",))
    found = results_for(MAIL, header, section, source)
    assert found == (tuple(header["authentication-results"]) if trusted else ())
    assert results_for(MAIL, header, AuthenticationSection(authserv_id="mx.test"), source)
