"""Quotes never act: commands, accept/reject words and ratings come only from own text.

Every mail here is real MIME bytes, read the way production reads it: `mailflow.parsing`
then `casework.Reader` (the classifier, fed the HTML as sent) and, on its own text (the
lines the sender wrote; the new text of an interleaved reply also shows the quoted lines
it answers), `mediation.commands.parse` and `classifier.ratings.parse_rating`. Each
quoting structure (the HTML kinds of every common client, '>' and '|' marks, "wrote"
headers, Outlook header blocks, original-message and forwarded-message lines in many
languages) carries the same poisoned quote: commands, accept words and a rating block.
Above it the sender wrote a line and a command of their own, which must be read, and
nothing else. Interleaved replies carry the poison in the quoted lines they answer, and
are also driven through the case service.

Text that the sender never saw must not act either: text that the HTML hides (every way
of hiding it that a mail client honours) and a line that only one part of a
multipart/alternative mail says (a reader sees one part or the other). The probe's mails
are driven through the case service too.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

import classifier
from classifier import records
from classifier.html_text import readable_text
from classifier.ratings import RatingReply, UnreadableRating, parse_rating
from classifier.replies import extract_reply
from mailflow import casework, outbox, parsing, spool
from mailflow.config import Config
from mailflow.db import session_scope
from mediation import case_service, commands, routing, storage, templates
from mediation import rating_store as ratings
from mediation.addresses import Role, case_address
from mediation.events import DeadlineExtended, MediationClosed, MediatorMessaged
from mediation.storage import Merchant
from mediation.workflow import Deadline, State
from tests import test_rating_requests as rr
from tests.conftest import TEST_DOMAIN, TEST_SECRET, make_config

WRITTEN = "Danke, ich melde mich morgen."
COMMAND = "#frist 5"
# What a mediator, party or customer was sent earlier, quoted or forwarded back to us.
POISON = (
    "Ist Ihr Problem gelöst? Bitte antworten Sie mit annehmen oder accept.",
    "#abschluss gelöst",
    "#close resolved",
    "#vorschlag Der Händler erstattet 30 €.",
    "annehmen",
    "accept",
    "Service: 1 / Erreichbarkeit: 1 / Reaktionszeit: 1",
)
POISON_WORDS = ("#abschluss", "#close", "#vorschlag", "annehmen", "accept", "Service:",
                "Erreichbarkeit", "Reaktionszeit", "gelöst", "resolved")  # fmt: skip
SENT = datetime(2026, 3, 12, 14, 22, tzinfo=UTC)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """One configuration (and so one trained classifier model) for the whole module."""
    return make_config(tmp_path_factory.mktemp("quotes"))


def mail_bytes(
    text: str | None,
    markup: str | None,
    sender: str = "Mia Mediatorin <mia@schlichtung.example>",
    to: str = "fall+ssg-2026-000123@siegel.example",
) -> bytes:
    """A mail as a client sends it: text/plain, text/html, or multipart/alternative."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Re: [SSG-2026-000123]"
    message["Date"] = format_datetime(SENT)
    message["Message-ID"] = "<reply-1@schlichtung.example>"
    if text is not None:
        message.set_content(text)
        if markup is not None:
            message.add_alternative(markup, subtype="html")
    else:
        assert markup is not None
        message.set_content(markup, subtype="html")
    return message.as_bytes()


def read(config: Config, raw: bytes) -> str:
    """The own text that production acts on, read from these bytes."""
    return casework.Reader(parsing.parse(raw), config)(None).own_text


def assert_only_written_text_acts(own_text: str) -> None:
    """The line written above the quote is kept and its command is the only one that
    acts; no word of the quote is left, so no command, accept word or rating in it can."""
    assert WRITTEN in own_text
    for word in POISON_WORDS:
        assert word.casefold() not in own_text.casefold(), word
    instructions = commands.parse(own_text)
    assert instructions.events == (MediatorMessaged(WRITTEN), DeadlineExtended(5))
    assert instructions.problems == ()
    assert isinstance(parse_rating(own_text), UnreadableRating)


# ------------------------------------------------------------------------ HTML quotes

WRITTEN_HTML = f"<div>{WRITTEN}</div><div>{COMMAND}</div>"
POISON_HTML = "".join(f"<div>{html.escape(line)}</div>" for line in POISON)
ADDRESS = "Service-Siegel &lt;fall+ssg-2026-000123@siegel.example&gt;"


