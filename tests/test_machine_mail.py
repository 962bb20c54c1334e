"""Machine-mail recognition: one positive and one negative case per rule, and the table."""

from __future__ import annotations

import email
import json
import re
from email.message import Message
from pathlib import Path

import pytest

from classifier import machine
from classifier.machine import KINDS, RULES, MachineVerdict, detect
from mailflow.parsing import parse
from tests.cpu_time import cpu_seconds

MAILS = Path(__file__).parent / "mails"
DOMAIN = "siegel.example"

HUMAN_HEADERS = (
    "From: Petra Lange <p.lange@mode.example>\n"
    "To: fall+ssg-2026-000123.merchant.abcdefghijklmnop@siegel.example\n"
    "Subject: AW: Neue Beschwerde [SSG-2026-000123]\n"
    "Date: Wed, 4 Mar 2026 14:31:52 +0100\n"
    "Message-ID: <0b8e4f2c@EX-MBX02.mode.example>\n"
)


def message(extra_headers: str = "", body: str = "Guten Tag,\n\ndas Paket ist unterwegs.\n",
            base: str = HUMAN_HEADERS) -> Message:  # fmt: skip
    raw = base + extra_headers.strip("\n") + ("\n" if extra_headers else "") + "\n" + body
    return email.message_from_bytes(raw.encode("utf-8"))


def verdict_of(msg: Message, envelope_from: str | None = "p.lange@mode.example") -> MachineVerdict:
    verdict = detect(msg, envelope_from, DOMAIN)
    assert verdict is not None
    return verdict


def fixture(name: str) -> Message:
    return parse((MAILS / name).read_bytes()).message


# -- the fixtures, end to end ----------------------------------------------------------

FIXTURES = {
    "outlook-ooo-de.eml": ("auto_reply", "auto-submitted"),
    "exchange-ooo-legacy-de.eml": ("auto_reply", "x-auto-response-suppress"),
    "exim-bounce-de.eml": ("bounce", "bounce-heuristic"),
    "postfix-dsn-de.eml": ("bounce", "dsn"),
    "postfix-delay.eml": ("delay", "dsn"),
    "gmail-vacation.eml": ("auto_reply", "auto-submitted"),
    "outlook-mdn-de.eml": ("read_receipt", "mdn"),
    "mailing-list.eml": ("list", "precedence"),
    "siegel-loop.eml": ("loop", "loop-header"),
}


@pytest.mark.parametrize("name", FIXTURES)
def test_each_fixture_is_recognised_by_the_expected_rule(name: str) -> None:
    """Each hand-written machine mail gets its kind from the rule meant for it."""
    verdict = verdict_of(fixture(name), envelope_from=None)
    assert (verdict.kind, verdict.rule) == FIXTURES[name]


@pytest.mark.parametrize(
    "name", ["outlook-human-de.eml", "html-only.eml", "unknown-charset-8bit-headers.eml"]
)
def test_mail_people_wrote_is_not_machine_mail(name: str) -> None:
    """An Outlook reply with Exchange headers, an HTML-only mail and a mis-encoded mail are
    people's mail."""
    assert detect(fixture(name), None, DOMAIN) is None


def test_an_ordinary_outlook_mail_is_not_machine_mail() -> None:
    """X-Mailer: Microsoft Outlook, Thread-Index and Exchange stamps mean nothing automatic."""
    msg = message(
        "X-Mailer: Microsoft Outlook 16.0\n"
        "Thread-Index: AQHZx1Jb3kQ2c0mVh0uT7+8FqOw8TgAGkQ7A\n"
        "Thread-Topic: Neue Beschwerde\n"
        "X-MS-Has-Attach:\n"
        "X-MS-TNEF-Correlator:\n"
        "X-MS-Exchange-Organization-AuthAs: Internal\n"
        "X-MS-Exchange-Organization-SCL: -1\n"
        "Content-Language: de-DE\n"
        "Return-Path: <p.lange@mode.example>"
    )
    assert detect(msg, None, DOMAIN) is None
    assert detect(msg, "p.lange@mode.example", DOMAIN) is None


