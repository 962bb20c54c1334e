"""Notification templates: every mail to a customer, merchant, mediator or operator.

The wording lives in ``de.toml`` and ``en.toml`` next to this module, one table per
template, keyed ``party.name`` (the party a `mediation.workflow.Notification` goes to,
or ``sender`` for answers to whoever wrote), each with a ``subject`` and a ``text``.
Placeholders are ``${name}`` (`string.Template`); every template may use any name of
`PARAMETERS`, and `render` fails loudly when a value is missing.

The HTML part is derived from the rendered text with every character escaped, so no
value can inject markup; quoted lines (``> ``) become a blockquote. A web link of ours
(the values of `LINKS`) carries the recipient's language (``?lang=de``, ``?lang=en``:
`in_language`) and is a link in the HTML part; no other text is. Dates are written
in the recipient's language and time zone (`format_moment`). People are named by one
rule (`person_name`): a greeting without a name where none was given (`greeting`), an
address shown once where the name is missing (`mailbox`). A forward lists the
attachments it carries and those it withholds (`attachment_list`).
"""

from __future__ import annotations

import html
import re
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from mediation.incoming import Attachment
from mediation.outgoing import UNSHOWN_IN_TEXT, AttachmentPolicy, Enclosure

LANGUAGES = ("de", "en")
_HERE = Path(__file__).resolve().parent

PARAMETERS = (
    "ref",
    "merchant_name",
    "customer_name",
    "customer_address",
    "mediator_address",
    "sender_address",
    "subject",
    "complaint_text",
    "message_text",
    "proposal_text",
    "party",
    "days",
    "deadline",
    "case_file",
    "complaint_address",
    "case_address",
    "problems",
    "rating_summary",
    "rating_help",
    "rating_link",
    "party_name",
    "reason",
    "forwarded_to",
    "previous_mediator",
    "quoted_words",
    "sender_name",
    "mail_subject",
    "mail_text",
    "greeting",
    "customer_mailbox",
    "sender_mailbox",
    "attachments",
    "about_case",
    "held_reason",
    "stated_reason",
    "also_named",
    "case_refs",
    "bounced_recipient",
    "bounced_mail",
    "bounce_reason",
    "next_step",
    "what_now",
    "uncounted_verdict",
    "rating_request",
    "mediator_message",
)
"""The values every template may use; the service supplies all of them. The last two
are blocks (`BLOCKS`): empty unless the mail carries that notice. ``what_now`` tells a
party whose message was passed on what is still up to it (`what_now`), and
``uncounted_verdict`` that its words answered the proposal from the wrong mail
(`uncounted_verdict`; empty otherwise). ``bounced_recipient``,
``bounced_mail`` and ``bounce_reason`` name a mail of ours that came back undelivered
(whom to, which one, why in one line), ``next_step`` what the operator does about it
(`bounce_step`). ``about_case`` names
the case a mail to the operator is about ("Fall SSG-…" or "kein Fall"), ``held_reason``
says in a sentence why a mail did not act (`held_text`), ``stated_reason`` is the
operator's reason for an act under a line that says so (`stated_reason`; empty without
one). ``greeting`` greets
the recipient (by name where we know one); ``customer_mailbox`` and ``sender_mailbox``
are "Name <address>", or the address alone; ``attachments`` lists a forwarded
complaint's attachments (empty without any); ``case_refs`` the cases, one a line,
that a mail to too many case addresses did not act in."""

LINKS = ("rating_link", "confirm_url", "certificate_url")
"""The values that are web links of ours (in these and the other catalogues' mails)."""

BLOCKS = ("rating_request", "mediator_message")
"""Notices that may travel inside another mail of the same act (`workflow.FOLDED`),
written in the ``[block.NAME]`` tables: a template with room for one names it as
``${NAME}``."""

