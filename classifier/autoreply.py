"""Text rules that recognise automatic replies: out-of-office notes, ticket acknowledgements
and delivery-failure texts (challenge-response filters that hold a mail until its sender
"confirms it is no robot" among them), in German and English, and the human answers that
resemble them.

Owns `AUTO_REPLY_RULES`, an ordered table of small named rules, and `match_auto_reply`.
They complement the header rules in `classifier.machine` (RFC 3834 `Auto-Submitted`,
RFC 3464 DSNs) for the many systems that send such mail without those headers, and the
model in `classifier.model`, which learns the wording that no rule names.

The line they draw is the one the seal's reaction time needs: a mail that answers the
matter or reports an action taken is a human answer, whatever courtesy it opens with; one
that only acknowledges receipt, announces an absence or promises an answer later is not.

Each rule has a strength:
- `declared`: the mail says what it is ("This is an automated message", a subject that
  starts "Automatic reply:", a bounce); nothing overrides it, but for one case: a person's
  answer above a generic "Diese Nachricht wurde automatisch erstellt" (the footer ticket
  systems and shop back ends put under their agents' answers, as they do "please do not
  reply") is a person's answer.
- `decisive`: settles the kind unless a decisive human rule fired too. Most decisive rules
  are combinations of evidence (`RuleCombination`): an absence together with its end or a
  promise to answer later, a confirmed receipt together with a ticket number or such a
  promise, said close together. Alone, each of those is something people write too
  ("I'm on leave, but the refund was sent today"), and a question ("Can the deadline be
  extended?") cancels the combination: whoever asks wants an answer. Terse notes set by
  hand leave out the subject ("Bin bis 14.12. im Urlaub", "On vacation until Dec 14, will
  reply when back", "Zurück am 15.12."): the `ooo-terse*` rules read such an absence only
  where it opens a clause and the clause ends with it or its span, never mid-sentence ("Der
  Shop ist seit Wochen nicht erreichbar") or in a question. A terse receipt with a vague
  promise ("Danke, ist angekommen. Wir kümmern uns darum.") is decisive only as the whole
  text (`ack-terse`): one fact more and it answers the matter.
- `evidence`: only tips a model that is undecided about its kind.
The human rules read reports of an action taken ("we have refunded 49,90 EUR", "der
Ersatz wurde heute verschickt") in the writer's voice, without a negation or a "but"
("the refund was issued but never arrived" is a complaint quoted back, not an action),
a concrete action announced for today or tomorrow ("wir schicken heute Ersatz", "Wir sind
ab 14.12. im Urlaub, deshalb senden wir den Ersatz heute noch"), a remedy granted without a
condition ("Sie erhalten bis Freitag eine Gutschrift über 89,90 EUR", "Die Versandkosten
erstatten wir Ihnen"; "sobald die Ware bei uns ist" is how acknowledgements state their
return policy), an answer given despite an absence ("but I checked: ..."), and a
helpdesk's wrapper of an agent's public answer ("Your request (48213) has been updated",
"Ihr Ticket (48220) wurde aktualisiert"). A decisive human rule settles "human" even beside
a ticket system's boilerplate ("Wir haben Ihre Anfrage erhalten", a ticket number): the
merchant answered the matter.

What the rules settle does not depend on the case's state; the model reads the subject too,
which is our own mail's subject and differs by state, so a text left to a model that is
undecided can read differently in another state. A kind of automatic reply that the model
reads differently by subject wants a rule here.

Performance: a rule's regular expression runs only when the text contains one of its
trigger words (a substring test); the body is read up to a bound, no pattern nests
repetition, and combinations only look at the hits already found. A pattern that looks for
the start of a clause begins with the mark before it (`_CLAUSE_START`, a character class
that the engine skips to), not with a look-behind tried at every position.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

OUT_OF_OFFICE = "out_of_office"
TICKET_ACK = "ticket_ack"
DELIVERY_FAILURE = "delivery_failure"
HUMAN = "human"
AUTO_REPLY_KINDS = (OUT_OF_OFFICE, TICKET_ACK, DELIVERY_FAILURE)
# The kind of a rule that tells a mail is automatic but not which kind: the other hits
# name it ("This is an automated message. Our office is closed ..." is an absence).
AUTOMATIC = "automatic"

DECLARED = "declared"
DECISIVE = "decisive"
EVIDENCE = "evidence"

# Up to 80 characters of the same sentence: a dot counts as a sentence end only when a
# capital letter follows ("bis 14.08. nicht im Büro" is one sentence).
_SAME_SENTENCE = r"(?:[^.!?\n]|\.(?!\s+(?-i:[A-ZÄÖÜ]))){0,80}?"
# Words that may not stand between the parts of an action report: negations, and the
# verbs of someone who received rather than did it ("I was refunded", "we got ...").
_NEGATIONS = r"nicht|nie|niemals|kein|keine|keinen|keiner|not|never|no|was|were|been|got|get"
# One character of the same sentence that starts no negation (a dot between digits, as in
# "49.90 EUR", ends no sentence).
_NOT_NEGATED = rf"(?:(?!\b(?:{_NEGATIONS})\b)(?:[^.!?\n]|\.(?=\d)))"
# Nor may a "but" or a negation follow it in its sentence ("... was issued, but never came").
_UNDISPUTED = r"(?![^.!?\n]{0,60}?\b(?:aber|jedoch|allerdings|but|however|nicht|nie|never|not)\b)"
# Where a clause starts: after a sentence mark, a comma or a colon ("Hallo, bin bis 14.12.
# im Urlaub", "Danke, ist angekommen"), but not after the dot of a date ("ab 14.12. im
# Urlaub"), or at the start of the body, which `match_auto_reply` reads after a line break.
# Terse notes leave out the subject there ("Bin im Urlaub", "On vacation until ...");
# mid-clause, such words alone announce nothing. The match starts with the mark itself: a
# pattern that starts with a character class skips the other positions quickly, one that
# starts with a look-behind tries them all, five times slower.
_CLAUSE_START = r"[!?\n,;:.](?<!\d\.)\s*"
# What such a match starts with, left out of the words a hit shows.
_CLAUSE_MARKS = "!?\n,;:. \t\r"
# A terse absence is a statement: no question ("Sind Sie im Urlaub?") ends its sentence.
_NO_QUESTION = r"(?![^!?\n]{0,40}\?)"
# What an absence is, in the words of out-of-office notes.
_ABSENT_DE = (
    r"(?:nicht im büro|nicht im hause?|außer haus|ausser haus|abwesend|im urlaub"
    r"|im betriebsurlaub|in den betriebsferien|in betriebsferien|nicht erreichbar"
    r"|in elternzeit|im mutterschutz|krank\b|krankgeschrieben|erkrankt"
    r"|auf (?:dienst|geschäfts)?reisen?\b|auf (?:einer|der) (?:fach)?messe|auf messen\b"
    r"|nicht am arbeitsplatz|nicht am (?:schreibtisch|platz)|(?:in der )?mittagspause|unterwegs"
    r"|verreist|im ausland)"
)
_ABSENT_EN = (
    r"(?:out of (?:the )?office|on (?:annual |parental |maternity |paternity |sick |medical )?"
    r"(?:leave|vacation|holidays?)|away from (?:the |my )?(?:office|desk)|out of town|out sick"
    r"|off sick|off work|travell?ing|on a business trip|on the road|out to lunch"
    r"|(?:out |away )?(?:at|on) (?:a |my |our )?lunch(?: break)?"
    r"|at (?:a|the) (?:trade )?(?:fair|show|conference)|abroad)"
)
# Words that may stand between the elided subject and the absence of a terse note:
# adverbs ("derzeit", "leider") and a span of time ("bis 14.12.", "vom 4. bis 14.12.",
# "ab morgen"), each a word or two, never a clause of its own ("Der Shop ist seit Wochen
# nicht erreichbar" names no absence of the writer).
_DE_ADVERB = (
    r"(?:(?:derzeit|momentan|aktuell|gerade|grad|grade|zurzeit|noch|leider|heute|ab sofort"
    r"|urlaubsbedingt|krankheitsbedingt|die nächsten tage|diese woche|bis auf weiteres)\s+)?"
)
_DE_SPAN = (
    r"(?:(?:ab|bis|vom|von|am|zum)\s+(?:einschließlich\s+|einschl\.\s+|inkl\.\s+|dem\s+|den\s+"
    r"|zum\s+)?[\w.]{1,12}(?:\s(?!bis\b)[\w.]{1,12})?\s+)?"
)
# A date or a day in a word or two: "15.12.", "Montag", "14 December", "Dec 14"; not now
# ("ab sofort wieder erreichbar" is back already).
_DAY = r"(?!(?:sofort|jetzt|heute|gleich|now|today)\b)[\w.]{1,12}(?:\s[\w.]{1,12})?"
# A terse note of return ends its clause there, and then the text, or goes on with a
# promise or a greeting: "Zurück am 15.12.", "Back on Monday, will reply then." ("Back on
# 3 December I ordered ..." tells a story).
_NOTE_ENDS = (
    r"(?=\s*(?:$|[.!,;:\n–-]\s*(?:$|(?:i\s+)?will\b|i'll\b|(?:ich\s+)?(?:melde|antworte)\b"
    r"|(?:dann|danach|bis dahin|then|until then)\b|gruß|grüße|viele grüße|lg\b|vg\b|best\b"
    r"|regards|cheers|thanks|danke)))"
)
# The writer announces an absence in the same clause: German notes end it there, or go on
# with its end or return ("Im Urlaub bis 14.12.", "Unterwegs, zurück am 15.12."), English
# ones too ("On vacation until Dec 14", "Travelling this week").
_ABSENCE_ENDS_DE = r"(?=\s*(?:$|[.!,;:\n(–-]|(?:bis|vom|ab|und|zurück|mit|ohne|sowie)\b))"
_ABSENCE_ENDS_EN = (
    r"(?=\s*(?:$|[.!,;:\n(–-]|(?:until|till|through|thru|from|and|with|back|returning|this"
    r"|today|for)\b))"
)
# An action announced for now, in the writer's voice ("wir schicken heute Ersatz"): the verbs
# of sending, which need the thing sent, the verbs of paying back, which name it, and when.
_SEND_DE = (
    r"schicken|schicke|senden|sende|versenden|versende|liefern|liefere|tauschen|tausche"
    r"|veranlassen|veranlasse|buchen|buche"
)
_SENT_DE = (
    r"ersatz\w*|erstattung|rückerstattung|gutschrift|geld|betrag|paket|ware|neue[nrs]?\b"
    r"|rücksendeetikett|retourenschein|retourenlabel|gerät|artikel|\d+,\d\d"
    # Sent again: "wir schicken sie heute erneut per Express".
    r"|erneut|nochmals|noch einmal"
)
_REFUND_DE = r"erstatten|erstatte|überweisen|überweise|stornieren|storniere|zahlen|zahle"
_SOON_DE = r"heute|sofort|gleich|umgehend|morgen"
_SEND_EN = (
    r"resending|reshipping|sending|shipping|dispatching|posting|issuing|resend|reship|send|ship"
    r"|dispatch|post|issue"
)
_SENT_EN = (
    r"replacement|refund|new one|money|full amount|parcel|package|order|credit|return label"
    r"|\d+[.,]\d\d|again"
)
_REFUND_EN = r"refunding|reimbursing|crediting|refund|reimburse|credit"
_SOON_EN = (
    r"today|right away|immediately|straight away|tomorrow|this morning|this afternoon"
    r"|this evening"
)
# A remedy granted or a cost taken over, in so many words (rule "remedy-granted"): "Sie
# erhalten bis Freitag eine Gutschrift über 89,90 EUR", "Die Versandkosten erstatten wir
# Ihnen", "You'll receive a full refund of 35 EUR", "We will replace the kettle". Never under
# a condition ("sobald die Ware bei uns ist", "Sollte ..., erstatten wir", "once we receive
# it"), which is how acknowledgements and return policies word them, and never asked.
_CONDITIONS = (
    r"sobald|sofern|falls|wenn|nachdem|sollte|sollten|vorausgesetzt|nach (?:eingang|erhalt"
    r"|prüfung|rücksendung|rückgabe|ankunft)|once|if|unless|should|provided|as soon as|after"
    r"|when|upon|in case|receipt of|receiving|we receive"
)
# A clause from its start (a sentence mark or a colon) up to the remedy, without a condition.
_UNCONDITIONAL = rf"[.!?\n:;](?:(?!\b(?:{_CONDITIONS})\b)[^.!?\n:;]){{0,120}}?"
_NO_CONDITION_AFTER = rf"(?![^.!?\n]{{0,80}}?\b(?:{_CONDITIONS})\b)(?![^.!?\n]{{0,120}}\?)"
_RECEIVE_DE = r"erhalten|erhält|erhältst|bekommen|bekommt|bekommst"
_REMEDY_DE = (
    r"gutschrift|erstattung|rückerstattung|rückzahlung|ersatz\w*|nachlieferung|neulieferung"
    r"|kaufpreis|geld|betrag|(?:ein|das|den|einen) neue[ns]? (?:gerät|artikel|exemplar|produkt)"
)
_COSTS_DE = r"\w*kosten|\w*gebühren?|kaufpreis|betrag|porto|\d+,\d\d"
_GRANT_DE = r"erstatten|erstatte|ersetzen|ersetze|übernehmen|übernehme"
_REMEDY_EN = (
    r"refund|credit|replacement|reimbursement|new one|full amount|money back|full price"
    r"|new (?:item|unit|device|product)"
)
# A terse acknowledgement (rule "ack-terse"): a receipt without a subject, a promise that
# names no action, and the sign-off lines a person adds (names read by their capitals).
_TERSE_RECEIPT = (
    r"(?:(?:ihre|deine|eure|die) (?:nachricht|mail|e-mail|email|anfrage|beschwerde|info) )?"
    r"(?:ist|sind|wurde|wurden) (?:(?:gut|heil|bei uns|hier|soeben|eben|erfolgreich|schon"
    r"|bereits) )?(?:(?:gut|heil|bei uns|hier) )?(?:angekommen|eingegangen|eingetroffen)"
    r"|(?:(?:wir )?haben (?:es|sie|ihre nachricht|ihre mail|die nachricht) )?(?:erhalten|bekommen)"
    r"|angekommen|got it|(?:well |message |mail |e-?mail )?received|we(?:'ve| have)? (?:got"
    r"|received) (?:it|this|your (?:message|e-?mail|mail|note))"
)
_TERSE_PROMISE = (
    r"(?:wir |ich )?(?:kümmern|kümmere) (?:uns|mich) (?:darum|drum)|(?:wir |ich )?(?:melden|melde)"
    r" (?:uns|mich)(?: bei (?:ihnen|dir|euch))?|(?:wir |ich )?(?:schauen|schaue) (?:uns|mir)"
    r" (?:das|es) an|(?:wir )?prüfen (?:das|es)|(?:wir )?sind dran|antwort folgt"
    r"|(?:we|i)(?:'ll| will| are going to) (?:look into (?:it|this)|take care of (?:it|this)"
    r"|get back to you|be in touch|follow up)|(?:we're|we are|i'm|i am) (?:on it|looking into"
    r" (?:it|this))|will (?:get back to you|look into it)"
)
_TERSE_PROMISE_WHEN = (
    r"(?: (?:so schnell wie möglich|schnellstmöglich|zeitnah|bald|in kürze|umgehend|asap"
    r"|shortly|soon|as soon as possible|as soon as we can))?"
)
_SIGN_OFF = (
    r"(?:(?:(?:viele |liebe |beste |freundliche |herzliche )?grüße|gruß|lg|vg|mfg|cheers"
    r"|best(?: regards| wishes)?|kind regards|regards|thanks|danke)\b[,.!]?\s*)?"
    r"(?-i:[A-ZÄÖÜ][\w.-]{0,20})?(?:[ ](?-i:[A-ZÄÖÜ])[\w.-]{0,20})?(?:[ ](?-i:[A-ZÄÖÜ])"
    r"[\w.-]{0,20})?[.!]?\s*(?:(?:von meinem|gesendet von meinem|sent from my) [\w ]{1,20}?"
    r"(?: gesendet)?[.!]?\s*)?"
)
# A thanks that may open a terse note ("Danke für die Info.", "Thanks,").
_THANKS_CLAUSE = (
    r"(?:(?:danke|vielen dank|besten dank|thanks|thank you|thx)\b[^\n.!?,]{0,30}[,.!]?\s*)?"
)
# A vague promise and its "soon", then only a sign-off, to the end of the text.
_PROMISE_TO_THE_END = (
    r"(?:" + _TERSE_PROMISE + r")" + _TERSE_PROMISE_WHEN + r"[.!]?\s*" + _SIGN_OFF + r"\Z"
)
# Automatic replies say what they are near the top; reading more only costs time.
_BODY_LIMIT = 4000
# The parts of a combination must stand this close in the body (parts in the subject
# always count): an automatic reply says them together, while a long complaint that
# quotes a shop's "outside our business hours" here and its "answers within 24 hours"
# there does not.
_NEAR = 300


@dataclass(frozen=True)
class AutoReplyRule:
    id: str
    kind: str
    field: str  # "subject" or "body"
    pattern: re.Pattern[str]
    strength: str  # DECLARED, DECISIVE or EVIDENCE
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
class RuleCombination:
    """Fires when, for every group in `needs`, one of its rules fired earlier in the table
    (a different one for each group), near the others (`_NEAR`), and none of the rules in
    `unless` fired."""

    id: str
    kind: str
    needs: tuple[tuple[str, ...], ...]
    unless: tuple[str, ...] = ()
    strength: str = DECISIVE


@dataclass(frozen=True)
class AutoReplyHit:
    rule: str
    kind: str
    strength: str
    detail: str  # the matched words, for operators asking "why?"
    field: str = "body"
    start: int = 0  # where the words stand in their field
    end: int = 0

    @property
    def decisive(self) -> bool:
        return self.strength != EVIDENCE


def _rule(
    rule_id: str,
    triggers: tuple[str, ...],
    kind: str,
    field: str,
    pattern: str,
    strength: str = EVIDENCE,
    also: tuple[str, ...] = (),
) -> AutoReplyRule:
    reads_case = "(?-i:" in pattern
    compiled = re.compile(pattern, re.IGNORECASE if reads_case else 0)
    return AutoReplyRule(rule_id, kind, field, compiled, strength, triggers, also, reads_case)


AUTO_REPLY_RULES: tuple[AutoReplyRule | RuleCombination, ...] = (
    # -- out of office -------------------------------------------------------------------
    _rule(
        "ooo-subject",
        (
            "abwesen",
            "office",
            "auto",
            "urlaub",
            "büro",
            "répon",
            "rispost",
            "respuest",
            "svar",
        ),
        OUT_OF_OFFICE,
        "subject",
        # At the start: "AW: Automatische Antwort: ..." is a human answering an auto-reply.
        # Sieve's vacation answers "Auto: <subject>"; our subjects start with "[" or "Re:".
        r"^\s*(?:abwesenheits(?:notiz|nachricht|meldung|assistent)|abwesend\b|out of (?:the )?"
        r"office|automatische antwort|automatic reply|auto[- ]?reply|autoreply|auto-response"
        r"|automatic response|urlaubs(?:abwesenheit|notiz)|nicht im büro|away from the office"
        r"|auto:\s*(?:re:|aw:|\[)|réponse automatique|risposta automatica|respuesta automática"
        r"|automatisch antwoord|autosvar)",
        DECLARED,
    ),
    _rule(
        "ooo-phrase",
        (
            "ich bin",
            "bin ich",
            "befinde",
            "wir sind",
            "sind wir",
            "i am",
            "i'm",
            "i will be",
            "i'll be",
            "we are",
            "we're",
            "we will be",
        ),
        OUT_OF_OFFICE,
        "body",
        r"\b(?:ich bin|bin ich|ich befinde mich|befinde ich mich|wir sind|sind wir"
        r"|wir befinden uns|befinden wir uns)\b"
        + _SAME_SENTENCE
        + _ABSENT_DE
        + r"|\b(?:i am|i'm|i will be|i'll be|we are|we're|we will be)\b"
        + _SAME_SENTENCE
        + r"(?:"
        + _ABSENT_EN
        + r"|away\b|driving|in (?:a )?meetings?|limited access to (?:e-?mail|my e-?mail))",
        # Every ending the pattern allows contains one of these.
        also=(
            "büro",
            "haus",
            "abwesend",
            "urlaub",
            "betriebsferien",
            "erreichbar",
            "elternzeit",
            "mutterschutz",
            "krank",
            "reise",
            "messe",
            "arbeitsplatz",
            "unterwegs",
            "verreist",
            "ausland",
            "out of",
            "leave",
            "vacation",
            "holiday",
            "away",
            "sick",
            "off work",
            "travel",
            "business trip",
            "on the road",
            "at a ",
            "at the ",
            "abroad",
            "limited access",
            "driving",
            "meeting",
            "schreibtisch",
            "am platz",
            "mittagspause",
            "lunch",
        ),
    ),
    _rule(
        "ooo-terse",
        # The same absence in a terse note that leaves out its subject: "Bin bis 14.12. im
        # Urlaub", "Im Urlaub bis 14.12.", "Derzeit nicht im Büro". Only at the start of a
        # clause, followed by its end, its span or the clause's end, and never in a question.
        (
            "büro",
            "im haus",
            "außer haus",
            "ausser haus",
            "abwesend",
            "urlaub",
            "betriebsferien",
            "erreichbar",
            "elternzeit",
            "mutterschutz",
            "krank",
            "dienstreise",
            "geschäftsreise",
            "auf reise",
            "einer messe",
            "der messe",
            "fachmesse",
            "auf messen",
            "arbeitsplatz",
            "unterwegs",
            "verreist",
            "im ausland",
            "schreibtisch",
            "am platz",
            "mittagspause",
        ),
        OUT_OF_OFFICE,
        "body",
        _CLAUSE_START
        + r"(?:(?:bin|sind)\s+(?!(?:sie|du|ihr|wir|ich)\b))?"
        + _DE_ADVERB
        + _DE_SPAN
        + _DE_SPAN
        + _DE_ADVERB
        + _ABSENT_DE
        + _ABSENCE_ENDS_DE
        + _NO_QUESTION,
    ),
    _rule(
        "ooo-terse-en",
        # "On vacation until Dec 14", "Currently out of office", "Away until Monday".
        (
            "office",
            "leave",
            "vacation",
            "holiday",
            "away",
            "out of town",
            "sick",
            "off work",
            "travel",
            "business trip",
            "on the road",
            "at a trade",
            "at a fair",
            "at a show",
            "at a conference",
            "at the trade",
            "at the fair",
            "at the show",
            "at the conference",
            "abroad",
            "lunch",
            "ooo",
            "out until",
            "out till",
            "out through",
            "out thru",
            "off until",
            "off till",
            "off through",
        ),
        OUT_OF_OFFICE,
        "body",
        # (One clause start in front of all: a pattern that starts with a character class is
        # fast, one that starts with alternatives is not.)
        _CLAUSE_START
        + r"(?:(?:am|will be)\s+)?(?:(?:currently|now|still|presently|unfortunately)\s+)?(?:(?:"
        + _ABSENT_EN
        + r"|ooo\b)"
        + _ABSENCE_ENDS_EN
        + r"|(?:out|off|away) (?:until|till|through|thru)\b)"
        + _NO_QUESTION,
    ),
    _rule(
        "ooo-terse-return",
        # Only the return, which says the absence: "Zurück am 15.12.", "Ab dem 15.12. wieder
        # erreichbar", "Back on Monday, will reply then." A clause of its own, then the end of
        # the text, a promise or a greeting (`_NOTE_ENDS`).
        (
            "zurück",
            "wieder erreichbar",
            "wieder da",
            "wieder im",
            "back on",
            "back in",
            "back mon",
            "back tue",
            "back wed",
            "back thu",
            "back fri",
            "back sat",
            "back sun",
            "back tomorrow",
            "back next",
        ),
        OUT_OF_OFFICE,
        "body",
        _CLAUSE_START
        + r"(?:(?:bin|sind)\s+)?(?:(?:ab|am)\s+(?:dem\s+|kommendem\s+|nächstem\s+)?"
        + _DAY
        + r"\s+(?:wieder\s+(?:erreichbar|da|im büro|im hause?|zurück)|zurück)"
        r"|(?:wieder\s+(?:erreichbar|da|im büro|zurück)|zurück)\s+(?:ab|am)\s+(?:dem\s+)?"
        + _DAY
        + r"|(?:i'll be|will be|i'm|am)?\s*back (?:in (?:the )?office )?(?:on "
        + _DAY
        + r"|(?:mon|tues|wednes|thurs|fri|satur|sun)day|tomorrow|next week))"
        + _NOTE_ENDS,
    ),
    _rule(
        "ooo-closed",
        ("geschlossen", "zeiten", "closed", "hours"),
        OUT_OF_OFFICE,
        "body",
        r"\b(?:unser(?:e)? (?:büro|geschäft|laden|lager|shop|kundenservice|kundendienst|support"
        r"|team|firma|betrieb)|wir)\b (?:ist |sind |bleibt |bleiben |haben )[^.!?\n]{0,50}?"
        r"\bgeschlossen\b|\bour (?:office|offices|shop|store|warehouse|customer service"
        r"|support team|team)\b[^.!?\n]{0,30}?\b(?:is|are|will be|remains?) closed\b"
        r"|\bwe are closed\b"
        # Reached outside the hours: "Sie haben uns außerhalb unserer Servicezeiten erreicht",
        # "your message reached us outside our business hours" (not a quoted recording).
        r"|\b(?:uns|us|nachrichten|nachricht|e-mails?|anfragen?|messages?|e-?mails?|requests?)\b"
        r"[^.!?\n]{0,40}?"
        r"\b(?:außerhalb (?:unserer|der|dieser) (?:(?:service|geschäfts|öffnungs|büro|support"
        r"|arbeits)zeiten|zeiten)"
        r"|outside (?:of )?(?:our |these |the |normal |regular )?(?:(?:business|office|opening"
        r"|support|working|service) )?hours)",
    ),
    _rule(
        "ooo-no-mail-access",
        ("zugriff", "lese", "access", "check"),
        OUT_OF_OFFICE,
        "body",
        r"\bkeinen zugriff auf (?:meine |unsere )?(?:e-?mails|mails|nachrichten)"
        r"|\blese\b[^.!?\n]{0,30}?\b(?:keine|nur (?:eingeschränkt|unregelmäßig|sporadisch|"
        r"selten)) (?:e-?mails|mails|nachrichten)|\blese (?:meine )?(?:e-?mails|mails) nur"
        r"|\b(?:no|limited|without|only limited) access to (?:my |our )?e-?mails?"
        r"|\b(?:not|only occasionally|rarely|only sporadically) checking (?:my )?"
        r"(?:e-?mails?|messages)|\bchecking (?:my )?(?:e-?mails?|messages) only "
        r"(?:occasionally|sporadically|intermittently|rarely)",
    ),
    _rule(
        "ooo-until",
        ("bis", "until", "till", "through", "back", "return"),
        OUT_OF_OFFICE,
        "body",
        r"\bbis\s+(?:einschließlich\s+|einschl\.\s+|inkl\.\s+|zum\s+|voraussichtlich\s+)?"
        r"(?:(?:mo|di|mi|do|fr|sa|so)[a-z]{0,8}\.?,?\s+)?(?:den\s+)?\d{1,2}\."
        r"|\bbis\s+(?:ende|anfang|mitte)\s+(?:januar|februar|märz|april|mai|juni|juli|august"
        r"|september|oktober|november|dezember|nächster woche|kommender woche)"
        r"|\bbis\s+(?:einschließlich\s+)?(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag"
        r"|sonntag|morgen|nächste woche)\b"
        r"|\b(?:until|till|through|back on|returning on)\s+(?:(?:mon|tues|wednes|thurs|fri|satur"
        r"|sun)day|\d{1,2}(?:st|nd|rd|th)?\b|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov"
        r"|dec)[a-z]*\b|(?:the )?(?:end|middle|beginning|start) of|next week|tomorrow|early "
        r"|mid-?|late )",
    ),
    _rule(
        "ooo-return",
        ("rückkehr", "rueckkehr", "wieder", "zurück", "urlaub", "return", "back"),
        OUT_OF_OFFICE,
        "body",
        # "ab dem 15.12. wieder erreichbar", "zurück am Montag", "will reply when back".
        r"\b(?:nach (?:meiner |unserer )?(?:rückkehr|rueckkehr)|nach (?:meinem|unserem) urlaub"
        r"|ab (?:dem |kommendem |nächstem |nächsten )?(?:\d{1,2}\.(?:\s?\d{1,2}\.)?(?:\d{2,4})?"
        r"|\d{1,2}\.\s[a-zä]{3,9}|(?:mo|di|mi|do|fr|sa|so)[a-z]{0,8}|morgen|[^.\n]{0,20})"
        r"\s+(?:bin (?:ich )?|sind (?:wir )?)?wieder|(?:bin|sind) (?:ich |wir )?(?:ab|am) [^.!?\n]"
        r"{0,20}?wieder (?:da|zurück|im büro)|zurück (?:am|ab)\b"
        r"|bin ich wieder|sind wir wieder|wieder im büro|wieder erreichbar|wieder für (?:sie|dich)"
        r" da|upon (?:my |our )?return|when (?:i|we) return|when (?:i|we) get back|after (?:my|our)"
        r" return|on (?:my|our) return|(?:i|we) will be back|(?:i|we)'ll be back"
        r"|(?:when|once|as soon as) (?:(?:i'm|i am|we're|we are) )?back)\b",
    ),
    _rule(
        "ooo-urgent-contact",
        ("dringend", "weitergeleitet", "urgent", "forwarded", "vertretung", "colleague"),
        OUT_OF_OFFICE,
        "body",
        r"\b(?:in dringenden (?:fällen|faellen|angelegenheiten)|bei dringenden anliegen"
        r"|für dringende anliegen|(?:ihre|deine) (?:e-mail|nachricht|mail) wird nicht "
        r"(?:automatisch )?weitergeleitet|meine vertretung|for urgent (?:matters|issues|"
        r"requests|enquiries|inquiries|questions)|for anything urgent|in urgent cases|if (?:your "
        r"(?:matter|request) is|it is|it's) urgent|your (?:e-?mail|message) will not be "
        r"forwarded|please contact my colleague)",
    ),
    _rule(
        "cannot-answer-now",
        ("kann", "can't", "cannot", "can not", "able"),
        OUT_OF_OFFICE,
        "body",
        r"\bkann\b[^.!?\n]{0,40}?\b(?:erst später|später|gerade nicht|momentan nicht"
        r"|derzeit nicht|im moment nicht|aktuell nicht|nicht sofort|nicht direkt)\s+"
        r"(?:beantworten|antworten|lesen|reagieren)"
        r"|\b(?:can't|cannot|can not|unable to|won't be able to|will not be able to|not able to)"
        r"\s+(?:reply|respond|answer|read|check|get to)\b[^.!?\n]{0,50}?\b(?:now|moment"
        r"|properly|immediately|right away|at present|from my phone|today|until)\b",
    ),
    # -- ticket acknowledgements ---------------------------------------------------------
    _rule(
        "automated-message",
        ("automat", "auto-generated"),
        AUTOMATIC,
        "body",
        r"\b(?:this is an? (?:automated|automatic|auto-generated|automatically generated)"
        r"|dies ist eine (?:automatische|automatisch (?:generierte|erstellte|erzeugte)))"
        r" (?:response|reply|message|notification|confirmation|acknowledge?ment|e-?mail|antwort"
        r"|nachricht|benachrichtigung|bestätigung|eingangsbestätigung|e-mail)"
        r"|\bthis (?:e-?mail|message) (?:was|has been|is) (?:automatically generated|generated "
        r"automatically|auto-generated|sent automatically|automatically sent)"
        r"|\bdiese (?:e-mail|nachricht|mail) wurde automatisch (?:erstellt|generiert|erzeugt"
        r"|versendet|verschickt)",
        DECLARED,
    ),
    _rule(
        "automated-subject",
        ("automat", "auto-ack", "auto ack"),
        AUTOMATIC,
        "subject",
        # At the start, as in "ooo-subject": "AW: Automatische Eingangsbestätigung" answers one.
        r"^\s*\[?(?:automatische (?:eingangsbestätigung|bestätigung|benachrichtigung|nachricht"
        r"|e-mail)|automated (?:response|reply|message|confirmation|acknowledge?ment|notification)"
        r"|automatic (?:confirmation|acknowledge?ment|notification)|auto[- ]?acknowledge?ment)",
        DECLARED,
    ),
    _rule(
        "do-not-reply",
        # Evidence only: footers of people's answers from ticket systems say it too.
        ("reply", "antwort", "monitored", "incoming"),
        TICKET_ACK,
        "body",
        r"\b(?:please do not reply|do not reply to this|don't reply to this|bitte antworten sie "
        r"nicht|bitte nicht (?:direkt )?auf diese (?:e-mail|nachricht|mail) antworten"
        r"|(?:mailbox|address) is not monitored|no-?reply address|cannot accept incoming)",
    ),
    _rule(
        "ticket-created",
        ("ticket", "anfrage", "vorgang", "anliegen", "request", "case", "quiry"),
        TICKET_ACK,
        "body",
        r"\b(?:ihr(?:e)?|dein(?:e)?) (?:ticket|anfrage|vorgang|anliegen|support-?anfrage)\b"
        r"[^.\n]{0,40}?(?:wurde|ist) (?:unter [^.\n]{0,40}?)?(?:erstellt|eröffnet|angelegt"
        r"|erfasst|registriert|aufgenommen)\b|\byour (?:support )?(?:ticket|request|case"
        r"|enquiry|inquiry)\b[^.\n]{0,40}?(?:has been|was|is) (?:created|opened|logged"
        r"|registered|raised)\b",
        DECISIVE,
    ),
    _rule(
        "ticket-received",
        (
            "erhalten",
            "bekommen",
            "eingegangen",
            "angekommen",
            "empfangen",
            "eingang",
            "ticket",
            "received",
            "got",
            "receipt",
            "acknowledge",
        ),
        TICKET_ACK,
        "body",
        r"\bwir haben (?:ihre|deine|eure|sie|es|diese)\b[^.!?\n]{0,40}?\b(?:erhalten|bekommen)"
        r"|\bwir (?:ihre|deine) (?:anfrage|nachricht|e-mail|mail|email) (?:erhalten|bekommen)"
        r"|\b(?:ihre|deine|eure) (?:anfrage|nachricht|e-mail|mail|email|support-?anfrage"
        r"|kontaktanfrage)(?: \(?[\w#-]{1,24}\)?)? (?:ist|wurde) (?:bei uns |erfolgreich "
        r"|soeben )*(?:eingegangen|angekommen|empfangen)|\bden eingang (?:ihrer|deiner) "
        r"(?:anfrage|nachricht|e-mail|mail)|\bein (?:neues )?ticket\b[^.!?\n]{0,20}?"
        r"\b(?:erstellt|eröffnet|angelegt)"
        r"|\bwe(?:'ve| have)? (?:received|got) (?:your|it)\b|\ba (?:new )?ticket"
        r"(?: \(?[\w#-]{1,24}\)?)? has been (?:created|opened|logged)"
        r"|\b(?:your|the) (?:request|message|e-?mail|enquiry|inquiry"
        r"|ticket|case|query)(?: \(?[\w#-]{1,24}\)?)? (?:has been|was|is) (?:successfully )?"
        r"received|\bconfirm(?:ing|s)? (?:the )?receipt of|\backnowledge (?:that we have "
        r"received|receipt)",
    ),
    _rule(
        "ticket-number",
        (
            "ticket",
            "case",
            "request",
            "anfrage",
            "vorgang",
            "referenz",
            "reference",
            "nummer",
            "number",
        ),
        TICKET_ACK,
        "body",
        r"\b(?:your|ihre|ihr) (?:ticket|case|request|reference|anfrage|vorgangs|referenz"
        r"|bearbeitungs|fall|ticket-)[ -]?(?:number|no\.?|id|nummer|nr\.?)\b[^.!?\n]{0,12}?"
        r"(?:\bis\b|\blautet\b|\bist\b|:)|\b(?:ticket|case|request|anfrage)\s*\((?:ticket)?#?"
        r"\d{3,}\)|\bunter der (?:ticket|vorgangs|bearbeitungs|referenz)-?nummer\b|\bwith (?:the )?"
        r"(?:ticket|case|reference) (?:number|id)\b",
    ),
    _rule(
        "answer-delayed",
        (
            "aufkommen",
            "volume",
            "anzahl",
            "verzöger",
            "dauern",
            "number",
            "longer",
            "delayed",
            "demand",
        ),
        TICKET_ACK,
        "body",
        r"\baufgrund (?:des|eines|der) (?:aktuell |derzeit |momentan )?(?:sehr )?(?:hohen|erhöhten"
        r"|großen) (?:anfrage|e-mail|mail|sendungs|nachrichten|bestell)?(?:aufkommens|volumens"
        r"|aufkommen|volumen|anzahl)|\b(?:bearbeitung|beantwortung)\b[^.!?\n]{0,60}?\b(?:verzögern"
        r"|dauern)\b|\b(?:high|higher|increased|large|heavy|unusually high)"
        r"(?: than (?:normal|usual))? (?:volumes?|number) of\b"
        r"|\bexperiencing (?:a )?(?:high|higher|increased|heavy|unusually "
        r"high)(?: than (?:normal|usual))? (?:volumes?|demand)|\b(?:response|reply) times? "
        r"(?:may|might|are|is|will) (?:be )?(?:longer|delayed)|\b(?:responses|replies) (?:may|might"
        r"|will|can) take (?:a (?:little|bit) )?longer",
    ),
    _rule(
        "answer-later",
        (
            "melde",
            "verbindung",
            "möglich",
            "schnell",
            "spätestens",
            "zeitnah",
            "kürze",
            "umgehend",
            "innerhalb",
            "antwort",
            "bearbeit",
            "prüft",
            "reihenfolge",
            "nächsten werktag",
            "back",
            "will",
            "'ll",
            "shall",
            "being",
            "within",
            "as soon as",
            "shortly",
            "next business",
            "next working",
            "personal response",
            "in the order",
        ),
        TICKET_ACK,
        "body",
        r"\b(?:wir|ich) melden? (?:uns|mich)\b|\bmelden? (?:wir|ich) (?:uns|mich)\b"
        r"|\b(?:werden|wird) (?:uns|sich)\b[^.!?\n]{0,40}?\b(?:melden|in verbindung setzen)"
        r"|\bsetzen uns\b[^.!?\n]{0,40}?\bin verbindung|\bpersönliche antwort"
        r"|\b(?:bearbeiten|beantworten|antworten|melden|kümmern)\b[^.!?\n]{0,40}?\b(?:schnellst"
        r"möglich|so schnell|so bald wie möglich|zeitnah|in kürze|baldmöglichst|spätestens"
        r"|umgehend|innerhalb|am nächsten werktag)|\b(?:schnellstmöglich|so schnell wie möglich"
        r"|so bald wie möglich|zeitnah|in kürze|baldmöglichst|umgehend)\b[^.!?\n]{0,40}?\b"
        r"(?:bearbeitet|beantwortet|bearbeiten|beantworten|melden|antworten|kümmern)"
        r"|\bwird (?:von (?:unserem|unseren|einem|einer)|schnellstmöglich|in kürze|zeitnah)\b"
        r"[^.!?\n]{0,60}?\b(?:bearbeitet|beantwortet|geprüft|überprüft)|\bin der reihenfolge "
        r"(?:des|ihres|ihrer) eingangs"
        r"|\b(?:we|i|our [a-z ]{1,30}?|one of our [a-z ]{1,30}?|a [a-z ]{1,40}?)\s*(?:will|'ll"
        r"|shall)\s+(?:get back to you|be in touch|respond|reply|answer|contact you|follow up"
        r"|send you a "
        r"(?:personal )?(?:response|reply|answer)|get in touch|be reviewing)|\bget back to you"
        r"|\b(?:is being|will be) (?:reviewed|answered|processed|handled|looked at) (?:by|as soon"
        r"|shortly|within)|\b(?:answers?|responds?|replies|reply|respond|answer)\b[^.!?\n]{0,40}?"
        r"\b(?:within (?:\d{1,2}|one|two|three) (?:hours|business days?|working days?)"
        r"|as soon as (?:possible|we can|i can)|shortly|next (?:business|working) day)"
        r"|\bpersonal response|\bin the order (?:they were |it was )?received"
        r"|\b(?:are|is|will be|get|gets) (?:handled|answered|processed|dealt with|reviewed)\b"
        r"[^.!?\n]{0,40}?\b(?:next|following) (?:business|working) day"
        r"|\bam (?:nächsten|folgenden) (?:werk|arbeits|geschäfts)tag\b[^.!?\n]{0,40}?\b"
        r"(?:bearbeitet|beantwortet|bearbeiten|beantworten)",
    ),
    _rule(
        "answer-later-terse",
        # The same promise without its subject, as terse notes write it: "melde mich danach",
        # "will reply when back". (A rule of its own: as one more alternative of
        # "answer-later" it would make that pattern several times slower.)
        ("melde mich", "melden uns", "will "),
        TICKET_ACK,
        "body",
        _CLAUSE_START
        + r"(?:melde mich|melden uns|will\s+(?:get back to you|reply|respond|answer|be in touch"
        r"|follow up))\b",
    ),
    _rule(
        "ticket-subject",
        (
            "ticket",
            "request",
            "case",
            "anfrage",
            "vorgang",
            "received",
            "eingangsbest",
            "#",
            "erhalten",
            "inquiry",
            "enquiry",
            "eingegangen",
        ),
        TICKET_ACK,
        "subject",
        r"(?:\[?(?:ticket|request|case|anfrage|vorgang)\s*(?:#|nr\.?|id:?)\s*\d+\]?"
        r"|\[#\s?\d{3,}\]|\[##\s?\d+\s?##\]|\bcase \d{3,} (?:created|opened)|request received"
        r"|ticket received|anfrage erhalten|ticket erhalten|eingangsbestätigung|we received your"
        r"|thanks? (?:you )?for your (?:inquiry|enquiry|request)|danke für ihre anfrage"
        r"|(?:ihre|deine) anfrage[^\n]{0,20} ist eingegangen|your request[^\n]{0,20} has been "
        r"received)",
    ),
    # -- what the evidence states together -----------------------------------------------
    _rule(
        "question-asked",
        # Someone who announces an absence or a later answer but asks something ("Can the
        # deadline be extended?") wants an answer: a person. Only cancels the combinations.
        ("?",),
        HUMAN,
        "body",
        r"\b(?:can|could|would|will|may|is it possible|können|könnten|kann|würden|würde|wäre"
        # The dot of a date ends no question ("Können Sie die Frist bis 20.12. verlängern?").
        r"|ist es möglich|darf|dürfen)\b(?:[^.!?\n]|(?<=\d)\.){0,80}\?",
    ),
    RuleCombination(
        "ooo-stated",
        OUT_OF_OFFICE,
        (
            (
                "ooo-phrase",
                "ooo-terse",
                "ooo-terse-en",
                "ooo-terse-return",
                "ooo-closed",
                "ooo-no-mail-access",
                "cannot-answer-now",
            ),
            (
                "ooo-until",
                "ooo-return",
                "ooo-urgent-contact",
                "ooo-no-mail-access",
                "answer-later",
                "answer-later-terse",
            ),
        ),
        unless=("question-asked",),
    ),
    RuleCombination(
        "ack-stated",
        TICKET_ACK,
        (
            ("ticket-received", "ticket-number", "answer-delayed", "ticket-subject"),
            ("answer-later", "answer-later-terse", "do-not-reply", "answer-delayed"),
        ),
        unless=("question-asked",),
    ),
    _rule(
        "ack-terse",
        # A terse receipt and a vague promise, and nothing else but a greeting and a
        # sign-off: "Danke, ist angekommen. Wir kümmern uns darum.", "Got it, thanks - we'll
        # look into it." The whole text must be that: a person who adds one fact ("... Das
        # Gerät ist leider nicht mehr lieferbar.") answers, and a receipt alone ("Danke, ist
        # angekommen!") is how customers say that a parcel came.
        (
            "angekommen",
            "eingegangen",
            "eingetroffen",
            "erhalten",
            "bekommen",
            "got it",
            "received",
        ),
        TICKET_ACK,
        "body",
        r"\A\s*(?:(?:hallo|hi|hey|hello|moin|servus|guten (?:morgen|tag|abend))\b[^\n.!?]{0,30}"
        r"[,!.]?\s*)?"
        + _THANKS_CLAUSE
        + r"(?:"
        + _TERSE_RECEIPT
        + r")\s*[.!,;:–-]?\s*(?:(?:danke|thanks|thank you)\s*[.!,;:–-]?\s*)?"
        + _PROMISE_TO_THE_END,
        DECISIVE,
        also=(
            "kümmer",
            "melde",
            "schau",
            "prüfen",
            "dran",
            "folgt",
            "look into",
            "take care",
            "get back",
            "be in touch",
            "follow up",
            "on it",
            "looking into",
        ),
    ),
    # -- human answers -------------------------------------------------------------------
    _rule(
        "action-reported",
        # "wir haben ... erstattet", "habe die Erstattung veranlasst", "we have refunded".
        ("habe", "we", "i ", "i'"),
        HUMAN,
        "body",
        r"(?:\b(?:wir|ich)\s+(?:habe|haben)\b|\b(?:habe|haben)\s+(?:wir|ich)\b|[,;:]\s*"
        r"(?:habe|haben)\b(?!\s+sie\b))" + _NOT_NEGATED + r"{0,60}?\b(?:erstattet|zurückerstattet"
        r"|rückerstattet|gutgeschrieben|zurücküberwiesen|überwiesen|ausgezahlt|nachgeliefert"
        r"|zurückgebucht|rückgebucht"
        r"|(?:erstattung|rückerstattung|gutschrift|rückzahlung|ersatzlieferung|ersatz|nachlieferung"
        r"|umtausch|austausch|neulieferung)\b" + _NOT_NEGATED + r"{0,40}?\b(?:veranlasst"
        r"|angewiesen|ausgelöst|eingeleitet|freigegeben|versandt|verschickt|gebucht|ausgestellt"
        r"|erteilt))\b"
        r"(?!\s+(?:bekommen|erhalten|gekriegt))"
        + _UNDISPUTED
        + r"|\b(?:we|i)(?:'ve| have| had)?\s+"
        + _NOT_NEGATED
        + r"{0,40}?\b(?:refunded|reimbursed|credited|(?:issued|processed|initiated|sent|arranged"
        r"|approved|authori[sz]ed)\s+(?:you |the customer |her |him |them )?(?:a|an|the|your"
        r"|her|his|their)\s+(?:[a-z]+\s+){0,2}?(?:refund|credit|reimbursement|replacement"
        r"|exchange)\b(?!\s+(?:request|form|policy|process))|(?:sent|shipped|dispatched|posted"
        r"|mailed)\s+(?:out\s+)?(?:you |the customer |her |him |them )?(?:a|the|your)\s+"
        r"(?:new|replacement)\b)" + _UNDISPUTED,
        DECISIVE,
        # Every ending the pattern allows contains one of these.
        also=(
            "erstatt",
            "gutgeschrieben",
            "überwiesen",
            "ausgezahlt",
            "nachgeliefert",
            "veranlasst",
            "angewiesen",
            "ausgelöst",
            "eingeleitet",
            "versandt",
            "verschickt",
            "gebucht",
            "ausgestellt",
            "erteilt",
            "refund",
            "reimburs",
            "credit",
            "replacement",
            "exchange",
            "new",
        ),
    ),
    _rule(
        "action-done",
        # "die Erstattung wurde veranlasst", "das Geld ist unterwegs", "a replacement was shipped".
        (
            "erstattung",
            "gutschrift",
            "rückzahlung",
            "ersatz",
            "nachlieferung",
            "umtausch",
            "geld",
            "betrag",
            "gerät",
            "refund",
            "reimbursement",
            "credit",
            "replacement",
            "exchange",
        ),
        HUMAN,
        "body",
        r"\b(?:erstattung|rückerstattung|gutschrift|rückzahlung|ersatzlieferung|ersatz"
        r"|nachlieferung|umtausch|geld|betrag|ersatzgerät|neue gerät|neues gerät)\b"
        + _NOT_NEGATED
        + r"{0,50}?\b(?:wurde|wurden|ist|habe ich|haben wir)\b"
        + _NOT_NEGATED
        + r"{0,40}?\b(?:veranlasst|angewiesen|überwiesen|ausgezahlt|erstattet|gutgeschrieben"
        r"|freigegeben|versandt|verschickt|raus|rausgegangen|rausgeschickt|unterwegs|gebucht"
        r"|ausgelöst|erfolgt|ausgestellt|erteilt)\b"
        + _UNDISPUTED
        + r"|\b(?:refund|reimbursement|credit|replacement|exchange)\b"
        r"(?!\s+(?:request|form|policy|process))"
        + _NOT_NEGATED
        + r"{0,30}?\b(?:(?:(?:has|have) been|was|is now)\s+(?:(?:already|now|just|successfully"
        r"|fully|today)\s+)?(?:issued|sent|processed|paid|credited|shipped|dispatched|posted"
        r"|transferred|released)|is (?:already |now )?on its way|left (?:our|the) warehouse"
        r"|went out)\b" + _UNDISPUTED,
        DECISIVE,
        also=("wurde", "ist", "habe", "been", "was", "is now", "on its way", "left", "went out"),
    ),
    _rule(
        "action-announced",
        # A concrete action, in the writer's voice, for today or tomorrow: "wir schicken
        # heute Ersatz", "deshalb senden wir den Ersatz heute noch", "der Ersatz geht heute
        # raus", "we're sending a replacement today", "I'll refund the customer right away".
        # "Wir kümmern uns darum" or "we'll get back to you shortly" announce nothing of it.
        ("wir", "ich", "geht", "we", "i ", "i'"),
        HUMAN,
        "body",
        r"(?:\b(?:wir|ich)\s+(?:"
        + _SEND_DE
        + r")|\b(?:"
        + _SEND_DE
        + r")\s+(?:wir|ich))\b(?="
        + _NOT_NEGATED
        + r"{0,60}?\b(?:"
        + _SENT_DE
        + r"))(?="
        + _NOT_NEGATED
        + r"{0,60}?\b(?:"
        + _SOON_DE
        + r")\b)|(?:\b(?:wir|ich)\s+(?:"
        + _REFUND_DE
        + r")|\b(?:"
        + _REFUND_DE
        + r")\s+(?:wir|ich))\b(?="
        + _NOT_NEGATED
        + r"{0,60}?\b(?:"
        + _SOON_DE
        + r")\b)|\b(?:"
        + _SENT_DE
        + r")"
        + _NOT_NEGATED
        + r"{0,30}?\bgeht\s+(?:noch\s+)?(?:"
        + _SOON_DE
        + r")\s+(?:noch\s+|neu\s+|direkt\s+|wieder\s+)?(?:raus|in die post|in den versand|an )"
        # "deshalb geht der Ersatz heute noch raus"
        + r"|\bgeht\b(?="
        + _NOT_NEGATED
        + r"{0,30}?\b(?:"
        + _SENT_DE
        + r"))(?="
        + _NOT_NEGATED
        + r"{0,40}?\b(?:"
        + _SOON_DE
        + r")\b)(?="
        + _NOT_NEGATED
        + r"{0,50}?\b(?:raus|in die post|in den versand)\b)"
        + r"|\b(?:we|i)(?:'re| are|'m| am|'ll| will| shall)?\s+(?:(?:"
        + _SEND_EN
        + r")(?="
        + _NOT_NEGATED
        + r"{0,60}?\b(?:"
        + _SENT_EN
        + r"))|(?:"
        + _REFUND_EN
        + r")\b)(?="
        + _NOT_NEGATED
        + r"{0,60}?\b(?:"
        + _SOON_EN
        + r")\b)"
        + _UNDISPUTED,
        DECISIVE,
        also=(
            "heute",
            "sofort",
            "gleich",
            "umgehend",
            "morgen",
            "today",
            "right away",
            "immediately",
            "straight away",
            "tomorrow",
            "this morning",
            "this afternoon",
            "this evening",
        ),
    ),
    _rule(
        "remedy-granted",
        # The customer gets a named remedy, or the writer takes a cost over, without a
        # condition (see `_CONDITIONS`) and, unlike "action-announced", whenever it comes
        # (a date is no condition): "Sie erhalten bis Freitag eine
        # Gutschrift über 89,90 EUR", "Die Versandkosten erstatten wir Ihnen", "Wir
        # schicken Ihnen kostenlos Ersatz", "You'll receive a full refund", "We will replace
        # the kettle". "Sie erhalten eine Gutschrift, sobald die Ware bei uns ist" is policy.
        (
            "erh",
            "bekomm",
            "erstatt",
            "ersetz",
            "übernehm",
            "schick",
            "send",
            "receiv",
            "get",
            "refund",
            "reimburs",
            "credit",
            "replace",
            "cover",
        ),
        HUMAN,
        "body",
        _UNCONDITIONAL
        + r"(?:(?:\b(?:sie|du|die kundin|der kunde|ihre kundin|ihr kunde)\s+(?:"
        + _RECEIVE_DE
        + r")\b|\b(?:"
        + _RECEIVE_DE
        + r")\s+(?:sie|du|die kundin|der kunde)\b)(?="
        + _NOT_NEGATED
        + r"{0,60}?\b(?:"
        + _REMEDY_DE
        + r")\b)"
        # "die Versandkosten erstatten wir", "wir übernehmen die Rücksendekosten", "wir
        # erstatten Ihnen den Kaufpreis"
        + r"|\b(?:"
        + _COSTS_DE
        + r")\s+(?:(?:selbstverständlich|natürlich|gerne?|komplett|vollständig)\s+)?(?:"
        + _GRANT_DE
        + r")\s+(?:wir|ich)\b|\b(?:wir|ich)\s+(?:"
        + _GRANT_DE
        + r")\b(?="
        + _NOT_NEGATED
        + r"{0,50}?\b(?:ihnen|dir|der kundin|dem kunden|"
        + _COSTS_DE
        + r")\b)"
        # "wir schicken Ihnen kostenlos Ersatz", "ich sende der Kundin ein neues Gerät"
        + r"|\b(?:wir|ich)\s+(?:schicken|schicke|senden|sende|liefern|liefere)\s+(?:ihnen|dir"
        r"|der kundin|dem kunden)\s+(?:(?:kostenlos|gerne?|umgehend)\s+)?(?:ersatz\w*\b|ein"
        r" neues|einen neuen|eine neue)"
        + r"|\b(?:you|the customer)(?:'ll| will| shall)?\s+(?:receive|get)\b(?="
        + _NOT_NEGATED
        + r"{0,50}?\b(?:"
        + _REMEDY_EN
        + r")\b)|\b(?:you|the customer)(?:'ll| will)\s+be\s+(?:fully\s+)?(?:refunded|reimbursed"
        r"|credited)\b|\b(?:we|i)(?:'ll| will| are going to|'re going to| shall)\s+(?:(?:also"
        r"|gladly|happily|of course|now)\s+)?(?:refund|reimburse|replace|cover\s+(?:the\s+)?"
        r"(?:[\w-]+\s+)?(?:costs?|shipping|postage|fees?)|send\s+(?:you\s+|the customer\s+|her\s+"
        r"|him\s+|them\s+)?(?:a|an|the)\s+(?:new|replacement|full refund|refund)\b)"
        + r")"
        + _NO_CONDITION_AFTER
        + _UNDISPUTED,
        DECISIVE,
    ),
    _rule(
        "answered-anyway",
        # "I'm on holiday until Monday, but I checked: ..." - away, and answering all the same.
        ("but", "aber", "jedoch", "trotzdem", "anyway"),
        HUMAN,
        "body",
        r"\b(?:but|aber|jedoch|trotzdem|anyway)\b,?\s+(?:i|we|ich|wir)\s+(?:have\s+|'ve\s+|habe\s+"
        r"|haben\s+)?(?:already\s+|just\s+|schon\s+|eben\s+|gerade\s+|kurz\s+)?(?:checked|looked"
        r"|found|spoke|talked|called|asked|geprüft|nachgesehen|nachgeschaut|gesprochen|telefoniert"
        r"|angerufen)\b",
        DECISIVE,
    ),
    _rule(
        "ticket-updated",
        # A helpdesk's wrapper around an agent's public answer (Zendesk and its kin), as
        # its templates and translations word it: "Your request (48213) has been updated",
        # "Ihre Anfrage (48220) wurde aktualisiert", "Ihr Ticket [#48220] wurde aktualisiert".
        ("updated", "aktualisiert"),
        HUMAN,
        "body",
        r"\byour (?:support )?(?:request|ticket|case|enquiry|inquiry)(?: [(\[]?[\w#-]{1,24}[)\]]?)?"
        r" (?:has been|was) updated\b|\b(?:ihre (?:support-?)?anfrage|ihr (?:support-?)?ticket"
        r"|ihr anliegen|ihr vorgang)(?: [(\[]?[\w#-]{1,24}[)\]]?)? wurde aktualisiert\b",
        DECISIVE,
    ),
    # -- delivery failures ---------------------------------------------------------------
    # Each alone is evidence: customers quote "mailbox full" and "nicht zustellbar" about
    # shops they cannot reach. Real bounces show two of them (and the header rules in
    # `classifier.machine` know them by their sender and structure).
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
    # -- challenge-response -----------------------------------------------------------
    # A spam filter that holds our mail until we "confirm that we are not a robot": the
    # merchant has not received it, so it is a delivery failure (and, RFC 3834 section 2,
    # an automatic response). Each part alone is evidence (customers quote such mails and
    # write about spam); the request to confirm and the hold or the filter together settle.
    _rule(
        "challenge-confirm",
        (
            "roboter",
            "mensch",
            "bestätig",
            "verifizier",
            "freischalt",
            "robot",
            "human",
            "real person",
            "verify",
            "confirm",
            "validate",
        ),
        DELIVERY_FAILURE,
        "body",
        r"\b(?:dass|ob) sie (?:kein (?:roboter|bot|spammer|computer)|ein (?:echter )?mensch)\b"
        r"|\b(?:bestätigen|verifizieren|freischalten)\b[^.!?\n]{0,40}?\b(?:kein (?:roboter|bot"
        r"|spammer)|ein (?:echter )?mensch|(?:ihre |die )?(?:absenderadresse|e-mail-adresse"
        r"|absender(?:in)?|identität))\b|\b(?:ihre |die )?(?:absenderadresse|e-mail-adresse"
        r"|nachricht|e-mail)\b[^.!?\n]{0,40}?\b(?:zu )?(?:bestätigen|verifizieren|freizuschalten)\b"
        r"[^.!?\n]{0,60}?(?:link|klick)|\byou(?:'re| are) (?:not a (?:robot|bot|spammer|machine)"
        r"|(?:a )?(?:human|real person))\b|\b(?:verify|confirm|validate)\s+(?:your (?:e-?mail(?: "
        r"address)?|address|message|identity)|yourself|(?:the |this )?sender(?: address)?)\b",
    ),
    _rule(
        "challenge-held",
        (
            "zugestellt",
            "ausgeliefert",
            "zurückgehalten",
            "angehalten",
            "quarantäne",
            "unbestätigt",
            "nicht bestätigt",
            "delivered",
            "released",
            "held",
            "on hold",
            "quarantine",
            "unverified",
            "unconfirmed",
        ),
        DELIVERY_FAILURE,
        "body",
        r"\bnach (?:ihrer |der |erfolgreicher )?(?:bestätigung|verifizierung|freischaltung)\b"
        r"[^.!?\n]{0,60}?\b(?:zugestellt|ausgeliefert|weitergeleitet)|\b(?:unbestätigte|nicht "
        r"bestätigte|nicht verifizierte) (?:nachrichten|e-mails|mails)\b|\b(?:ihre|die) "
        r"(?:nachricht|e-mail|mail)\b[^.!?\n]{0,40}?\b(?:zurückgehalten|angehalten|in quarantäne)\b"
        r"|\bwird "
        r"(?:erst )?(?:nach|mit) (?:ihrer |der )?(?:bestätigung|verifizierung)[^.!?\n]{0,30}?"
        r"\bzugestellt|\b(?:message|e-?mail|mail)\b[^.!?\n]{0,40}?\b(?:will|can|would) (?:only )?"
        r"be (?:delivered|released) (?:once|after|when|as soon as|if)\b|\b(?:once|after|when|as "
        r"soon as) (?:you(?:'ve| have)? )?(?:verif|confirm)[^.!?\n]{0,60}?\b(?:delivered|released"
        r"|forwarded)\b|\b(?:unverified|unconfirmed) (?:messages|e-?mails|mail)\b|\b(?:message"
        r"|e-?mail)\b[^.!?\n]{0,30}?\b(?:is being held|has been held|is on hold|was held|is "
        r"quarantined|held in quarantine)\b",
    ),
    _rule(
        "challenge-spam",
        ("spam", "challenge", "absender"),
        DELIVERY_FAILURE,
        "body",
        r"\bum spam zu (?:vermeiden|verhindern|bekämpfen|reduzieren)\b|\bspam-?schutz|\banti-?spam"
        r"|\bspam[- ]?(?:protection|filter)|\bto (?:prevent|avoid|reduce|fight|block) spam\b"
        r"|\bchallenge[- ]response\b|\bsender verification\b|\babsender(?:prüfung|-?verifizierung)",
    ),
    _rule(
        "challenge-subject",
        ("bestätig", "verifizier", "confirm", "verif", "boxbe", "spamarrest"),
        DELIVERY_FAILURE,
        "subject",
        r"\bbitte bestätigen sie ihre (?:nachricht|e-mail|mail)\b|\b(?:bestätigung|verifizierung) "
        r"(?:erforderlich|notwendig|benötigt)\b|\bplease (?:confirm|verify) your "
        r"(?:message|e-?mail)\b|\b(?:verification|confirmation) (?:required|needed)\b|\bboxbe\b"
        r"|\bspamarrest\b",
    ),
    RuleCombination(
        "challenge-stated",
        DELIVERY_FAILURE,
        (("challenge-confirm", "challenge-subject"), ("challenge-held", "challenge-spam")),
    ),
    RuleCombination(
        "dsn-stated",
        DELIVERY_FAILURE,
        (("dsn-subject", "dsn-phrase"), ("dsn-phrase", "dsn-status-code")),
        strength=DECLARED,
    ),
)


_ONLY_A_PROMISE = re.compile(
    r"\A\W*" + _THANKS_CLAUSE + r"(?:ok(?:ay)?\b[,.!]?\s*)?" + _PROMISE_TO_THE_END,
    re.IGNORECASE,
)


# An absence and, at most, when it ends, then only a sign-off, to the end of the text:
# "In der Mittagspause.", "Bin gerade nicht am Schreibtisch.", "At lunch, back soon."
_ONLY_AN_ABSENCE = re.compile(
    r"\A\W*(?:(?:(?:ich|wir)\s+)?(?:(?:bin|sind)\s+)?"
    + _DE_ADVERB
    + _DE_SPAN
    + _DE_ADVERB
    + _ABSENT_DE
    + r"|(?:(?:i am|i'm|we are|we're)\s+)?(?:(?:currently|now|still)\s+)?"
    + _ABSENT_EN
    + r")(?:\s+(?:bis|ab|until|till|through)\b(?:[^.!?\n]|(?<=\d)\.){0,30})?"
    r"(?:\s*[.!,;:–-]\s*(?:(?:ab|bis|zurück|wieder|back|until|till|returning)\b"
    r"(?:[^.!?\n]|(?<=\d)\.){0,40}))?"
    r"[.!]?\s*" + _SIGN_OFF + r"\Z",
    re.IGNORECASE,
)


def only_an_absence(text: str) -> bool:
    """Whether `text` (what a person wrote, without salutation and signature) only says
    that the writer is away, perhaps until when: a note without the automatic headers,
    which answers no complaint."""
    return len(text) <= 200 and _ONLY_AN_ABSENCE.match(text.strip()) is not None


def only_a_promise(text: str) -> bool:
    """Whether `text` (what a person wrote, without salutation and signature) only
    promises an answer that names nothing: "Wir kümmern uns darum.", "Ok, wir melden uns
    zeitnah.", "We'll look into it." A person wrote it, but it answers no complaint."""
    return len(text) <= 200 and _ONLY_A_PROMISE.match(text.strip()) is not None