def test_all_rules_that_fired_are_recorded_in_table_order() -> None:
    """An Exim bounce also carries Auto-Submitted and a null sender: the bounce decides,
    the others are recorded."""
    verdict = verdict_of(fixture("exim-bounce-de.eml"), envelope_from="")
    assert verdict.rules_fired == ("bounce-heuristic", "auto-submitted", "null-sender")
    order = [rule_id for rule_id, _ in RULES]
    assert list(verdict.rules_fired) == sorted(verdict.rules_fired, key=order.index)


def test_rule_ids_are_unique_dashed_names() -> None:
    """Rule ids are the dashed names used in logs and config."""
    ids = [rule_id for rule_id, _ in RULES]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", rule_id) for rule_id in ids)


def test_the_verdict_serialises_to_json() -> None:
    """to_json() gives kind, rule, rules_fired and detail, and survives json.dumps."""
    verdict = verdict_of(fixture("postfix-dsn-de.eml"), envelope_from="")
    data = json.loads(json.dumps(verdict.to_json()))
    assert data["kind"] == "bounce" and data["rule"] == "dsn"
    assert data["rules_fired"][0] == "dsn"
    assert data["detail"]["failed_recipients"] == ["Kundenservice@shop-ohne-postfach.example"]
    assert verdict.kind in KINDS


# -- loop-header -----------------------------------------------------------------------


def test_loop_header_with_our_domain_is_a_loop() -> None:
    """Our own X-Siegel-Loop header (any case) marks our own mail coming back."""
    verdict = verdict_of(message("X-Siegel-Loop: Siegel.Example"))
    assert (verdict.kind, verdict.rule) == ("loop", "loop-header")


def test_loop_header_of_another_domain_is_not_ours() -> None:
    """Another installation's loop header is not our loop."""
    assert detect(message("X-Siegel-Loop: other.example"), "p.lange@mode.example", DOMAIN) is None


# -- dsn -------------------------------------------------------------------------------


def test_dsn_gives_failed_recipient_status_and_original_message() -> None:
    """RFC 3464: recipient (as we addressed it), Action/Status, original Message-ID."""
    detail = verdict_of(fixture("postfix-dsn-de.eml"), envelope_from="").detail
    assert detail["failed_recipients"] == ["Kundenservice@shop-ohne-postfach.example"]
    assert detail["status"] == "5.2.1"
    assert detail["temporary"] is False
    assert detail["original_message_id"] == "<outbox-18.77c1@siegel.example>"
    assert detail["recipients"][0]["action"] == "failed"


def test_dsn_with_action_delayed_is_a_delay() -> None:
    """Action: delayed means still retried: a delay warning, temporary."""
    verdict = verdict_of(fixture("postfix-delay.eml"), envelope_from="")
    assert verdict.kind == "delay"
    assert verdict.detail["temporary"] is True
    assert verdict.detail["failed_recipients"] == ["order@langsam.example"]
    assert verdict.detail["status"] == "4.4.1"


DSN_TEMPLATE = """From: MAILER-DAEMON@mx.example
To: bounce+5.abcdefghijklmnop@siegel.example
Subject: Delivery report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

Report.
--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; kunde@x.example
Action: {action}
Status: {status}

--r--
"""


@pytest.mark.parametrize(
    ("action", "status", "kind"),
    [
        ("failed", "5.1.1", "bounce"),
        ("failure", "5.0.0", "bounce"),  # seen in the wild, not RFC 3464
        ("failed", "4.4.7", "bounce"),  # given up after retrying: final for the sender
        ("delayed", "4.4.1", "delay"),
        ("delivered", "2.0.0", "delivery_report"),
        ("relayed", "2.0.0", "delivery_report"),
    ],
)
def test_dsn_kind_follows_the_action_field(action: str, status: str, kind: str) -> None:
    """RFC 3464 2.3.3: failed is a bounce, delayed a delay, delivered/relayed a report."""
    msg = email.message_from_string(DSN_TEMPLATE.format(action=action, status=status))
    verdict = verdict_of(msg, envelope_from="")
    assert (verdict.kind, verdict.detail["status"]) == (kind, status)


