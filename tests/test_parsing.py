"""The normalised mail: decoding, addresses, dates, body text, attachments, limits, defects."""

from __future__ import annotations

import base64
import json
import random
import tempfile
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import pytest

from mailflow import parsing
from mailflow.parsing import ParsedMail, parse
from tests.cpu_time import LINEAR_LIMIT, cpu_seconds, growth_ratio

MAILS = Path(__file__).parent / "mails"


def fixture(name: str) -> ParsedMail:
    return parse((MAILS / name).read_bytes())


def mail(headers: str, body: str = "Hallo\n") -> bytes:
    return (headers.strip("\n") + "\n\n" + body).encode("utf-8")


def test_encoded_words_in_from_and_subject_are_decoded() -> None:
    """RFC 2047 words (ISO-8859-1 Q and UTF-8 Q) come out as text."""
    ooo = fixture("outlook-ooo-de.eml")
    assert ooo.from_name == "Jürgen Krämer"
    assert ooo.subject == "Automatische Antwort: Neue Beschwerde [SSG-2026-000123]"
    assert fixture("html-only.eml").subject == "Bestellung 4711 kam beschädigt an"


def test_raw_eight_bit_headers_and_an_unknown_charset_are_decoded() -> None:
    """Latin-1 bytes in headers and an unknown body charset still give readable German."""
    parsed = fixture("unknown-charset-8bit-headers.eml")
    assert parsed.from_name == "Jürgen Müller"
    assert parsed.from_address == "Juergen.Mueller@beispiel.example"
    assert parsed.subject == "Reklamation: Größe falsch, Ware zurück"
    assert "zu groß. Ich möchte mein Geld zurück." in parsed.text
    assert any(d.startswith("header-8bit:") for d in parsed.defects)
    assert any("x-mac-german-old" in d for d in parsed.defects)


@pytest.mark.parametrize("label", ["iso-8859-1", "windows-1252", "iso-8859-15"])
def test_utf8_text_under_a_one_byte_label_is_read_as_utf8(label: str) -> None:
    """A program that writes UTF-8 but labels it ISO-8859-1 (a black-box run's mail):
    read as labelled, "Möbel Fuchs" became "MÃ¶bel Fuchs" and the shop was not found.
    Valid UTF-8 with bytes above ASCII is read as UTF-8, and the mislabel recorded."""
    headers = (
        f"From: a@example.org\nSubject: Regal\nMIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset={label}\nContent-Transfer-Encoding: 8bit\n"
    )
    body = "Das Regal von Möbel Fuchs ist beschädigt, 49 € zurück bitte.\n".encode()
    parsed = parse(mail(headers, "").replace(b"\n\n", b"\n\n" + body))
    assert parsed.text.strip() == "Das Regal von Möbel Fuchs ist beschädigt, 49 € zurück bitte."
    assert any(d.startswith("charset-fallback") for d in parsed.defects)


def test_windows_text_labelled_iso_8859_1_keeps_its_euro_sign() -> None:
    """Outlook on Windows labels Windows-1252 text ISO-8859-1: "=80" is "€", "=84" and
    "=93" are German quotes, not control characters; real Latin-1 reads the same."""
    headers = (
        "From: a@example.org\nSubject: Preis\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n"
    )
    parsed = parse(mail(headers, "Bezahlt: 349,00 =80 f=FCr das =84Sofa=93.\n"))
    assert parsed.text.strip() == "Bezahlt: 349,00 € für das „Sofa“."
    assert not any(d.startswith("charset-fallback") for d in parsed.defects)
    latin1 = parse(
        mail(headers.replace("quoted-printable", "8bit"), "").replace(b"\n\n", b"\n\nGr\xfc\xdfe\n")
    )
    assert latin1.text.strip() == "Grüße"


def test_a_multipart_without_a_boundary_is_read_as_one_text() -> None:
    """A multipart type without its boundary parameter cannot be split: its body is the
    text, not nothing; the defect is recorded."""
    headers = (
        "From: a@example.org\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/alternative\n"
    )
    parsed = parse(mail(headers, "Meine Bestellung MF-300301 wurde nie geliefert.\n"))
    assert parsed.text.strip() == "Meine Bestellung MF-300301 wurde nie geliefert."
    assert parsed.attachments == []
    assert any("NoBoundaryInMultipartDefect" in d for d in parsed.defects)