_WEEKDAYS = {
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "de": (
        "Januar", "Februar", "März", "April", "Mai", "Juni",
        "Juli", "August", "September", "Oktober", "November", "Dezember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip
_GERMAN_ZONE_NAMES = {"CET": "MEZ", "CEST": "MESZ"}
_NO_DEADLINE = {"de": "ohne feste Frist", "en": "no fixed date"}

PARTY_LABELS = {
    "de": {
        "customer": "die Kundin / der Kunde",
        "merchant": "der Händler",
        "mediator": "die Schlichtung",
        "operator": "der Betreiber",
        "system": "das System",
    },
    "en": {
        "customer": "the customer",
        "merchant": "the merchant",
        "mediator": "the mediator",
        "operator": "the operator",
        "system": "the system",
    },
}

EVENT_LABELS = {
    "de": {
        "ComplaintReceived": "Beschwerde eingegangen",
        "MerchantIdentified": "Händler zugeordnet",
        "MerchantReplied": "Antwort des Händlers",
        "MerchantReplied.empty": "Antwort des Händlers ohne eigenen Text",
        "MerchantWrote": "Kurze Nachricht des Händlers (keine Antwort)",
        "ReminderDue": "Erinnerung an den Händler",
        "MerchantDeadlinePassed": "Frist des Händlers verstrichen",
        "FirstReplyMeasured": "Erste Antwort des Händlers gemessen",
        "CustomerWrote": "Nachricht der Kundin / des Kunden",
        "CustomerConfirmedSolved": "Kunde: Problem gelöst",
        "CustomerReportedUnsolved": "Kunde: Problem nicht gelöst",
        "CustomerSilenceExpired": "Keine Antwort des Kunden",
        "CustomerWithdrew": "Beschwerde zurückgezogen",
        "CustomerRated": "Bewertung abgegeben",
        "MediatorAssigned": "Schlichter/in zugewiesen",
        "MediatorMessaged": "Nachricht der Schlichtung",
        "MediatorNoted": "Interne Notiz",
        "ProposalMade": "Schlichtungsvorschlag",
        "ProposalAccepted": "Vorschlag angenommen",
        "ProposalRejected": "Vorschlag abgelehnt",
        "ProposalExpired": "Vorschlag ohne Annahme abgelaufen",
        "DeadlineExtended": "Frist verlängert",
        "MediationClosed": "Schlichtung abgeschlossen",
        "MediationOverdue": "Schlichtung überfällig",
        "AutomaticMailIgnored": "Automatische Nachricht (ohne Wirkung)",
        "MailHeld": "Nachricht zurückgehalten",
        "EvidenceAttached": "Nachricht als Beleg beigefügt (ohne Wirkung)",
        "MailWithoutEffect": "Nachricht ohne Befehl und ohne Text (ohne Wirkung)",
        "CategoryCorrected": "Kategorie korrigiert",
        "DeadlineHeld": "Frist zurückgehalten",
        "ReminderSkipped": "Erinnerung entfallen (Frist schon abgelaufen)",
        "MediatorUnavailable": "Keine Schlichterin / kein Schlichter frei",
        "MediatorReassigned": "Schlichtung neu zugewiesen",
        "OperatorClosed": "Vom Betreiber abgeschlossen",
        "MerchantChanged": "Händler geändert",
        "ForwardBounced": "Weiterleitung an den Händler unzustellbar",
        "MailBounced": "Mail unzustellbar",
        "MerchantAddressCorrected": "Händleradresse korrigiert, Beschwerde erneut weitergeleitet",
    },
    "en": {
        "ComplaintReceived": "Complaint received",
        "MerchantIdentified": "Merchant identified",
        "MerchantReplied": "Merchant's reply",
        "MerchantReplied.empty": "Merchant's reply without a word of its own",
        "MerchantWrote": "Short message from the merchant (no answer)",
        "ReminderDue": "Reminder to the merchant",
        "MerchantDeadlinePassed": "Merchant's deadline passed",
        "FirstReplyMeasured": "Merchant's first reply measured",
        "CustomerWrote": "Message from the customer",
        "CustomerConfirmedSolved": "Customer: problem solved",
        "CustomerReportedUnsolved": "Customer: problem not solved",
        "CustomerSilenceExpired": "No answer from the customer",
        "CustomerWithdrew": "Complaint withdrawn",
        "CustomerRated": "Rating given",
        "MediatorAssigned": "Mediator assigned",
        "MediatorMessaged": "Message from the mediator",
        "MediatorNoted": "Internal note",
        "ProposalMade": "Settlement proposal",
        "ProposalAccepted": "Proposal accepted",
        "ProposalRejected": "Proposal rejected",
        "ProposalExpired": "Proposal expired without acceptance",
        "DeadlineExtended": "Deadline extended",
        "MediationClosed": "Mediation closed",
        "MediationOverdue": "Mediation overdue",
        "AutomaticMailIgnored": "Automatic mail (no effect)",
        "MailHeld": "Mail held",
        "EvidenceAttached": "Mail attached as evidence (no effect)",
        "MailWithoutEffect": "Mail without command or text (no effect)",
        "CategoryCorrected": "Category corrected",
        "DeadlineHeld": "Deadline held",
        "ReminderSkipped": "Reminder dropped (deadline already passed)",
        "MediatorUnavailable": "No mediator free",
        "MediatorReassigned": "Mediation reassigned",
        "OperatorClosed": "Closed by the operator",
        "MerchantChanged": "Merchant changed",
        "ForwardBounced": "Forward to the merchant undeliverable",
        "MailBounced": "Mail undeliverable",
        "MerchantAddressCorrected": "Merchant's address corrected, complaint forwarded again",
    },
}

PROBLEM_TEXTS = {
    "de": {
        "unknown-command": "unbekannter Befehl",
        "missing-text": "der Befehl braucht einen Text",
        "bad-days": "erwartet eine Zahl von Werktagen, z. B. #frist 5",
        "bad-outcome": "erwartet #abschluss gelöst oder #abschluss ungelöst",
        "not-possible": "in diesem Stand des Falls nicht möglich",
    },
    "en": {
        "unknown-command": "unknown command",
        "missing-text": "the command needs a text",
        "bad-days": "expects a number of business days, e.g. #extend 5",
        "bad-outcome": "expects #close resolved or #close unresolved",
        "not-possible": "not possible in the case's current state",
    },
}


HELD_TEXTS = {
    "de": {
        "sender-not-party": "Der Absender ist für die Rolle, an deren Fall-Adresse er schrieb, "
        "nicht eingetragen; die Mail wurde zurückgehalten und hat im Fall nichts ausgelöst.",
        "unknown-case": "Sie ging an die Fall-Adresse eines Falls, den es nicht gibt; sie wurde "
        "zurückgehalten.",
        "closed-case": "Der Fall ist bereits abgeschlossen; die Mail wurde zurückgehalten und "
        "hat ihn nicht wieder geöffnet.",
        "unexpected-event": "Sie passt nicht zum Stand des Falls; sie wurde zurückgehalten und "
        "hat nichts ausgelöst.",
        "command-problem": "Ein Befehl darin war nicht ausführbar; die Mail wurde zurückgehalten "
        "und hat nichts ausgelöst.",
        "machine-mail": "Sie ist eine automatische Nachricht; sie wurde zurückgehalten und hat "
        "nichts ausgelöst.",
        "no-sender": "Sie hat keine Absenderadresse; sie wurde zurückgehalten.",
        "operator-address": "Sie nennt keinen Fall und ist an Sie gerichtet: Bitte lesen und "
        "beantworten Sie sie selbst.",
        "no-recipient": "Sie ging an keine Adresse des Dienstes; sie wurde zurückgehalten.",
        "not-case-address": "Sie gehört zum Fall, ging aber nicht an dessen Fall-Adresse: Sie "
        "wurde dem Fall als Beleg beigefügt und hat nichts ausgelöst.",
        "unknown-merchant": "Darin war kein registrierter Shop zu erkennen; sie wurde "
        "zurückgehalten.",
        "own-address": "Sie kam von einer Adresse des Dienstes selbst (eine Schleife oder eine "
        "Fälschung); sie wurde zurückgehalten.",
        "unauthenticated": "Die Absender-Domain war nicht authentifiziert (DKIM, SPF, DMARC); "
        "die Mail wurde zurückgehalten und hat nichts ausgelöst.",
        "open-case": "Zu diesem Shop und dieser Bestellung läuft bereits ein Fall: Sie wurde "
        "ihm als Beleg beigefügt, ein zweiter Fall wurde nicht eröffnet.",
        "self-complaint": "Sie kam von einer Adresse oder Domain des Shops, über den sie sich "
        "beschwert: Ein Shop kann sich nicht über sich selbst beschweren. Kein Fall wurde "
        "eröffnet, sie zählt für nichts.",
        "empty-complaint": "Sie hatte weder Betreff noch Text noch Anhang: Kein Fall wurde "
        "eröffnet.",
        "self-feedback": "Sie kam von einer Adresse oder Domain des Shops, den sie lobt oder "
        "kritisiert: Ein Shop kann sich nicht selbst bewerten. Sie wurde nicht erfasst und "
        "zählt für nichts.",
        "too-many-cases": "Sie ging an die Fall-Adressen von mehr Fällen, als eine Mail auf "
        "einmal bearbeiten darf ([mediation] max_cases_per_mail): In diesem Fall wurde sie "
        "zurückgehalten und hat nichts ausgelöst.",
        "too-many-messages": "Der Absender hat in diesem Fall innerhalb von 24 Stunden mehr "
        "Nachrichten geschrieben, als weitergeleitet werden ([mediation] "
        "max_messages_per_day): Sie wurde zurückgehalten und nicht weitergeleitet.",
    },
    "en": {
        "sender-not-party": "The sender is not registered for the role whose case address it "
        "wrote to; the mail was held and changed nothing in the case.",
        "unknown-case": "It went to the case address of a case that does not exist; it was held.",
        "closed-case": "The case is already closed; the mail was held and did not reopen it.",
        "unexpected-event": "It does not fit the case's current state; it was held and changed "
        "nothing.",
        "command-problem": "A command in it could not be carried out; the mail was held and "
        "changed nothing.",
        "machine-mail": "It is an automatic message; it was held and changed nothing.",
        "no-sender": "It has no sender address; it was held.",
        "operator-address": "It names no case and is meant for you: please read and answer it "
        "yourself.",
        "no-recipient": "It went to none of the service's addresses; it was held.",
        "not-case-address": "It belongs to the case but did not go to its case address: it was "
        "attached to the case as evidence and changed nothing.",
        "unknown-merchant": "No registered shop could be found in it; it was held.",
        "own-address": "It came from one of the service's own addresses (a loop or a forgery); "
        "it was held.",
        "unauthenticated": "The sender's domain was not authenticated (DKIM, SPF, DMARC); the "
        "mail was held and changed nothing.",
        "open-case": "A case about this shop and order is already open: it was attached to that "
        "case as evidence, and no second case was opened.",
        "self-complaint": "It came from an address or domain of the shop it complains about: a "
        "shop cannot complain about itself. No case was opened, and it counts for nothing.",
        "empty-complaint": "It had no subject, no text and no attachment: no case was opened.",
        "self-feedback": "It came from an address or domain of the shop it praises or "
        "criticises: a shop cannot rate itself. It was not recorded, and it counts for nothing.",
        "too-many-cases": "It went to the case addresses of more cases than one mail may act "
        "in ([mediation] max_cases_per_mail): in this case it was held and changed nothing.",
        "too-many-messages": "Its sender wrote more messages in this case within 24 hours than "
        "are passed on ([mediation] max_messages_per_day): it was held and not passed on.",
    },
}
"""Why a mail did not act, for the operator: one sentence per `storage.HeldReason`."""


BOUNCE_STEPS = {
    "de": {
        "forward-stopped": "Der Händler hat die Beschwerde also nicht erhalten. Seine "
        "Antwortfrist ist angehalten (keine Erinnerung, keine verpasste Frist), der Fall "
        "wartet, und weitere Mails dieses Falls an ${address} werden nicht gesendet.\n\n"
        "Nächster Schritt: die Support-Adresse des Shops prüfen und eintragen:\n\n"
        "    siegel merchant set ${slug} --email ADRESSE\n\n"
        "Dann geht die Beschwerde erneut an den Shop, mit einer neuen Frist ab dann.",
        "forward-late": "Die Meldung kam erst, als seine Frist schon abgelaufen war. Das kann "
        "sein (ein Mailserver gibt erst nach Tagen auf), ist aber auch, was ein Shop fälschen "
        "würde, der die Beschwerde liegen ließ: Er hat die Weiterleitung samt Rücklaufadresse. "
        "Die verpasste Frist zählt deshalb weiter, bis Sie sie zurücknehmen; die Schlichtung "
        "läuft weiter. Weitere Mails dieses Falls an ${address} werden nicht gesendet.\n\n"
        "Nächster Schritt: beim Shop nachfragen. Hat er die Beschwerde wirklich nicht "
        "erhalten:\n\n    siegel case ${ref} --forward-not-received\n\nund die "
        "Support-Adresse prüfen:\n\n    siegel merchant set ${slug} --email ADRESSE",
        "forward-answered": "Der Händler hat in diesem Fall aber schon an seine Fall-Adresse "
        "geschrieben, die nur unsere Weiterleitung enthielt: Die Weiterleitung hat ihn also "
        "erreicht. Die Meldung hält seine Frist deshalb nicht an und nimmt keine verpasste "
        "Frist zurück (eine gefälschte Meldung schönte sonst seine Zahlen), und die Mails "
        "dieses Falls gehen weiter an ${address}.\n\n"
        "Nächster Schritt: siegel case ${ref} zeigt, was der Händler schrieb; stimmt die "
        "Adresse nicht mehr:\n\n    siegel merchant set ${slug} --email ADRESSE",
        "merchant": "Weitere Mails dieses Falls an ${address} werden nicht gesendet.\n\n"
        "Nächster Schritt: die Support-Adresse des Shops prüfen und eintragen:\n\n"
        "    siegel merchant set ${slug} --email ADRESSE",
        "merchant-changed": "Die Support-Adresse des Shops wurde inzwischen geändert (jetzt: "
        "${current}); weitere Mails gehen dorthin. Zu tun ist nichts, es sei denn, auch diese "
        "Adresse stimmt nicht.",
        "customer": "Weitere Mails dieses Falls an ${address} werden nicht gesendet; der Fall "
        "läuft weiter.\n\nNächster Schritt: die Kundin oder den Kunden wenn nötig auf "
        "anderem Weg erreichen; siegel case ${ref} zeigt den Verlauf und jede Mail.",
        "mediator": "Weitere Mails dieses Falls an ${address} werden nicht gesendet.\n\n"
        "Nächster Schritt: die Adresse prüfen (siegel mediator list) oder den Fall neu "
        "vergeben:\n\n    siegel case ${ref} --mediator ADRESSE",
    },
    "en": {
        "forward-stopped": "So the merchant has not received the complaint. Its reply "
        "deadline is stopped (no reminder, no missed deadline), the case waits, and no "
        "further mail of this case goes to ${address}.\n\n"
        "Next step: check the shop's support address and set it:\n\n"
        "    siegel merchant set ${slug} --email ADDRESS\n\n"
        "The complaint then goes to the shop again, with a new deadline from then.",
        "forward-late": "The report came only after its deadline had passed. That may be (a "
        "mail server gives up only after days), but it is also what a shop that left the "
        "complaint lying would forge: it has the forward with its return address. So the "
        "missed deadline still counts until you take it back; the mediation goes on. No "
        "further mail of this case goes to ${address}.\n\n"
        "Next step: ask the shop. If it really did not get the complaint:\n\n"
        "    siegel case ${ref} --forward-not-received\n\nand check its support "
        "address:\n\n    siegel merchant set ${slug} --email ADDRESS",
        "forward-answered": "But the merchant has already written in this case to its case "
        "address, which only our forward gave it: so the forward reached it. The report "
        "therefore stops no deadline and takes no missed deadline back (a forged report "
        "would otherwise flatter the shop's figures), and the case's mail "
        "still goes to ${address}.\n\n"
        "Next step: siegel case ${ref} shows what the merchant wrote; if the address is no "
        "longer right:\n\n    siegel merchant set ${slug} --email ADDRESS",
        "merchant": "No further mail of this case goes to ${address}.\n\n"
        "Next step: check the shop's support address and set it:\n\n"
        "    siegel merchant set ${slug} --email ADDRESS",
        "merchant-changed": "The shop's support address has been changed since (now: "
        "${current}); further mails go there. Nothing to do, unless that address is wrong "
        "too.",
        "customer": "No further mail of this case goes to ${address}; the case goes on.\n\n"
        "Next step: reach the customer another way if needed; siegel case ${ref} shows the "
        "history and every mail.",
        "mediator": "No further mail of this case goes to ${address}.\n\n"
        "Next step: check the address (siegel mediator list) or give the case to another "
        "mediator:\n\n    siegel case ${ref} --mediator ADDRESS",
    },
}
"""What the operator does about a mail of a case that bounced, by whom it went to and
what the bounce did (`mediation.bounces`); values ``slug``, ``ref``, ``address`` (the
address that bounced) and ``current`` (the shop's support address now)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def _catalogue(language: str, prefix: str = "") -> dict[str, dict[str, str]]:
    """The templates of ``PREFIXlanguage.toml`` (``report_``: the monthly reports)."""
    if language not in LANGUAGES:
        raise ValueError(f"no templates in {language!r}; languages: {LANGUAGES}")
    with (_HERE / f"{prefix}{language}.toml").open("rb") as handle:
        parties = tomllib.load(handle)
    return {
        f"{party}.{name}": entry
        for party, entries in parties.items()
        for name, entry in entries.items()
    }


def names(language: str = "de") -> frozenset[str]:
    """Every template key (``party.name``) of a mail written in `language` (no block)."""
    return frozenset(key for key in _catalogue(language) if not key.startswith("block."))


def uses(key: str, name: str) -> bool:
    """Whether template `key` says the value `name` (``${name}`` in its text; both
    languages use the same values, as `tests/test_templates.py` checks)."""
    entry = _catalogue(LANGUAGES[0]).get(key)
    return entry is not None and f"${{{name}}}" in entry["text"]


def render_block(block: str, language: str, values: Mapping[str, str]) -> str:
    """The text of block `block` (``[block.NAME]``) in `language` with `values`."""
    entry = _catalogue(language)[f"block.{block}"]
    return string.Template(entry["text"]).substitute(_linked(values, language)).strip()


def render(key: str, language: str, values: Mapping[str, str]) -> Rendered:
    """Template `key` in `language` with `values`; KeyError when a value is missing."""
    entry = _catalogue(language).get(key) if not key.startswith("block.") else None
    if entry is None:
        raise KeyError(f"no template {key!r} in {language!r}")
    return fill(entry, language, values)


def fill(entry: Mapping[str, str], language: str, values: Mapping[str, str]) -> Rendered:
    """A template's ``subject`` and ``text`` with `values` (of any catalogue), its web
    links in `language`, and the HTML part with those links."""
    values = _linked(values, language)
    subject = string.Template(entry["subject"]).substitute(values)
    text = string.Template(entry["text"]).substitute(values).strip() + "\n"
    # An empty optional value (nothing quoted) leaves no gap of blank lines.
    text = re.sub(r"\n{3,}", "\n\n", text)
    links = [values[name] for name in LINKS if _is_link(values.get(name, ""))]
    return Rendered(" ".join(subject.split()), text, to_html(text, language, links))


def _is_link(value: str) -> bool:
    return value.startswith(("http://", "https://")) and not any(c.isspace() for c in value)


def in_language(url: str, language: str) -> str:
    """Web link `url` opening in `language` (``?lang=``, which every page reads)."""
    return f"{url}{'&' if '?' in url else '?'}lang={language}"


def _linked(values: Mapping[str, str], language: str) -> dict[str, str]:
    """`values` with each web link of ours (`LINKS`) in `language`."""
    return dict(values) | {
        name: in_language(values[name], language)
        for name in LINKS
        if _is_link(values.get(name, ""))
    }


REPORT_PARAMETERS = ("month", "merchant_name", "figures", "tier_changes")


def render_report(key: str, language: str, values: Mapping[str, str]) -> Rendered:
    """A monthly report (``report_de.toml``, ``report_en.toml``) with `values`."""
    return fill(_catalogue(language, "report_")[key], language, values)


def to_html(text: str, language: str, links: Sequence[str] = ()) -> str:
    """A simple HTML rendering of `text`: paragraphs, line breaks, quotes; all escaped.
    Each of `links` (http and https URLs we wrote) is a link where it stands outside a
    quote; nothing else is."""
    found = _link_pattern(tuple(links))
    blocks: list[str] = []
    for paragraph in text.strip().split("\n\n"):
        lines = paragraph.splitlines()
        quoted = [line[1:].removeprefix(" ") for line in lines if line.startswith(">")]
        if lines and len(quoted) == len(lines):
            inner = "<br>\n".join(html.escape(line) for line in quoted)
            blocks.append(f"<blockquote><p>{inner}</p></blockquote>")
        else:
            inner = "<br>\n".join(_with_links(line, found) for line in lines)
            blocks.append(f"<p>{inner}</p>")
    body = "\n".join(blocks)
    return (
        f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8"></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


@cache
def _link_pattern(links: tuple[str, ...]) -> re.Pattern[str] | None:
    """Any of `links` (the longest first), or None without any."""
    ours = sorted({link for link in links if _is_link(link)}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, ours))) if ours else None


def _with_links(line: str, links: re.Pattern[str] | None) -> str:
    """`line` escaped, each of our links in it an ``<a href>``."""
    if links is None:
        return html.escape(line)
    parts, start = [], 0
    for found in links.finditer(line):
        url = html.escape(found.group(0))
        parts += [html.escape(line[start : found.start()]), f'<a href="{url}">{url}</a>']
        start = found.end()
    return "".join([*parts, html.escape(line[start:])])


def quote(text: str) -> str:
    """`text` as quoted lines (``> ``), for a forwarded message inside a template,
    without the characters that would change how it shows (`UNSHOWN_IN_TEXT`)."""
    lines = UNSHOWN_IN_TEXT.sub("", text).strip().splitlines() or [""]
    return "\n".join(f"> {line}".rstrip() for line in lines)


def format_moment(moment: datetime | None, language: str, timezone: str) -> str:
    """A moment as people read it, in their language and time zone (DST-aware)."""
    if moment is None:
        return _NO_DEADLINE[language]
    local = moment.astimezone(ZoneInfo(timezone))
    zone = local.tzname() or timezone
    weekday = _WEEKDAYS[language][local.weekday()]
    month = _MONTHS[language][local.month - 1]
    if language == "de":
        zone = _GERMAN_ZONE_NAMES.get(zone, zone)
        return f"{weekday}, {local.day}. {month} {local.year}, {local:%H:%M} Uhr ({zone})"
    return f"{weekday}, {local.day} {month} {local.year}, {local:%H:%M} ({zone})"


def calendar_day(day: date, language: str) -> str:
    """A day as its reader writes it: "14.12.2026" in German, "14 December 2026" in English."""
    if language == "de":
        return day.strftime("%d.%m.%Y")
    return f"{day.day} {_MONTHS[language][day.month - 1]} {day.year}"


_THEIR_WORDS = {"de": "${name} schreibt dazu:", "en": "${name} wrote:"}


def their_words(name: str, text: object, language: str) -> str:
    """What a party wrote (its own new text), quoted under a line naming it; empty when
    it wrote nothing of its own."""
    if not text or not str(text).strip():
        return ""
    lead = string.Template(_THEIR_WORDS[language]).substitute(name=name)
    return f"{lead}\n\n{quote(str(text)[:20_000])}"


_GREETINGS = {"de": ("Guten Tag ${name},", "Guten Tag,"), "en": ("Hello ${name},", "Hello,")}
_ADDRESS_ONLY = re.compile(r"<?[^\s@<>]+@[^\s@<>]+>?")


def person_name(name: str | None, address: str) -> str:
    """The name to call someone by: `name` as they gave it (spaces collapsed), or ""
    when they gave none, or gave an address as their name (``dave@example.com
    <dave@example.com>``): the one rule for every name a template shows."""
    cleaned = " ".join((name or "").split()).strip("\"' ")
    if not cleaned or _ADDRESS_ONLY.fullmatch(cleaned) or cleaned.lower() == address.lower():
        return ""
    return cleaned


def greeting(name: str | None, address: str, language: str) -> str:
    """ "Guten Tag Erika Muster," / "Hello Erika Muster,"; without a name "Guten Tag," /
    "Hello,"."""
    named, anonymous = _GREETINGS[language]
    called = person_name(name, address)
    return string.Template(named).substitute(name=called) if called else anonymous


def mailbox(name: str | None, address: str) -> str:
    """ "Erika Muster <erika@example.org>", or the address alone when there is no name."""
    called = person_name(name, address)
    return f"{called} <{address}>" if called else address


_ATTACHMENT_TEXTS = {
    "de": {
        "attached": "Anhänge der Kundin / des Kunden, an diese E-Mail angehängt:",
        "attached_merchant": "Anhänge des Händlers, an diese E-Mail angehängt:",
        "attached_mediator": "Anhänge der Schlichtungsstelle, an diese E-Mail angehängt:",
        "merchant": "Nicht angehängt, aber beim Fall gespeichert (die Schlichtungsstelle "
        "kann sie einsehen):",
        "mediator": "Nicht angehängt, aber beim Fall gespeichert (der Betreiber gibt sie "
        "Ihnen auf Nachfrage):",
        Enclosure.WITHHELD: "ein Dateityp, den Mailanbieter nicht zustellen",
        Enclosure.OVER_LIMIT: "mehr, als eine E-Mail trägt (höchstens ${count} Anhänge, "
        "zusammen ${size})",
        "unnamed": "(ohne Namen)",
        "bytes": "Bytes",
    },
    "en": {
        "attached": "The customer's attachments, attached to this email:",
        "attached_merchant": "The shop's attachments, attached to this email:",
        "attached_mediator": "The mediation service's attachments, attached to this email:",
        "merchant": "Not attached, but kept with the case (the mediation service can see them):",
        "mediator": "Not attached, but kept with the case (the operator sends them on request):",
        Enclosure.WITHHELD: "a file type that mail providers do not deliver",
        Enclosure.OVER_LIMIT: "more than one email carries (at most ${count} attachments, "
        "${size} in all)",
        "unnamed": "(unnamed)",
        "bytes": "bytes",
    },
}


def attachment_list(
    planned: tuple[tuple[Attachment, Enclosure], ...],
    policy: AttachmentPolicy,
    language: str,
    reader: str = "merchant",
    writer: str = "customer",
) -> str:
    """The attachments a forward carries and, apart, those it withholds with why (name,
    type and size of each), for `reader` (``mediator``, or another party: who can see
    the withheld ones), as sent by `writer` (``customer``, ``merchant``, ``mediator``);
    empty without any."""
    texts = _ATTACHMENT_TEXTS[language]

    def line(attachment: Attachment) -> str:
        name = attachment.filename or texts["unnamed"]
        size = format_size(attachment.size, language)
        return f"- {name} ({attachment.content_type}, {size})"

    attached = [line(a) for a, how in planned if how is Enclosure.ATTACHED]
    limits = {"count": str(policy.max_count), "size": format_size(policy.max_bytes, language)}
    kept = [
        f"{line(a)}: " + string.Template(texts[how]).substitute(limits)
        for a, how in planned
        if how is not Enclosure.ATTACHED
    ]
    sections = []
    if attached:
        heading = texts["attached" if writer == "customer" else f"attached_{writer}"]
        sections.append("\n".join([heading, *attached]))
    if kept:
        sections.append(
            "\n".join([texts["mediator" if reader == "mediator" else "merchant"], *kept])
        )
    return "\n\n".join(sections)


def format_count(count: int, language: str) -> str:
    """A whole number with thousands grouped as the language writes them: "20.575",
    "20,575"."""
    grouped = f"{count:,}"
    return grouped.replace(",", ".") if language == "de" else grouped


def format_size(size: int, language: str) -> str:
    """A size as people read it: "834 Bytes", "120 KB", "1,2 MB" (units of 1024)."""
    if size < 1024:
        return f"{size} {_ATTACHMENT_TEXTS[language]['bytes']}"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    megabytes = f"{size / (1024 * 1024):.1f}".removesuffix(".0")
    return f"{megabytes.replace('.', ',') if language == 'de' else megabytes} MB"


_MEDIATION_SERVICE = {"de": "die Schlichtungsstelle", "en": "the mediation service"}


def forwarded_to(to: object, mediating: bool, names: Mapping[str, str], language: str) -> str:
    """Who a party's message went on to: the mediation service while a case is in
    mediation, else the other party (by name); empty for anyone else."""
    if str(to) not in ("customer", "merchant"):
        return ""
    if mediating:
        return _MEDIATION_SERVICE[language]
    return names["merchant" if str(to) == "customer" else "customer"]


_NOTHING_TO_DO = {
    "de": {
        "customer": "Sie müssen jetzt nichts tun. Die Antwort leiten wir Ihnen weiter.",
        "merchant": "Sie müssen jetzt nichts tun. Antworten darauf leiten wir Ihnen weiter.",
    },
    "en": {
        "customer": "You do not need to do anything now. We will forward the answer to you.",
        "merchant": "You do not need to do anything now. We will forward any answer to you.",
    },
}
_PROPOSAL_AWAITS = {
    "de": "Der Schlichtungsvorschlag wartet aber noch auf Ihre Antwort: Antworten Sie bis "
    "${deadline} auf unsere E-Mail mit dem Vorschlag und schreiben Sie, ob Sie ihn "
    "annehmen oder ablehnen.",
    "en": "The settlement proposal still awaits your answer, though: reply to our email "
    "with the proposal by ${deadline} and say whether you accept or reject it.",
}
_UNCOUNTED = {
    "de": {
        "party": "Ihre Nachricht liest sich wie ${verdict} des Vorschlags, antwortet aber nicht "
        "auf unsere E-Mail mit dem geltenden Vorschlag. Als Antwort auf den Vorschlag haben "
        "wir sie deshalb nicht gezählt.",
        "mediator": "Die Nachricht liest sich wie ${verdict} Ihres Vorschlags, antwortet aber "
        "nicht auf die E-Mail mit dem geltenden Vorschlag: Als Antwort zählt sie nicht. Die "
        "Partei haben wir darauf hingewiesen.",
        "accept": "eine Annahme",
        "reject": "eine Ablehnung",
    },
    "en": {
        "party": "Your message reads as ${verdict} of the proposal, but it does not answer "
        "our email with the current proposal. So we have not counted it as your answer to "
        "the proposal.",
        "mediator": "The message reads as ${verdict} of your proposal, but it does not "
        "answer the email with the current proposal: it does not count as an answer. We "
        "have told the party so.",
        "accept": "an acceptance",
        "reject": "a rejection",
    },
}


def what_now(to: object, awaits_answer: bool, deadline: str, language: str) -> str:
    """What is up to a party whose message we passed on: nothing, or its answer to the
    pending proposal by `deadline` (`awaits_answer`); empty for anyone else."""
    if str(to) not in ("customer", "merchant"):
        return ""
    if awaits_answer:
        return string.Template(_PROPOSAL_AWAITS[language]).substitute(deadline=deadline)
    return _NOTHING_TO_DO[language][str(to)]


def uncounted_verdict(verdict: object, to: object, language: str) -> str:
    """That a party's words ``accept``/``reject`` (`verdict`) did not count as its answer
    to the proposal, for that party or the mediator; empty without such words."""
    texts = _UNCOUNTED[language]
    if verdict not in ("accept", "reject") or str(to) == "operator":
        return ""
    reader = "mediator" if str(to) == "mediator" else "party"
    return string.Template(texts[reader]).substitute(verdict=texts[str(verdict)])


def party_label(role: str, language: str) -> str:
    return PARTY_LABELS[language].get(role, role)


def event_label(kind: str, language: str) -> str:
    return EVENT_LABELS[language].get(kind, kind)


def problem_text(code: str, language: str) -> str:
    return PROBLEM_TEXTS[language].get(code, code)


def held_text(reason: str, language: str) -> str:
    return HELD_TEXTS[language].get(reason, reason)


def bounce_step(situation: str, language: str, values: Mapping[str, str]) -> str:
    """What the operator does about a bounce in `situation` (`BOUNCE_STEPS`), in `language`."""
    return string.Template(BOUNCE_STEPS[language][situation]).substitute(values)


_ABOUT_CASE = {"de": ("Fall ${ref}", "kein Fall"), "en": ("case ${ref}", "no case")}


def about_case(ref: str | None, language: str) -> str:
    """ "Fall SSG-2026-000123" / "case SSG-2026-000123"; "kein Fall" / "no case" without one."""
    named, none = _ABOUT_CASE[language]
    return string.Template(named).substitute(ref=ref) if ref else none


_ALSO_NAMED = {
    "de": "Ihre Nachricht nennt auch {names}. Dieser Fall betrifft nur {merchant}: Möchten Sie "
    "sich auch über {other} beschweren, schreiben Sie uns dazu bitte eine eigene E-Mail an "
    "{address}.",
    "en": "Your message also names {names}. This case is about {merchant} only: if you also "
    "want to complain about {other}, please send us a separate email to {address}.",
}
_SEVERAL_NAMED = {
    "de": "Ihre Nachricht nennt mehrere Shops: {names}. Ein Fall betrifft immer einen Shop: "
    "Nennen Sie uns bitte den, um den es hier geht, und schreiben Sie uns zu jedem anderen "
    "bitte eine eigene E-Mail an {address}.",
    "en": "Your message names several shops: {names}. A case is about one shop: please tell "
    "us which one this case is about, and send us a separate email about any other to "
    "{address}.",
}
_AND = {"de": "und", "en": "and"}
_THAT_SHOP = {"de": ("diesen Shop", "diese Shops"), "en": ("that shop", "those shops")}


def also_named(names: Sequence[str], merchant: str | None, address: str, language: str) -> str:
    """The paragraph that tells a customer whose complaint names other registered shops
    besides `merchant` that its case is about `merchant` alone, or, with no `merchant`
    (several named, none decided), that a case is about one shop; empty when there are
    none."""
    if not names:
        return ""
    listed = list(names)
    joined = (
        listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} {_AND[language]} {listed[-1]}"
    )
    if merchant is None:
        return _SEVERAL_NAMED[language].format(names=joined, address=address)
    other = _THAT_SHOP[language][len(listed) > 1]
    return _ALSO_NAMED[language].format(
        names=joined, merchant=merchant, other=other, address=address
    )


_STATED_REASON = {"de": "Der Grund:", "en": "The reason:"}


def stated_reason(reason: object, language: str) -> str:
    """The operator's reason for an act, under a line that says so; empty without one."""
    text = str(reason or "").strip()
    return f"{_STATED_REASON[language]}\n\n{text}" if text else ""