def test_a_bounce_forwarded_by_a_person_is_not_a_dsn() -> None:
    """A customer forwarding a bounce as an attachment wrote a mail, not a bounce."""
    dsn = DSN_TEMPLATE.format(action="failed", status="5.1.1")
    msg = message(
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="fwd"',
        "--fwd\nContent-Type: text/plain; charset=utf-8\n\n"
        "Meine Mail an den Shop kam zurück, bitte helfen Sie.\n"
        f"--fwd\nContent-Type: message/rfc822\n\n{dsn}\n--fwd--\n",
        base=HUMAN_HEADERS.replace("AW: Neue Beschwerde", "WG: Undelivered Mail Returned"),
    )
    assert detect(msg, "p.lange@mode.example", DOMAIN) is None


# -- mdn -------------------------------------------------------------------------------


def test_mdn_is_a_read_receipt_with_the_original_message_id() -> None:
    """RFC 8098: Outlook's "Gelesen:" report names the mail that was read."""
    verdict = verdict_of(fixture("outlook-mdn-de.eml"))
    assert (verdict.kind, verdict.rule) == ("read_receipt", "mdn")
    assert verdict.detail["original_message_id"] == "<outbox-17.3f9a@siegel.example>"
    assert verdict.detail["final_recipient"] == "support@shop.example"


def test_an_automatic_deleted_disposition_is_a_rejection() -> None:
    """RFC 5429: a Sieve reject answers with an automatic MDN "deleted": a bounce."""
    msg = email.message_from_string(
        "From: Mail Delivery Subsystem <admin@x.example>\n"
        "Subject: Automatically rejected mail\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="m"\n'
        "\n--m\nContent-Type: text/plain\n\nRejected.\n"
        "--m\nContent-Type: message/disposition-notification\n\n"
        "Final-Recipient: rfc822; kunde@x.example\n"
        "Disposition: automatic-action/MDN-sent-automatically; deleted\n--m--\n"
    )
    verdict = verdict_of(msg)
    assert (verdict.kind, verdict.rule) == ("bounce", "mdn")
    assert verdict.detail["failed_recipients"] == ["kunde@x.example"]


def test_a_request_for_a_read_receipt_is_not_a_receipt() -> None:
    """Disposition-Notification-To on a person's mail asks for a receipt; it is not one."""
    msg = message("Disposition-Notification-To: p.lange@mode.example")
    assert detect(msg, "p.lange@mode.example", DOMAIN) is None


# -- arf -------------------------------------------------------------------------------


def test_feedback_report_is_recognised_with_its_type() -> None:
    """RFC 5965 abuse report: kind feedback_report, Feedback-Type and original id read."""
    msg = email.message_from_string(
        "From: scomp@aol.example\nSubject: Email Feedback Report\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\n'
        "\n--f\nContent-Type: text/plain\n\nThis is an abuse report.\n"
        "--f\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\nUser-Agent: AOL SComp\nVersion: 1\n"
        "Original-Rcpt-To: <kunde@aol.example>\n"
        "--f\nContent-Type: message/rfc822\n\n"
        "Message-ID: <outbox-3.ab@siegel.example>\nSubject: x\n\nbody\n--f--\n"
    )
    verdict = verdict_of(msg)
    assert (verdict.kind, verdict.rule) == ("feedback_report", "arf")
    assert verdict.detail["feedback_type"] == "abuse"
    assert verdict.detail["original_message_id"] == "<outbox-3.ab@siegel.example>"
    assert verdict.detail["original_rcpt_to"] == "kunde@aol.example"


def test_a_plain_multipart_is_not_a_report() -> None:
    """multipart/mixed with text and an image is no report of any kind."""
    msg = message(
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nFoto anbei.\n--b\n"
        "Content-Type: image/jpeg; name=foto.jpg\n\nxx\n--b--\n",
    )
    assert detect(msg, "p.lange@mode.example", DOMAIN) is None


