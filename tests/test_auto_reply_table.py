"""Machines never act: real-looking automatic replies and ticket acknowledgements, in German
and English, are recognised as automatic from their headers or from their text, and
substantive human replies are not.

Each mail is built as raw bytes and read the way production reads it:
`mailflow.processing.analyse` parses it, runs the header rules (`classifier.machine`) and
the classifier (text rules and model) with the configured model. A mail counts as
automatic when either verdict says so, as the case service decides.

Every automatic mail is checked twice: with the headers its system really sends (RFC 3834
`Auto-Submitted`, vendor markers such as `X-Autoreply`, `Precedence`, Exchange's
`X-Auto-Response-Suppress`, helpdesk fingerprints such as `X-Zendesk-*`), and with all of
them stripped, where only its text can tell. Where a system sends none (Shopware, JTL, a
person's hand-set note) the two variants are the same mail.

The line the human table draws: a reply that answers the matter or reports a concrete
action taken is human, whatever courtesy it opens with and whatever ticket-system
boilerplate it carries; one that only acknowledges receipt, announces an absence or
promises an answer later is not. A challenge-response filter's "confirm that you are not a
robot" is a delivery failure: our mail has not reached the merchant.

The tables hold the mails of a black-box test through real SMTP (`tester-*`): merchants'
answers that were ignored as acknowledgements, a challenge, an out-of-office note read
differently by case state, and a shipping notice from `noreply@` that stopped the clock.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from string import Template

import pytest

import classifier
from classifier.autoreply import AUTO_REPLY_KINDS
from mailflow import processing
from mailflow.config import Config
from mailflow.models import StoredMail
from tests.conftest import make_config

MERCHANT_CASE = "fall+ssg-2026-000123.merchant.abcdefghijklmnop@siegel.test"
CUSTOMER_CASE = "fall+ssg-2026-000123.customer.abcdefghijklmnop@siegel.test"
OUR_MAIL = "<outbox-17.3f9a@siegel.test>"
SUBJECT_DE = "[SSG-2026-000123] Neue Beschwerde – erste Antwort bis 09.12.2026"
SUBJECT_EN = "[SSG-2026-000123] New complaint: first answer due by 09.12.2026"
SOLVED_DE = "[SSG-2026-000123] Ist Ihr Problem gelöst?"
SOLVED_EN = "[SSG-2026-000123] Is your problem solved?"
# The subject of the mails a security probe sent as whole bodies (terse notes, below).
PROBE_SUBJECT = "Re: [SSG-2026-000076] Neue Beschwerde"

# Our complaint as merchants see it quoted below their answer (mediation/templates).
COMPLAINT_DE = """\
Guten Tag,

zu Ihrem Shop ist eine Beschwerde eingegangen (Aktenzeichen SSG-2026-000123).

Kundin/Kunde: Anna Berger <anna.berger@mail.example>
Betreff: Wasserkocher nie angekommen

Ich habe am 28.11. einen Wasserkocher bestellt (Bestellung 100482) und per PayPal
bezahlt. Geliefert wurde bis heute nichts, auf zwei Mails kam keine Antwort.

Bitte antworten Sie bis 09.12.2026 direkt auf diese E-Mail; Ihre Antwort leiten wir an
die Kundin oder den Kunden weiter. Die Zeit bis zur ersten inhaltlichen Antwort fließt
in Ihr Siegel ein. Abwesenheitsnotizen und automatische Eingangsbestätigungen zählen
nicht als Antwort.

Mit freundlichen Grüßen
Ihr Service-Siegel-Team
"""
COMPLAINT_EN = """\
Hello,

A complaint about your shop has arrived (reference SSG-2026-000123).

Customer: Mark Ellis <mark.ellis@mail.example>
Subject: Kettle never arrived

I ordered a kettle on 28 November (order 100482) and paid by PayPal. Nothing has
arrived and two emails went unanswered.

Please answer by 09.12.2026 by replying directly to this email; we forward your answer
to the customer. The time to your first substantive answer counts towards your seal.
Out-of-office notes and automatic ticket confirmations do not count as an answer.