def match_auto_reply(subject: str, body: str) -> list[AutoReplyHit]:
    """All rules that match, in table order."""
    # Typographic apostrophes ("I’m", as Outlook and phones write them) read as plain ones;
    # the replacement keeps every offset.
    # The body is read after a line break, so that its first clause starts after a mark
    # like every other (`_CLAUSE_START`); offsets in the hits do not count it.
    fields = {
        "subject": (subject or "").replace("’", "'"),
        "body": "\n" + (body or "")[:_BODY_LIMIT].replace("’", "'"),
    }
    lowered = {name: text.lower() for name, text in fields.items()}
    # Which trigger words each field contains: one pass over all words of the table.
    present = {
        name: {word for word in _TRIGGER_WORDS[name] if word in lowered[name]} for name in fields
    }
    hits: list[AutoReplyHit] = []
    by_rule: dict[str, AutoReplyHit] = {}
    for rule in AUTO_REPLY_RULES:
        if isinstance(rule, RuleCombination):
            parts = _combined(rule, by_rule)
            if parts:
                detail = " + ".join(part.rule for part in parts)
                hits.append(AutoReplyHit(rule.id, rule.kind, rule.strength, detail))
                by_rule[rule.id] = hits[-1]
            continue
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
            shift = 1 if rule.field == "body" else 0
            start, end = max(match.start() - shift, 0), match.end() - shift
            # Without the mark and spaces a clause-start pattern matched first.
            detail = detail.lstrip(_CLAUSE_MARKS)[:120]
            hit = AutoReplyHit(rule.id, rule.kind, rule.strength, detail, rule.field, start, end)
            hits.append(hit)
            by_rule[rule.id] = hit
    return hits