# -- bounce-heuristic ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "signal"),
    [
        ("X-Failed-Recipients: info@x.example", "x-failed-recipients"),
        ("Subject: Undeliverable: Neue Beschwerde", "subject"),
        ("Subject: Unzustellbar: Neue Beschwerde", "subject"),
        ("Subject: Nicht zustellbar: Neue Beschwerde", "subject"),
        ("Subject: Undelivered Mail Returned to Sender", "subject"),
        ("Subject: Delivery Status Notification (Failure)", "subject"),
        ("Subject: failure notice", "subject"),
        ("Subject: Returned mail: see transcript for details", "subject"),
        ("Subject: Mail delivery failed: returning message to sender", "subject"),
    ],
)
def test_non_standard_bounces_are_recognised(headers: str, signal: str) -> None:
    """A failed-recipients header or a bounce subject alone makes a bounce."""
    base = HUMAN_HEADERS.replace("Subject: AW: Neue Beschwerde [SSG-2026-000123]\n", "")
    if "Subject:" not in headers:
        base += "Subject: Hallo\n"
    verdict = verdict_of(message(headers, base=base))
    assert (verdict.kind, verdict.rule) == ("bounce", "bounce-heuristic")
    assert signal in verdict.detail["signals"]


@pytest.mark.parametrize(
    "sender", ["MAILER-DAEMON@mx.example", "Mail Delivery System <bounces@mx.example>"]
)
def test_a_mailer_daemon_sender_is_a_bounce(sender: str) -> None:
    """From MAILER-DAEMON or "Mail Delivery System" is a bounce whatever the subject."""
    base = HUMAN_HEADERS.replace("From: Petra Lange <p.lange@mode.example>", f"From: {sender}")
    verdict = verdict_of(message(base=base))
    assert (verdict.kind, verdict.rule) == ("bounce", "bounce-heuristic")


def test_customer_words_about_a_parcel_are_not_a_bounce() -> None:
    """ "Paket nicht zustellbar" or "Delivery failure" from a customer is a complaint."""
    for subject in ("Paket nicht zustellbar", "Delivery failure - order 4711", "Unzustellbar"):
        base = HUMAN_HEADERS.replace("AW: Neue Beschwerde [SSG-2026-000123]", subject)
        body = "Das Paket konnte nicht zugestellt werden, der Bote war nie da.\n"
        assert detect(message(base=base, body=body), "p.lange@mode.example", DOMAIN) is None


def test_a_person_writing_from_postmaster_is_not_a_bounce() -> None:
    """A postmaster address alone is weak evidence; with a failure subject it counts."""
    base = HUMAN_HEADERS.replace("p.lange@mode.example>", "postmaster@mode.example>")
    assert detect(message(base=base), "postmaster@mode.example", DOMAIN) is None
    failing = base.replace("AW: Neue Beschwerde [SSG-2026-000123]", "Delivery failure")
    assert verdict_of(message(base=failing)).kind == "bounce"


def test_bounce_text_names_the_failed_recipients_above_the_returned_copy() -> None:
    """Addresses after "This is a copy of the message" are the returned mail's, not failures."""
    detail = verdict_of(fixture("exim-bounce-de.eml"), envelope_from="").detail
    assert detail["failed_recipients"] == ["info@nicht-vorhanden.example"]
    base = (
        "From: MAILER-DAEMON@mx.example\nTo: bounce+9.abcdefghijklmnop@siegel.example\n"
        "Subject: failure notice\n"
    )
    body = (
        "Sorry, I couldn't deliver your message to the following address.\n\n"
        "<kunde@x.example>:\nmailbox unavailable\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "From: beschwerde@siegel.example\nTo: anderer@y.example\n"
    )
    detail = verdict_of(message(base=base, body=body)).detail
    assert detail["failed_recipients"] == ["kunde@x.example"]