Kind regards
The Service-Siegel team
"""


def quoted(text: str) -> str:
    return "".join(f"> {line}\n" if line else ">\n" for line in text.splitlines())


@dataclass(frozen=True)
class Sample:
    """One mail: the headers a person or client writes, the headers its sending system
    adds (machine markers and vendor fingerprints), and its text."""

    name: str
    sender: str
    subject: str
    body: str
    system_headers: tuple[tuple[str, str], ...] = ()
    html: str | None = None
    to: str = MERCHANT_CASE
    kind: str = "human"  # what the mail is: out_of_office, ticket_ack or human

    def raw(self, with_system_headers: bool = True) -> bytes:
        message = EmailMessage(policy=SMTP)
        domain = self.sender.rpartition("@")[2].rstrip(">")
        message["Date"] = "Mon, 07 Dec 2026 09:31:12 +0100"
        message["From"] = self.sender
        message["To"] = self.to
        message["Subject"] = self.subject
        message["Message-ID"] = f"<{self.name}.7f3a@{domain}>"
        message["In-Reply-To"] = OUR_MAIL
        message["References"] = OUR_MAIL
        for name, value in self.system_headers if with_system_headers else ():
            message[name] = value
        message.set_content(self.body, cte="quoted-printable")
        if self.html is not None:
            message.add_alternative(self.html, subtype="html", cte="quoted-printable")
        return message.as_bytes()


# -- header sets as the systems send them ----------------------------------------------

# Zendesk stamps these on every mail it sends, its agents' answers included (Zendesk's
# documentation of its outbound headers; real agent replies show the same set).
ZENDESK = (
    ("Auto-Submitted", "auto-generated"),
    ("X-Auto-Response-Suppress", "All"),
    ("X-Mailer", "Zendesk Mailer"),
    ("X-Zendesk-From-Account-Id", "5262c15"),
    ("X-Zendesk-Email-Id", "01JEXQ7K3D9M2ZB8V4T6RWN5PC"),
    ("X-Delivery-Context", "event-id-1377581419331"),
)
# The two of them the black-box test's Zendesk answer carried.
ZENDESK_MAILER = (("Auto-Submitted", "auto-generated"), ("X-Mailer", "Zendesk Mailer"))
# Zammad marks its notifications and trigger auto-replies (Channel::EmailBuild).
ZAMMAD = (
    ("X-Loop", "yes"),
    ("Precedence", "bulk"),
    ("Auto-Submitted", "auto-generated"),
    ("X-Auto-Response-Suppress", "All"),
    ("X-Powered-By", "Zammad - Helpdesk/Support (https://zammad.org/)"),
    ("X-Mailer", "Zammad Mail Service"),
)
# OTRS and Znuny mark their auto responses ("Loop" in Kernel::System::Email).
ZNUNY_AUTO = (
    ("X-Loop", "yes"),
    ("Precedence", "bulk"),
    ("Auto-Submitted", "auto-generated"),
    ("X-Mailer", "Znuny Mail Service (7.0)"),
    ("X-Powered-By", "Znuny (https://www.znuny.org/)"),
)
# An agent's answer from Znuny carries the vendor headers only.
ZNUNY_AGENT = ZNUNY_AUTO[3:]
EXCHANGE_OOF = (
    ("Thread-Topic", "Neue Beschwerde"),
    ("X-MS-Has-Attach", ""),
    ("Auto-Submitted", "auto-generated"),
    ("X-Auto-Response-Suppress", "All"),
    ("X-MS-Exchange-Inbox-Rules-Loop", "service@shop.example"),
    ("X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent"),
)
GMAIL_VACATION = (("Auto-Submitted", "auto-replied"),)
SIEVE_VACATION = (("Auto-Submitted", "auto-replied (vacation)"), ("Precedence", "bulk"))
PANEL_AUTORESPONDER = (("X-Autoreply", "yes"), ("Auto-Submitted", "auto-replied"))
# Freshdesk, Gorgias, Help Scout, Zoho Desk and Salesforce document no auto-reply header
# of their own: their automatic mails are modelled on RFC 3834 responders, each with a
# fingerprint header of its vendor.
FRESHDESK = (("Auto-Submitted", "auto-generated"), ("X-Freshdesk-Ticket-ID", "4711"))
GORGIAS = (("Auto-Submitted", "auto-replied"), ("X-Gorgias-Message-Id", "8d1f0c2a9e"))
HELPSCOUT = (("Auto-Submitted", "auto-replied"), ("X-HelpScout-Mailbox-Id", "231876"))
ZOHO_DESK = (("Auto-Submitted", "auto-replied"), ("X-Mailer", "Zoho Desk"))
SALESFORCE = (("Auto-Submitted", "auto-generated"), ("X-SFDC-LK", "00D5e000000abcd"))
PHPMAILER = (("X-Mailer", "PHPMailer 6.9.1 (https://github.com/PHPMailer/PHPMailer)"),)


# The texts of the black-box test, as it sent them (its "..." filled in).
TESTER_ZENDESK_UPDATED_DE = (
    "##- Bitte geben Sie Ihre Antwort über dieser Zeile ein. -##\n"
    "Ihr Ticket (48220) wurde aktualisiert. Um einen Kommentar hinzuzufügen, antworten Sie "
    "einfach auf diese E-Mail.\nJana Weber (Möbel Fuchs Support)\nHallo Kunde 24, danke für "
    "Ihre Geduld. Ihre Bestellung 70024 wurde falsch adressiert und kam zu uns zurück. Wir "
    "schicken sie heute erneut per Express an Sie. Die Versandkosten erstatten wir Ihnen.\n"
)
TESTER_RECEIVED_CREDIT_DE = (
    "Guten Tag,\n\nvielen Dank für Ihre Anfrage. Wir haben Ihre Anfrage erhalten und "
    "geprüft: Sie erhalten bis Freitag eine Gutschrift über 89,90 EUR auf Ihr Konto. Bei "
    "Fragen melden wir uns.\n\nMit freundlichen Grüßen\nSabine Kurz\n"
)
TESTER_TICKET_CREDIT_DE = (
    "Ihr Ticket #48231 wurde von unserem Mitarbeiter bearbeitet: Wir haben die defekte Ware "
    "erhalten und Ihnen eine Gutschrift über 120 EUR ausgestellt.\n"
)
TESTER_REFUND_FOOTER_DE = (
    "Ihre Rückerstattung über 59,90 EUR wurde heute veranlasst.\n\nDiese Nachricht wurde "
    "automatisch erstellt. Bitte antworten Sie nicht direkt auf diese E-Mail.\n"
)
TESTER_CHALLENGE_SUBJECT = "Bitte bestätigen Sie Ihre Nachricht: "
TESTER_CHALLENGE_DE = (
    "Sie haben eine E-Mail an support@moebel-fuchs.example gesendet. Um Spam zu vermeiden, "
    "bitten wir Sie, einmalig zu bestätigen, dass Sie kein Roboter sind:\n"
    "    https://spamschutz.example/verify?id=8f3a2c91\n"
    "Nach Ihrer Bestätigung wird Ihre Nachricht zugestellt. Unbestätigte Nachrichten werden "
    "nach 7 Tagen gelöscht.\nIhr Spamschutz für support@moebel-fuchs.example\n"
)
TESTER_TRADE_FAIR_DE = (
    "Danke für Ihre Mail! Wir sind gerade auf der Messe und antworten ab Montag wieder. "
    "Ihr TechStore24-Team\n"
)


AUTOMATIC = [
    Sample(
        "zendesk-received-en",
        "Lindenhof Tea Support <support@lindenhof-tee.example>",
        f"[Lindenhof Tea] Re: {SUBJECT_EN}",
        "##- Please type your reply above this line -##\n\n"
        "Your request (48213) has been received and is being reviewed by our support staff.\n\n"
        "To add additional comments, reply to this email.\n\n"
        "----------------------------------------------\n\n"
        "Service-Siegel\n\nDec 7, 2026, 09:14 CET\n\n" + COMPLAINT_EN,
        ZENDESK,
        html="<div style='color:#b5b5b5'>##- Please type your reply above this line -##</div>"
        "<p>Your request (48213) has been received and is being reviewed by our support "
        "staff.</p><p>To add additional comments, reply to this email.</p>",
        kind="ticket_ack",
    ),
    Sample(
        "zendesk-received-de",
        "Kaffeerösterei Brandt <kundenservice@kaffee-brandt.example>",
        "Ihre Anfrage (#48214) ist eingegangen",
        "##- Bitte geben Sie Ihre Antwort über dieser Zeile ein. -##\n\n"
        "Guten Tag,\n\nvielen Dank für Ihre Nachricht. Ihre Anfrage (#48214) ist eingegangen "
        "und wird von unserem Kundenservice bearbeitet. Wir melden uns in der Regel innerhalb "
        "von 24 Stunden bei Ihnen.\n\nUm weitere Informationen zu ergänzen, antworten Sie "
        "einfach auf diese E-Mail.\n\nIhr Team der Kaffeerösterei Brandt\n",
        ZENDESK,
        kind="ticket_ack",
    ),
    Sample(
        "zendesk-custom-trigger-en",
        "Nordlicht Outdoor <care@nordlicht-outdoor.example>",
        f"Request received: {SUBJECT_EN}",
        "Hi there,\n\nThanks for contacting Nordlicht Outdoor! This is an automated message to "
        "confirm that we've received your request (#73410). One of our agents will get back "
        "to you within 48 hours.\n\nIn the meantime, you may find an answer in our Help "
        "Center: https://help.nordlicht-outdoor.example\n\nNordlicht Outdoor Customer Care\n",
        ZENDESK,
        kind="ticket_ack",
    ),
    Sample(
        "freshdesk-default-en",
        "Brightside Lamps Support <support@brightside-lamps.example>",
        f"Ticket Received - {SUBJECT_EN}",
        "Dear Service-Siegel,\n\nWe would like to acknowledge that we have received your "
        "request and a ticket has been created.\nA support representative will be reviewing "
        "your request and will send you a personal response.(usually within 24 hours).\n\n"
        "To view the status of the ticket or add comments, please visit\n"
        "https://brightside.freshdesk.example/helpdesk/tickets/4711\n\n"
        "Thank you for your patience.\n\nSincerely,\nBrightside Lamps Support Team\n",
        FRESHDESK,
        kind="ticket_ack",
    ),
    Sample(
        "freshdesk-de",
        "Gartenwelt Kröger <support@gartenwelt-kroeger.example>",
        f"Ticket erhalten - {SUBJECT_DE}",
        "Hallo Service-Siegel,\n\nwir bestätigen Ihnen hiermit, dass wir Ihre Anfrage "
        "erhalten haben und ein Ticket erstellt wurde. Ein Mitarbeiter unseres Supports wird "
        "Ihre Anfrage prüfen und Ihnen eine persönliche Antwort senden (in der Regel "
        "innerhalb von 24 Stunden).\n\nDen Status Ihres Tickets können Sie jederzeit hier "
        "einsehen:\nhttps://gartenwelt.freshdesk.example/support/tickets/5120\n\n"
        "Vielen Dank für Ihre Geduld.\n\nMit freundlichen Grüßen\n"
        "Ihr Support-Team von Gartenwelt Kröger\n",
        FRESHDESK,
        kind="ticket_ack",
    ),
    Sample(
        "shopware-contact-de",
        "Weinhandel Mosel <info@weinhandel-mosel.example>",
        "Ihre Kontaktanfrage bei Weinhandel Mosel",
        "Sehr geehrte Damen und Herren,\n\nvielen Dank für Ihre Nachricht. Wir haben Ihre "
        "Anfrage erhalten und werden uns schnellstmöglich bei Ihnen melden.\n\n"
        "Ihre Nachricht:\n" + quoted(COMPLAINT_DE) + "\nMit freundlichen Grüßen\n"
        "Ihr Team von Weinhandel Mosel\n\n"
        "Diese E-Mail wurde automatisch erstellt. Bitte antworten Sie nicht auf diese E-Mail.\n",
        kind="ticket_ack",
    ),
    Sample(
        "shopware-contact-en",
        "Harbour Prints <hello@harbour-prints.example>",
        "Your enquiry at Harbour Prints",
        "Hello,\n\nthank you for your message. We have received your enquiry and will get "
        "back to you as soon as possible.\n\nBest regards\nYour Harbour Prints team\n\n"
        "This email was generated automatically. Please do not reply.\n",
        kind="ticket_ack",
    ),
    Sample(
        "gorgias-en",
        "Wildwood Candles <hello@wildwood-candles.example>",
        f"Re: {SUBJECT_EN}",
        "Hi,\n\nThanks for reaching out! We've received your message and one of our team "
        "members will get back to you within 24 hours (Monday to Friday).\n\nIn the meantime, "
        "you can track your order here: https://wildwood-candles.example/track\n\n"
        "Cheers,\nThe Wildwood Candles team\n",
        GORGIAS,
        html="<p>Hi,</p><p>Thanks for reaching out! We've received your message and one of "
        "our team members will get back to you within 24 hours (Monday to Friday).</p>"
        "<p>Cheers,<br>The Wildwood Candles team</p>",
        kind="ticket_ack",
    ),
    Sample(
        "gorgias-de-informal",
        "Strickliesel <hallo@strickliesel.example>",
        f"Re: {SUBJECT_DE}",
        "Hey,\n\ndanke für deine Nachricht! 🙌 Wir haben sie erhalten und melden uns so "
        "schnell wie möglich bei dir – spätestens innerhalb von 48 Stunden an Werktagen.\n\n"
        "Liebe Grüße\nDein Team von Strickliesel\n",
        GORGIAS,
        kind="ticket_ack",
    ),
    Sample(
        "helpscout-en",
        "Meadow & Moss <support@meadow-moss.example>",
        f"Re: {SUBJECT_EN}",
        "Thanks for getting in touch!\n\nThis is an automatic reply to let you know we've got "
        "your email. We usually respond within one business day.\n\n— Meadow & Moss Support\n",
        HELPSCOUT,
        kind="ticket_ack",
    ),
    Sample(
        "helpscout-de",
        "Papeterie Hansen <service@papeterie-hansen.example>",
        f"Re: {SUBJECT_DE}",
        "Hallo,\n\nvielen Dank für Ihre E-Mail! Dies ist eine automatische Antwort, um Ihnen "
        "den Eingang zu bestätigen. Wir antworten in der Regel innerhalb eines Werktages.\n\n"
        "Ihr Kundenservice von Papeterie Hansen\n",
        HELPSCOUT,
        kind="ticket_ack",
    ),
    Sample(
        "zammad-en",
        "Bikeparts Helpdesk <support@bikeparts.example>",
        f"Thanks for your inquiry ({SUBJECT_EN}) [Ticket#31001]",
        "Your request (Ticket#31001) has been received and will be reviewed by our support "
        "staff.\n\nTo provide additional information, please reply to this email or click on "
        "the following link:\nhttps://support.bikeparts.example/#ticket/zoom/412\n\n"
        "Your Bikeparts Helpdesk Team\n\n[Zammad, your customer support system]\n",
        ZAMMAD,
        kind="ticket_ack",
    ),
    Sample(
        "zammad-de",
        "Fahrradteile Nord <support@fahrradteile-nord.example>",
        f"Danke für Ihre Anfrage ({SUBJECT_DE}) [Ticket#31002]",
        "Ihre Anfrage (Ticket#31002) ist bei uns eingegangen und wird von unserem "
        "Support-Team bearbeitet.\n\nUm weitere Informationen hinzuzufügen, antworten Sie "
        "bitte auf diese E-Mail oder klicken Sie auf den folgenden Link:\n"
        "https://support.fahrradteile-nord.example/#ticket/zoom/413\n\n"
        "Ihr Helpdesk-Team von Fahrradteile Nord\n",
        ZAMMAD,
        kind="ticket_ack",
    ),
    Sample(
        "znuny-de",
        "Elektro Brümmer Kundenservice <service@elektro-bruemmer.example>",
        f"[Ticket#2026120610000012] {SUBJECT_DE}",
        "Sehr geehrte Damen und Herren,\n\nvielen Dank für Ihre E-Mail. Ihr Anliegen wurde "
        "unter der Ticketnummer 2026120610000012 erfasst und wird schnellstmöglich von "
        "unserem Team bearbeitet.\n\nBitte geben Sie bei Rückfragen stets die Ticketnummer im "
        "Betreff an.\n\nMit freundlichen Grüßen\nIhr Kundenservice\nElektro Brümmer GmbH\n",
        ZNUNY_AUTO,
        kind="ticket_ack",
    ),
    Sample(
        "otrs-en",
        "Customer Service <service@homeware-direct.example>",
        f"[Ticket#2026120710000034] RE: {SUBJECT_EN}",
        "Thanks for your email. A new ticket has been created.\n\nYour email will be answered "
        "by a member of our team as soon as possible.\n\nYou wrote:\n"
        + quoted(COMPLAINT_EN)
        + "\nYour Homeware Direct Customer Service\n",
        ZNUNY_AUTO,
        kind="ticket_ack",
    ),
    Sample(
        "jtl-contact-de",
        "Tierbedarf Sommer <info@tierbedarf-sommer.example>",
        "Ihre Anfrage bei Tierbedarf Sommer",
        "Hallo,\n\nvielen Dank für Ihre Anfrage. Wir haben Ihre Nachricht erhalten und "
        "werden diese schnellstmöglich bearbeiten.\n\nBitte haben Sie Verständnis dafür, dass "
        "die Bearbeitung aufgrund des hohen Aufkommens bis zu 2 Werktage dauern kann.\n\n"
        "Ihr Team von Tierbedarf Sommer\n",
        PHPMAILER,
        kind="ticket_ack",
    ),
    Sample(
        "zoho-desk-en",
        "PetSupply Support <support@petsupply.example>",
        f"[## 4523 ##] {SUBJECT_EN}",
        "Dear Customer,\n\nThank you for writing to us. We have received your email and a "
        "ticket (#4523) has been logged. Our support team will respond shortly.\n\n"
        "Regards,\nPetSupply Support\n",
        ZOHO_DESK,
        kind="ticket_ack",
    ),
    Sample(
        "salesforce-case-en",
        "Brightwave Electronics <noreply@brightwave.example>",
        f"Case 00012345 created: {SUBJECT_EN}",
        "Thank you for contacting Brightwave Electronics. Your case number is 00012345. "
        "A customer service representative will contact you within 2 business days.\n\n"
        "Please do not reply to this email.\n",
        SALESFORCE,
        kind="ticket_ack",
    ),
    Sample(
        "generic-ack-de",
        "Möbel Fuchs <kundenservice@moebel-fuchs.example>",
        "Eingangsbestätigung Ihrer Nachricht",
        "Sehr geehrte Damen und Herren,\n\nhiermit bestätigen wir den Eingang Ihrer E-Mail. "
        "Wir werden uns schnellstmöglich mit Ihnen in Verbindung setzen.\n\n"
        "Bitte antworten Sie nicht auf diese E-Mail, sie wurde automatisch versendet.\n\n"
        "Ihr Möbel Fuchs Kundenservice\n",
        kind="ticket_ack",
    ),
    Sample(
        "high-volume-de",
        "Feinkost Albers <service@feinkost-albers.example>",
        f"AW: {SUBJECT_DE}",
        "Guten Tag,\n\nvielen Dank für Ihre E-Mail. Aufgrund des aktuell hohen "
        "Anfragevolumens kann sich die Beantwortung um einige Tage verzögern. Wir bitten um "
        "Ihr Verständnis und melden uns schnellstmöglich.\n\nIhr Team von Feinkost Albers\n",
        PANEL_AUTORESPONDER,
        kind="ticket_ack",
    ),
    Sample(
        "chat-inbox-en",
        "Oak & Pine <help@oak-and-pine.example>",
        f"Re: {SUBJECT_EN}",
        "Thanks for your email – we've got it! Our team answers every message within 48 "
        "hours on working days. Please don't send your request twice, as this may delay our "
        "reply.\n\nOak & Pine\n",
        GORGIAS,
        kind="ticket_ack",
    ),
    Sample(
        "arrived-de",
        "Naturkosmetik Lind <hallo@naturkosmetik-lind.example>",
        f"Re: {SUBJECT_DE}",
        "Hallo!\n\nDeine Nachricht ist bei uns angekommen. Wir kümmern uns darum und "
        "antworten dir innerhalb von 24 Stunden.\n\nBis bald\nDein Lind-Team\n",
        PANEL_AUTORESPONDER,
        kind="ticket_ack",
    ),
    Sample(
        "outlook-ooo-de",
        "Jürgen Krämer <j.kraemer@shop.example>",
        f"Automatische Antwort: {SUBJECT_DE}",
        "Vielen Dank für Ihre Nachricht.\n\nIch bin bis einschließlich 14.12. nicht im Büro "
        "und habe nur eingeschränkt Zugriff auf meine E-Mails. In dringenden Fällen wenden "
        "Sie sich bitte an meine Kollegin Frau Albers (service@shop.example).\n\n"
        "Mit freundlichen Grüßen\nJürgen Krämer\n",
        EXCHANGE_OOF,
        kind="out_of_office",
    ),
    Sample(
        "outlook-ooo-en",
        "Claire Dunn <claire.dunn@homeware-direct.example>",
        f"Automatic reply: {SUBJECT_EN}",
        "Thank you for your email. I am out of the office until Monday 14 December with no "
        "access to email. For urgent order questions please contact "
        "orders@homeware-direct.example; otherwise I will respond on my return.\n\n"
        "Claire Dunn\n",
        EXCHANGE_OOF,
        kind="out_of_office",
    ),
    Sample(
        "outlook-ooo-customer-en",
        "Mark Ellis <mark.ellis@mail.example>",
        f"Automatic reply: {SOLVED_EN}",
        "I'm out of the office until 2 January. I'll answer your message when I'm back.\n",
        EXCHANGE_OOF,
        to=CUSTOMER_CASE,
        kind="out_of_office",
    ),
    Sample(
        "gmail-vacation-en",
        "Maya Richter <maya.richter@gmail.example>",
        "Away until 14 December",
        "Hi,\n\nthanks for your email! I'm travelling until 14 December and checking email "
        "only occasionally. I'll get back to you as soon as I'm back.\n\nBest,\nMaya\n",
        GMAIL_VACATION,
        html='<div dir="ltr">Hi,<br><br>thanks for your email! I\'m travelling until 14 '
        "December and checking email only occasionally. I'll get back to you as soon as I'm "
        "back.<br><br>Best,<br>Maya</div>",
        to=CUSTOMER_CASE,
        kind="out_of_office",
    ),
    Sample(
        "gmail-vacation-customer-de",
        "Anna Berger <anna.berger@gmail.example>",
        f"Re: {SOLVED_DE}",
        "Hallo,\n\ndanke für deine Mail. Ich bin vom 4. bis 14. Dezember im Urlaub und lese "
        "in dieser Zeit keine E-Mails. Danach melde ich mich.\n\nViele Grüße\nAnna\n",
        GMAIL_VACATION,
        to=CUSTOMER_CASE,
        kind="out_of_office",
    ),
    Sample(
        "sieve-vacation-de",
        "Petra Lange <p.lange@mode-lange.example>",
        f"Auto: {SUBJECT_DE}",
        "Ich bin bis einschließlich 14.12. nicht im Büro. Ihre E-Mail wird nicht "
        "weitergeleitet. Ab dem 15.12. bin ich wieder für Sie da.\n\nPetra Lange\n",
        SIEVE_VACATION,
        kind="out_of_office",
    ),
    Sample(
        "sieve-vacation-en",
        "Tom Becker <tom@becker-audio.example>",
        f"Auto: {SUBJECT_EN}",
        "I'm on holiday until 14 December and will read your message after my return.\n",
        SIEVE_VACATION,
        kind="out_of_office",
    ),
    Sample(
        "company-holidays-de",
        "Holzspielzeug Berger <info@holzspielzeug-berger.example>",
        f"AW: {SUBJECT_DE}",
        "Guten Tag,\n\nwir befinden uns vom 21.12. bis einschließlich 06.01. in den "
        "Betriebsferien. Ihre Anfrage bearbeiten wir ab dem 07.01. in der Reihenfolge des "
        "Eingangs.\n\nFrohe Feiertage!\nIhr Team von Holzspielzeug Berger\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "office-closed-en",
        "Harbour Prints <hello@harbour-prints.example>",
        f"Re: {SUBJECT_EN}",
        "Thank you for your email. Our office is closed from 24 December to 1 January. We "
        "will reply to all messages in the order received once we are back on 2 January.\n\n"
        "Season's greetings,\nHarbour Prints\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "business-hours-de",
        "Spielwaren Kurz <service@spielwaren-kurz.example>",
        f"AW: {SUBJECT_DE}",
        "Vielen Dank für Ihre Nachricht! Sie haben uns außerhalb unserer Servicezeiten "
        "(Mo–Fr 8–17 Uhr) erreicht. Wir melden uns am nächsten Werktag bei Ihnen.\n\n"
        "Ihr Spielwaren Kurz Team\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "sick-leave-en",
        "Ian Ford <ian@fordtools.example>",
        f"Re: {SUBJECT_EN}",
        "Hello,\n\nI am currently out sick and not checking email. I will respond when I "
        "return. For order issues, please write to help@fordtools.example.\n\nIan\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "parental-leave-en",
        "Sarah Quinn <sarah@quinn-ceramics.example>",
        f"Out of Office: {SUBJECT_EN}",
        "Thanks for your message. I'm on parental leave until March 2027. Your email will "
        "not be forwarded; please contact my colleague Ben at ben@quinn-ceramics.example.\n",
        EXCHANGE_OOF,
        kind="out_of_office",
    ),
    Sample(
        "abwesenheit-informal-de",
        "Jana Voss <jana@voss-design.example>",
        f"Abwesenheitsnotiz: {SUBJECT_DE}",
        "Hi, ich bin bis 14.12. im Urlaub ✈️ und lese keine Mails. Bei Fragen zu "
        "Bestellungen: hallo@voss-design.example. Danke!\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "mobile-on-the-road-en",
        "Dave Morgan <dave@morgan-bikes.example>",
        f"Re: {SUBJECT_EN}",
        "I'm on the road right now and can't reply properly from my phone. I'll get back to "
        "you as soon as I can.\n\nSent from my iPhone\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "mobile-unterwegs-de",
        "Frank Ott <frank@ott-werkzeuge.example>",
        f"AW: {SUBJECT_DE}",
        "Ich bin gerade unterwegs und kann Ihre Nachricht leider erst später beantworten. "
        "Ich melde mich so bald wie möglich.\n\nVon meinem iPhone gesendet\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    # -- terse notes set by hand: no "ich bin", no "I am", often no header either ----------
    # The four mails of the security probe, each the whole body as it was sent.
    Sample(
        "probe-terse-urlaub-gruss-de",
        "Max Hoffmann <max@hoffmann-technik.example>",
        PROBE_SUBJECT,
        "Bin bis 14.12. im Urlaub. Gruß Max",
        SIEVE_VACATION,
        kind="out_of_office",
    ),
    Sample(
        "probe-terse-urlaub-danach-de",
        "Max Hoffmann <max@hoffmann-technik.example>",
        PROBE_SUBJECT,
        "Bin im Urlaub bis 14.12., danach melde ich mich.",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "probe-terse-vacation-en",
        "Max Hoffmann <max@hoffmann-technik.example>",
        PROBE_SUBJECT,
        "On vacation until Dec 14, will reply when back.",
        GMAIL_VACATION,
        kind="out_of_office",
    ),
    Sample(
        # A receipt and a promise to see to it, and nothing about the matter.
        "probe-terse-received-iphone-de",
        "Max Hoffmann <max@hoffmann-technik.example>",
        PROBE_SUBJECT,
        "Danke, ist angekommen. Wir kümmern uns darum.\n\nVon meinem iPhone gesendet",
        kind="ticket_ack",
    ),
    Sample(
        "terse-krankgeschrieben-de",
        "Tom Berger <tom@berger-moebel.example>",
        f"AW: {SUBJECT_DE}",
        "Hallo,\n\nbin bis einschließlich Freitag krankgeschrieben, melde mich danach.\n\nLG Tom\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "terse-dienstreise-de",
        "Stefan Hahn <s.hahn@hahn-elektro.example>",
        f"AW: {SUBJECT_DE}",
        "Auf Dienstreise bis Mittwoch, melde mich nach meiner Rückkehr.\n\nGruß, Stefan Hahn\n",
        EXCHANGE_OOF,
        kind="out_of_office",
    ),
    Sample(
        "terse-betriebsferien-de",
        "Holzwerk Lenz <info@holzwerk-lenz.example>",
        f"AW: {SUBJECT_DE}",
        "Sind vom 23.12. bis 06.01. in Betriebsferien. Ab dem 07.01. sind wir wieder für Sie "
        "da.\n\nTeam Holzwerk\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "terse-zurueck-am-de",
        "Jana Albers <j.albers@feinkost-albers.example>",
        f"AW: {SUBJECT_DE}",
        "Derzeit nicht im Büro, zurück am 15.12.\n\nViele Grüße\nJ. Albers\n",
        EXCHANGE_OOF,
        kind="out_of_office",
    ),
    Sample(
        "terse-wieder-erreichbar-de",
        "Frank Ott <frank@ott-werkzeuge.example>",
        f"AW: {SUBJECT_DE}",
        "Hallo, ab dem 15.12. wieder erreichbar. Danke für Ihre Geduld!\n",
        SIEVE_VACATION,
        kind="out_of_office",
    ),
    Sample(
        "terse-out-of-office-en",
        "Claire Dunn <claire.dunn@homeware-direct.example>",
        f"RE: {SUBJECT_EN}",
        "Out of office until Monday 14 Dec. Will respond when back.\n\n- Claire\n",
        EXCHANGE_OOF,
        kind="out_of_office",
    ),
    Sample(
        "terse-away-until-en",
        "Tom Becker <tom@becker-audio.example>",
        f"Re: {SUBJECT_EN}",
        "Away until 14 December with limited email.\n\nTom\n",
        SIEVE_VACATION,
        kind="out_of_office",
    ),
    Sample(
        "terse-travelling-back-on-en",
        "Dave Morgan <dave@morgan-bikes.example>",
        f"Re: {SUBJECT_EN}",
        "Currently travelling, back on Monday. Will reply then.\n\nSent from my phone\n",
        GMAIL_VACATION,
        kind="out_of_office",
    ),
    Sample(
        "terse-parental-leave-en",
        "Sarah Quinn <sarah@quinn-ceramics.example>",
        f"Re: {SUBJECT_EN}",
        "On parental leave until March 2027. For orders please write to "
        "orders@quinn-ceramics.example.\n",
        EXCHANGE_OOF,
        kind="out_of_office",
    ),
    Sample(
        "terse-off-sick-en",
        "Ian Ford <ian@fordtools.example>",
        f"Re: {SUBJECT_EN}",
        "Off sick today, will get back to you when I return.\n\nIan\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "terse-got-it-en",
        "Oak & Pine <help@oak-and-pine.example>",
        f"Re: {SUBJECT_EN}",
        "Got it, thanks - we'll look into it.\n\nCheers,\nTom\n",
        kind="ticket_ack",
    ),
    # -- the black-box test's automatic mails, and their kin --------------------------------
    Sample(
        "tester-trade-fair-de",
        "TechStore24 <service@techstore24.example>",
        f"Re: {SUBJECT_DE}",
        TESTER_TRADE_FAIR_DE,
        kind="out_of_office",
    ),
    Sample(
        "fachmesse-de",
        "Kaffeerösterei Brandt <kundenservice@kaffee-brandt.example>",
        f"AW: {SUBJECT_DE}",
        "Hallo,\n\nwir sind diese Woche auf der Fachmesse in Köln. Ab Montag sind wir wieder "
        "für Sie da.\n\nIhr Team von Kaffeerösterei Brandt\n",
        PANEL_AUTORESPONDER,
        kind="out_of_office",
    ),
    Sample(
        "trade-fair-en",
        "Oak & Pine <help@oak-and-pine.example>",
        f"Re: {SUBJECT_EN}",
        "Thanks for your email! We're at the trade fair in Birmingham until Thursday and will "
        "reply when we're back.\n\nThe Oak & Pine team\n",
        GMAIL_VACATION,
        kind="out_of_office",
    ),
    Sample(
        "tester-challenge-de",
        "Möbel Fuchs Spamschutz <spamschutz@moebel-fuchs.example>",
        f"{TESTER_CHALLENGE_SUBJECT}{SUBJECT_DE}",
        TESTER_CHALLENGE_DE,
        kind="delivery_failure",
    ),
    Sample(
        "challenge-held-de",
        "Weinhandel Mosel <info@weinhandel-mosel.example>",
        f"Re: {SUBJECT_DE}",
        "Ihre Nachricht an info@weinhandel-mosel.example wurde von unserem Spamschutz "
        "zurückgehalten. Bitte bestätigen Sie Ihre Absenderadresse über diesen Link:\n"
        "https://spamschutz.example/v/91ac\nDanach wird die Nachricht zugestellt.\n",
        kind="delivery_failure",
    ),
    Sample(
        "challenge-en",
        "Harbour Prints <hello@harbour-prints.example>",
        f"Please confirm your message: {SUBJECT_EN}",
        "Hello,\n\nYou sent an email to hello@harbour-prints.example. To prevent spam, our mail "
        "system holds messages from new senders. Please confirm that you are a real person by "
        "clicking the link below:\nhttps://verify.example/c/7f3a\n\nOnce you have confirmed, "
        "your message will be delivered. Unconfirmed messages are deleted after 14 days.\n",
        kind="delivery_failure",
    ),
    # Acknowledgements that state a return policy: a remedy under a condition is no answer.
    Sample(
        "ack-with-refund-policy-de",
        "Tierbedarf Sommer <info@tierbedarf-sommer.example>",
        f"AW: {SUBJECT_DE}",
        "Vielen Dank für Ihre Nachricht. Wir haben Ihre Anfrage erhalten und melden uns "
        "innerhalb von 48 Stunden. Bitte beachten Sie: Sobald Ihre Rücksendung bei uns "
        "eingegangen ist, erhalten Sie eine Gutschrift auf Ihr Kundenkonto.\n\n"
        "Ihr Kundenservice von Tierbedarf Sommer\n",
        PHPMAILER,
        kind="ticket_ack",
    ),
    Sample(
        "ack-with-refund-policy-en",
        "Wildwood Candles <hello@wildwood-candles.example>",
        f"Re: {SUBJECT_EN}",
        "Thanks for reaching out! We've received your message and will get back to you within "
        "24 hours. If your order arrived damaged, you will receive a replacement or a full "
        "refund once we have checked the photos.\n\nThe Wildwood Candles team\n",
        GORGIAS,
        kind="ticket_ack",
    ),
    Sample(
        "ack-review-then-credit-de",
        "Gartenwelt Kröger <support@gartenwelt-kroeger.example>",
        f"AW: {SUBJECT_DE}",
        "Guten Tag,\n\nvielen Dank für Ihre Anfrage. Wir haben Ihre Anfrage erhalten. Die "
        "Bearbeitung kann aufgrund des hohen Aufkommens bis zu 3 Werktage dauern. Nach "
        "Prüfung erhalten Sie eine Gutschrift oder Ersatz.\n\nIhr Team\n",
        FRESHDESK,
        kind="ticket_ack",
    ),
    Sample(
        "zendesk-ticket-created-de",
        "Möbel Fuchs Support <support@moebel-fuchs.example>",
        f"Re: {SUBJECT_DE}",
        "##- Bitte geben Sie Ihre Antwort über dieser Zeile ein. -##\n\nIhr Ticket (48225) "
        "wurde erstellt. Wir haben Ihre Anfrage erhalten und melden uns so schnell wie "
        "möglich.\n\nIhr Möbel Fuchs Support\n",
        ZENDESK,
        kind="ticket_ack",
    ),
]


HUMAN = [
    Sample(
        "zendesk-agent-answer-en",
        "Lindenhof Tea Support <support@lindenhof-tee.example>",
        f"[Lindenhof Tea] Re: {SUBJECT_EN}",
        "##- Please type your reply above this line -##\n\n"
        "Your request (48213) has been updated. To add additional comments, reply to this "
        "email.\n----------------------------------------------\n\n"
        "Tom (Lindenhof Tea)\n\nDec 7, 2026, 11:02 CET\n\nHello,\n\nthank you for your "
        "message. We checked order 100482: the parcel came back to us as undeliverable. We "
        "have refunded 49,90 EUR to the customer's PayPal account today.\n\nKind regards\n"
        "Tom\n\n----------------------------------------------\n\n"
        "Service-Siegel\n\nDec 7, 2026, 09:14 CET\n\n" + COMPLAINT_EN,
        ZENDESK,
    ),
    Sample(
        "zendesk-agent-ticket-number-de",
        "Kaffeerösterei Brandt <kundenservice@kaffee-brandt.example>",
        f"Re: {SUBJECT_DE}",
        "##- Bitte geben Sie Ihre Antwort über dieser Zeile ein. -##\n\n"
        "Guten Tag,\n\nzu Ihrem Ticket #4711: wir haben die Erstattung heute veranlasst. Der "
        "Betrag von 23,50 EUR wird der Kundin in 3–5 Werktagen gutgeschrieben.\n\n"
        "Viele Grüße\nLena Brandt\n",
        ZENDESK,
    ),
    Sample(
        "received-and-refunded-en",
        "Claire Dunn <claire.dunn@homeware-direct.example>",
        f"RE: {SUBJECT_EN}",
        "Hello,\n\nwe received your complaint and have refunded 49,90 EUR today.\n\n"
        "Kind regards\nClaire Dunn\n",
    ),
    Sample(
        "received-and-refunded-de",
        "Jürgen Krämer <j.kraemer@shop.example>",
        f"AW: {SUBJECT_DE}",
        "Guten Tag,\n\nwir haben Ihre Beschwerde erhalten und die Erstattung über 49,90 EUR "
        "heute veranlasst.\n\nMit freundlichen Grüßen\nJürgen Krämer\n",
    ),
    Sample(
        "past-vacation-en",
        "Sarah Quinn <sarah@quinn-ceramics.example>",
        f"Re: {SUBJECT_EN}",
        "Hi,\n\nsorry for the late reply, I was on vacation until yesterday. I've looked into "
        "order 100482 and sent a replacement today; the tracking number is "
        "1Z999AA10123456784.\n\nBest\nSarah\n",
    ),
    Sample(
        "past-vacation-de",
        "Petra Lange <p.lange@mode-lange.example>",
        f"AW: {SUBJECT_DE}",
        "Guten Tag,\n\nentschuldigen Sie die späte Antwort, ich war bis gestern im Urlaub. "
        "Ich habe die Bestellung geprüft: der Ersatz ist heute an die Kundin rausgegangen.\n\n"
        "Viele Grüße\nPetra Lange\n",
    ),
    Sample(
        "thanks-then-answer-en",
        "Harbour Prints <hello@harbour-prints.example>",
        f"Re: {SUBJECT_EN}",
        "Thank you for your message. We have checked the order: the lamp was damaged in "
        "transit. A replacement left our warehouse today, tracking number "
        "00340434161234567890.\n\nHarbour Prints\n",
    ),
    Sample(
        "return-arrived-de",
        "Feinkost Albers <service@feinkost-albers.example>",
        f"AW: {SUBJECT_DE}",
        "Vielen Dank für Ihre Nachricht. Die Rücksendung ist heute bei uns eingegangen, die "
        "Gutschrift über 89,00 EUR erfolgt morgen auf das Konto der Kundin.\n\n"
        "Ihr Team von Feinkost Albers\n",
    ),
    Sample(
        "customer-solved-de",
        "Anna Berger <anna.berger@gmail.example>",
        f"Re: {SOLVED_DE}",
        "Danke, Problem gelöst!\n",
        to=CUSTOMER_CASE,
    ),
    Sample(
        "customer-solved-en",
        "Mark Ellis <mark.ellis@mail.example>",
        f"Re: {SOLVED_EN}",
        "Thanks, all sorted - the refund arrived this morning.\n",
        to=CUSTOMER_CASE,
    ),
    Sample(
        "customer-not-solved-de",
        "Anna Berger <anna.berger@gmail.example>",
        f"Re: {SOLVED_DE}",
        "Nein, leider nicht gelöst. Das Paket ist immer noch nicht angekommen.\n",
        to=CUSTOMER_CASE,
    ),
    Sample(
        "znuny-agent-answer-de",
        "Elektro Brümmer Kundenservice <service@elektro-bruemmer.example>",
        f"[Ticket#2026120610000012] AW: {SUBJECT_DE}",
        "Sehr geehrte Damen und Herren,\n\nwir haben den Fall geprüft. Die Kundin erhält eine "
        "Gutschrift über 19,99 EUR, die Buchung ist bereits erfolgt.\n\n"
        "Mit freundlichen Grüßen\nSabine Meyer\nKundenservice\n",
        ZNUNY_AGENT,
    ),
    Sample(
        "received-and-done-de",
        "Möbel Fuchs <kundenservice@moebel-fuchs.example>",
        f"AW: {SUBJECT_DE}",
        "Hallo,\n\nIhre Anfrage ist bei uns eingegangen und wir haben sie bereits bearbeitet: "
        "Die Rücksendung wurde angenommen, das Geld ist unterwegs.\n\nGruß\nM. Fuchs\n",
    ),
    Sample(
        "action-then-get-back-en",
        "Oak & Pine <help@oak-and-pine.example>",
        f"Re: {SUBJECT_EN}",
        "Hi,\n\nwe have cancelled order 5531 and refunded the full amount of 129,00 EUR. If "
        "anything else comes up, we'll get back to you.\n\nOak & Pine\n",
    ),
    Sample(
        "back-in-office-en",
        "Claire Dunn <claire.dunn@homeware-direct.example>",
        f"RE: {SUBJECT_EN}",
        "I'm back in the office now - sorry for the wait. The sofa cover ships tomorrow with "
        "DPD, and we'll cover the return costs for the wrong one.\n\nClaire\n",
    ),
    Sample(
        "answers-an-auto-reply-de",
        "Jürgen Krämer <j.kraemer@shop.example>",
        f"AW: Automatische Antwort: {SUBJECT_DE}",
        "Ich bin doch schon zurück: die Erstattung ist raus.\n\nJ. Krämer\n",
    ),
    Sample(
        "vorgangsnummer-de",
        "Elektro Brümmer Kundenservice <service@elektro-bruemmer.example>",
        f"AW: {SUBJECT_DE}",
        "Guten Tag,\n\nunter der Vorgangsnummer 88123 haben wir den Umtausch veranlasst; das "
        "neue Gerät wurde heute an die Kundin verschickt.\n\nMit freundlichen Grüßen\n"
        "Kundenservice Elektro Brümmer\n",
    ),
    Sample(
        "asks-for-photo-de",
        "Naturkosmetik Lind <hallo@naturkosmetik-lind.example>",
        f"Re: {SUBJECT_DE}",
        "Hallo,\n\ndanke für die Nachricht. Kann die Kundin uns bitte ein Foto der "
        "beschädigten Flasche schicken? Dann schicken wir sofort Ersatz.\n\nLiebe Grüße\n"
        "Maren vom Lind-Team\n",
    ),
    Sample(
        "courier-confirmed-en",
        "Ian Ford <ian@fordtools.example>",
        f"Re: {SUBJECT_EN}",
        "Thanks for contacting us about order 100482. The courier confirmed delivery on 3 "
        "December to the neighbour at no. 12. Could the customer check with them?\n\nIan\n",
    ),
    Sample(
        "agent-with-no-reply-footer-de",
        "Spielwaren Kurz <noreply@spielwaren-kurz.example>",
        f"AW: {SUBJECT_DE}",
        "Guten Tag,\n\ndie Ersatzlieferung ist heute an die Kundin rausgegangen (DHL "
        "00340434161234567890). Die Versandkosten übernehmen wir.\n\nMit freundlichen Grüßen\n"
        "Katrin Wolf\nKundenservice\n\nBitte antworten Sie nicht auf diese E-Mail. Für "
        "Rückfragen nutzen Sie bitte unser Kontaktformular.\n",
    ),
    Sample(
        "agent-with-no-reply-footer-en",
        "Brightwave Electronics <noreply@brightwave.example>",
        f"Re: {SUBJECT_EN}",
        "Hello,\n\nwe have issued a full refund of 35,00 EUR to the customer's card today. "
        "It will show on the statement within 5 business days.\n\nBrightwave Customer Care\n\n"
        "Please do not reply to this email. This mailbox is not monitored.\n",
    ),
    Sample(
        "received-by-warehouse-en",
        "Meadow & Moss <support@meadow-moss.example>",
        f"Re: {SUBJECT_EN}",
        "Hi,\n\nyour request (#4711) has been received by our warehouse team: the replacement "
        "was shipped today with UPS, tracking 1Z999AA10123456784.\n\nMeadow & Moss Support\n",
    ),
    Sample(
        "still-on-leave-but-acted-de",
        "Jana Voss <jana@voss-design.example>",
        f"AW: {SUBJECT_DE}",
        "Hallo,\n\nich bin zwar noch bis Freitag im Urlaub, habe die Erstattung über 19,90 EUR "
        "aber eben veranlasst.\n\nJana\n",
    ),
    Sample(
        "outlook-quote-of-our-mail-de",
        "Jürgen Krämer <j.kraemer@shop.example>",
        f"AW: {SUBJECT_DE}",
        "Guten Tag,\n\ndie Ware ist heute nachgeliefert worden, die Kundin hat eine "
        "Sendungsnummer per Mail bekommen.\n\nMit freundlichen Grüßen\nJürgen Krämer\n\n"
        "-----Ursprüngliche Nachricht-----\nVon: Service-Siegel <fall@siegel.test>\n"
        "Gesendet: Montag, 7. Dezember 2026 09:14\nAn: service@shop.example\n"
        f"Betreff: {SUBJECT_DE}\n\n" + COMPLAINT_DE,
    ),
    # -- short answers beside the terse notes: an absence mentioned, the matter answered ---
    Sample(
        "terse-past-vacation-refund-de",
        "Max Hoffmann <max@hoffmann-technik.example>",
        PROBE_SUBJECT,
        "Ich war im Urlaub, die Erstattung ist jetzt veranlasst.\n\nGruß Max\n",
    ),
    Sample(
        "future-vacation-replacement-today-de",
        "Holzwerk Lenz <info@holzwerk-lenz.example>",
        PROBE_SUBJECT,
        "Wir sind ab 14.12. im Urlaub, deshalb senden wir den Ersatz heute noch.\n\n"
        "Viele Grüße\nTeam Holzwerk\n",
    ),
    Sample(
        "vacation-until-replacement-today-de",
        "Holzwerk Lenz <info@holzwerk-lenz.example>",
        f"AW: {SUBJECT_DE}",
        "Bin bis 14.12. im Urlaub, deshalb geht der Ersatz heute noch raus.\n\nGruß Jens\n",
    ),
    Sample(
        "short-replacement-today-de",
        "Max Hoffmann <max@hoffmann-technik.example>",
        PROBE_SUBJECT,
        "Danke, wir schicken heute Ersatz.\n",
    ),
    Sample(
        "short-refund-done-de",
        "Max Hoffmann <max@hoffmann-technik.example>",
        PROBE_SUBJECT,
        "Erstattung ist veranlasst.\n\nVon meinem iPhone gesendet\n",
    ),
    Sample(
        "received-replacement-today-de",
        "Max Hoffmann <max@hoffmann-technik.example>",
        PROBE_SUBJECT,
        "Danke, ist angekommen. Wir schicken heute Ersatz.\n\nVon meinem iPhone gesendet\n",
    ),
    Sample(
        "received-with-a-fact-de",
        "Tobias Krüger <t.krueger@kuechenwelt.example>",
        f"AW: {SUBJECT_DE}",
        "Danke, ist angekommen. Das Modell ist leider nicht mehr lieferbar, ich kläre bis "
        "Mittwoch mit dem Hersteller einen Austausch.\n\nGrüße\nT. Krüger\n",
    ),
    Sample(
        "customer-arrived-de",
        "Anna Berger <anna.berger@gmail.example>",
        f"Re: {SOLVED_DE}",
        "Danke, ist angekommen!\n",
        to=CUSTOMER_CASE,
    ),
    Sample(
        "away-replacement-today-en",
        "Sarah Quinn <sarah@quinn-ceramics.example>",
        f"Re: {SUBJECT_EN}",
        "I'm away from tomorrow until Dec 14, so we're sending the replacement today.\n\nSarah\n",
    ),
    Sample(
        "on-vacation-but-on-its-way-en",
        "Dave Morgan <dave@morgan-bikes.example>",
        f"Re: {SUBJECT_EN}",
        "On vacation until Monday, but the replacement is already on its way - tracking "
        "1Z999AA10123456784.\n",
    ),
    # -- answers with ticket-system boilerplate: the black-box test's, and their kin -------
    Sample(
        "tester-zendesk-ticket-updated-de",
        "Möbel Fuchs Support <support@moebel-fuchs.example>",
        f"Re: {SUBJECT_DE}",
        TESTER_ZENDESK_UPDATED_DE,
        ZENDESK_MAILER,
    ),
    Sample(
        "tester-received-and-credit-de",
        "Sabine Kurz <s.kurz@moebel-fuchs.example>",
        f"AW: {SUBJECT_DE}",
        TESTER_RECEIVED_CREDIT_DE,
    ),
    Sample(
        "tester-ticket-processed-credit-de",
        "Möbel Fuchs Support <support@moebel-fuchs.example>",
        f"[Ticket#48231] AW: {SUBJECT_DE}",
        TESTER_TICKET_CREDIT_DE,
    ),
    Sample(
        "tester-refund-above-automatic-footer-de",
        "Möbel Fuchs <service@moebel-fuchs.example>",
        f"AW: {SUBJECT_DE}",
        TESTER_REFUND_FOOTER_DE,
    ),
    # A black-box run: agents' answers whose ticket number in the subject, with the
    # helpdesk's marker line and footer, made them acknowledgements (the subject tipped an
    # undecided model; "zurückgebucht" was no action reported).
    Sample(
        "helpdesk-agent-sends-replacement-de",
        "Gartenwelt Kundenservice <service@gartenwelt.example>",
        f"Re: Ihre Anfrage #58213 {SUBJECT_DE}",
        "##- Bitte geben Sie Ihre Antwort über dieser Zeile ein. -##\n\nHallo Herr Brandt,\n\n"
        "wir haben uns die Fotos angesehen und senden Ihnen diese Woche einen neuen "
        "Gartenschlauch. Den defekten brauchen Sie nicht zurückzuschicken.\n\nViele Grüße\n"
        "Jonas vom Gartenwelt-Kundenservice\n\nTicket #58213 – bitte bei Antworten die "
        "Ticketnummer angeben.\n",
        ZENDESK,
    ),
    Sample(
        "ticket-system-agent-booked-back-de",
        "Funkhaus Support <support@funkhaus.example>",
        f"Re: [Ticket#2026120810000456] {SUBJECT_DE}",
        "Guten Tag,\n\ndie zweite Abbuchung kam durch einen Fehler bei unserem "
        "Zahlungsanbieter zustande. Wir haben die 89,90 € heute zurückgebucht.\n\n"
        "Mit freundlichen Grüßen\nLena Hoff, Funkhaus-Support\n\nDiese E-Mail wurde aus "
        "unserem Ticketsystem versendet.\n",
        ZNUNY_AGENT,
    ),
    Sample(
        "ticket-updated-refund-en",
        "Oak & Pine Support <help@oak-and-pine.example>",
        f"Re: {SUBJECT_EN}",
        "##- Please type your reply above this line -##\n\nYour ticket #48222 was updated. To "
        "add a comment, reply to this email.\n\nPriya (Oak & Pine Support)\n\nHi Mark,\n\n"
        "sorry for the trouble. You'll receive a full refund of 35,00 EUR by Friday; no need "
        "to send the kettle back.\n\nBest,\nPriya\n",
        ZENDESK,
    ),
    Sample(
        "received-and-replace-en",
        "Priya Shah <priya@brightside-lamps.example>",
        f"Re: {SUBJECT_EN}",
        "Hello,\n\nThank you for contacting us. We have received your request and reviewed "
        "it: we will replace the kettle free of charge. The new one ships with DHL.\n\n"
        "Kind regards\nPriya Shah\n",
    ),
    Sample(
        "refund-above-automatic-footer-en",
        "Lindenhof Tea Support <support@lindenhof-tee.example>",
        f"Re: {SUBJECT_EN}",
        "Hello Mark,\n\nwe have refunded 49,90 EUR to your PayPal account today.\n\n"
        "Kind regards\nTom\n\nThis email was generated automatically. Please do not reply "
        "to this email.\n",
    ),
    Sample(
        "ticket-number-costs-refunded-de",
        "Elektro Brümmer Kundenservice <service@elektro-bruemmer.example>",
        f"AW: {SUBJECT_DE}",
        "Guten Tag,\n\nIhre Anfrage (#48230) ist bei uns eingegangen. Wir haben den Fall "
        "geprüft: Die Rücksendekosten erstatten wir Ihnen, das Retourenlabel kommt per Post."
        "\n\nViele Grüße\nMarkus Beck\n",
        ZNUNY_AGENT,
    ),
    Sample(
        "received-and-new-device-de",
        "Lena Brandt <lena@kaffee-brandt.example>",
        f"AW: {SUBJECT_DE}",
        "Hallo,\n\nwir haben Ihre Nachricht erhalten. Wir schicken der Kundin kostenlos ein "
        "neues Gerät, das defekte kann sie behalten.\n\nBeste Grüße\nLena Brandt\n",
    ),
]

# Notifications from an address that nobody reads: machine mail by their sender, whatever
# their text (which a person could have written: "das Paket ist unterwegs"). The agents'
# answers from such addresses in HUMAN stay a person's: their text reports an action.
FROM_NOBODY = [
    Sample(
        "tester-shipping-notice-de",
        "Möbel Fuchs <noreply@moebel-fuchs.example>",
        "Ihre Sendung zur Bestellung 70094 ist unterwegs",
        "Hallo Kunde 94,\n\nIhre Sendung zur Bestellung 70094 ist unterwegs! Sendungsnummer "
        "00340434161234567890. Den Status sehen Sie unter https://moebel-fuchs.example/track."
        "\n\nIhr Möbel Fuchs Team\n",
        kind="notification",
    ),
    Sample(
        "shipping-notice-en",
        "Harbour Prints <no-reply@harbour-prints.example>",
        "Your order #5531 has shipped",
        "Hi Mark,\n\ngood news: your order #5531 is on its way! Tracking number "
        "1Z999AA10123456784.\n\nThanks for shopping with Harbour Prints\n",
        kind="notification",
    ),
    Sample(
        "invoice-notice-de",
        "Weinhandel Mosel <donotreply@weinhandel-mosel.example>",
        "Ihre Rechnung 2026-4711",
        "Guten Tag,\n\nanbei erhalten Sie Ihre Rechnung 2026-4711 über 89,90 EUR.\n\n"
        "Ihr Weinhandel Mosel\n",
        kind="notification",
    ),
]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    secret = {"secret": "auto-reply-table-secret-0123456789abcdef"}
    return make_config(tmp_path_factory.mktemp("auto-reply-table"), siegel=secret)


def read(raw: bytes, config: Config) -> tuple[str | None, str]:
    """The rule of the header verdict and the classifier's automatic-reply kind for `raw`,
    as `processing.analyse` obtains them for the case service."""
    stored = StoredMail(
        message_id="<table@siegel.test>",
        sha256="0" * 64,
        fingerprint="0" * 64,
        size=len(raw),
        raw=raw,
        envelope_from=None,
        envelope_to=[MERCHANT_CASE],
        source="test",
        received_at=datetime(2026, 12, 7, 8, 31, tzinfo=UTC),
    )
    analysis = processing.analyse(stored, config)
    assert analysis.reader is not None
    reading = analysis.reader(None)
    return (analysis.verdict.rule if analysis.verdict else None), reading.auto_reply_kind


def by_name(samples: list[Sample]) -> dict[str, Sample]:
    return {sample.name: sample for sample in samples}


@pytest.mark.parametrize("name", list(by_name(AUTOMATIC)))
def test_automatic_mail_with_its_system_headers_is_automatic(name: str, config: Config) -> None:
    """As its system sends it, the mail is automatic by its headers or by its text."""
    verdict, kind = read(by_name(AUTOMATIC)[name].raw(), config)
    assert verdict is not None or kind in AUTO_REPLY_KINDS, (verdict, kind)


@pytest.mark.parametrize("name", list(by_name(AUTOMATIC)))
def test_automatic_mail_without_any_system_header_is_automatic_by_its_text(
    name: str, config: Config
) -> None:
    """With every machine and vendor header stripped, the text alone names the mail's kind
    (an out-of-office note, a ticket acknowledgement, a challenge that held our mail). Only
    a sender that nobody reads (`noreply@`) is known without the text."""
    sample = by_name(AUTOMATIC)[name]
    verdict, kind = read(sample.raw(with_system_headers=False), config)
    assert verdict in (None, "noreply-sender")
    assert kind == sample.kind


@pytest.mark.parametrize("name", list(by_name(HUMAN)))
def test_substantive_human_reply_is_human(name: str, config: Config) -> None:
    """A reply that answers the matter or reports an action taken is human for the header
    rules and for the text rules and model, with the headers its system adds."""
    verdict, kind = read(by_name(HUMAN)[name].raw(), config)
    assert (verdict, kind) == (None, "human")


@pytest.mark.parametrize("name", list(by_name(FROM_NOBODY)))
def test_a_notification_from_a_noreply_sender_is_machine_mail(name: str, config: Config) -> None:
    """A shipping notice or an invoice from `noreply@`, `no-reply@`, `donotreply@` is machine
    mail by its sender, although its text reads like a person's."""
    verdict, _ = read(by_name(FROM_NOBODY)[name].raw(), config)
    assert verdict == "noreply-sender"