HTML_QUOTES: dict[str, str] = {
    "blockquote": f"{WRITTEN_HTML}<blockquote>{POISON_HTML}</blockquote>",
    "blockquote-attributes": (
        f'{WRITTEN_HTML}<blockquote class="quote" dir="ltr" style="margin:0">{POISON_HTML}'
        "</blockquote>"
    ),
    "left-border-div": (
        f'{WRITTEN_HTML}<div style="border-left:2px solid #ccc;padding-left:8px">'
        f"{POISON_HTML}</div>"
    ),
    "left-border-longhands": (
        f"{WRITTEN_HTML}<div style='border-left-style: solid; border-left-width: 1px; "
        f"border-left-color: #1010ff; padding-left: 6px'>{POISON_HTML}</div>"
    ),
    "left-border-width-only": (
        f'{WRITTEN_HTML}<div style="BORDER-LEFT-WIDTH: 3px; PADDING-LEFT: 4px">{POISON_HTML}</div>'
    ),
    "left-border-box-shorthands": (
        f'{WRITTEN_HTML}<div style="margin:0px 0px 0px 0.8ex;border-width:0px 0px 0px 1px;'
        f'border-style:solid;border-color:rgb(204,204,204);padding-left:1ex">{POISON_HTML}</div>'
    ),
    "left-border-logical": (
        f'{WRITTEN_HTML}<section style="border-inline-start: 4px solid gray">{POISON_HTML}'
        "</section>"
    ),
    "left-border-table-cell": (
        f'{WRITTEN_HTML}<table><tr><td style="padding-left:10px;border-left:#1010ff 2px solid">'
        f"{POISON_HTML}</td></tr></table>"
    ),
    "gmail-quote": (
        f'<div dir="ltr">{WRITTEN}<div>{COMMAND}</div></div><br><div class="gmail_quote '
        f'gmail_quote_container"><div dir="ltr" class="gmail_attr">Am Do., 12. März 2026 um '
        f'14:22 Uhr schrieb {ADDRESS}:<br></div><blockquote class="gmail_quote" '
        f'style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);'
        f'padding-left:1ex">{POISON_HTML}</blockquote></div>'
    ),
    "gmail-attr-only": (
        f'{WRITTEN_HTML}<div class="gmail_attr">On Thu, Mar 12, 2026 at 2:22 PM '
        f"{ADDRESS} wrote:</div>{POISON_HTML}"
    ),
    "gmail-forward": (
        f'<div dir="ltr">{WRITTEN}<div>{COMMAND}</div><br><div class="gmail_quote"><div '
        f'dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>From: '
        f"{ADDRESS}<br>Date: Thu, Mar 12, 2026 at 2:22 PM<br></div><br>{POISON_HTML}</div></div>"
    ),
    "outlook-desktop-separator": (
        f'<div class="WordSection1"><p class="MsoNormal">{WRITTEN}<o:p></o:p></p>'
        f'<p class="MsoNormal">{COMMAND}<o:p></o:p></p><div><div style="border:none;'
        f'border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal">'
        f"<b>Von:</b> {ADDRESS}<br><b>Gesendet:</b> Donnerstag, 12. März 2026 14:22<br>"
        f"<b>Betreff:</b> Fall<o:p></o:p></p></div></div>{POISON_HTML}</div>"
    ),
    "outlook-web-appendonsend": (
        f'{WRITTEN_HTML}<div id="appendonsend"></div><hr style="display:inline-block;width:98%" '
        f'tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>From:</b> '
        f"{ADDRESS}<br><b>Sent:</b> Thursday, March 12, 2026 2:22 PM</font></div>{POISON_HTML}"
    ),
    "outlook-requoted-divrplyfwdmsg": (
        f'{WRITTEN_HTML}<div id="x_divRplyFwdMsg"><b>Von:</b> Siegel</div>{POISON_HTML}'
    ),
    "outlook-mobile": (
        f'<div dir="ltr">{WRITTEN}</div><div dir="ltr">{COMMAND}</div><div '
        f'id="mail-editor-reference-message-container"><div class="ms-outlook-mobile-reference'
        f'-message">{POISON_HTML}</div></div>'
    ),
    "outlook-mac": (
        f'{WRITTEN_HTML}<div id="MAC_OUTLOOK_ATTRIBUTION_BLOCKQUOTE" style="BORDER-BOTTOM: '
        f"medium none; BORDER-LEFT: #b5c4df 5pt solid; BORDER-RIGHT: medium none; "
        f'PADDING-LEFT: 4pt">{POISON_HTML}</div>'
    ),
    "apple-reply": (
        f'<div>{WRITTEN}</div><div>{COMMAND}</div><div><br><blockquote type="cite"><div>Am '
        f'12.03.2026 um 14:22 schrieb {ADDRESS}:</div><br class="Apple-interchange-newline">'
        f"<div>{POISON_HTML}</div></blockquote></div>"
    ),
    "apple-forward": (
        f'{WRITTEN_HTML}<div><br><blockquote type="cite"><div>Begin forwarded message:</div><br '
        f'class="Apple-interchange-newline"><div style="margin: 0px;"><span><b>From: </b></span>'
        f"<span>{ADDRESS}</span></div>{POISON_HTML}</blockquote></div>"
    ),
    "apple-original-contents": (
        f'{WRITTEN_HTML}<div id="AppleOriginalContents">{POISON_HTML}</div>'
    ),
    "thunderbird-reply": (
        f'<p>{WRITTEN}</p><p>{COMMAND}</p><div class="moz-cite-prefix">Am 12.03.26 um 14:22 '
        f'schrieb Service-Siegel:<br></div><blockquote type="cite" '
        f'cite="mid:abc@siegel.example">{POISON_HTML}</blockquote>'
    ),
    "thunderbird-forward": (
        f'<p>{WRITTEN}</p><p>{COMMAND}</p><div class="moz-forward-container"><br><br>'
        f'-------- Weitergeleitete Nachricht --------<table class="moz-email-headers-table">'
        f"<tr><th>Betreff:</th><td>Fall</td></tr></table><br>{POISON_HTML}</div>"
    ),
    "cite-attribute": f'{WRITTEN_HTML}<div cite="mid:abc@siegel.example">{POISON_HTML}</div>',
    "type-cite-attribute": f'{WRITTEN_HTML}<div type="cite">{POISON_HTML}</div>',
    "yahoo-quoted": (
        f'<div class="ydp6e3b1c2eyahoo-style-wrap"><div>{WRITTEN}</div><div>{COMMAND}</div>'
        f'</div><div id="ydp3f2a9c1byahoo_quoted_4711" class="ydp3f2a9c1byahoo_quoted"><div>'
        f"Am Donnerstag, 12. März 2026, 14:22:01 MEZ hat {ADDRESS} Folgendes geschrieben:</div>"
        f"<div><br></div>{POISON_HTML}</div>"
    ),
    "yahoo-quoted-plain": f'{WRITTEN_HTML}<div class="yahoo_quoted">{POISON_HTML}</div>',
    "protonmail-quote": (
        f'{WRITTEN_HTML}<div class="protonmail_quote"><br>------- Original Message -------<br>'
        f"Am Donnerstag, 12. März 2026 um 14:22, {ADDRESS} schrieb:<br><blockquote "
        f'class="protonmail_quote" type="cite">{POISON_HTML}</blockquote></div>'
    ),
    "zimbra-divider": (
        f'{WRITTEN_HTML}<hr id="zwchr" data-marker="__DIVIDER__"><div '
        f'data-marker="__HEADERS__"><b>Von: </b>{ADDRESS}<br><b>Betreff: </b>Fall</div><br>'
        f'<div data-marker="__QUOTED_TEXT__">{POISON_HTML}</div>'
    ),
    "hotmail-stop-spelling": (
        f'<div>{WRITTEN}<div>{COMMAND}</div><div><hr id="stopSpelling">Date: Thu, 12 Mar 2026 '
        f"14:22:00 +0100<br>{POISON_HTML}</div></div>"
    ),
    "gmx-name-quote": (
        f'{WRITTEN_HTML}<div name="quote" style="margin:10px 5px 5px 10px; padding: 10px 0 10px '
        f'10px; word-wrap: break-word"><div style="margin:0 0 10px 0;"><b>Gesendet:</b>&nbsp;'
        f'Donnerstag, 12. März 2026 um 14:22 Uhr</div><div name="quoted-content">{POISON_HTML}'
        "</div></div>"
    ),
    "samsung-original-message-comment": (
        f'<div dir="auto">{WRITTEN}</div><div dir="auto">{COMMAND}</div><div align="left" '
        f'dir="auto" style="font-size:100%;color:#000000"><!-- originalMessage --></div>'
        f"{POISON_HTML}"
    ),
    "samsung-original-message-line": (
        f'<div dir="auto">{WRITTEN}</div><div dir="auto">{COMMAND}</div><div dir="auto">'
        f"<div>-------- Ursprüngliche Nachricht --------</div><div>Datum: 12.03.26 14:22 "
        f"(GMT+01:00)</div></div>{POISON_HTML}"
    ),
    "roundcube": (
        f'<p>{WRITTEN}</p><p>{COMMAND}</p><p id="reply-intro">Am 2026-03-12 14:22, schrieb '
        f'Service-Siegel:</p><blockquote type="cite" style="padding: 0 0.4em; border-left: '
        f'#1010ff 2px solid; margin: 0">{POISON_HTML}</blockquote>'
    ),
    "quote-class": f'{WRITTEN_HTML}<div class="mail-quote">{POISON_HTML}</div>',
    "spark-reply-section": (
        f'{WRITTEN_HTML}<div name="messageReplySection">Am 12. März 2026, 14:22 +0100 schrieb '
        f"{ADDRESS}:<br>{POISON_HTML}</div>"
    ),
    "unclosed-blockquote": f"{WRITTEN_HTML}<blockquote><div>{POISON_HTML}",
}


def _flattened(markup: str) -> str:
    """A text part that kept the words of the HTML but lost every quote mark, as some
    clients write it: only the HTML's structure can tell what is quoted."""
    return readable_text(markup)


@pytest.mark.parametrize("structure", sorted(HTML_QUOTES))
@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda markup: (None, markup), id="html-only"),
        pytest.param(lambda markup: (_flattened(markup), markup), id="multipart-alternative"),
    ],
)
def test_html_quote_structure_never_acts(
    config: Config, structure: str, form: Callable[[str], tuple[str | None, str]]
) -> None:
    """For every HTML quote structure, in an HTML-only and in a multipart/alternative mail
    whose text part lost the quote marks, the own text read in production holds what was
    written above the quote (its command acts) and nothing of the quote: no command, no
    accept word, no rating. Nothing is typed between quoted lines: the new text is the
    same."""
    text, markup = form(HTML_QUOTES[structure])
    reading = casework.Reader(parsing.parse(mail_bytes(text, markup)), config)(None)
    assert_only_written_text_acts(reading.own_text)
    assert reading.new_text == reading.own_text


def test_production_reads_the_html_as_sent_not_the_sanitised_copy(config: Config) -> None:
    """The sanitised HTML that parsing keeps for display has lost the left border that
    marks the quote; the reader is given the HTML as sent, sees it, and the quoted
    command does not act."""
    raw = mail_bytes(None, HTML_QUOTES["left-border-div"])
    parsed = parsing.parse(raw)
    assert parsed.html is not None and "border-left" not in parsed.html
    assert parsed.html_source is not None and "border-left" in parsed.html_source
    reading = casework.Reader(parsed, config)(None)
    assert "html-quote-element" in {rule["rule"] for rule in reading.rules}
    assert_only_written_text_acts(reading.own_text)


def test_a_frame_around_written_text_is_no_quote() -> None:
    """A box drawn all round (a table with a border) frames text; unlike the one-sided bar
    of a quote it leaves the text inside new text."""
    framed = "<td>Rückruf bitte vormittags.</td>"
    markup = f'{WRITTEN_HTML}<table style="border:1px solid #ccc"><tr>{framed}</tr></table>'
    assert "Rückruf bitte vormittags." in extract_reply("", markup).new_text