def test_a_bounce_text_says_why_and_names_the_returned_message_id() -> None:
    """A bounce in no standard format gives the line that says why (with its status code,
    else the line below the failed recipient) and the Message-ID of the copy it quotes,
    not an address or code of its own preamble."""
    detail = verdict_of(fixture("exim-bounce-de.eml"), envelope_from="").detail
    assert detail["diagnostic"].startswith("550 5.1.1 <info@nicht-vorhanden.example>:")
    assert (detail["status"], detail["original_message_id"]) == (
        "5.1.1",
        "<outbox-17.3f9a@siegel.example>",
    )
    base = "From: MAILER-DAEMON@mx.example\nTo: service@siegel.example\nSubject: failure notice\n"
    body = (
        "Call Customer Support at 480-624-2500.\n\n<kunde@x.example>:\n"
        "Sorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "Return-Path: <bounce+9.abcdefghijklmnop@siegel.example>\n"
        "Message-ID: <siegel.0123abcd@siegel.example>\nTo: kunde@x.example\n"
    )
    detail = verdict_of(message(base=base, body=body), envelope_from="").detail
    assert detail["diagnostic"] == "Sorry, no mailbox here by that name. (#5.1.1)"
    assert (detail["status"], detail["original_message_id"]) == (
        "5.1.1",
        "<siegel.0123abcd@siegel.example>",
    )
    full = body.replace("Sorry, no mailbox here by that name. (#5.1.1)", "mailfolder is full")
    assert verdict_of(message(base=base, body=full)).detail["diagnostic"] == "mailfolder is full"


def test_a_warning_that_delivery_continues_is_a_delay() -> None:
    """ "Warning: could not send message ..." and "will continue to try" mean a delay."""
    base = "From: MAILER-DAEMON@mx.example\nSubject: Warning: could not send message for 4h\n"
    assert verdict_of(message(base=base)).kind == "delay"
    base = "From: postmaster@mx.example\nSubject: Delivery failure notification\n"
    body = "Your message could not be delivered.\nDelivery attempts will continue to be made.\n"
    verdict = verdict_of(message(base=base, body=body))
    assert (verdict.kind, verdict.detail["temporary"]) == ("delay", True)


# -- auto-submitted --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["auto-replied", "auto-generated", "auto-notified; owner-email=x@y", "AUTO-REPLIED"]
)
def test_auto_submitted_other_than_no_is_automatic(value: str) -> None:
    """RFC 3834 5.1: every value but "no" marks automatic mail."""
    verdict = verdict_of(message(f"Auto-Submitted: {value}"))
    assert (verdict.kind, verdict.rule) == ("auto_reply", "auto-submitted")


def test_auto_submitted_no_is_a_person() -> None:
    """Auto-Submitted: no is what a person's client may write."""
    assert detect(message("Auto-Submitted: no"), "p.lange@mode.example", DOMAIN) is None


# -- helpdesks that stamp every mail ---------------------------------------------------

ZENDESK_STAMPS = "Auto-Submitted: auto-generated\nX-Auto-Response-Suppress: All\n"


@pytest.mark.parametrize(
    "fingerprint", ["X-Mailer: Zendesk Mailer", "X-Zendesk-From-Account-Id: 68b8aed"]
)
def test_zendesk_stamps_on_an_agents_answer_are_not_machine_mail(fingerprint: str) -> None:
    """Zendesk puts Auto-Submitted: auto-generated and X-Auto-Response-Suppress: All on
    every mail, its agents' answers included: on its mail they decide nothing."""
    msg = message(ZENDESK_STAMPS + fingerprint)
    assert detect(msg, "p.lange@mode.example", DOMAIN) is None


def test_a_zendesk_acknowledgement_is_left_to_its_text() -> None:
    """The Zendesk acknowledgement fixture carries only the stamps: the header rules pass
    it on, and the text rules know it (tests/test_auto_reply_table.py)."""
    assert detect(fixture("zendesk-ack.eml"), None, DOMAIN) is None


@pytest.mark.parametrize(
    ("extra", "rule"),
    [
        ("Precedence: bulk", "precedence"),
        ("X-Autoreply: yes", "x-autoreply"),
        ("Auto-Submitted: auto-replied", "auto-submitted"),
    ],
)
def test_other_automatic_signs_still_count_on_zendesk_mail(extra: str, rule: str) -> None:
    """Only the two stamps are discounted: another automatic sign on Zendesk mail counts."""
    msg = message(ZENDESK_STAMPS + "X-Mailer: Zendesk Mailer\n" + extra)
    assert verdict_of(msg).rule == rule