def our_subjects() -> list[str]:
    """The subject of every mail we send, as the templates word it for each state of a
    case, with sample values."""
    values = {
        "ref": "SSG-2026-000123",
        "deadline": "09.12.2026",
        "merchant_name": "Möbel Fuchs",
        "customer_name": "Anna Berger",
        "party_name": "Möbel Fuchs",
        "subject": "Schrank beschädigt",
    }
    subjects = set()
    for language in ("de", "en"):
        path = Path(__file__).parents[1] / "mediation" / "templates" / f"{language}.toml"
        for party in tomllib.loads(path.read_text(encoding="utf-8")).values():
            for mail in party.values() if isinstance(party, dict) else ():
                if isinstance(mail, dict) and "subject" in mail:
                    subjects.add(Template(mail["subject"]).safe_substitute(values))
    return sorted(subjects)


@pytest.mark.parametrize(
    ("prefix", "body", "kind"),
    [
        ("AW: ", TESTER_ZENDESK_UPDATED_DE, "human"),
        ("AW: ", TESTER_RECEIVED_CREDIT_DE, "human"),
        ("AW: ", TESTER_TICKET_CREDIT_DE, "human"),
        ("AW: ", TESTER_REFUND_FOOTER_DE, "human"),
        (TESTER_CHALLENGE_SUBJECT, TESTER_CHALLENGE_DE, "delivery_failure"),
        ("Re: ", TESTER_TRADE_FAIR_DE, "out_of_office"),
    ],
)
def test_the_same_text_reads_alike_in_every_state_of_a_case(
    prefix: str, body: str, kind: str
) -> None:
    """The black-box test's texts have one kind whichever of our mails they answer: the
    subject, which differs by the case's state, changes nothing (the rules settle them)."""
    subjects = our_subjects()
    assert len(subjects) > 40
    readings = classifier.classify_many(
        [{"subject": f"{prefix}{subject}", "body": body} for subject in subjects]
    )
    kinds = {
        subject: reading.auto_reply_kind
        for subject, reading in zip(subjects, readings, strict=True)
    }
    assert set(kinds.values()) == {kind}, kinds