# ------------------------------------------------------------------------ text quotes

WRITTEN_TEXT = f"{WRITTEN}\n{COMMAND}\n\n"
POISON_TEXT = "\n".join(POISON)
ON_WROTE = "On Thu, Mar 12, 2026 at 2:22 PM Service-Siegel <fall@siegel.example> wrote:"


def _marked(mark: str) -> str:
    return "\n".join(f"{mark} {line}" for line in POISON)


def _outlook_block(separator: bool, lines: tuple[str, str, str, str]) -> str:
    rule = "________________________________\n" if separator else ""
    return WRITTEN_TEXT + rule + "\n".join(lines) + "\n\n" + POISON_TEXT


TEXT_QUOTES: dict[str, str] = {
    "angle-marks": WRITTEN_TEXT + _marked(">"),
    "nested-angle-marks": WRITTEN_TEXT + _marked(">>"),
    "pipe-marks": WRITTEN_TEXT + _marked("|"),
    "on-wrote-unmarked": f"{WRITTEN_TEXT}{ON_WROTE}\n\n{POISON_TEXT}",
    "on-wrote-marked": f"{WRITTEN_TEXT}{ON_WROTE}\n{_marked('>')}",
    "am-schrieb-unmarked": (
        WRITTEN_TEXT
        + "Am 12.03.2026 um 14:22 schrieb Service-Siegel <fall@siegel.example>:\n"
        + POISON_TEXT
    ),
    "am-schrieb-wrapped-before-address": (
        WRITTEN_TEXT + "Am Do., 12. März 2026 um 14:22 Uhr schrieb Service-Siegel <\n"
        "fall+ssg-2026-000123@siegel.example>:\n\n" + POISON_TEXT
    ),
    "am-schrieb-wrapped-in-the-name": (
        WRITTEN_TEXT + "Am 12.03.2026 um 14:22 schrieb Kundenservice Gartenwelt\n"
        "Kröger <service@gartenwelt.example>:\n" + _marked(">")
    ),
    "le-a-ecrit": (
        WRITTEN_TEXT + "Le jeu. 12 mars 2026 à 14:22, Service-Siegel <fall@siegel.example> a "
        "écrit :\n" + POISON_TEXT
    ),
    "il-giorno-ha-scritto": (
        WRITTEN_TEXT + "Il giorno gio 12 mar 2026 alle ore 14:22 Service-Siegel "
        "<fall@siegel.example> ha scritto:\n" + POISON_TEXT
    ),
    "el-escribio": (
        WRITTEN_TEXT + "El jue, 12 mar 2026 a las 14:22, Service-Siegel (<fall@siegel.example>) "
        "escribió:\n" + POISON_TEXT
    ),
    "op-schreef": (
        WRITTEN_TEXT
        + "Op do 12 mrt. 2026 om 14:22 schreef Service-Siegel <fall@siegel.example>:\n"
        + POISON_TEXT
    ),
    "w-dniu-napisal": (
        WRITTEN_TEXT + "W dniu czw., 12.03.2026 o 14:22 Service-Siegel <fall@siegel.example> "
        "napisał(a):\n" + POISON_TEXT
    ),
    "den-skrev": (
        WRITTEN_TEXT
        + "Den tors 12 mars 2026 kl 14:22 skrev Service-Siegel <fall@siegel.example>:\n"
        + POISON_TEXT
    ),
    "lotus-wrote-on": (
        WRITTEN_TEXT + "Service-Siegel/ACME wrote on 03/12/2026 02:22:08 PM:\n\n" + POISON_TEXT
    ),
    "schrieb-am": (
        WRITTEN_TEXT
        + "Service-Siegel <fall@siegel.example> schrieb am 12.03.2026 14:22:\n"
        + POISON_TEXT
    ),
    "apple-skrev-without-opening": (
        WRITTEN_TEXT
        + "12. mar. 2026 kl. 14:22 skrev Service-Siegel <fall@siegel.example>:\n"
        + POISON_TEXT
    ),
    "outlook-de": _outlook_block(
        True,
        (
            "Von: Service-Siegel <fall@siegel.example>",
            "Gesendet: Donnerstag, 12. März 2026 14:22",
            "An: mia@schlichtung.example",
            "Betreff: [SSG-2026-000123] Vorschlag",
        ),
    ),
    "outlook-en": _outlook_block(
        False,
        (
            "From: Service-Siegel <fall@siegel.example>",
            "Sent: Thursday, March 12, 2026 2:22 PM",
            "To: mia@schlichtung.example",
            "Subject: [SSG-2026-000123] Proposal",
        ),
    ),
    "outlook-fr": _outlook_block(
        True,
        (
            "De : Service-Siegel <fall@siegel.example>",
            "Envoyé : jeudi 12 mars 2026 14:22",
            "À : mia@schlichtung.example",
            "Objet : [SSG-2026-000123] Proposition",
        ),
    ),
    "outlook-it": _outlook_block(
        False,
        (
            "Da: Service-Siegel <fall@siegel.example>",
            "Inviato: giovedì 12 marzo 2026 14:22",
            "A: mia@schlichtung.example",
            "Oggetto: [SSG-2026-000123] Proposta",
        ),
    ),
    "outlook-es": _outlook_block(
        True,
        (
            "De: Service-Siegel <fall@siegel.example>",
            "Enviado: jueves, 12 de marzo de 2026 14:22",
            "Para: mia@schlichtung.example",
            "Asunto: [SSG-2026-000123] Propuesta",
        ),
    ),
    "outlook-nl": _outlook_block(
        False,
        (
            "Van: Service-Siegel <fall@siegel.example>",
            "Verzonden: donderdag 12 maart 2026 14:22",
            "Aan: mia@schlichtung.example",
            "Onderwerp: [SSG-2026-000123] Voorstel",
        ),
    ),
    "outlook-bold-wrapped": _outlook_block(
        False,
        (
            "*From:* Service-Siegel [mailto:",
            "fall@siegel.example]",
            "*Sent:* Thursday, March 12, 2026 2:22 PM",
            "*Subject:* Proposal",
        ),
    ),
}
# Forwarded and original messages, with and without colon and decoration; the forwarded
# part below the line is quoted as it is (clients write no marks in a forward).
MESSAGE_LINES = (
    "Begin forwarded message",
    "Begin forwarded message:",
    "Anfang der weitergeleiteten Nachricht:",
    "Anfang der weitergeleiteten E-Mail",
    "---------- Forwarded message ---------",
    "-------- Forwarded Message --------",
    "----- Forwarded Message -----",
    "-------- Weitergeleitete Nachricht --------",
    "---------- Weitergeleitete Nachricht ---------",
    "Weitergeleitete Nachricht:",
    "-----Ursprüngliche Nachricht-----",
    "----- Ursprüngliche Nachricht -----",
    "-------- Original-Nachricht --------",
    "-----Original Message-----",
    "Début du message réexpédié :",
    "Début du message transféré",
    "-------- Message transféré --------",
    "-----Message d'origine-----",
    "Inizio messaggio inoltrato:",
    "---------- Messaggio inoltrato ---------",
    "-----Messaggio originale-----",
    "Inicio del mensaje reenviado:",
    "---------- Mensaje reenviado ---------",
    "-----Mensaje original-----",
    "Begin doorgestuurd bericht:",
    "-------- Doorgestuurd bericht --------",
    "-----Oorspronkelijk bericht-----",
    "Początek przekazywanej wiadomości:",
    "---------- Wiadomość przekazana dalej ---------",
    "-----Oryginalna wiadomość-----",
    "Vidarebefordrat meddelande:",
    "---------- Vidarebefordrat meddelande ---------",
    "-----Ursprungligt meddelande-----",
    "Videresendt meddelelse",
    "---------- Videresendt meddelelse ----------",
    "Start på videresendt besked:",
    "-----Oprindelig meddelelse-----",
    "---------- Videresendt melding ----------",
    "*Begin forwarded message:*",
    "=== Weitergeleitete Nachricht ===",
    "----- Forwarded by Jane Doe/ACME on 12.03.2026 14:22 -----",
)
TEXT_QUOTES |= {f"line: {line}": f"{WRITTEN_TEXT}{line}\n{POISON_TEXT}" for line in MESSAGE_LINES}