def _combined(rule: RuleCombination, by_rule: dict[str, AutoReplyHit]) -> list[AutoReplyHit]:
    """One hit of each group of `rule`, near each other in the body, or [] if there are
    none (or a rule of `rule.unless` fired)."""
    if any(rule_id in by_rule for rule_id in rule.unless):
        return []
    groups = [[by_rule[r] for r in group if r in by_rule] for group in rule.needs]
    for parts in itertools.product(*groups):
        if len({part.rule for part in parts}) < len(parts):
            continue  # one hit stands for one part only
        body = [part for part in parts if part.field == "body"]
        if not body or max(p.start for p in body) - min(p.end for p in body) <= _NEAR:
            return list(parts)
    return []


_TRIGGER_WORDS = {
    field: tuple(
        {
            word
            for rule in AUTO_REPLY_RULES
            if isinstance(rule, AutoReplyRule) and rule.field == field
            for word in rule.triggers
        }
    )
    for field in ("subject", "body")
}


_PRECEDENCE = (DELIVERY_FAILURE, OUT_OF_OFFICE, TICKET_ACK)


def decisive_kind(hits: list[AutoReplyHit]) -> str | None:
    """The kind the hits settle, or None when only evidence fired.

    A declared kind wins (a bounce that calls itself "automatically generated" is a
    delivery failure, so delivery failures come first; a mail that only declares itself
    automatic takes the kind the other hits name, else it is an acknowledgement), except
    that a person's answer above a generic footer is a person's answer (`_answer_above`);
    then a decisive human rule (an action reported); then the other decisive kinds."""
    declared = {hit.kind for hit in hits if hit.strength == DECLARED}
    decided = {hit.kind for hit in hits if hit.strength == DECISIVE}
    if declared - {AUTOMATIC}:
        return _first(declared)
    if declared and not _answer_above(hits):
        return _first(decided) or _first(evidence_kinds(hits)) or TICKET_ACK
    if HUMAN in decided:
        return HUMAN
    return _first(decided)