@pytest.mark.parametrize(
    ("name", "automatic"),
    [
        ("outlook-ooo-de.eml", True),
        ("exchange-ooo-legacy-de.eml", True),
        ("gmail-vacation.eml", True),
        ("zendesk-ack.eml", True),
        ("outlook-human-de.eml", False),
        ("html-only.eml", False),
    ],
)
def test_the_hand_written_fixtures_read_as_they_are(
    name: str, automatic: bool, config: Config
) -> None:
    """The out-of-office and acknowledgement fixtures in tests/mails are automatic, the
    people's mails are not, through the same path."""
    verdict, kind = read((Path(__file__).parent / "mails" / name).read_bytes(), config)
    assert (verdict is not None or kind in AUTO_REPLY_KINDS) is automatic


def test_the_tables_are_large_and_name_each_mail_once() -> None:
    """At least 30 automatic and 20 human mails, German and English, unique names."""
    assert len(by_name(AUTOMATIC)) == len(AUTOMATIC) >= 30
    assert len(by_name(HUMAN)) == len(HUMAN) >= 20
    kinds = {sample.kind for sample in AUTOMATIC}
    assert kinds == {"out_of_office", "ticket_ack", "delivery_failure"}
    for table in (AUTOMATIC, HUMAN):
        assert any(sample.name.endswith("-de") for sample in table)
        assert any(sample.name.endswith("-en") for sample in table)