@pytest.mark.parametrize("structure", list(TEXT_QUOTES))
def test_text_quote_structure_never_acts(config: Config, structure: str) -> None:
    """For every plain-text quoting structure (quote marks, "wrote" headers in many
    languages, also wrapped, Outlook header blocks in six languages, original and
    forwarded message lines with and without colon or decoration), the own text holds
    what was written above and nothing of the quote."""
    assert_only_written_text_acts(read(config, mail_bytes(TEXT_QUOTES[structure], None)))


def test_a_line_quoted_in_either_part_is_no_new_text(config: Config) -> None:
    """When the HTML quotes by a structure the reader knows but also holds quoted lines
    in markup it does not know, the text part's '>' marks still keep those lines out of
    the own text, and the other way round: a line is the sender's only if both parts
    agree."""
    unknown_markup = (
        f'{WRITTEN_HTML}<div class="x-unknown-client-quote">{POISON_HTML}</div>'
        "<blockquote>Ein Zitat, das der Leser erkennt</blockquote>"
    )
    marked_text = WRITTEN_TEXT + _marked(">") + "\n> Ein Zitat, das der Leser erkennt\n"
    assert_only_written_text_acts(read(config, mail_bytes(marked_text, unknown_markup)))
    # The text part is read (its HTML has no quote structure), the HTML's "wrote" header
    # marks what the text part lost.
    flattened = "\n".join([WRITTEN, COMMAND, "", *POISON])
    headed = f"{WRITTEN_HTML}<div>{html.escape(ON_WROTE)}</div>{POISON_HTML}"
    assert_only_written_text_acts(read(config, mail_bytes(flattened, headed)))


def test_forwarded_part_is_kept_as_quoted_evidence() -> None:
    """A forward's message is kept as the quoted part (evidence for the operator), and
    the marker says it was a forward."""
    reply = extract_reply(TEXT_QUOTES["line: Begin forwarded message"])
    assert "#abschluss gelöst" in reply.quoted
    assert "forwarded-message" in reply.markers


def test_inline_answer_between_quoted_lines_is_own_text_and_acts() -> None:
    """A line typed between two quoted lines is the sender's (an inline answer) and its
    command acts; the new text shows the question it answers, which does not act (the
    parser stops at a '>' line too); a long quoted line broken by a client without its
    mark stays quoted."""
    inline = extract_reply(
        "> Wie möchten Sie den Fall abschließen?\n#abschluss gelöst\n> Mit freundlichen Grüßen\n"
    )
    assert inline.own_text == "#abschluss gelöst"
    assert commands.parse(inline.own_text).events[-1] == MediationClosed(resolved=True)
    assert inline.new_text == "> Wie möchten Sie den Fall abschließen?\n#abschluss gelöst"
    assert commands.parse(inline.new_text).events == ()
    rewrapped = extract_reply(
        "Danke.\n\n> Wir haben die Sache mit dem Händler besprochen und schlagen vor, den\n"
        "#abschluss gelöst\n> zu nutzen, sobald die Erstattung da ist.\n"
    )
    assert rewrapped.own_text == rewrapped.new_text == "Danke."


# ------------------------------------------------------------------------------ ratings

VALUES = {name: f"<{name}>" for name in templates.PARAMETERS} | {
    "ref": "SSG-2026-000123",
    "merchant_name": "Gartenwelt Kröger",
    "customer_name": "Anna Kunde",
    "rating_summary": "Service: 4\nErreichbarkeit: 5\nReaktionszeit: 3",
}
GMAIL_HEADER = "Am Do., 12. März 2026 um 14:22 Uhr schrieb Service-Siegel <fall@siegel.example>:"


def _request(key: str = "customer.case_resolved") -> str:
    """Our mail as the customer quotes it: by default the closing notice, which carries
    the rating request."""
    blocks = {"rating_request": templates.render_block("rating_request", "de", VALUES)}
    return templates.render(key, "de", VALUES | blocks | {"mediator_message": ""}).text


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())


def _scores(answer: RatingReply | UnreadableRating) -> tuple[int | None, ...] | None:
    if isinstance(answer, UnreadableRating):
        return None
    return (answer.service, answer.reachability, answer.reaction_time)


def _inline_answers(request: str, answers: dict[str, str]) -> str:
    """Our request quoted, with the customer's answer typed on its own line below each
    form field named in `answers`."""
    lines = []
    for line in _quoted(request).splitlines():
        lines.append(line)
        field = line.removeprefix("> ").split(" (")[0].rstrip(":")
        if field in answers:
            lines.append(answers[field])
    return f"{GMAIL_HEADER}\n" + "\n".join(lines) + "\n"


def test_rating_typed_above_the_quoted_request_is_read_from_own_text(config: Config) -> None:
    """A customer's rating typed above our quoted request (plain text, and HTML-only with
    Gmail's quote) is read from the own text that production reads."""
    plain = f"Service: 4\nErreichbarkeit: 5\nReaktionszeit: 3\n\n{GMAIL_HEADER}\n" + _quoted(
        _request()
    )
    gmail = (
        '<div dir="ltr">4 5 3<br>Lob: schnelle Erstattung</div><div class="gmail_quote">'
        f"<blockquote>{html.escape(_request()).replace(chr(10), '<br>')}</blockquote></div>"
    )
    for raw in (mail_bytes(plain, None), mail_bytes(None, gmail)):
        assert _scores(parse_rating(read(config, raw))) == (4, 5, 3)


def test_form_answered_inline_below_quoted_labels_is_read_from_own_text(config: Config) -> None:
    """Answers typed on their own lines below the quoted form fields of our real request
    are the customer's own text: the three scores are read in the asked order."""
    raw = mail_bytes(
        _inline_answers(
            _request(),
            {
                "Service": "4",
                "Erreichbarkeit": "5",
                "Reaktionszeit": "3",
                "Lob": "Schnelle Erstattung",
            },
        ),
        None,
    )
    answer = parse_rating(read(config, raw))
    assert _scores(answer) == (4, 5, 3)
    assert isinstance(answer, RatingReply) and "Schnelle Erstattung" in answer.comment


def test_incomplete_inline_form_is_not_guessed(config: Config) -> None:
    """Two inline answers without their (quoted) labels cannot say what they rate: the
    answer is unreadable (the customer is shown the format), never assigned by guess."""
    raw = mail_bytes(_inline_answers(_request(), {"Service": "4", "Reaktionszeit": "3"}), None)
    answer = parse_rating(read(config, raw))
    assert isinstance(answer, UnreadableRating)
    assert "unlabelled-scores: 2 in '4 3', expected 3" in answer.problems


def test_scores_typed_into_quoted_lines_and_quoted_summaries_never_count(config: Config) -> None:
    """A score typed into a quoted line ("> Service (1-5): 4") is quoted, like the
    summary of an earlier rating that our thanks mail repeats: neither rates."""
    typed_into_quote = _quoted(_request()).replace("(1-5):", "(1-5): 4")
    thanks = f"Danke!\n\n{GMAIL_HEADER}\n" + _quoted(_request("customer.rating_thanks"))
    for text in (f"{GMAIL_HEADER}\n{typed_into_quote}", thanks):
        assert isinstance(parse_rating(read(config, mail_bytes(text, None))), UnreadableRating)


# ------------------------------------------------------------------ interleaved replies

# The sender answers between quoted lines: every poisoned line is a quoted line that an
# answer of the sender's own follows, so the new text shows it; only the answers act.
ANSWERED_FIRST, ANSWERED_SECOND = POISON[:3], POISON[3:]
CLOSING = ("Mit freundlichen Grüßen", "Service-Siegel")


def _interleaved_text(mark: str = ">") -> str:
    def quoted(lines: tuple[str, ...]) -> str:
        return "\n".join(f"{mark} {line}" for line in lines)

    return (
        f"{GMAIL_HEADER}\n{quoted(ANSWERED_FIRST)}\n\n{WRITTEN}\n\n{quoted(ANSWERED_SECOND)}\n\n"
        f"{COMMAND}\n\n{quoted(CLOSING)}\n"
    )