def test_control_and_bidi_characters_leave_the_subject_and_the_display_name() -> None:
    """An escape sequence would reach the terminal of whoever lists the mail, an
    override turns the line around: neither is kept in the subject or the sender's name;
    the words around them stay."""
    headers = (
        "From: =?utf-8?b?RXZpbCAbXTA7cHduZWQH?= <a@example.org>\n"
        "Subject: Kaputt \x1b[2J\x1b[31mROT =?utf-8?q?=E2=80=AEtset?=\n"
    )
    parsed = parse(mail(headers))
    assert parsed.subject == "Kaputt [2J[31mROT tset"
    assert not any(ord(c) < 32 for c in parsed.from_name)  # decoded or left encoded
    assert parsed.from_address == "a@example.org"


def test_addresses_keep_the_local_part_and_lower_case_the_domain() -> None:
    """RFC 5321 2.4: domains are case-insensitive, local parts are not."""
    parsed = fixture("outlook-human-de.eml")
    assert parsed.from_address == "j.kraemer@shop.example"
    assert parsed.to == ["fall+ssg-2026-000123.merchant.abcdefghijklmnop@siegel.example"]
    assert parsed.cc == ["Support@shop.example"]
    assert parsed.reply_to == []


def test_a_display_name_with_an_encoded_comma_stays_one_address() -> None:
    """An encoded display name containing a comma does not split the address list."""
    raw = mail(
        "From: =?utf-8?q?M=C3=BCller=2C_Hans?= <hans@X.example>\n"
        "To: a@b.example, =?utf-8?b?w4RybWVs?= <c@D.example>\n"
        "Reply-To: <Antwort@Shop.Example>"
    )
    parsed = parse(raw)
    assert (parsed.from_name, parsed.from_address) == ("Müller, Hans", "hans@x.example")
    assert parsed.to == ["a@b.example", "c@d.example"]
    assert parsed.reply_to == ["Antwort@shop.example"]


def test_cet_and_mez_dates_are_one_hour_east_of_utc() -> None:
    """`CET`/`MEZ` are +01:00 (mail-parser reads them as UTC)."""
    assert fixture("html-only.eml").date == datetime(2026, 3, 7, 17, 22, 31, tzinfo=UTC)
    assert fixture("unknown-charset-8bit-headers.eml").date == datetime(
        2026, 3, 8, 19, 5, tzinfo=UTC
    )
    summer = parse(mail("Date: Mon, 6 Jul 2026 10:00:00 CEST"))
    assert summer.date == datetime(2026, 7, 6, 8, 0, tzinfo=UTC)


def test_an_unknown_zone_is_read_as_utc_and_recorded() -> None:
    """RFC 5322 4.3: an unknown alphabetic zone means UTC; the guess is a defect."""
    parsed = parse(mail("Date: Sun, 8 Mar 2026 20:05:00 XYZ"))
    assert parsed.date == datetime(2026, 3, 8, 20, 5, tzinfo=UTC)
    assert any(d.startswith("date-zone-unknown") for d in parsed.defects)


def test_dates_are_aware_or_none() -> None:
    """Every date is timezone-aware; an unreadable or impossible one is None plus a defect."""
    assert parse(mail("Date: Tue, 3 Mar 2026 10:02:11 +0100")).date.utcoffset() is not None
    unreadable = parse(mail("Date: gestern nachmittag"))
    assert unreadable.date is None and any("date-unreadable" in d for d in unreadable.defects)
    impossible = parse(mail("Date: Mon, 31 Feb 2026 10:00:00 +0100"))
    assert impossible.date is None and any("date-invalid" in d for d in impossible.defects)
    assert parse(mail("Subject: ohne Datum")).date is None


def test_a_missing_or_blank_message_id_is_none() -> None:
    """No Message-ID gives None, never '' (mail-parser's answer)."""
    assert parse(mail("Subject: x")).message_id is None
    assert parse(mail("Message-ID:   \nSubject: x")).message_id is None
    assert parse(mail("Message-ID: <a@b.example>")).message_id == "<a@b.example>"