def test_the_stamps_without_a_stamping_helpdesk_still_count() -> None:
    """Auto-Submitted: auto-generated from anyone else is automatic, as RFC 3834 says."""
    msg = message(ZENDESK_STAMPS + "X-Mailer: Zammad Mail Service")
    verdict = verdict_of(msg)
    assert (verdict.rule, verdict.rules_fired) == (
        "auto-submitted",
        ("auto-submitted", "x-auto-response-suppress"),
    )


# -- x-autoreply -----------------------------------------------------------------------


@pytest.mark.parametrize("header", machine._AUTOREPLY_HEADERS)
def test_vendor_autoreply_headers_are_automatic(header: str) -> None:
    """Each vendor auto-responder header marks an auto-reply."""
    verdict = verdict_of(message(f"{header}: yes"))
    assert (verdict.kind, verdict.rule) == ("auto_reply", "x-autoreply")


def test_a_vendor_header_saying_no_is_not_automatic() -> None:
    """X-Autoreply: no is a denial, not a sign."""
    assert detect(message("X-Autoreply: no"), "p.lange@mode.example", DOMAIN) is None


# -- exchange-generated ----------------------------------------------------------------


def test_exchange_generated_mail_is_automatic() -> None:
    """Exchange's own generated mail: rules agent replies, NDRs."""
    msg = message("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent")
    assert verdict_of(msg).rule == "exchange-generated"
    assert verdict_of(message("X-MS-Exchange-Message-Is-Ndr:")).kind == "bounce"


def test_exchange_transport_stamps_are_not_automatic() -> None:
    """X-MS-Exchange-Organization-* stamps ride on every mail through Exchange."""
    msg = message("X-MS-Exchange-Organization-AuthAs: Anonymous\nX-MS-Exchange-Organization-SCL: 1")
    assert detect(msg, "p.lange@mode.example", DOMAIN) is None


# -- x-auto-response-suppress ----------------------------------------------------------


def test_auto_response_suppress_all_is_automatic() -> None:
    """Exchange stamps `All` on its own out-of-office notes."""
    verdict = verdict_of(message("X-Auto-Response-Suppress: All"))
    assert (verdict.kind, verdict.rule) == ("auto_reply", "x-auto-response-suppress")


AGENTS_ANSWER_DE = (
    "Guten Tag Frau Berg,\n\nich habe soeben die Ersatzlieferung veranlasst, der neue Tisch "
    "kommt am Donnerstag. Den beschädigten holt die Spedition dabei ab.\n\n"
    "Viele Grüße\nJana Weber\n"
)
OUT_OF_OFFICE_DE = (
    "Vielen Dank für Ihre Nachricht. Ich bin bis zum 14.12. nicht im Büro und habe keinen "
    "Zugriff auf meine E-Mails. Ihre Nachricht wird nicht weitergeleitet.\n"
)


@pytest.mark.parametrize("header", ["X-Auto-Response-Suppress: All", "Precedence: bulk"])
def test_a_helpdesks_stamp_gives_way_to_an_agents_answer_in_the_text(header: str) -> None:
    """Helpdesks put either header on their agents' answers to keep out-of-office notes
    away: a text that reports an action taken (by the text rules of `classifier.autoreply`)
    is a person's answer despite it, while an out-of-office note with it stays automatic."""
    assert detect(message(header, AGENTS_ANSWER_DE), "p.lange@mode.example", DOMAIN) is None
    assert verdict_of(message(header, OUT_OF_OFFICE_DE)).kind in {"auto_reply", "bulk"}


@pytest.mark.parametrize("value", ["OOF", "OOF, AutoReply", "DR, RN, NRN, OOF, AutoReply", "None"])
def test_auto_response_suppress_subsets_ride_on_human_mail(value: str) -> None:
    """Helpdesks and distribution lists add OOF/AutoReply/DR/RN to mail people wrote."""
    msg = message(f"X-Auto-Response-Suppress: {value}")
    assert detect(msg, "p.lange@mode.example", DOMAIN) is None