def _html_lines(lines: tuple[str, ...]) -> str:
    return "<br>".join(html.escape(line) for line in lines)


def _interleaved_html(quote_open: str, prefix: str = "", wrap: tuple[str, str] = ("", "")) -> str:
    """Answers typed between pieces of a quote element (`quote_open`), below `prefix`
    (an attribution), all inside `wrap` (a client's container)."""
    return (
        f"{wrap[0]}{prefix}{quote_open}{_html_lines(ANSWERED_FIRST)}</blockquote>"
        f"<div>{WRITTEN}</div>{quote_open}{_html_lines(ANSWERED_SECOND)}</blockquote>"
        f"<div>{COMMAND}</div>{quote_open}{_html_lines(CLOSING)}</blockquote>{wrap[1]}"
    )


GMAIL_QUOTE = (
    '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
    'rgb(204,204,204);padding-left:1ex">'
)
INTERLEAVED: dict[str, tuple[str | None, str | None]] = {
    "angle-marks": (_interleaved_text(), None),
    "pipe-marks": (_interleaved_text("|"), None),
    "html-only-blockquotes": (None, _interleaved_html("<blockquote>")),
    "blockquotes-text-part-lost-marks": (
        "\n".join([*ANSWERED_FIRST, WRITTEN, *ANSWERED_SECOND, COMMAND, *CLOSING]),
        _interleaved_html("<blockquote>"),
    ),
    "thunderbird": (
        _interleaved_text(),
        _interleaved_html(
            '<blockquote type="cite" cite="mid:abc@siegel.example">',
            prefix='<div class="moz-cite-prefix">Am 12.03.26 um 14:22 schrieb '
            "Service-Siegel:<br></div>",
        ),
    ),
    "apple-mail": (
        _interleaved_text(),
        # Apple Mail writes its attribution inside the first piece of the quote.
        _interleaved_html('<blockquote type="cite">').replace(
            '<blockquote type="cite">',
            f'<blockquote type="cite"><div>Am 12.03.2026 um 14:22 schrieb {ADDRESS}:</div>'
            '<br class="Apple-interchange-newline">',
            1,
        ),
    ),
    "gmail-answers-inside-its-container": (
        _interleaved_text(),
        _interleaved_html(
            GMAIL_QUOTE,
            prefix=f'<div dir="ltr" class="gmail_attr">{GMAIL_HEADER.replace("<", "&lt;")}'
            "<br></div>",
            wrap=('<div class="gmail_quote gmail_quote_container">', "</div>"),
        ),
    ),
}


@pytest.mark.parametrize("structure", list(INTERLEAVED))
def test_quoted_lines_an_interleaved_reply_answers_are_shown_but_never_act(
    config: Config, structure: str
) -> None:
    """In an interleaved reply (text, HTML-only, multipart from Thunderbird, Apple Mail
    and Gmail, also with a text part that lost its marks) whose answered quoted lines
    hold commands, accept words and a rating line, the own text is only the answers: the
    sender's command acts and nothing quoted does. The new text may show the answered
    lines, and even read as a whole it carries no command and no rating."""
    text, markup = INTERLEAVED[structure]
    reading = casework.Reader(parsing.parse(mail_bytes(text, markup)), config)(None)
    assert_only_written_text_acts(reading.own_text)
    assert all(line.lstrip().startswith((">", "|")) for line in reading.new_text.splitlines()
               if any(word in line for word in POISON_WORDS))  # fmt: skip
    assert "#abschluss gelöst" in reading.new_text
    assert not any(isinstance(event, MediationClosed) for event in
                   commands.parse(reading.new_text).events)  # fmt: skip
    assert isinstance(parse_rating(reading.new_text), UnreadableRating)


def test_the_intent_model_reads_no_answered_quoted_line() -> None:
    """Accept and solved words quoted above an answer never reach the intent model."""
    reply = extract_reply(_interleaved_text())
    seen = records.model_text("", reply, records.INTENT)
    assert WRITTEN.casefold().rstrip(".") in seen
    for word in ("annehmen", "accept", "gelöst", "geloest", "resolved"):
        assert word not in seen, word


# -------------------------------------------------------- through the case service


@pytest.fixture
def service_config(tmp_path: Path) -> Config:
    return make_config(tmp_path, mediation={"mediators": [rr.MEDIATOR]})


def _deliver(
    engine: Engine, config: Config, ref: str, role: Role, sender: str, text: str,
    at: datetime, answered: tuple[str, ...] = (),
) -> case_service.Outcome:  # fmt: skip
    """One plain-text mail to the case's `role` address through the case service with
    the real classifier, its answers into the outbox (as the worker does)."""
    to = case_address(TEST_SECRET.encode(), TEST_DOMAIN, ref, role)
    raw = f"From: {sender}\r\nTo: {to}\r\nMessage-ID: <interleaved@example.org>\r\n\r\n{text}"
    [stored] = spool.store(engine, [spool.Arrival(raw.encode(), sender, (to,), "test")], at)
    mail = case_service.IncomingMail(
        id=stored.mail_id, received_at=at, envelope_to=(to,), sender=sender,
        subject="Re: Sofa beschädigt", text=text, answered_kinds=answered,
    )  # fmt: skip

    def classify(context: str | None) -> classifier.Classification:
        return classifier.classify(mail.subject, mail.text, context=context)

    with session_scope(engine) as session:
        outcome = case_service.handle_mail(session, mail, classify, casework.settings(config))
        for outgoing in outcome.outgoing:
            outbox.enqueue(session, outgoing, config, at)
    return outcome


def _case_with_merchant(engine: Engine, config: Config) -> tuple[rr.Mailer, str]:
    with session_scope(engine) as session:
        session.add(
            Merchant(slug="moebel-fuchs", name="Möbel Fuchs", support_addresses=[rr.MERCHANT],
                     created_at=rr.OPENED)
        )  # fmt: skip
    mailer = rr.Mailer(engine, config)
    return mailer, mailer.complaint()


def test_an_interleaved_mediator_reply_closes_nothing_it_quotes(
    engine: Engine, service_config: Config
) -> None:
    """A mediator answers a party's mail inline; the answered quoted lines hold
    "#abschluss gelöst", a proposal and accept words: the case stays in mediation, only
    the mediator's own message and "#frist 5" act, and no party is sent a quoted command."""
    mailer, ref = _case_with_merchant(engine, service_config)
    escalated = mailer.sweep_to(ref, Deadline.MERCHANT_REPLY)
    outcome = _deliver(engine, service_config, ref, Role.MEDIATOR, rr.MEDIATOR,
                       _interleaved_text(), escalated + timedelta(days=1))  # fmt: skip
    assert outcome.held is None
    with Session(engine) as session:
        case = storage.load_case(session, ref)
        assert case is not None and case.state == State.IN_MEDIATION
        kinds = [event.kind for event in storage.events_of(session, case.id)]  # type: ignore[arg-type]
    assert "MediationClosed" not in kinds and "ProposalMade" not in kinds
    assert {"MediatorMessaged", "DeadlineExtended"} <= set(kinds)
    for outgoing in outcome.outgoing:
        assert "#abschluss" not in outgoing.text and "#vorschlag" not in outgoing.text


def test_an_interleaved_answer_to_the_rating_request_rates_nothing_it_quotes(
    engine: Engine, service_config: Config
) -> None:
    """The customer answers our rating request inline; the quoted line it answers holds a
    full rating ("Service: 1 / Erreichbarkeit: 1 / Reaktionszeit: 1"): no rating is taken,
    the mail is held and the customer is shown the format."""
    mailer, ref = _case_with_merchant(engine, service_config)
    closed_at = rr.resolved(mailer, ref)
    outcome = _deliver(
        engine, service_config, ref, Role.CUSTOMER, rr.CUSTOMER, _interleaved_text(),
        closed_at + timedelta(hours=1), answered=("customer.case_resolved",),
    )  # fmt: skip
    assert outcome.held is not None
    assert [mail.kind for mail in outcome.outgoing] == ["customer.rating_help"]
    with Session(engine) as session:
        case = storage.load_case(session, ref)
        assert case is not None and ratings.current(session, case.id) is None  # type: ignore[arg-type]


# ------------------------------------------------- text that a mail client does not show