def test_threading_headers_are_read_as_ids() -> None:
    """In-Reply-To gives one id, References the list of ids in order, folding removed."""
    parsed = fixture("outlook-human-de.eml")
    assert parsed.in_reply_to == "<outbox-17.3f9a@siegel.example>"
    assert parsed.references == [
        "<case-ssg-2026-000123@siegel.example>",
        "<outbox-17.3f9a@siegel.example>",
    ]


def test_a_long_references_header_keeps_the_thread_start_and_the_latest_ids() -> None:
    """RFC 5322 3.6.4: the first id starts the thread, the last ones are the parents."""
    ids = [f"<{n}@x.example>" for n in range(150)]
    parsed = parse(mail("References: " + "\n ".join(ids)))
    assert len(parsed.references) == parsing.MAX_REFERENCES
    assert parsed.references[0] == ids[0] and parsed.references[-1] == ids[-1]


def test_language_hint_comes_from_content_language() -> None:
    """Content-Language gives a lower-case tag; garbage gives None."""
    assert fixture("outlook-human-de.eml").language_hint == "de-de"
    assert parse(mail("Content-Language: <script>")).language_hint is None
    assert fixture("exim-bounce-de.eml").language_hint is None


def test_an_html_only_mail_becomes_readable_text() -> None:
    """Blocks become lines, links stay as text (url), script/style/comments vanish."""
    parsed = fixture("html-only.eml")
    assert parsed.text == (
        "Sehr geehrte Damen & Herren,\n\n"
        "meine Bestellung 4711 bei Beispiel-Shop (https://shop.example/order/4711) kam "
        "beschädigt an.\n\n"
        "- Karton eingedrückt\n"
        "- Vase zerbrochen\n\n"
        "Mit freundlichen Grüßen\n"
        "Maria Schmidt"
    )
    assert "alert" not in parsed.text and "Kommentar" not in parsed.text


def test_the_stored_html_is_sanitised() -> None:
    """The kept HTML has no script, no event handlers; the visible text survives."""
    html = fixture("html-only.eml").html
    assert html is not None
    assert "<script" not in html and "onerror" not in html and "alert" not in html
    assert "Vase zerbrochen" in html
    assert fixture("exim-bounce-de.eml").html is None


def test_plain_text_wins_over_html_in_an_alternative() -> None:
    """multipart/alternative: the text/plain part is the text, the HTML is kept aside."""
    parsed = fixture("outlook-ooo-de.eml")
    assert parsed.text.startswith("Vielen Dank für Ihre Nachricht.\n\nIch bin bis")
    assert "<p>" not in parsed.text
    assert parsed.html is not None and "Vielen Dank" in parsed.html


def html_mail(markup: str) -> bytes:
    return mail("Subject: x\nContent-Type: text/html; charset=utf-8", markup)


def test_a_from_with_several_mailboxes_names_no_sender() -> None:
    """ "From: service@shop.example, evil@evil.example" acted as the shop in a black-box
    run: several authors are no one person who may act for a role. The sender is none
    (the mail is held as without one) and the defect recorded; one mailbox twice is one."""
    several = parse(b"From: service@shop.example, evil@evil.example\nSubject: s\n\nText\n")
    assert several.from_address is None and "from-several: 2 mailboxes" in several.defects
    twice = parse(b"From: A <a@shop.example>, a@Shop.example\nSubject: s\n\nText\n")
    assert twice.from_address == "a@shop.example"
    two_fields = parse(b"From: service@shop.example\nFrom: evil@evil.example\n\nText\n")
    assert two_fields.from_address is None


def test_javascript_links_are_not_kept() -> None:
    """A javascript: link keeps its text but loses its target, in text and in HTML."""
    parsed = parse(html_mail('<p><a href="javascript:alert(1)">Gutschein</a></p>'))
    assert parsed.text == "Gutschein"
    assert parsed.html is not None and "javascript" not in parsed.html


HOSTILE_HTML = {
    "nested divs": ("<div>", "", 2_000),
    "nested spans": ("<span>", "x", 2_000),
    "many paragraphs": ("<p>x</p>", "", 2_000),
    "entities": ("&amp;", "", 10_000),
    "brackets": ("<", "", 10_000),
    "comments": ("<!--", "", 20_000),
}