# -- precedence and list-id ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [("bulk", "bulk"), ("junk", "bulk"), ("list", "list"), ("auto_reply", "auto_reply")],
)
def test_precedence_marks_bulk_list_and_auto_reply(value: str, kind: str) -> None:
    """Precedence: bulk|junk|list (and auto_reply) are machine mail."""
    verdict = verdict_of(message(f"Precedence: {value}"))
    assert (verdict.kind, verdict.rule) == (kind, "precedence")


def test_other_precedence_values_are_not_machine_mail() -> None:
    """Precedence: first-class or normal says nothing automatic."""
    for value in ("first-class", "normal"):
        assert detect(message(f"Precedence: {value}"), "p.lange@mode.example", DOMAIN) is None


def test_a_newsletters_list_unsubscribe_marks_bulk_mail() -> None:
    """RFC 2369 List-Unsubscribe, which bulk senders must set, marks a newsletter, even
    one naming a shop and a damaged sofa; a person's answer in the text still counts."""
    newsletter = (
        "Neu im Shop: Sofa Luna von Möbel Fuchs, jetzt 20 % günstiger! Ausstellungsstücke "
        "leicht beschädigt, daher reduziert.\n"
    )
    stamp = "List-Unsubscribe: <https://news.example/abmelden?u=1>"
    verdict = verdict_of(message(stamp, newsletter))
    assert (verdict.kind, verdict.rule) == ("bulk", "list-unsubscribe")
    assert detect(message(stamp, AGENTS_ANSWER_DE), "p.lange@mode.example", DOMAIN) is None


def test_list_id_marks_list_mail() -> None:
    """RFC 2919 List-Id alone makes list mail."""
    verdict = verdict_of(message("List-Id: Forum <forum.lists.example>"))
    assert (verdict.kind, verdict.rule) == ("list", "list-id")
    assert detect(message("List-Unsubscribe-Post: x"), "a@b.example", DOMAIN) is None


# -- null-sender -----------------------------------------------------------------------


@pytest.mark.parametrize("envelope", ["", "<>", " <> "])
def test_an_empty_envelope_sender_is_automatic(envelope: str) -> None:
    """RFC 5321 4.5.5: the null reverse-path is for notifications."""
    verdict = verdict_of(message(), envelope_from=envelope)
    assert (verdict.kind, verdict.rule) == ("auto_reply", "null-sender")


def test_return_path_stands_in_when_the_envelope_is_unknown() -> None:
    """Without an envelope, Return-Path: <> counts; with one, the envelope decides."""
    msg = message("Return-Path: <>")
    assert verdict_of(msg, envelope_from=None).rule == "null-sender"
    assert detect(msg, "p.lange@mode.example", DOMAIN) is None


# -- noreply-sender --------------------------------------------------------------------

SHIPPING_NOTICE = (
    "Hallo Kunde 94,\n\nIhre Sendung zur Bestellung 70094 ist unterwegs! Sendungsnummer "
    "00340434161234567890.\n\nIhr Möbel Fuchs Team\n"
)


def from_header(address: str) -> str:
    return HUMAN_HEADERS.replace("From: Petra Lange <p.lange@mode.example>", f"From: {address}")


@pytest.mark.parametrize(
    "address",
    [
        "noreply@moebel-fuchs.example",
        "Möbel Fuchs <NoReply@moebel-fuchs.example>",
        "no-reply@shop.example",
        "no_reply@shop.example",
        "shop-noreply@shop.example",
        "noreply+orders@shop.example",
        "donotreply@shop.example",
        "do-not-reply@shop.example",
        "keine-antwort@shop.example",
        "autoresponder@shop.example",
    ],
)
def test_a_notification_from_a_noreply_sender_is_machine_mail(address: str) -> None:
    """A shipping notice from an address that says nobody reads it is machine mail, though
    its text ("Ihre Sendung ist unterwegs") is what a person could write, and its envelope
    sender is an ordinary bounce address."""
    msg = message(body=SHIPPING_NOTICE, base=from_header(address))
    verdict = verdict_of(msg, envelope_from="bounces+x7@mail.moebel-fuchs.example")
    assert (verdict.kind, verdict.rule) == ("auto_reply", "noreply-sender")