SEEN = "Ich habe die Unterlagen erhalten und prüfe den Fall bis Freitag."
AFTER = "Ich melde mich danach wieder."
# What the probe hid: a mediator's command, a customer's "solved" and a rating.
HIDDEN_PAYLOADS = {
    "command": "#abschluss gelöst",
    "solved": "Das Problem ist gelöst, danke!",
    "rating": "Service: 1<br>Erreichbarkeit: 1<br>Reaktionszeit: 1<br>Tadel: furchtbar",
}
HIDDEN_WORDS = ("#abschluss", "gelöst", "Service", "Erreichbarkeit", "Reaktionszeit",
                "Tadel", "furchtbar")  # fmt: skip


def _styled(style: str, tag: str = "div") -> str:
    return f'<{tag} style="{style}">{{}}</{tag}>'


# Each way of hiding, with "{}" where the hidden payload goes; the mail is the seen
# paragraph, this, and a paragraph after it.
HIDING: dict[str, str] = {
    "display-none": _styled("display:none"),
    "display-none-paragraph": _styled("display:none", "p"),
    "display-none-important-upper-case": _styled("DISPLAY: NONE !important"),
    "display-none-span": _styled("display: none", "span"),
    "visibility-hidden": _styled("visibility:hidden"),
    "visibility-collapse": _styled("visibility:collapse"),
    "opacity-0": _styled("opacity:0"),
    "opacity-0-percent": _styled("opacity: 0%"),
    "opacity-nested-fractions": '<div style="opacity:.2"><div style="opacity:.2">{}</div></div>',
    "font-size-0": _styled("font-size:0"),
    "font-size-0px": _styled("font-size:0px"),
    "font-size-0pt": _styled("font-size: 0pt"),
    "font-size-0em": _styled("font-size:0em"),
    "font-size-0rem": _styled("font-size:0rem"),
    "font-size-0-percent": _styled("font-size:0%"),
    "font-size-1px": _styled("font-size:1px"),
    "font-shorthand-0": _styled("font:0/0 a"),
    "max-height-0-overflow-hidden": _styled("max-height:0;overflow:hidden"),
    "height-0-overflow-hidden": _styled("height:0px; overflow: hidden"),
    "width-0-overflow-hidden": _styled("width:0;overflow-x:hidden"),
    "mso-hide-all": _styled("mso-hide:all", "span"),
    "color-white-short-hex": _styled("color:#fff"),
    "color-white-hex": _styled("color:#ffffff"),
    "color-white-upper-case": _styled("COLOR:#FFFFFF"),
    "color-white-name": _styled("color:white"),
    "color-white-rgb": _styled("color:rgb(255,255,255)"),
    "color-white-rgb-spaces": _styled("color: rgb(255 255 255)"),
    "color-white-hsl": _styled("color:hsl(0, 0%, 100%)"),
    "color-near-white": _styled("color:#fefefe"),
    "color-transparent": _styled("color:transparent"),
    "color-rgba-alpha-0": _styled("color:rgba(0,0,0,0)"),
    "color-as-its-background": _styled("background-color:#000;color:#000"),
    "text-fill-transparent": _styled("-webkit-text-fill-color:transparent"),
    "font-color-attribute-white": '<font color="#ffffff">{}</font>',
    "hidden-attribute": "<div hidden>{}</div>",
    "template": "<template>{}</template>",
    "title": "<title>{}</title>",
    "script": '<script type="text/plain">{}</script>',
    "aria-hidden-with-display-none": '<div aria-hidden="true" style="display:none">{}</div>',
    "closed-details": "<details><summary>Mehr</summary>{}</details>",
    "clip-rect-zero": _styled("position:absolute;clip:rect(0 0 0 0)"),
    "off-page": _styled("position:absolute;left:-9999px"),
    "text-indent-off-page": _styled("text-indent:-9999px"),
    "scale-zero": _styled("transform:scale(0)"),
    "sheet-class": (
        '<style>.preheader { display: none !important; }</style><div class="preheader">{}</div>'
    ),
    "sheet-id": '<style type="text/css">#x{font-size:0}</style><div id="x">{}</div>',
    "sheet-tag-and-class": "<style>span.h{color:#ffffff}</style><span class='h'>{}</span>",
    "sheet-descendant": (
        "<style>@media screen { .wrap .h { visibility: hidden } }</style>"
        '<div class="wrap"><span class="h">{}</span></div>'
    ),
    "unclosed-paragraph": '<p style="display:none">{}',
    "self-closing-span": '<div><span style="display:none"/>{}</div>',
}


def _hidden_mail(hiding: str, payload: str) -> str:
    return f"<p>{SEEN}</p>{HIDING[hiding].replace('{}', HIDDEN_PAYLOADS[payload])}<p>{AFTER}</p>"


def _assert_nothing_hidden_acts(reading: classifier.Classification) -> None:
    for text in (reading.own_text, reading.new_text):
        assert SEEN in text and AFTER in text, text
        for word in HIDDEN_WORDS:
            assert word.casefold() not in text.casefold(), (word, text)
    assert not any(isinstance(event, MediationClosed)
                   for event in commands.parse(reading.own_text).events)  # fmt: skip
    assert isinstance(parse_rating(reading.own_text), UnreadableRating)


@pytest.mark.parametrize("payload", list(HIDDEN_PAYLOADS))
@pytest.mark.parametrize("hiding", list(HIDING))
def test_text_the_html_hides_is_no_text(config: Config, hiding: str, payload: str) -> None:
    """An HTML-only mail with a command, a "solved" or a rating hidden in it, each way a
    mail client honours (inline style, a <style> sheet, attributes, elements, colour,
    and a hiding element left unclosed): the own and new text read in production are
    what a reader sees, before and after the hidden part, and the reader records the cut;
    nothing hidden acts."""
    markup = _hidden_mail(hiding, payload)
    reading = casework.Reader(parsing.parse(mail_bytes(None, markup)), config)(None)
    _assert_nothing_hidden_acts(reading)
    if hiding not in ("template", "title", "script"):  # never text: no cut to record
        assert "html-hidden" in {rule["rule"] for rule in reading.rules}
        assert "gelöst" in extract_reply("", markup).hidden or payload == "rating"


@pytest.mark.parametrize("hiding", list(HIDING))
def test_a_text_part_that_shows_the_hidden_text_does_not_make_it_act(
    config: Config, hiding: str
) -> None:
    """The same mails as multipart/alternative whose text part, written by a converter
    that knows no CSS, holds the hidden command as a line of its own: the text part's
    line is not in what the HTML shows, so it does not act (`parts-disagree`)."""
    markup = _hidden_mail(hiding, "command")
    text = f"{SEEN}\n#abschluss gelöst\n{AFTER}\n"
    reading = casework.Reader(parsing.parse(mail_bytes(text, markup)), config)(None)
    _assert_nothing_hidden_acts(reading)
    assert "parts-disagree" in {rule["rule"] for rule in reading.rules}


@pytest.mark.parametrize(
    "markup",
    [
        pytest.param(f'<p style="display:none">#abschluss gelöst<p>{AFTER}', id="next-paragraph"),
        pytest.param(
            f'<ul><li style="display:none">#abschluss gelöst<li>{AFTER}</ul>', id="next-item"
        ),
        pytest.param(
            f'<table><tr><td style="display:none">#abschluss gelöst<td>{AFTER}</table>',
            id="next-cell",
        ),
        pytest.param(
            f'<a href="x" style="display:none">#abschluss gelöst<a href="y">{AFTER}</a>',
            id="next-link",
        ),
        pytest.param(f'<div><span style="display:none"/>x</div>{AFTER}', id="parent-ends"),
        pytest.param(f'<img style="display:none" src="x.png"><br hidden>{AFTER}', id="void"),
        pytest.param(
            f'<div style="font-size:0">#abschluss gelöst<span style="font-size:14px">{AFTER}'
            "</span></div>",
            id="font-size-set-again",
        ),
        pytest.param(
            f'<div style="color:#fff">#abschluss gelöst<span style="color:#333">{AFTER}</span>'
            "</div>",
            id="colour-set-again",
        ),
        pytest.param(
            f'<div style="visibility:hidden">#abschluss gelöst<span style="visibility:visible">'
            f"{AFTER}</span></div>",
            id="visible-again",
        ),
        pytest.param(
            f"<details><summary>{AFTER}</summary>#abschluss gelöst</details>", id="summary"
        ),
        pytest.param(
            f"<style>@media (max-width: 600px) {{ .m {{ display: none }} }}</style>"
            f'<div class="m">{AFTER}</div>',
            id="conditional-media-rule",
        ),
    ],
)
def test_hiding_never_swallows_visible_text_after_it(markup: str) -> None:
    """Hiding ends where a browser ends it: an unclosed hidden paragraph, item, cell or
    link at the next one, a hidden element at its parent's end, a hidden void element at
    once; a child that sets its size, colour or visibility back is seen, so is a closed
    <details>' summary, and a rule that applies only to narrow screens hides nothing."""
    reply = extract_reply("", f"<p>{SEEN}</p>{markup}")
    assert [line for line in reply.own_text.split("\n") if line] == [SEEN, AFTER]