@pytest.mark.parametrize("name", HOSTILE_HTML)
def test_hostile_html_is_bounded(name: str) -> None:
    """An HTML-only mail with deep nesting (quadratic in html5ever), dense markup or
    constructs left open (quadratic in the stdlib tokenizer) costs about five times as much
    to parse for five times the markup, not 25 times: its sanitised HTML and its text."""
    unit, tail, count = HOSTILE_HTML[name]
    parsed = parse(html_mail(unit * count + tail))
    assert isinstance(parsed.text, str) and parsed.html is not None
    ratio = growth_ratio(lambda markup: parse(html_mail(markup)), lambda n: unit * n + tail, count)
    assert ratio < LINEAR_LIMIT


def test_attachments_are_described_not_kept() -> None:
    """Attachment metadata: decoded filename, content type, decoded size; no payload."""
    parsed = fixture("outlook-human-de.eml")
    pdf = base64.b64decode(
        "JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg=="
    )
    assert parsed.attachments == [
        {
            "filename": "Sendungsverfolgung 4711.pdf",
            "content_type": "application/pdf",
            "size": len(pdf),
        }
    ]
    assert "JVBERi0" not in json.dumps(parsed.to_json())


def test_rfc2231_and_encoded_word_filenames_are_decoded() -> None:
    """filename*=utf-8''... (RFC 2231) and name="=?utf-8?...?=" both give text."""
    raw = mail(
        'Content-Type: multipart/mixed; boundary="b"',
        "--b\n"
        "Content-Type: text/plain\n\nsiehe Anhang\n"
        "--b\n"
        "Content-Type: application/pdf\n"
        "Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf\n\n"
        "%PDF\n"
        "--b\n"
        'Content-Type: image/jpeg; name="=?utf-8?q?Schaden_Vase_gro=C3=9F.jpg?="\n'
        "Content-Transfer-Encoding: base64\n\n/9j/4AAQ\n"
        "--b--\n",
    )
    parsed = parse(raw)
    assert [a["filename"] for a in parsed.attachments] == [
        "Rechnung März.pdf",
        "Schaden Vase groß.jpg",
    ]
    assert parsed.attachments[1]["size"] == len(base64.b64decode("/9j/4AAQ"))
    assert parsed.text == "siehe Anhang"


def test_parsing_writes_nothing_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing a mail with attachments creates no file, neither in cwd nor in TMPDIR."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    fixture("outlook-human-de.eml")
    parse((MAILS / "outlook-human-de.eml").read_bytes().replace(b"pdf", b"exe"))
    assert list(tmp_path.iterdir()) == []


def test_a_forwarded_message_is_an_attachment_and_its_text_a_fallback() -> None:
    """A message/rfc822 part is listed as an attachment; its text is used only when the
    outer mail has none."""
    inner = "From: shop@x.example\nSubject: Ihre Bestellung\n\nVersandbestätigung\n"
    with_note = mail(
        'Content-Type: multipart/mixed; boundary="b"',
        f"--b\nContent-Type: text/plain\n\nSiehe unten.\n--b\n"
        f"Content-Type: message/rfc822\n\n{inner}--b--\n",
    )
    parsed = parse(with_note)
    assert parsed.text == "Siehe unten."
    assert [a["content_type"] for a in parsed.attachments] == ["message/rfc822"]
    # The line break before a boundary belongs to the boundary (RFC 2046 5.1.1).
    assert parsed.attachments[0]["size"] == len("Versandbestätigung".encode())
    only_inner = mail(
        'Content-Type: multipart/mixed; boundary="b"',
        f"--b\nContent-Type: message/rfc822\n\n{inner}--b--\n",
    )
    assert parse(only_inner).text == "Versandbestätigung"


def test_broken_mime_gets_a_best_effort_and_defects() -> None:
    """A missing close boundary and a bad base64 part are recorded; text is recovered."""
    raw = mail(
        'Content-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain; charset=utf-8\n\nDer Artikel fehlt.\n"
        "--b\nContent-Type: application/pdf; name=a.pdf\n"
        "Content-Transfer-Encoding: base64\n\n@@@not base64@@@\n",
    )
    parsed = parse(raw)
    assert parsed.text == "Der Artikel fehlt."
    assert any("CloseBoundaryNotFoundDefect" in d for d in parsed.defects)
    assert parsed.attachments[0]["filename"] == "a.pdf"