@pytest.mark.parametrize(
    "address",
    ["bruno.reply@shop.example", "reply@shop.example", "norbert@shop.example",
     "autohaus@shop.example", "info@shop.example"],
)  # fmt: skip
def test_an_address_that_only_resembles_noreply_is_a_person(address: str) -> None:
    """Only the words "no reply", "do not reply" and the autoresponders' names count."""
    msg = message(body=SHIPPING_NOTICE, base=from_header(address))
    assert detect(msg, "p.lange@mode.example", DOMAIN) is None


@pytest.mark.parametrize(
    "body",
    [
        "Guten Tag,\n\ndie Ersatzlieferung ist heute an die Kundin rausgegangen. Die "
        "Versandkosten übernehmen wir.\n\nMit freundlichen Grüßen\nKatrin Wolf\n",
        "Hello,\n\nwe have issued a full refund of 35,00 EUR to the customer's card today.\n\n"
        "Brightwave Customer Care\n\nPlease do not reply to this email.\n",
        "##- Please type your reply above this line -##\n\nYour request (48213) has been "
        "updated.\n\nTom (Lindenhof Tea)\n\nHello, the parcel came back to us.\n",
    ],
)
def test_an_agents_answer_from_a_noreply_sender_is_a_person(body: str) -> None:
    """Some helpdesks send their agents' answers from noreply@: an answer that reports an
    action (or a helpdesk's wrapper of one) is a person's mail."""
    msg = message(body=body, base=from_header("Shop <noreply@shop.example>"))
    assert detect(msg, "bounces+x7@mail.shop.example", DOMAIN) is None


def test_a_quoted_action_under_a_noreply_notification_is_no_answer() -> None:
    """What the notification quotes (our complaint, a customer's words) is nobody's answer."""
    body = SHIPPING_NOTICE + "\n> Wir haben die Erstattung heute veranlasst.\n"
    msg = message(body=body, base=from_header("noreply@shop.example"))
    assert verdict_of(msg).rule == "noreply-sender"


def test_header_rules_decide_before_the_sender() -> None:
    """A noreply sender with Auto-Submitted is decided by the header; both are recorded."""
    msg = message(
        "Auto-Submitted: auto-generated", SHIPPING_NOTICE, from_header("noreply@x.example")
    )
    verdict = verdict_of(msg)
    assert verdict.rule == "auto-submitted"
    assert verdict.rules_fired == ("auto-submitted", "noreply-sender")


def test_a_mailer_daemon_sender_stays_a_bounce() -> None:
    """mailer-daemon@ is a bounce (its own rule), not a noreply notification."""
    msg = message(body=SHIPPING_NOTICE, base=from_header("MAILER-DAEMON@mx.example"))
    assert verdict_of(msg).kind == "bounce"


# -- robustness ------------------------------------------------------------------------


def test_broken_reports_and_charsets_do_not_stop_recognition() -> None:
    """An unknown charset and a report part without fields still give a bounce."""
    msg = email.message_from_string(
        "From: MAILER-DAEMON@mx.example\nSubject: failure notice\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n'
        "\n--r\nContent-Type: text/plain; charset=ansi_x3.110-1983\n\n"
        "<kunde@x.example>: no such user\n"
        "--r\nContent-Type: message/delivery-status\n\nnonsense without fields\n--r--\n"
    )
    verdict = verdict_of(msg)
    assert (verdict.kind, verdict.rule) == ("bounce", "dsn")
    assert verdict.detail["failed_recipients"] == ["kunde@x.example"]


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example", "noreply@shop.example"])
def test_detection_time_is_linear_in_hostile_input(sender: str) -> None:
    """Megabytes of address-like noise and long subjects take well under a second (from a
    noreply sender too, whose own text the reply reader and the text rules read)."""
    noise = ("a" * 70 + "@" + "b." * 40 + " ") * 20_000
    base = f"From: {sender}\nSubject: " + "failure notice " * 5000 + "\n"
    hostile = message(base=base, body=noise)
    assert cpu_seconds(lambda: verdict_of(hostile)) < 1.0
