"""A complaint's attachments reach the merchant (and the mediator) with the forward.

The outbox keeps only which attachments a forward carries; their bytes come from the
stored complaint when the message is rendered, under their original names (RFC 2231
and RFC 2047 for non-ASCII ones) and content types. Programs and scripts are withheld,
the count and size are capped, and the text lists what is attached and what is not,
in the recipient's language. End to end through real SMTP too.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

import classifier
from mailflow import casework, outbox, parsing
from mailflow.config import Config
from mailflow.db import read_scope, session_scope
from mailflow.models import OutboxMail
from mailflow.spool import Arrival, store
from mediation import case_service, templates
from mediation.incoming import Attachment
from mediation.outgoing import AttachmentPolicy, Enclosure, OutgoingMail, enclose
from mediation.storage import Merchant
from tests.conftest import CORPORA, TEST_DOMAIN, make_config
from tests.harness import Harness, addressed_to, plain
from tests.sink import Sink

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # Monday 10:30 in Berlin
MESSAGE_ID = "<siegel.0123456789abcdef0123456789abcdef@siegel.test>"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40 + b"\xff\xd9"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" * 30 + b"%%EOF\n"
INVOICE = "Rechnung März.pdf"
CUSTOMER = "dave@example.com"
MERCHANT = "service@moebel-fuchs.test"


def complaint(
    *attachments: tuple[str | None, str, bytes],
    sender: str = CUSTOMER,
    text: str = "Mein Sofa von Möbel Fuchs kam kaputt an. Fotos und Rechnung anbei.",
) -> bytes:
    """A customer's complaint with `attachments` (name, content type, bytes)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "beschwerde@siegel.test"
    message["Subject"] = "Sofa beschädigt"
    message["Message-ID"] = "<complaint-1@example.com>"
    message.set_content(text)
    for name, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def forward(raw: bytes, policy: AttachmentPolicy | None = None, **changes: object) -> OutgoingMail:
    """The merchant's forward of complaint `raw` (stored as mail 7), as notices writes it."""
    planned = enclose(casework.attachments(parsing.parse(raw)), policy or AttachmentPolicy())
    base = OutgoingMail(
        to=MERCHANT,
        subject="[SSG-2026-000123] Neue Beschwerde",
        text="Guten Tag,\n\nzu Ihrem Shop ist eine Beschwerde eingegangen.\n",
        html="<p>Guten Tag,</p>",
        kind="merchant.complaint_forwarded",
        language="de",
        attachments_from=7,
        attachments=tuple(a for a, how in planned if how is Enclosure.ATTACHED),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rendered(mail: OutgoingMail, raw: bytes) -> bytes:
    return outbox.render(mail, MESSAGE_ID, TEST_DOMAIN, NOW, raw)


def attached(raw: bytes) -> list[tuple[str | None, str, bytes]]:
    """(file name, content type, bytes) of each attachment of message `raw`, read as a
    standards-following client reads them."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()  # type: ignore[attr-defined]
    ]


def listed(*entries: tuple[str | None, str, int, str | None]) -> list[Attachment]:
    return [Attachment(i, *entry) for i, entry in enumerate(entries)]


# ------------------------------------------------------------------ what is carried


def test_only_real_attachments_are_forwarded_and_programs_are_withheld() -> None:
    """Named parts, parts marked attachment and attached mails count; an unnamed inline
    part (an image the HTML shows) does not. Programs and scripts are withheld by their
    last extension as Windows reads it (trailing dots ignored, after bidi controls are
    removed) or by their content type."""
    planned = enclose(
        listed(
            ("screen.jpg", "image/jpeg", 10, "inline"),
            (None, "image/png", 10, "inline"),
            (None, "application/pdf", 10, "attachment"),
            (None, "message/rfc822", 10, None),
            ("Rechnung.pdf.exe", "application/pdf", 10, "attachment"),
            ("Rechnung\u202efdp.JS", "application/pdf", 10, "attachment"),
            ("setup.exe. ", "application/octet-stream", 10, "attachment"),
            ("tool", "application/x-msdownload", 10, "attachment"),
            ("..\\..\\Windows\\foto.jpg", "IMAGE/JPEG", 10, "attachment"),
        ),
        AttachmentPolicy(),
    )
    assert [(a.index, a.filename, a.content_type, how) for a, how in planned] == [
        (0, "screen.jpg", "image/jpeg", Enclosure.ATTACHED),
        (2, None, "application/pdf", Enclosure.ATTACHED),
        (3, None, "message/rfc822", Enclosure.ATTACHED),
        (4, "Rechnung.pdf.exe", "application/pdf", Enclosure.WITHHELD),
        (5, "Rechnungfdp.JS", "application/pdf", Enclosure.WITHHELD),
        (6, "setup.exe.", "application/octet-stream", Enclosure.WITHHELD),
        (7, "tool", "application/x-msdownload", Enclosure.WITHHELD),
        (8, "foto.jpg", "image/jpeg", Enclosure.ATTACHED),
    ]
    custom = AttachmentPolicy(withheld_extensions=(".PDF",))
    assert [how for _, how in enclose(listed(("a.pdf", "application/pdf", 1, None)), custom)] == [
        Enclosure.WITHHELD
    ]


def test_attachments_beyond_the_count_or_size_stay_with_the_case() -> None:
    """In order, each attachment that still fits the count and the total size is
    attached; one that does not is over the limit, and a smaller one after it may fit."""
    policy = AttachmentPolicy(max_count=3, max_bytes=1000)
    planned = enclose(
        listed(
            ("a.jpg", "image/jpeg", 400, None),
            ("b.jpg", "image/jpeg", 700, None),
            ("c.jpg", "image/jpeg", 500, None),
            ("d.jpg", "image/jpeg", 100, None),
            ("e.jpg", "image/jpeg", 1, None),
            ("f.jpg", "image/jpeg", 1, None),
        ),
        policy,
    )
    assert [(a.filename, how) for a, how in planned] == [
        ("a.jpg", Enclosure.ATTACHED),
        ("b.jpg", Enclosure.OVER_LIMIT),
        ("c.jpg", Enclosure.ATTACHED),
        ("d.jpg", Enclosure.ATTACHED),
        ("e.jpg", Enclosure.OVER_LIMIT),
        ("f.jpg", Enclosure.OVER_LIMIT),
    ]


@pytest.mark.parametrize(
    "language, reader, expected",
    [
        (
            "de",
            "merchant",
            "Anhänge der Kundin / des Kunden, an diese E-Mail angehängt:\n"
            "- screen.jpg (image/jpeg, 12 KB)\n"
            "- Rechnung März.pdf (application/pdf, 1,5 MB)\n\n"
            "Nicht angehängt, aber beim Fall gespeichert (die Schlichtungsstelle kann sie "
            "einsehen):\n"
            "- tool.exe (application/octet-stream, 900 Bytes): ein Dateityp, den "
            "Mailanbieter nicht zustellen\n"
            "- (ohne Namen) (video/mp4, 8 MB): mehr, als eine E-Mail trägt (höchstens 10 "
            "Anhänge, zusammen 7 MB)",
        ),
        (
            "en",
            "mediator",
            "The customer's attachments, attached to this email:\n"
            "- screen.jpg (image/jpeg, 12 KB)\n"
            "- Rechnung März.pdf (application/pdf, 1.5 MB)\n\n"
            "Not attached, but kept with the case (the operator sends them on request):\n"
            "- tool.exe (application/octet-stream, 900 bytes): a file type that mail "
            "providers do not deliver\n"
            "- (unnamed) (video/mp4, 8 MB): more than one email carries (at most 10 "
            "attachments, 7 MB in all)",
        ),
    ],
)
def test_the_text_lists_attached_and_kept_attachments_in_the_readers_language(
    language: str, reader: str, expected: str
) -> None:
    """Name, type and size of each; the withheld ones apart, with why and where they are."""
    policy = AttachmentPolicy()
    planned = enclose(
        listed(
            ("screen.jpg", "image/jpeg", 12_345, None),
            (INVOICE, "application/pdf", 1_572_864, None),
            ("tool.exe", "application/octet-stream", 900, None),
            (None, "video/mp4", 8 * 1024 * 1024, "attachment"),
        ),
        policy,
    )
    assert templates.attachment_list(planned, policy, language, reader) == expected
    assert templates.attachment_list((), policy, language, reader) == ""


# ------------------------------------------------------------------ rendering


def test_the_forward_carries_the_attachments_with_their_names_types_and_bytes() -> None:
    """Text and HTML first, then each attachment in base64 under its original name and
    type: the non-ASCII name as RFC 2231 filename* and RFC 2047 name, read back alike by
    the stdlib and by our own parser. The message stays 7-bit."""
    raw = complaint(
        ("screen.jpg", "image/jpeg", JPEG),
        (INVOICE, "application/pdf", PDF),
        ("tool.exe", "application/octet-stream", b"MZ\x90\x00"),
    )
    sent = rendered(forward(raw), raw)
    assert sent.isascii()
    assert attached(sent) == [
        ("screen.jpg", "image/jpeg", JPEG),
        (INVOICE, "application/pdf", PDF),
    ]
    assert b"filename*=utf-8''Rechnung%20M%C3%A4rz.pdf" in sent
    assert b'name="=?utf-8?b?UmVjaG51bmcgTcOkcnoucGRm?="' in sent
    message = email.message_from_bytes(sent, policy=email.policy.default)
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)).get_content().startswith("Guten Tag")  # type: ignore[union-attr]
    again = parsing.parse(sent)
    assert [(a["filename"], a["content_type"]) for a in again.attachments] == [
        ("screen.jpg", "image/jpeg"),
        (INVOICE, "application/pdf"),
    ]


def test_rendering_again_gives_the_same_bytes() -> None:
    """The boundaries come from the Message-ID: a resend is byte for byte the same."""
    raw = complaint(("screen.jpg", "image/jpeg", JPEG), (INVOICE, "application/pdf", PDF))
    assert rendered(forward(raw), raw) == rendered(forward(raw), raw)
    other = outbox.render(forward(raw), "<siegel.other@siegel.test>", TEST_DOMAIN, NOW, raw)
    assert other != rendered(forward(raw), raw)


def test_a_long_non_ascii_name_is_split_into_rfc2231_continuations() -> None:
    """No header line of an attachment grows past 78 characters, and the name comes
    back whole."""
    name = "Lieferschein für die Bestellung MF-204518 – Möbel Fuchs, März 2026 (Kopie).pdf"
    raw = complaint((name, "application/pdf", PDF))
    sent = rendered(forward(raw), raw)
    header_lines = [line for line in sent.split(b"\r\n") if b"=" in line and len(line) < 200]
    assert b"filename*0*=utf-8''" in sent and b"filename*1*=" in sent
    assert max(len(line) for line in header_lines) <= 78
    assert attached(sent) == [(name, "application/pdf", PDF)]


def test_a_text_attachment_keeps_its_charset_and_an_attached_mail_its_type() -> None:
    """A text file is not re-encoded (its charset stays); an attached 7-bit mail goes
    as message/rfc822, an 8-bit one as an .eml file, so the message stays 7-bit."""
    inner = EmailMessage()
    inner["From"] = "shop@moebel-fuchs.test"
    inner["Subject"] = "Versandbestätigung"
    inner.set_content("Ihr Sofa ist unterwegs, Größe XL.", cte="8bit")
    message = EmailMessage()
    message["From"] = CUSTOMER
    message["Subject"] = "Sofa"
    message.set_content("Siehe Anhang.")
    message.add_attachment("Größe;Farbe\n".encode("latin-1"), "text", "csv", filename="a.csv")
    message.get_payload()[1].set_param("charset", "iso-8859-1")  # type: ignore[union-attr]
    ascii_inner = EmailMessage()
    ascii_inner["Subject"] = "Order"
    ascii_inner.set_content("Your order ships today.")
    message.add_attachment(ascii_inner)
    message.add_attachment(inner)
    raw = message.as_bytes()
    assert not raw.isascii()
    sent = rendered(forward(raw), raw)
    assert sent.isascii()
    out = email.message_from_bytes(sent, policy=email.policy.default)
    csv, mail, eight_bit = list(out.iter_attachments())  # type: ignore[attr-defined]
    assert (csv.get_content_type(), csv.get_content_charset()) == ("text/csv", "iso-8859-1")
    assert csv.get_payload(decode=True) == "Größe;Farbe\n".encode("latin-1")
    assert mail.get_content_type() == "message/rfc822"
    assert mail.get_payload(0)["Subject"] == "Order"
    assert (eight_bit.get_content_type(), eight_bit.get_filename()) == (
        "application/octet-stream",
        "message.eml",
    )
    assert "unterwegs, Größe XL.".encode() in eight_bit.get_payload(decode=True)


def test_an_attachment_not_found_as_listed_is_left_out_and_a_missing_source_refused() -> None:
    """The stored mail is read as it was listed; a part of another size is not sent in
    its place, and a forward with attachments cannot be rendered without the mail."""
    raw = complaint(("screen.jpg", "image/jpeg", JPEG), (INVOICE, "application/pdf", PDF))
    mail = forward(raw)
    moved = replace(mail, attachments=(replace(mail.attachments[0], size=1), mail.attachments[1]))
    assert attached(rendered(moved, raw)) == [(INVOICE, "application/pdf", PDF)]
    with pytest.raises(ValueError, match="attachments"):
        outbox.render(mail, MESSAGE_ID, TEST_DOMAIN, NOW)


def test_the_cap_limits_what_the_rendered_forward_carries() -> None:
    """Only what the policy lets through is attached."""
    raw = complaint(
        ("a.jpg", "image/jpeg", JPEG),
        ("b.pdf", "application/pdf", PDF),
        ("c.jpg", "image/jpeg", JPEG),
    )
    sent = rendered(forward(raw, AttachmentPolicy(max_count=2, max_bytes=len(JPEG) + 10)), raw)
    assert [name for name, _, _ in attached(sent)] == ["a.jpg"]


@pytest.mark.skipif(not CORPORA.is_dir(), reason=f"shared corpora absent: {CORPORA}")
@pytest.mark.parametrize(
    "name, expected",
    [
        ("iphone.eml", [("photo.JPG", "image/jpeg")]),  # an inline, named photo
        ("attached-pdf.eml", [("test.pdf", "application/pdf")]),
    ],
)
def test_real_mails_attachments_are_forwarded_byte_for_byte(
    name: str, expected: list[tuple[str, str]]
) -> None:
    """Real clients' mails (flanker's corpus): the forward carries the very bytes."""
    raw = (CORPORA / "flanker" / "messages" / name).read_bytes()
    parsed = parsing.parse(raw)
    originals = [part.get_payload(decode=True) for part in parsed.attachment_parts]
    carried = attached(rendered(forward(raw), raw))
    assert [(n, t) for n, t, _ in carried] == expected
    assert [data for _, _, data in carried] == originals


# ------------------------------------------------------------------ stored and sent


@pytest.fixture
def service_config(tmp_path: Path) -> Config:
    return make_config(tmp_path, mediation={"mediators": ["schlichterin@siegel.test"]})


def test_the_mediators_case_file_carries_them_from_the_stored_complaint(
    engine: Engine, service_config: Config
) -> None:
    """The complaint's attachments are recorded with the case: the mediator's case file,
    written days later, lists and carries them; the outbox row keeps only references,
    and renders the same bytes each time from the stored mail."""
    with session_scope(engine) as session:
        session.add(
            Merchant(
                slug="moebel-fuchs",
                name="Möbel Fuchs",
                support_addresses=[MERCHANT],
                domains=["moebel-fuchs.test"],
                created_at=NOW,
            )
        )
    raw = complaint(
        ("screen.jpg", "image/jpeg", JPEG),
        (INVOICE, "application/pdf", PDF),
        ("Reklamation.exe", "application/octet-stream", b"MZ\x90\x00"),
    )
    [stored] = store(engine, [Arrival(raw, CUSTOMER, ("beschwerde@siegel.test",), "test")], NOW)
    parsed = parsing.parse(raw)
    mail = case_service.IncomingMail(
        id=stored.mail_id,
        received_at=NOW,
        envelope_to=("beschwerde@siegel.test",),
        sender=CUSTOMER,
        subject=parsed.subject,
        text=parsed.text,
        message_id=parsed.message_id,
        attachments=casework.attachments(parsed),
    )

    def classify(context: str | None) -> classifier.Classification:
        return classifier.classify(mail.subject, mail.text, context=context)

    with session_scope(engine) as session:
        outcome = case_service.handle_mail(
            session, mail, classify, casework.settings(service_config)
        )
        for outgoing in outcome.outgoing:
            outbox.enqueue(session, outgoing, service_config, NOW)
    casework.sweep(engine, service_config, NOW + timedelta(days=10))
    with read_scope(engine) as session:
        rows = {row.kind: row for row in session.scalars(select(OutboxMail))}
        case_file = rows["mediator.case_file"]
        text = case_file.payload["text"]  # type: ignore[index]
        assert f"- {INVOICE} (application/pdf, " in text
        assert "(der Betreiber gibt sie Ihnen auf Nachfrage):\n- Reklamation.exe" in text
        assert [a["filename"] for a in case_file.payload["attachments"]] == [  # type: ignore[index]
            "screen.jpg",
            INVOICE,
        ]
        sent = outbox.message(case_file, service_config, session)
        assert outbox.message(case_file, service_config, session) == sent
        assert not attached(outbox.message(rows["customer.complaint_acknowledged"], service_config))
        forwarded = outbox.message(rows["merchant.complaint_forwarded"], service_config, session)
    for message in (sent, forwarded):
        assert attached(message) == [
            ("screen.jpg", "image/jpeg", JPEG),
            (INVOICE, "application/pdf", PDF),
        ]


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(engine, tmp_path, sink)
    running.add_merchant("moebel-fuchs", "Möbel Fuchs", MERCHANT, "--domain", "moebel-fuchs.test")
    yield running
    running.stop()


def test_a_complaint_with_a_photo_and_an_invoice_reaches_the_merchant_with_both(
    harness: Harness,
) -> None:
    """Through real SMTP: the merchant's forward carries the JPEG and the PDF as sent and
    lists them, and the program beside them as withheld; the customer's acknowledgement
    carries none. A sender without a name is greeted without one and shown once."""
    message = email.message_from_bytes(
        complaint(
            ("screen.jpg", "image/jpeg", JPEG),
            (INVOICE, "application/pdf", PDF),
            ("Reklamation.exe", "application/octet-stream", b"MZ\x90\x00"),
            text="Hello, my sofa from moebel-fuchs.test arrived broken. I attached photos "
            "and the invoice. Please help me get a replacement.",
        ),
        _class=EmailMessage,
        policy=email.policy.default,
    )
    harness.send(message)  # type: ignore[arg-type]
    sent = harness.process()
    [ack] = addressed_to(sent, CUSTOMER)
    [forwarded] = addressed_to(sent, MERCHANT)
    assert attached(forwarded.raw) == [
        ("screen.jpg", "image/jpeg", JPEG),
        (INVOICE, "application/pdf", PDF),
    ]
    text = plain(forwarded)
    assert f"Kundin/Kunde: {CUSTOMER}\n" in text and f"<{CUSTOMER}>" not in text
    assert f"- {INVOICE} (application/pdf, " in text
    assert "- Reklamation.exe (application/octet-stream, 4 Bytes): ein Dateityp" in text
    assert attached(ack.raw) == []
    assert plain(ack).startswith("Hello,\n") and CUSTOMER not in plain(ack).splitlines()[0]


def test_what_a_party_attaches_to_its_answer_reaches_the_other_party(harness: Harness) -> None:
    """Through real SMTP: the shop answers with a return label attached: the customer's
    forward of the answer carries and lists it, as the shop's; in mediation the
    customer's photo reaches the mediator the same way; the writers' own confirmations
    carry nothing."""
    harness.send(
        email.message_from_bytes(complaint(), _class=EmailMessage, policy=email.policy.default)  # type: ignore[arg-type]
    )
    [forward] = addressed_to(harness.process(), MERCHANT)
    answer = harness.reply(
        forward, MERCHANT, "Guten Tag, anbei das Retourenetikett. Wir holen das Sofa ab."
    )
    answer.add_attachment(PDF, maintype="application", subtype="pdf", filename="Retoure.pdf")
    harness.send(answer)
    sent = harness.process()
    [to_customer] = addressed_to(sent, CUSTOMER)
    assert harness.sent([to_customer]) == [(CUSTOMER, "customer.merchant_reply_forwarded")]
    assert attached(to_customer.raw) == [("Retoure.pdf", "application/pdf", PDF)]
    shown = plain(to_customer)
    assert (
        "Anhänge des Händlers, an diese E-Mail angehängt:\n- Retoure.pdf (application/pdf, "
        in shown
    )
    assert all(attached(m.raw) == [] for m in addressed_to(sent, MERCHANT))

    harness.send(harness.reply(to_customer, CUSTOMER, "Nein, das ist leider nicht gelöst."))
    [started] = addressed_to(harness.process(), CUSTOMER)
    photo = harness.reply(started, CUSTOMER, "Anbei das Foto der unbenutzten Ware.")
    photo.add_attachment(JPEG, maintype="image", subtype="jpeg", filename="ware.jpg")
    harness.send(photo)
    sent = harness.process()
    [to_mediator] = [m for m in sent if harness.sent([m])[0][1] == "mediator.customer_message"]
    assert attached(to_mediator.raw) == [("ware.jpg", "image/jpeg", JPEG)]
    assert "Anhänge der Kundin / des Kunden, an diese E-Mail angehängt:" in plain(to_mediator)
    assert all(attached(m.raw) == [] for m in addressed_to(sent, CUSTOMER))