@pytest.mark.parametrize(
    ("field", "name", "address"),
    [
        (b"=?utf-8?q?Kaputt?= <broken@example.org", "Kaputt", "broken@example.org"),
        (b"broken@Example.ORG (Kaputt", "", "broken@example.org"),
        (b"Kaputt broken@example.org", "", "broken@example.org"),
        (b'"J\xc3\xbcrgen" <j@example.org>>', "J\u00fcrgen", "j@example.org"),
    ],
)
def test_a_from_field_the_parsers_give_up_on_still_names_its_one_address(
    field: bytes, name: str, address: str
) -> None:
    """An unclosed ``<`` or comment, as broken clients write them: the one address in
    the field is the sender, so that a complaint still gets its answer."""
    parsed = parse(b"From: " + field + b"\r\nSubject: Sofa\r\n\r\nDas Sofa ist kaputt.\r\n")
    assert (parsed.from_name, parsed.from_address) == (name, address)


@pytest.mark.parametrize(
    "field", [b"a@example.org <b@example.net", b"Kaputt <broken at example.org>", b"Kaputt <"]
)
def test_a_broken_from_field_with_no_address_or_two_names_no_sender(field: bytes) -> None:
    """Two addresses in a broken field would be a guess, and a word is no address."""
    parsed = parse(b"From: " + field + b"\r\nSubject: Sofa\r\n\r\nKaputt.\r\n")
    assert parsed.from_address is None


def test_a_reused_boundary_does_not_hide_the_attachment() -> None:
    """Parts after an early close boundary (same boundary nested) are recovered."""
    raw = mail(
        'Content-Type: multipart/mixed; boundary="b"',
        '--b\nContent-Type: multipart/alternative; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nHallo\n--b--\n\n"
        "--b\nContent-Type: application/zip; name=rechnung.zip\n"
        "Content-Transfer-Encoding: base64\n\nUEsFBgAAAAA=\n--b--\n",
    )
    parsed = parse(raw)
    assert [a["filename"] for a in parsed.attachments] == ["rechnung.zip"]
    assert any(d.startswith("epilogue-parts") for d in parsed.defects)


def test_text_and_header_values_are_capped() -> None:
    """A 2 MiB body and a 100 KiB subject are cut to their limits, with defects."""
    parsed = parse(mail("Subject: " + "x" * 100_000, "y" * (2 * 1024 * 1024)))
    assert len(parsed.text) == parsing.MAX_TEXT_CHARS
    assert len(parsed.subject) == parsing.MAX_SUBJECT_CHARS
    assert all(len(v) <= parsing.MAX_HEADER_CHARS for vs in parsed.headers.values() for v in vs)
    assert any(d.startswith("text-truncated") for d in parsed.defects)
    assert any(d.startswith("header-truncated: subject") for d in parsed.defects)


def test_the_attachment_list_is_capped() -> None:
    """More than MAX_ATTACHMENTS attachments: the list stops there, with a defect."""
    parts = "".join(f"--b\nContent-Type: image/png; name=bild{n}.png\n\nx\n" for n in range(250))
    parsed = parse(mail('Content-Type: multipart/mixed; boundary="b"', parts + "--b--\n"))
    assert len(parsed.attachments) == parsing.MAX_ATTACHMENTS
    assert any(d.startswith("attachments-truncated") for d in parsed.defects)


def _nested_multipart(depth: int) -> bytes:
    head = "".join(
        f'Content-Type: multipart/mixed; boundary="b{n}"\n\n--b{n}\n' for n in range(depth)
    )
    tail = "".join(f"--b{n}--\n" for n in reversed(range(depth)))
    return f"From: a@b.example\n{head}Content-Type: text/plain\n\ntief\n{tail}".encode()