@pytest.mark.parametrize(
    ("markup", "after"),
    [
        ('<div style="background:#202124"><p style="color:#ffffff">{}</p></div>', ""),
        ('<table bgcolor="#000000"><tr><td><font color="white">{}</font></td></tr></table>', ""),
        ('<body style="background-color: rgb(30, 30, 30); color: white"><p>{}</p></body>', ""),
        ('<div style="color:#fff"><a href="https://shop.example">{}</a></div>',
         " (https://shop.example)"),
        ('<div style="color:#999999">{}</div>', ""),
        ('<div aria-hidden="true">{}</div>', ""),
    ],
)  # fmt: skip
def test_what_a_reader_sees_is_text(markup: str, after: str) -> None:
    """White text on a dark background that the mail paints, a link (drawn in its own
    colour, its target written after its text), light grey text and an element hidden
    only from screen readers are seen: they stay text, and a command in them acts."""
    reply = extract_reply("", markup.replace("{}", f"{SEEN}<br>{COMMAND}"))
    assert reply.own_text == f"{SEEN}\n{COMMAND}{after}"
    assert reply.hidden == ""
    assert commands.parse(reply.own_text).events[-1] == DeadlineExtended(5)


# --------------------------------------- multipart/alternative: both parts must say it

# (text part, HTML part, the line that only one part says). Every one of these mails
# shows its reader something else than what it would make us do.
DISAGREEING: dict[str, tuple[str, str, str]] = {
    "command-only-in-text": (f"{SEEN}\n#abschluss gelöst\n", f"<p>{SEEN}</p>", "#abschluss"),
    "solved-only-in-text": (
        f"{SEEN}\nDas Problem ist gelöst, danke!\n",
        f"<p>{SEEN}</p>",
        "gelöst",
    ),
    "accept-only-in-text": (
        "Einverstanden, ich nehme den Vorschlag an.\n",
        "<div>Ich muss darüber noch mit meinem Mann sprechen und melde mich morgen.</div>",
        "Einverstanden",
    ),
    "rating-only-in-text": (
        "Danke!\nService: 1\nErreichbarkeit: 1\nReaktionszeit: 1\nTadel: furchtbar\n",
        "<p>Danke!</p>",
        "Service",
    ),
    "command-only-in-html": (f"{SEEN}\n", f"<p>{SEEN}</p><p>#abschluss gelöst</p>", "#abschluss"),
    "command-only-in-html-with-a-quote": (
        f"{SEEN}\n\n{ON_WROTE}\n> Wie möchten Sie den Fall abschließen?\n",
        f"<p>#abschluss gelöst</p><p>{SEEN}</p><div>{html.escape(ON_WROTE)}</div>"
        "<blockquote>Wie möchten Sie den Fall abschließen?</blockquote>",
        "#abschluss",
    ),
    "command-words-apart-in-html": (
        f"{SEEN}\n#abschluss gelöst\n",
        f"<p>{SEEN}</p><p>Den #abschluss sehe ich, sobald alles gelöst ist.</p>",
        "#abschluss gelöst",
    ),
    "command-without-its-hash-in-html": (
        f"{SEEN}\n#abschluss gelöst\n",
        f"<p>{SEEN}</p><p>Abschluss gelöst?</p>",
        "#abschluss gelöst",
    ),
    "command-hidden-in-html": (
        f"{SEEN}\n#abschluss gelöst\n",
        f'<p>{SEEN}</p><div style="display:none">#abschluss gelöst</div>',
        "#abschluss",
    ),
}


@pytest.mark.parametrize("case", list(DISAGREEING))
def test_a_line_only_one_part_says_does_not_act(config: Config, case: str) -> None:
    """A multipart/alternative mail whose parts disagree: the line only one part says
    (a command, "solved", accept words, a rating; in the text part or in the HTML, also
    with its words apart or without the command's "#") is neither own nor new text, so it
    neither acts nor is forwarded, and the cut says so; what both parts say stays."""
    text, markup, only_one = DISAGREEING[case]
    parsed = parsing.parse(mail_bytes(text, markup))
    reading = casework.Reader(parsed, config)(None)
    for said in (reading.own_text, reading.new_text):
        assert only_one.casefold() not in said.casefold(), said
    if SEEN in text:
        assert reading.own_text == SEEN
    assert not any(isinstance(event, MediationClosed)
                   for event in commands.parse(reading.own_text).events)  # fmt: skip
    assert isinstance(parse_rating(reading.own_text), UnreadableRating)
    if "only-in-html" not in case:
        assert "parts-disagree" in {rule["rule"] for rule in reading.rules}


def test_each_part_alone_would_act(config: Config) -> None:
    """The control for the mails above: each disagreeing line acts when both parts say
    it, in a mail with a text part only and in one whose two parts agree."""
    command = f"{SEEN}\n#abschluss gelöst\n"
    agreeing = f"<p>{SEEN}<br>#abschluss gelöst</p>"
    for text, markup in ((command, None), (command, agreeing), (None, agreeing)):
        own = read(config, mail_bytes(text, markup))
        assert commands.parse(own).events[-1] == MediationClosed(resolved=True)
    rating = "Danke!\nService: 1\nErreichbarkeit: 1\nReaktionszeit: 1\n"
    assert _scores(parse_rating(read(config, mail_bytes(rating, None)))) == (1, 1, 1)


CORPUS = Path(__file__).parent / "replies"


def test_legit_multipart_mails_keep_every_line_and_act(config: Config) -> None:
    """Every mail of the reply corpus that has both parts (Outlook desktop, on the web and
    mobile, Gmail, Apple Mail, Thunderbird, Yahoo, Proton, ...; links, lists, tables,
    formatting, wrapped lines) keeps all of its own text: no line is cut because its
    parts disagree, and a mediator's command and a customer's rating in them act."""
    both = 0
    for path in sorted(CORPUS.glob("*.eml")):
        text, markup = casework.reply_parts(parsing.parse(path.read_bytes()))
        if text.strip() and markup:
            both += 1
            assert "parts-disagree" not in extract_reply(text, markup).markers, path.stem
    assert both >= 100
    command = read(config, (CORPUS / "multipart_owa_mediator_command_de.eml").read_bytes())
    assert commands.parse(command).events[-1] == DeadlineExtended(5)
    rating = read(config, (CORPUS / "multipart_gmail_rating_formatting_de.eml").read_bytes())
    assert _scores(parse_rating(rating)) == (4, 5, 3)


# ------------------------------------------------ the probe's mails, through the service


def _deliver_mime(
    engine: Engine, config: Config, ref: str, role: Role, sender: str,
    text: str | None, markup: str | None, at: datetime, answered: tuple[str, ...] = (),
) -> case_service.Outcome:  # fmt: skip
    """One MIME mail (text, HTML or both) to the case's `role` address through the case
    service, read as production reads it (`casework.reply_parts`: the parts as sent)."""
    to = case_address(TEST_SECRET.encode(), TEST_DOMAIN, ref, role)
    raw = mail_bytes(text, markup, sender=sender, to=to)
    [stored] = spool.store(engine, [spool.Arrival(raw, sender, (to,), "test")], at)
    parsed = parsing.parse(raw)
    body, markup_as_sent = casework.reply_parts(parsed)
    mail = case_service.IncomingMail(
        id=stored.mail_id, received_at=at, envelope_to=(to,), sender=sender,
        subject="Re: Sofa beschädigt", text=parsed.text or "", answered_kinds=answered,
    )  # fmt: skip

    def classify(context: str | None) -> classifier.Classification:
        return classifier.classify(mail.subject, body, markup_as_sent, context=context)

    with session_scope(engine) as session:
        outcome = case_service.handle_mail(session, mail, classify, casework.settings(config))
        for outgoing in outcome.outgoing:
            outbox.enqueue(session, outgoing, config, at)
    return outcome