def _answer_above(hits: list[AutoReplyHit]) -> bool:
    """Whether a decisive human rule fired in the body above every generic declaration,
    all of them in the body: "Ihre Rückerstattung über 59,90 EUR wurde heute veranlasst.
    [...] Diese Nachricht wurde automatisch erstellt." Ticket systems and shop back ends
    put that sentence under their agents' answers, as they do "please do not reply"; a
    notification that is automatic says so first ("This is an automated message. Your
    refund has been issued.") or in its subject."""
    generic = [hit for hit in hits if hit.strength == DECLARED and hit.kind == AUTOMATIC]
    if not generic or any(hit.field != "body" for hit in generic):
        return False
    first = min(hit.start for hit in generic)
    return any(
        hit.kind == HUMAN and hit.strength == DECISIVE and hit.field == "body" and hit.end <= first
        for hit in hits
    )


# Evidence that names who sent a mail, not what it says: a ticket system puts the ticket
# number into the subject of its agents' answers as of its acknowledgements.
_SENDER_MARKS = frozenset({"ticket-subject"})


def evidence_kinds(hits: list[AutoReplyHit], tipping: bool = False) -> set[str]:
    """Automatic kinds named by rules that are evidence only; with `tipping`, only by
    those that may tip an undecided model towards their kind (`_SENDER_MARKS` may not:
    an agent's answer from a ticket system must be read by what it says)."""
    return {
        hit.kind
        for hit in hits
        if hit.strength == EVIDENCE
        and hit.kind in AUTO_REPLY_KINDS
        and not (tipping and hit.rule in _SENDER_MARKS)
    }


def _first(kinds: set[str]) -> str | None:
    return next((kind for kind in _PRECEDENCE if kind in kinds), None)
