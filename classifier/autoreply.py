"""Text rules that recognise automatic replies: out-of-office notes, ticket
acknowledgements and delivery-failure texts, in German and English.

Owns `AUTO_REPLY_RULES`, an ordered table of small named rules, and `match_auto_reply`.
They complement the header rules in `classifier.machine` (RFC 3834 `Auto-Submitted`,
RFC 3464 DSNs) for the many systems that send such mail without those headers, and the
model in `classifier.model`, which learns the wording that no rule names. A rule is
`decisive` when its wording does not occur in a substantive human reply; the others are
reported as evidence only. A human who mentions a past vacation ("I was on vacation, your
refund was sent today") matches no decisive rule: the phrases are in the present or
future tense and name the absence itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OUT_OF_OFFICE = "out_of_office"
TICKET_ACK = "ticket_ack"
DELIVERY_FAILURE = "delivery_failure"
HUMAN = "human"
AUTO_REPLY_KINDS = (OUT_OF_OFFICE, TICKET_ACK, DELIVERY_FAILURE)

# Up to 80 characters of the same sentence: a dot counts as a sentence end only when a
# capital letter follows ("bis 14.08. nicht im Büro" is one sentence).
_SAME_SENTENCE = r"(?:[^.!?\n]|\.(?!\s+(?-i:[A-ZÄÖÜ]))){0,80}?"
# Automatic replies say what they are near the top; reading more only costs time.
_BODY_LIMIT = 4000


@dataclass(frozen=True)
class AutoReplyRule:
    id: str
    kind: str
    field: str  # "subject" or "body"
    pattern: re.Pattern[str]
    decisive: bool
    # Lower-case words of which the text must contain one before the pattern is tried
    # (and one of `also`, when given): a substring test is much cheaper than a regular
    # expression, and most mails contain none of them.
    triggers: tuple[str, ...]
    also: tuple[str, ...]
    # Patterns that tell sentences apart need the capital letters: they run on the text
    # itself, case-insensitively. All others run on the lower-cased text, case-sensitively,
    # which is several times faster (and the same but for the Turkish i and the long s).
    reads_case: bool


@dataclass(frozen=True)
class AutoReplyHit:
    rule: str
    kind: str
    decisive: bool
    detail: str  # the matched words, for operators asking "why?"


def _rule(
    rule_id: str,
    triggers: tuple[str, ...],
    kind: str,
    field: str,
    pattern: str,
    decisive: bool = True,
    also: tuple[str, ...] = (),
) -> AutoReplyRule:
    reads_case = "(?-i:" in pattern
    compiled = re.compile(pattern, re.IGNORECASE if reads_case else 0)
    return AutoReplyRule(rule_id, kind, field, compiled, decisive, triggers, also, reads_case)


AUTO_REPLY_RULES: tuple[AutoReplyRule, ...] = (
    _rule(
        "ooo-subject",
        ("abwesen", "office", "automati", "reply", "urlaub", "büro"),
        OUT_OF_OFFICE,
        "subject",
        # At the start: "AW: Automatische Antwort: ..." is a human answering an auto-reply.
        r"^\s*(?:abwesenheits(?:notiz|nachricht|meldung)|out of (?:the )?office|automatische"
        r" antwort|automatic reply|auto[- ]?reply|autoreply|urlaubs(?:abwesenheit|notiz)"
        r"|nicht im büro|away from the office)\b",
    ),
    _rule(
        "ooo-phrase",
        (
            "ich bin",
            "bin ich",
            "ich befinde",
            "wir sind",
            "sind wir",
            "i am",
            "i'm",
            "i will be",
            "we are",
        ),
        OUT_OF_OFFICE,
        "body",
        r"\b(?:ich bin|bin ich|ich befinde mich|wir sind|sind wir)\b"
        + _SAME_SENTENCE
        + r"(?:nicht im büro|nicht im hause?|außer haus|ausser haus|abwesend|im urlaub"
        r"|nicht erreichbar|in elternzeit|auf (?:dienst)?reise|nicht am arbeitsplatz)"
        r"|\b(?:i am|i'm|i will be|we are)\b" + _SAME_SENTENCE + r"(?:out of (?:the )?office"
        r"|on (?:annual |parental |sick )?(?:leave|vacation|holiday)|away from (?:the |my )?"
        r"(?:office|desk)|out of town|limited access to (?:e-?mail|my e-?mail))",
        # Merchants answer while away too ("I'm still on leave, but: refund sent").
        decisive=False,
        # Every ending the pattern allows contains one of these.
        also=(
            "büro",
            "haus",
            "abwesend",
            "urlaub",
            "erreichbar",
            "elternzeit",
            "reise",
            "arbeitsplatz",
            "out of",
            "leave",
            "vacation",
            "holiday",
            "away from",
            "limited access",
        ),
    ),
    _rule(
        "ooo-return",
        ("rückkehr", "rueckkehr", "wieder", "return", "be back"),
        OUT_OF_OFFICE,
        "body",
        r"\b(?:nach meiner rückkehr|nach meiner rueckkehr|ab dem [^.\n]{0,20} wieder"
        r"|upon my return|when i return|after my return|on my return|i will be back)\b",
        decisive=False,
    ),
    _rule(
        "ooo-urgent-contact",
        ("dringend", "weitergeleitet", "urgent", "forwarded"),
        OUT_OF_OFFICE,
        "body",
        r"\b(?:in dringenden fällen|in dringenden faellen|bei dringenden anliegen"
        r"|ihre (?:e-mail|nachricht) wird nicht weitergeleitet|for urgent (?:matters|issues|"
        r"requests|enquiries|inquiries)|in urgent cases|if your (?:matter|request) is urgent"
        r"|your (?:e-?mail|message) will not be forwarded)",
        decisive=False,
    ),
    _rule(
        "automated-message",
        ("automat", "auto-generated"),
        TICKET_ACK,
        "body",
        r"\b(?:this is an? (?:automated|automatic|auto-generated|automatically generated)"
        r"|dies ist eine (?:automatische|automatisch (?:generierte|erstellte|erzeugte)))"
        r" (?:response|reply|message|notification|confirmation|e-?mail|antwort|nachricht"
        r"|benachrichtigung|bestätigung|eingangsbestätigung)",
    ),
    _rule(
        "do-not-reply",
        ("do not reply", "antworten sie nicht", "automatisch"),
        TICKET_ACK,
        "body",
        r"\b(?:please do not reply (?:to|directly to) this (?:e-?mail|message)"
        r"|bitte antworten sie nicht (?:direkt )?auf diese (?:e-mail|nachricht|mail)"
        r"|diese (?:e-mail|nachricht) wurde automatisch"
        r" (?:erstellt|generiert|versendet|verschickt))",
    ),
    _rule(
        "ticket-created",
        ("ticket", "anfrage", "vorgang", "request", "case"),
        TICKET_ACK,
        "body",
        r"\b(?:ihr(?:e)? (?:ticket|anfrage|vorgang|support-?anfrage)[^.\n]{0,40}?"
        r"(?:wurde|ist) (?:unter [^.\n]{0,30})?(?:erstellt|eröffnet|angelegt|erfasst|registriert)"
        r"|(?:your|a) (?:support )?(?:ticket|request|case)[^.\n]{0,40}?(?:has been|was|is)"
        r" (?:created|opened|logged|registered))",
    ),
    _rule(
        "ticket-received",
        ("erhalten", "eingegangen", "received", "contacting"),
        TICKET_ACK,
        "body",
        r"\b(?:wir haben ihre (?:anfrage|nachricht|e-mail|mail) erhalten"
        r"|ihre (?:anfrage|nachricht) ist bei uns eingegangen"
        r"|we have received your (?:request|message|e-?mail|enquiry|inquiry)"
        r"|we(?:'ve| have) received your|thank you for contacting [^.\n]{0,40}support)",
        decisive=False,
    ),
    _rule(
        "ticket-subject",
        ("ticket", "request", "case", "anfrage", "vorgang", "received", "eingangsbest"),
        TICKET_ACK,
        "subject",
        r"(?:\[?(?:ticket|request|case|anfrage|vorgang)\s*(?:#|nr\.?|id:?)\s*\d+\]?"
        r"|request received|anfrage erhalten|eingangsbestätigung|we received your)",
        decisive=False,
    ),
    _rule(
        "dsn-subject",
        ("deliver", "zustell", "returned mail", "failure"),
        DELIVERY_FAILURE,
        "subject",
        r"\b(?:undeliverable|unzustellbar|nicht zustellbar|delivery status notification"
        r"|mail delivery (?:failed|failure|subsystem)|returned mail|undelivered mail"
        r"|delivery failure|zustellung fehlgeschlagen|failure notice|unzustellbare nachricht)",
    ),
    _rule(
        "dsn-phrase",
        (
            "mail system",
            "deliver",
            "following",
            "mailbox",
            "user unknown",
            "rejected",
            "zugestellt",
            "zustellung",
            "abgelehnt",
            "postfach",
        ),
        DELIVERY_FAILURE,
        "body",
        r"(?:this is the mail system at host|could not be delivered to one or more recipients"
        r"|delivery has failed to these recipients|your message (?:could not|wasn't|was not)"
        r" (?:be )?delivered|message not delivered|the following (?:message|address(?:es)?)"
        r"[^\n]{0,60}?(?:undeliverable|failed)|mailbox (?:unavailable|full|not found|is full)"
        r"|user unknown|recipient address rejected|die nachricht konnte nicht (?:an [^\n]{0,60}?)?"
        r"zugestellt werden|(?:e-mail|nachricht|mail) (?:an [^\n]{0,60}?)?konnte nicht zugestellt"
        r"|zustellung an [^\n]{0,60}?fehlgeschlagen|empfängeradresse (?:wurde )?abgelehnt"
        r"|postfach (?:ist )?(?:voll|nicht verfügbar))",
    ),
    _rule(
        "dsn-status-code",
        # The pattern needs a status code after a space or dash, or a "Status:" line.
        (" 5.", "-5.", " 4.", "-4.", "status: "),
        DELIVERY_FAILURE,
        "body",
        r"\b(?:5[0-9]{2}[ -]5\.\d\.\d{1,3}|4[0-9]{2}[ -]4\.\d\.\d{1,3}"
        r"|status: [45]\.\d\.\d{1,3})\b",
    ),
)


def match_auto_reply(subject: str, body: str) -> list[AutoReplyHit]:
    """All rules that match, in table order."""
    fields = {"subject": subject or "", "body": (body or "")[:_BODY_LIMIT]}
    lowered = {name: text.lower() for name, text in fields.items()}
    # Which trigger words each field contains: one pass over all words of the table.
    present = {
        name: {word for word in _TRIGGER_WORDS[name] if word in lowered[name]} for name in fields
    }
    hits = []
    for rule in AUTO_REPLY_RULES:
        text, low = fields[rule.field], lowered[rule.field]
        if present[rule.field].isdisjoint(rule.triggers):
            continue
        if rule.also and not any(map(low.__contains__, rule.also)):
            continue
        match = rule.pattern.search(text if rule.reads_case else low)
        if match:
            # The words as written, where lower-casing kept every offset (it nearly always does).
            same_offsets = rule.reads_case or len(low) == len(text)
            detail = text[match.start() : match.end()] if same_offsets else match.group(0)
            hits.append(AutoReplyHit(rule.id, rule.kind, rule.decisive, detail[:120]))
    return hits


_TRIGGER_WORDS = {
    field: tuple(
        {word for rule in AUTO_REPLY_RULES if rule.field == field for word in rule.triggers}
    )
    for field in ("subject", "body")
}


_PRECEDENCE = (DELIVERY_FAILURE, OUT_OF_OFFICE, TICKET_ACK)


def decisive_kind(hits: list[AutoReplyHit]) -> str | None:
    """The kind named by a decisive hit, if any; a bounce that calls itself "automatically
    generated" is a delivery failure, so delivery failures take precedence."""
    kinds = {hit.kind for hit in hits if hit.decisive}
    return next((kind for kind in _PRECEDENCE if kind in kinds), None)


def evidence_kinds(hits: list[AutoReplyHit]) -> set[str]:
    """Kinds named by rules that are evidence only."""
    return {hit.kind for hit in hits if not hit.decisive}