def _state_and_events(engine: Engine, ref: str) -> tuple[State, list[str]]:
    with Session(engine) as session:
        case = storage.load_case(session, ref)
        assert case is not None
        return case.state, [event.kind for event in storage.events_of(session, case.id)]  # type: ignore[arg-type]


SEEN_HTML = f"<p>{SEEN}</p>"


@pytest.mark.parametrize(
    ("text", "markup"),
    [
        pytest.param(None, f"{SEEN_HTML}<div style='display:none'><p>#abschluss gelöst</p></div>",
                     id="html-hidden"),
        pytest.param(f"{SEEN}\n#abschluss gelöst\n", SEEN_HTML, id="only-in-text-part"),
        pytest.param(f"{SEEN}\n", f"{SEEN_HTML}<p>#abschluss gelöst</p>", id="only-in-html-part"),
    ],
)  # fmt: skip
def test_the_probes_hidden_command_closes_no_mediation(
    engine: Engine, service_config: Config, text: str | None, markup: str
) -> None:
    """The probe's mediator mail: "#abschluss gelöst" hidden in the HTML, or only in one
    part of two. The mediation stays open; the mediator's visible message is taken."""
    mailer, ref = _case_with_merchant(engine, service_config)
    escalated = mailer.sweep_to(ref, Deadline.MERCHANT_REPLY)
    _deliver_mime(engine, service_config, ref, Role.MEDIATOR, rr.MEDIATOR, text, markup,
                  escalated + timedelta(days=1))  # fmt: skip
    state, kinds = _state_and_events(engine, ref)
    assert state == State.IN_MEDIATION
    assert "MediationClosed" not in kinds and "MediatorMessaged" in kinds


@pytest.mark.parametrize("shown", [False, True], ids=["hidden", "control-shown"])
def test_the_probes_hidden_solved_closes_no_case(
    engine: Engine, service_config: Config, shown: bool
) -> None:
    """The probe's customer mail: "Danke ..., ich warte ab ..." with "Das Problem ist
    gelöst, danke!" in a hidden paragraph; the case waits for the customer as before
    (and, as a control, the solved words shown close it as solved; shown after the
    wait-and-see they would be an unclear answer: tests/test_solved_intent.py)."""
    waiting = "Danke für Ihre Nachricht, ich warte ab, was der Händler schreibt."
    mailer, ref = _case_with_merchant(engine, service_config)
    mailer.merchant_replies(ref, rr.OPENED + timedelta(hours=2))
    solved = "Das Problem ist gelöst, danke!"
    hidden = f"<p>{waiting}</p><p style='display:none'>{solved}</p>"
    markup = f"<p>{solved}</p>" if shown else hidden
    _deliver_mime(engine, service_config, ref, Role.CUSTOMER, rr.CUSTOMER, None, markup,
                  rr.OPENED + timedelta(hours=5))  # fmt: skip
    state, kinds = _state_and_events(engine, ref)
    if shown:
        assert state == State.CLOSED_RESOLVED
    else:
        assert state == State.AWAITING_CUSTOMER and "CustomerConfirmedSolved" not in kinds


@pytest.mark.parametrize(
    ("text", "markup"),
    [
        pytest.param(None, "<p>Danke!</p><div style='display:none'>Service: 1<br>Erreichbarkeit: "
                     "1<br>Reaktionszeit: 1<br>Tadel: furchtbar</div>", id="html-hidden"),
        pytest.param("Danke!\nService: 1\nErreichbarkeit: 1\nReaktionszeit: 1\nTadel: furchtbar\n",
                     "<p>Danke!</p>", id="only-in-text-part"),
    ],
)  # fmt: skip
def test_the_probes_hidden_rating_is_not_stored(
    engine: Engine, service_config: Config, text: str | None, markup: str
) -> None:
    """The probe's rating mail: a rating hidden in the HTML, or only in the text part.
    No rating is stored; the answer to the request is held and the format sent."""
    mailer, ref = _case_with_merchant(engine, service_config)
    closed_at = rr.resolved(mailer, ref)
    outcome = _deliver_mime(
        engine, service_config, ref, Role.CUSTOMER, rr.CUSTOMER, text, markup,
        closed_at + timedelta(hours=1), answered=("customer.case_resolved",),
    )  # fmt: skip
    assert outcome.held is not None
    assert [mail.kind for mail in outcome.outgoing] == ["customer.rating_help"]
    with Session(engine) as session:
        case = storage.load_case(session, ref)
        assert case is not None and ratings.current(session, case.id) is None  # type: ignore[arg-type]


def test_the_probes_accept_words_only_in_the_text_part_accept_nothing(
    config: Config, engine: Engine, service_config: Config
) -> None:
    """The probe's answer to a proposal: the text part says "Einverstanden, ich nehme den
    Vorschlag an.", the HTML that the customer saw "Ich muss darüber noch mit meinem Mann
    sprechen ...". Neither line is in both parts, so neither is own text: the accept words
    never reach the intent model. (That the case service then takes no answer at all is
    `test_an_answer_without_own_text_accepts_no_proposal`.)"""
    text, markup, _ = DISAGREEING["accept-only-in-text"]
    reader = casework.Reader(parsing.parse(mail_bytes(text, markup)), config)
    reading = reader("proposal")
    assert reading.own_text == reading.new_text == ""
    seen = records.model_text("", extract_reply(text, markup), records.INTENT)
    assert "einverstanden" not in seen and "vorschlag" not in seen
    assert casework.Reader(parsing.parse(mail_bytes(text, None)), config)("proposal").intent == (
        "accept"
    )


def test_an_answer_without_own_text_accepts_no_proposal(
    engine: Engine, service_config: Config
) -> None:
    """A customer's answer to a proposal whose own text is empty (its two parts disagree
    on every line) accepts nothing: the proposal still waits."""
    mailer, ref = _case_with_merchant(engine, service_config)
    escalated = mailer.sweep_to(ref, Deadline.MERCHANT_REPLY)
    proposal = "#vorschlag Möbel Fuchs erstattet den vollen Kaufpreis."
    mailer.to_case(ref, Role.MEDIATOR, rr.MEDIATOR, proposal, escalated + timedelta(days=1))
    text, markup, _ = DISAGREEING["accept-only-in-text"]
    _deliver_mime(engine, service_config, ref, Role.CUSTOMER, rr.CUSTOMER, text, markup,
                  escalated + timedelta(days=2))  # fmt: skip
    state, kinds = _state_and_events(engine, ref)
    assert "ProposalAccepted" not in kinds and state == State.PROPOSAL_PENDING


def test_our_notice_subject_does_not_change_how_a_reply_reads(config: Config) -> None:
    """The same out-of-office text in answer to two different notices of its case reads
    alike: the subject from our [SSG-…] tag on is our own text, not the sender's."""
    text = (
        "Danke für Ihre Mail! Wir sind gerade auf der Messe und antworten ab Montag "
        "wieder. Ihr TechStore24-Team"
    )
    readings = []
    for ours in ("Neue Beschwerde: Lieferung fehlt", "Erinnerung: Frist läuft ab"):
        message = EmailMessage()
        message["From"] = "service@techstore24.example"
        message["To"] = "fall+ssg-2026-000123.merchant.x@siegel.example"
        message["Subject"] = f"Automatische Antwort: AW: [SSG-2026-000123] {ours}"
        message.set_content(text)
        readings.append(casework.Reader(parsing.parse(message.as_bytes()), config)(None))
    assert readings[0] == readings[1]
    assert routing.sender_subject("AW: [SSG-2026-000123] Erinnerung") == "AW:"
    assert routing.sender_subject("Sofa kaputt") == "Sofa kaputt"