HOSTILE_INPUTS = {
    "empty": b"",
    "nul bytes": b"\x00" * 1000,
    "only a header name": b"From:",
    "no header at all": b"\n\njust a body\n",
    "binary noise": random.Random(7).randbytes(200_000),
    "utf-16 bom": "\ufeffFrom: a@b\n\nx".encode("utf-16"),
    "unterminated encoded word": b"Subject: =?utf-8?q?abc\n\nx",
    "bogus charsets": mail("Subject: =?x-nope?b?AAAA?= =?utf-8?b?@@@?=", "x").replace(
        b"\n\n", b"\nContent-Type: text/plain; charset=base64\n\n"
    ),
    "multipart without boundary": mail("Content-Type: multipart/mixed", "--x\n\nbody"),
    "5000 header fields": b"".join(b"X-H%d: v\n" % n for n in range(5000)) + b"\nbody",
    "1 MiB header": b"Subject: " + b"a" * (1024 * 1024) + b"\n\nbody",
    "1000 nested multiparts": _nested_multipart(1000),
    "5000 nested messages": b"Content-Type: message/rfc822\n\n" * 5000 + b"Subject: x\n\nb",
    "5000 sibling parts": mail(
        'Content-Type: multipart/mixed; boundary="b"',
        "".join("--b\nContent-Type: text/plain\n\nx\n" for _ in range(5000)) + "--b--\n",
    ),
}


@pytest.mark.parametrize("raw", HOSTILE_INPUTS.values(), ids=HOSTILE_INPUTS.keys())
def test_parse_never_raises_and_stays_within_a_second(raw: bytes) -> None:
    """Any byte string parses, quickly, into a JSON-storable mail."""
    parsed = parse(raw)
    assert cpu_seconds(lambda: parse(raw)) < 1.0
    assert isinstance(parsed.message, Message)
    json.dumps(parsed.to_json(), ensure_ascii=False).encode("utf-8")


def test_deep_nesting_is_cut_and_recorded() -> None:
    """Nesting beyond the limits is neutralised before the stdlib parser sees it."""
    parsed = parse(_nested_multipart(1000))
    assert any(d.startswith("structure-truncated") for d in parsed.defects)
    depth, part = 0, parsed.message
    while isinstance(part.get_payload(), list) and part.get_payload():
        part, depth = part.get_payload()[0], depth + 1
    assert depth <= parsing.MAX_DEPTH


def test_the_stdlib_fallback_reads_the_same_mail() -> None:
    """Without mail-parser the stdlib alone gives the same addresses, subject and text."""
    for path in sorted(MAILS.glob("*.eml")):
        full = parse(path.read_bytes())
        assert not [d for d in full.defects if d.split(":")[0].endswith("-failed")]
        alone = parsing._assemble(full.message, None, [])
        assert (alone.from_address, alone.to, alone.cc) == (full.from_address, full.to, full.cc)
        assert (alone.subject, alone.text, alone.attachments) == (
            full.subject,
            full.text,
            full.attachments,
        ), path.name


def test_the_last_resort_keeps_the_bytes_readable() -> None:
    """When no parser copes, the raw bytes become the text, NULs removed, defects kept."""
    parsed = parsing._raw_text_mail("Grüße\x00 aus Köln".encode("cp1252"), ["stdlib-x"])
    assert parsed.text == "Grüße aus Köln"
    assert parsed.defects == ["stdlib-x"] and parsed.message_id is None
    json.dumps(parsed.to_json())


def test_to_json_is_storable_and_leaves_out_the_message_object() -> None:
    """to_json() survives json.dumps; the date is ISO 8601; `message` is not in it."""
    data = fixture("outlook-human-de.eml").to_json()
    restored = json.loads(json.dumps(data))
    assert "message" not in restored
    assert restored["date"] == "2026-03-04T13:31:52+00:00"
    assert restored["headers"]["x-mailer"] == ["Microsoft Outlook 16.0"]
    left_out = {"message", "html_source", "attachment_parts"}
    assert set(restored) == set(ParsedMail.__dataclass_fields__) - left_out


def test_headers_are_decoded_and_keyed_in_lower_case() -> None:
    """`headers` maps lower-case names to every decoded value, in order."""
    parsed = parse(
        mail("Received: a\nReceived: b\nX-Note: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\nSubject: s")
    )
    assert parsed.headers["received"] == ["a", "b"]
    assert parsed.headers["x-note"] == ["Grüße"]
