"""The words the verdict rules read (`classifier.verdicts`), per reply context: a
mediator's proposal and "is your problem solved?". Each context's `Lexicon` holds its
verdict words, set phrases and the patterns read anywhere in a reply; the rules are the
same for both.

Owns `Lexicon`, `PROPOSAL_WORDS`, `SOLVED_WORDS`, `LEXICONS` and the strengths and
answers of a verdict hit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from classifier.records import NEGATIVE, OTHER, POSITIVE, PROPOSAL, SOLVED_QUESTION

# The strengths of a verdict hit (`classifier.verdicts`) and its answers (with OTHER, no
# answer yet; the contexts, PROPOSAL and SOLVED_QUESTION, are `classifier.records`').
STATED = "stated"
DENIED = "denied"
RESERVED = "reserved"
ACCEPT, REJECT = POSITIVE, NEGATIVE  # on a proposal
RESOLVED, NOT_RESOLVED = POSITIVE, NEGATIVE  # to "is your problem solved?"

# The conditions that make a verdict conditional, wherever in the reply they stand.
_STRONG_CONDITION = re.compile(
    r"\bnur ,? ?(?:wenn|falls|sofern|unter|gegen|bei)\b|\bunter (?:der|folgender|einer) "
    r"(?:bedingung|voraussetzung)|\bvorausgesetzt\b|\bes sei denn\b|\bbedingung :"
    r"|\b(?:aber|jedoch|doch) nur\b(?! ,? ?weil)|\bonly (?:if|on|when|provided)\b"
    r"|\bon (?:the )?condition\b|\bprovided (?:that|the|they|you|we|it)\b|\bproviding\b"
    r"|\b(?:as|so) long as\b|\bunless\b|\bsubject to\b|\bbut only\b(?! because)"
)
# No answer yet, in either context: undecided, or not ready to say.
_NOT_YET_DECIDED = (
    r"\bunsicher\b|\bnicht (?:ganz )?sicher\b|\bnoch (?:nicht|keine) (?:entschieden|entscheidung)"
    r"|\b(?:weiss|wissen) (?:es |ich |wir |das )?noch nicht\b|\bjein\b"
    r"|\bmelden? (?:mich|uns) (?:noch|bis|spaeter|innerhalb|nach|in|wieder|fristgerecht)\b"
    r"|\bnot (?:yet )?sure\b|\bunsure\b|\bundecided\b|\bmade up (?:my|our) minds?\b"
    r"|\b(?:haven't|have not|not yet|yet to) (?:\w+ )?decided?\b|\b(?:get|come) back to you\b"
    r"|\bnot saying\b|\b(?:ich )?(?:will|moechte) (?:ich )?nicht (?:sagen|behaupten)\b"
)
# Subjunctives: a verdict they go with is conditional ("einverstanden wären wir, wenn ...").
_SUBJUNCTIVES = frozenset(
    {"wuerde", "wuerden", "wuerd", "waere", "waeren", "koennte", "koennten", "haette"}
    | {"haetten", "would", "could", "might", "i'd", "we'd"}
)
# After a negator these make it partial ("nicht ganz gelöst", "not fully").
_PARTLY = frozenset(
    {"ganz", "voll", "vollstaendig", "komplett", "100", "entirely", "fully", "quite"}
    | {"completely", "totally", "wholly"}
)


@dataclass(frozen=True)
class Lexicon:
    """The words the verdict rules read in one reply context; the rules are the same."""

    name: str
    """The prefix of the rules' ids ("proposal-accept", "solved-undecided")."""
    answers: Mapping[str, str]
    """POSITIVE and NEGATIVE, as the rules' ids name them ("accept", "reject")."""
    positive: frozenset[str]
    negative: frozenset[str]
    negated_after: frozenset[str]
    """German verdicts whose negator may follow them ("einverstanden bin ich nicht",
    "gelöst ist es nicht")."""
    phrases: tuple[tuple[str, re.Pattern[str], str], ...]
    """Set phrases, each stating an answer, most with a negator of their own ("keine
    Einwände", "keine Probleme mehr"): (rule, pattern, answer). Their words are no other
    verdict, and their negator negates nothing else."""
    anywhere: tuple[tuple[str, re.Pattern[str], str, str], ...]
    """Read in every sentence, questions too: (rule, pattern, strength, answer)."""
    weak_condition: frozenset[str]
    """Conditions (on a proposal subjunctives too) that make the verdicts of their own
    sentence conditional."""
    partly: frozenset[str]
    """After a negator these make it partial ("nicht ganz einverstanden", "not fully")."""
    not_yet_undecided: bool
    """Whether a verdict negated "noch"/"yet" is undecided ("nehmen noch nicht an") or a
    plain "no" ("noch nicht gelöst")."""
    partial: re.Pattern[str] | None = None
    """Partial verdicts, read in the verdict's own sentence."""
    separable: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """German finite verbs whose particle closes the clause: "wir nehmen den Vorschlag an"."""
    third_party: frozenset[str] = frozenset()
    """Another party as the subject: its verdict is reported, not given."""
    subjunctive: frozenset[str] = frozenset()
    """Subjunctives that make a verdict in their own clause conditional (`weak_condition`
    reads the whole sentence)."""
    ironic: frozenset[str] = frozenset()
    """Before a "yes" word, these say it in irony ("super gelöst", "brilliantly solved")."""
    openers: Mapping[tuple[str, ...], str] = field(default_factory=dict)
    """A sentence's first words that answer the question by themselves ("Ja.", "Leider
    nein, ...", "Not yet, ..."), with their answer (OTHER: no answer yet, "Teilweise.")."""
    acknowledgements: frozenset[str] = frozenset()
    """Words that only acknowledge ("Ok", "Danke!"): a reply of nothing else answers nothing."""
    requests: re.Pattern[str] | None = None
    """A request or an acceptance ("gerne, schicken Sie mir ...", "yes please", "I'd like
    the voucher"): a bare "yes" in a reply that says one answers an offer, not our question."""


# ------------------------------------------------------------------ a proposal
#
# - stated: "ich nehme den Vorschlag an", "einverstanden", "I accept", "wir lehnen ab",
#   "abgelehnt", "I reject"; "nicht einverstanden", "das nehme ich nicht an", "I don't
#   accept" reject; "keine Einwände" accepts, "kommt nicht in Frage" rejects;
# - denied: "ich lehne nicht ab", "I don't reject it"; a counter-proposal is no acceptance;
# - reserved: undecided ("wir prüfen noch", "Bedenkzeit", "still checking", "need time",
#   "think it over"), conditional ("nur, wenn", "unter der Bedingung", "vorausgesetzt",
#   "only if", "provided that", "as long as"), partial ("teilweise", "grundsätzlich ja,
#   aber", "but not").

_ACCEPT_WORDS = frozenset(
    {"einverstanden", "angenommen", "annehmen", "annehmbar", "akzeptiere", "akzeptieren"}
    | {"akzeptiert", "akzeptabel", "zustimmung", "zustimmen", "einverstaendnis"}
    | {"accept", "accepts", "accepted", "accepting", "acceptable", "agree", "agrees", "agreed"}
    | {"consent", "consents"}
)
_REJECT_WORDS = frozenset(
    {"ablehnen", "abgelehnt", "ablehnung", "inakzeptabel", "unannehmbar"}
    | {"reject", "rejects", "rejected", "rejecting", "decline", "declines", "declined"}
    | {"declining", "unacceptable"}
)
# Undecided, anywhere in the reply: no answer yet.
_UNDECIDED = re.compile(
    _NOT_YET_DECIDED
    + r"|\bbedenkzeit\b|\bueberlegen\b|\bueberlege\b|\bunentschlossen\b|\bunentschieden\b"
    r"|\bnoch (?:\w+ )?(?:pruefen|klaeren|besprechen|abstimmen|entscheiden)\b"
    r"|\b(?:pruefe|pruefen|prueft|klaeren|klaere)\b(?! sie\b)[^.!?;]{0,60}\b"
    r"(?:noch|intern|derzeit|gerade|aktuell|momentan|zurzeit)\b"
    r"|\b(?:intern|derzeit|gerade|aktuell|momentan|zurzeit) "
    r"(?:\w+ )?(?:pruefen|pruefe|prueft)\b|\bin (?:der )?(?:internen |laufenden )?pruefung\b"
    r"|\bwird (?:noch )?geprueft\b"
    r"|\b(?:erst|zuerst|vorher|noch) (?:\w+ ){0,5}(?:besprechen|ruecksprache|sprechen|reden)\b"
    r"|\bruecksprache\b|\b(?:schauen|sehen) uns (?:\w+ ){0,4}noch (?:\w+ )?an\b"
    r"|\bnoch (?:nicht |un)einig\b"
    r"|\b(?:bevor|ehe) (?:ich|wir) (?:mich |uns )?(?:entscheide|entscheiden|zustimme|zustimmen)"
    r"|\b(?:danach|dann|spaeter) (?:entscheide|entscheiden)\b|\b(?:mehr|etwas|noch) zeit\b"
    r"|\bfrist\w* (?:\w+ ){0,5}verlaenger|\bfristverlaengerung\b"
    r"|\bgrundsaetzlich (?:ja|einverstanden|nicht abgeneigt)\b|\bim prinzip\b"
    r"|\bstill (?:checking|reviewing|considering|looking|discussing|thinking|deciding)\b"
    r"|\b(?:checking|reviewing|considering|discussing) (?:\w+ ){0,3}internally\b"
    r"|\b(?:check|review|discuss) (?:\w+ ){0,3}internally\b|\binternally (?:checking|reviewing)\b"
    r"|\b(?:need|needs|needed) (?:some |a bit of |a little |a few |more )?(?:more )?(?:time|days)\b"
    r"|\bbrauchen? (?:\w+ )?zeit\b|\bmore time\b|\bthink (?:it |this |that )?(?:over|about)\b"
    r"|\bthinking (?:it |this )?(?:over|about)\b|\bsleep on it\b|\brevert\b"
    r"|\bbefore (?:i|we) (?:decide|agree)"
    r"|\b(?:discuss|talk|speak) (?:it |this |that )?(?:over )?(?:with|to)\b"
    r"|\bcheck with (?:my|our)\b"
    r"|\b(?:extend|extension of) the deadline\b|\bin principle\b"
    r"|\btaking (?:our )?client's instructions\b"
)
PROPOSAL_WORDS = Lexicon(
    name="proposal",
    answers={ACCEPT: "accept", REJECT: "reject"},
    positive=_ACCEPT_WORDS,
    negative=_REJECT_WORDS,
    # "einverstanden bin ich nicht", "wir akzeptieren den Vorschlag nicht", "ablehnen
    # möchte ich ihn nicht"
    negated_after=frozenset(
        {"einverstanden", "akzeptiere", "akzeptieren", "akzeptiert", "akzeptabel", "annehmbar"}
        | {"annehmen", "angenommen", "zustimmen", "ablehnen", "abgelehnt"}
    ),
    phrases=(
        (
            "proposal-no-objection",
            re.compile(
                r"\b(?:keine?n?|keinerlei) einw(?:a|ae)nde?n?\b"
                r"|\bnichts (?:einzuwenden|dagegen)\b|\bno objections?\b"
            ),
            ACCEPT,
        ),
        (
            # The strongest yes, for all its negator.
            "proposal-agree-more",
            re.compile(r"\b(?:couldn'?t|could not|can'?t|cannot) agree more\b"),
            ACCEPT,
        ),
        (
            "proposal-refusal",
            re.compile(
                r"\bkommt (?:fuer (?:mich|uns) )?(?:nicht|keinesfalls|ueberhaupt nicht) in "
                r"frage\b|\bauf (?:gar )?keinen fall\b|\bno way\b|\babsolutely not\b"
                r"|\bnot a chance\b"
            ),
            REJECT,
        ),
    ),
    anywhere=(
        ("proposal-undecided", _UNDECIDED, RESERVED, OTHER),
        ("proposal-conditional", _STRONG_CONDITION, RESERVED, OTHER),
        # A counter-proposal is no acceptance (a rejection with one is still a rejection).
        (
            "proposal-counter",
            re.compile(r"\bgegen(?:vorschlag|angebot)\b|\bcounter ?-? ?(?:offer|proposal)\b"),
            DENIED,
            ACCEPT,
        ),
    ),
    weak_condition=frozenset(
        {"wenn", "falls", "sofern", "solange", "sobald", "if", "provided", "once"}
    )
    | _SUBJUNCTIVES,
    partly=_PARTLY | {"wirklich", "unbedingt", "so", "really", "necessarily"},
    not_yet_undecided=True,
    partial=re.compile(
        r"\b(?:aber|jedoch|but) (?:nicht|not)\b|\bteilweise\b|\bzum teil\b|\bin teilen\b"
        r"|\bpartly\b|\bpartially\b|\bin part\b|\bthe part\b"
    ),
    separable={
        **dict.fromkeys(("nehme", "nehmen", "nehm", "nimmt"), ("an", ACCEPT)),
        **dict.fromkeys(("stimme", "stimmen", "stimmt"), ("zu", ACCEPT)),
        **dict.fromkeys(("lehne", "lehnen", "lehnt", "lehn"), ("ab", REJECT)),
    },
    third_party=frozenset(
        {"kunde", "kundin", "haendler", "haendlerin", "er", "customer", "merchant", "shop"}
        | {"he", "she", "they"}
    ),
)


# ------------------------------------------------------------------ "is it solved?"
#
# "Solved" closes the case for good, so the customer's words must say so; "not solved"
# is the customer's right (mediation) and is read more readily, but not from a hedge.
# - stated: "gelöst", "hat sich erledigt", "ist behoben", "solved", "sorted", "fixed", a
#   bare "Ja." / "Yes, thanks"; "keine Probleme mehr", "nichts mehr offen", "no further
#   issues" say it with a negator of their own; "nicht gelöst", "nichts ist erledigt",
#   "still not solved", a bare "Nein." / "Leider nein" / "Not yet", "immer noch kein
#   Geld", "besteht weiterhin", "still waiting", "keine Lösung", "von wegen" say no;
# - denied: a "yes" with a hedge ("hoffentlich", "vielleicht", "should be"), in part ("ja,
#   aber die Rechnung stimmt noch nicht", "teilweise", "almost"), in irony ("super
#   gelöst", "ja klar", "oh yes, brilliantly solved") or under a condition somewhere in
#   the reply ("erst wenn", "only if") is no "yes"; a negated "no" is no "no";
# - reserved: undecided ("nicht sicher", "mal sehen", "dann sehen wir weiter", "abwarten",
#   "too early to tell", "we'll see", "I'll let you know", "not saying"), a bare partial
#   or hedged answer ("Teilweise.", "Jein", "Yes and no", "Vielleicht"), a conditional
#   verdict ("gelöst wäre es erst, wenn ...", "it would be solved if ...", "it should be
#   solved once ..."), and a reply that only acknowledges ("Ok", "Danke!").

# "Solved", in the verdict words and in the patterns (`_YES_WORD`); the German ones may
# be negated after them ("gelöst ist es nicht").
_SOLVED_DE = ("geloest", "erledigt", "geklaert", "behoben", "geregelt")
_SOLVED_EN = ("solved", "resolved", "sorted", "fixed", "settled")
_SOLVED_WORDS = frozenset(_SOLVED_DE + _SOLVED_EN)
_UNSOLVED_WORDS = frozenset(
    {"ungeloest", "unerledigt", "ungeklaert", "unsolved", "unresolved", "unsettled"}
)
_NO_PROBLEMS = re.compile(
    r"\bkeine?n? (?:weiteren |anderen )?(?:probleme?|beschwerden?|beanstandungen?) mehr\b"
    r"|\bkeine?n? (?:weiteren|anderen) (?:probleme?|beschwerden?|beanstandungen?)\b"
    r"|\bnicht mehr noetig\b|\bno need to (?:take|go|pursue) (?:it |this |that )?(?:any )?further"
    r"|\bcan't complain any ?more\b"
    r"|\bnichts mehr (?:offen|zu beanstanden|zu tun|zu klaeren)\b"
    r"|\bkein (?:problem|thema) mehr\b"
    r"|\bno (?:more|further|other) (?:problems?|issues?|complaints?)\b"
    r"|\bno (?:problems?|issues?) any ?more\b"
    r"|\bnothing (?:more|left|else|further) to (?:do|sort out|fix|complain about)\b"
)
_YES_WORD = f"(?:{'|'.join(_SOLVED_DE + _SOLVED_EN)})"
_STILL_NOT = re.compile(
    r"\b(?:immer noch|noch immer|nach wie vor|weiterhin|still) (?:\w+ )?"
    r"(?:nicht|kein\w*|nichts|nix|not|no|nothing|none|offen|open|kaputt|broken|defekt|da"
    r"|there|waiting|falsch|wrong|weg|missing)\b(?: (?:\w+ )?" + _YES_WORD + r"\b)?"
    r"|\b(?:warte|warten) (?:\w+ )?(?:immer noch|noch immer|weiterhin)\b"
    r"|\bbesteht (?:\w+ )?(?:weiterhin|immer noch|noch immer|nach wie vor|fort)\b"
    r"|\b(?:ist|bleibt) (?:\w+ )?(?:noch|weiterhin) offen\b"
    r"|\b(?:keine|no|not a) (?:loesung|solution)\b"
    r"|\bvon wegen(?: \w+)?\b|\bnot even close\b|\bfar from (?:it|solved|resolved|over)\b"
    r"|\bdanke fuer nichts\b|\bthanks for nothing\b"
    # "I'd love to say yes, but ...": a "no" in a subjunctive
    r"|\b(?:wuerde|wuerden) (?:\w+ )?gerne? (?:mit )?ja (?:sagen|schreiben|antworten)\b"
    r"|\bwuenschte ,? ?(?:ich|wir) (?:koennte|koennten) ja sagen\b"
    r"|\b(?:i|we)(?:'d| would) (?:love|like) to (?:say|answer) yes\b"
    r"|\b(?:i|we) wish (?:i|we) could say (?:yes|so)\b"
)
# What a "but" or an "only" names as still missing or undone ("aber die Abholung hat
# niemand organisiert", "nur die Gutschrift fehlt", "but nobody has picked it up yet");
# "nie wieder" / "never again" speaks of the shop, not of the problem.
_UNDONE = (
    r"(?:nicht|kein\w*|nichts|niemand|niemals|nie(?! wieder)|fehlt|fehlen|fehlte|fehlten"
    r"|offen|ausstehend|falsch|still|not|no|nothing|nobody|none|never(?! again)|yet|missing"
    r"|outstanding|pending|wrong|\w+n't)"
)
# A "yes" in part: "ja, aber ...", "gelöst, aber die Rechnung stimmt noch nicht", a "yes"
# that goes on to name what is still missing ("Ja, die Ware ist da, nur die Gutschrift
# fehlt noch", "Yes, it arrived, but nobody has collected the old one yet"), and "solved"
# said of one part only ("Gelöst wurde nur die Frage der Rücksendung").
_IN_PART = re.compile(
    r"\bteilweise\b|\bzum teil\b|\bin teilen\b|\bhalb\b|\bgroesstenteils\b|\bweitgehend\b"
    r"|\bpartly\b|\bpartially\b|\bin part\b|\bhalf\b|\bmostly\b|\blargely\b|\bsort of\b"
    r"|\bkind of\b|\bausser\b|\bexcept\b|\b(?:fast|beinahe) geschafft\b|\b(?:almost|nearly) there\b"
    r"|\b(?:fast|beinahe|almost|nearly) (?:\w+ )?" + _YES_WORD + r"\b"
    r"|\b(?:ja|yes|yeah|yep|geloest|erledigt|solved|resolved|sorted|fixed) ,? ?"
    r"(?:aber|but|jedoch|allerdings)\b"
    r"|\b(?:aber|jedoch|allerdings|but|however) (?:[\w']+ ){0,8}?(?:noch|" + _UNDONE + r")\b"
    r"|\b(?:nur|bloss|lediglich|only) (?:[\w']+ ){0,8}?" + _UNDONE + r"\b"
    # what is missing "noch", not "immer noch" (a "still not" of its own, no part)
    r"|\b(?:fehlt|fehlen) (?:(?!immer\b)\w+ ){0,2}?noch\b(?! immer\b)"
    r"|\bsteh(?:t|en) (?:\w+ ){0,3}?noch aus\b"
    r"|\bnoch ausstehend\b|\bstill (?:\w+ )?(?:outstanding|pending|to come)\b"
    # "gelöst wurde nur ...", "nur die Rücksendung ist geklärt", "only the return was sorted"
    r"|\b" + _YES_WORD + r" (?:[\w']+ ){0,3}?(?:nur|bloss|lediglich|only)\b"
    r"(?! (?:dank|durch|weil|wegen|mit|nach|because|thanks|after|with|through)\b)"
    r"|(?:^|(?<=[,:;–—-] ))(?:nur|bloss|lediglich|only) (?:[\w']+ ){0,4}?" + _YES_WORD + r"\b"
)
# A "yes" with a hedge: hoped for, likely, expected, or seen so far.
_HEDGE = re.compile(
    r"\bhoffentlich\b|\b(?:ich|wir) hoffen?\b|\bhoffe ich\b|\bvielleicht\b|\beventuell\b"
    r"|\bwahrscheinlich\b|\bvermutlich\b|\bscheinbar\b|\banscheinend\b|\bsieht (?:\w+ )?aus\b"
    r"|\bscheint\b|\bgehe davon aus\b|\bdenke (?:ich )?schon\b|\bglaube (?:ich )?schon\b"
    r"|\bhopefully\b|\b(?:i|we) hope\b|\bhope so\b|\bmaybe\b|\bperhaps\b|\bprobably\b"
    r"|\blikely\b|\bseems?\b|\blooks like\b|\bi think so\b|\bi guess\b|\bso far\b|\bbis jetzt\b"
    r"|\bbisher\b|\bshould be\b|\bsollte\b"
    # waiting for what would solve it: "Ja, danke, ich warte dann auf die Erstattung"
    r"|\b(?:ich|wir) warten? (?:\w+ ){0,3}?auf\b|\bwarten? (?:ich|wir) (?:\w+ ){0,3}?auf\b"
    r"|\b(?:i|we)(?:'ll| will| am| are|'m|'re)? (?:\w+ )?wait(?:ing)? (?:\w+ ){0,2}?for\b"
    # "solved" to come: "wird gelöst", "soll nächste Woche erledigt sein", "will be fixed"
    r"|\b(?:wird|werden|soll|sollen|will|shall|it'll|that'll|going to|gonna) (?:\w+ ){0,5}?"
    + _YES_WORD
)
# Irony, anywhere in the reply: no "yes".
_IRONY = re.compile(
    r"\bja klar\b|\bna klar\b|\bna toll\b|\bwitz\b|\blachhaft\b|\bhauptsache\b"
    r"|\byeah,? (?:sure|right)\b|\boh,? yes\b|\boh,? ja\b|\bjoke\b|\blaughable\b|\bridiculous\b"
)
_SOLVED_UNDECIDED = re.compile(
    _NOT_YET_DECIDED
    + r"|\bmal (?:sehen|schauen|gucken)\b|\b(?:sehen|schauen) wir (?:dann |mal )?(?:weiter|mal)\b"
    r"|\babwarten\b|\b(?:warte|warten) (?:\w+ ){0,3}ab\b|\b(?:zu|noch zu) frueh\b"
    r"|\bkann (?:ich |man )?(?:es |das )?(?:noch nicht|erst|noch gar nicht) sagen\b"
    r"|\bkann ich (?:noch nicht|erst|noch gar nicht|ihnen erst) sagen\b"
    r"|\b(?:gebe|sage) (?:ihnen |euch )?(?:dann |noch |spaeter )?bescheid\b"
    r"|\bmelden? (?:mich|uns) dann\b"
    r"|\bwe'll see\b|\blet's see\b|\bwait and see\b|\bwe will see\b|\btoo early\b|\bcan't say\b"
    r"|\bcannot say\b|\bcan't tell\b|\b(?:let|keep) you (?:know|posted)\b|\bwill update\b"
    r"|\bask me again\b|\bdon't know yet\b"
)
# A "yes" that asks for or takes something answers another question, one the shop asked
# in its reply ("Dürfen wir Ihnen einen Gutschein schicken? Antworten Sie mit Ja oder
# Nein."): "Ja, gerne, schicken Sie mir den Gutschein", "Yes please, send me the voucher".
# Asking to close the case ("Ja, bitte schließen Sie den Fall") is no such request.
_REQUEST = re.compile(
    r"\b(?:ja|jo|jawohl|yes|yeah|yep|ok|okay|gern|gerne) ,? ?(?:gern|gerne|bitte|please)\b"
    r"(?!(?: [\w',]+){0,6}? (?:schliessen|abschliessen|beenden|close|end)\b)"
    r"|\b(?:schicken|senden|schickt|sendet|ueberweisen|erstatten|geben) sie (?:\w+ ){0,3}?"
    r"(?:mir|uns|bitte|den|die|das|einen|eine|ein)\b"
    r"|\bbitte (?:\w+ ){0,5}?(?:schicken|senden|zusenden|zuschicken|ueberweisen|erstatten)\b"
    r"|\b(?:ich|wir) (?:haette|haetten|nehme|nehmen|moechte|moechten) (?:\w+ ){0,3}?"
    r"(?:gerne?|lieber|stattdessen)\b|\bnehmen? (?:ich |wir )?(?:\w+ ){0,2}?gerne?\b"
    r"|\bplease (?:\w+ ){0,2}?(?:send|transfer|refund|issue|ship|mail|post|give)\b"
    r"|(?:^|(?<=[,:;–—-] ))(?:send|ship|give|transfer|refund) (?:me|us)\b"
    r"|\b(?:i|we)(?:'d| would) (?:like|prefer|love|rather|take|be happy with|be glad of)"
    r" (?:the|a|an|that|this|it|one|to (?:get|have|receive|take|accept))\b"
    r"|\b(?:i'll|we'll|i will|we will) (?:take|accept|gladly)\b"
)
REPEATED = re.compile(r"(\w)\1+")


def _openers(answer: str, phrases: str) -> dict[tuple[str, ...], str]:
    """Bare answers, "|"-separated, as the rules compare them: letters said once ("jaaa",
    "neee" are "ja", "ne")."""
    return {
        tuple(REPEATED.sub(r"\1", word) for word in phrase.split()): answer
        for phrase in phrases.split("|")
    }


_SOLVED_OPENERS = {
    **_openers(RESOLVED, "ja|jo|jap|jup|jep|jawohl|yes|yep|yup|yeah|yes it is|ja ist es"),
    **_openers(
        NOT_RESOLVED,
        "nein|ne|noe|no|nope|nah|negativ|negative|leider nein|leider nicht|noch nicht"
        "|leider noch nicht|immer noch nicht|noch immer nicht|nicht wirklich|ueberhaupt nicht"
        "|gar nicht|not yet|still not|sadly not|sadly no|unfortunately not|unfortunately no"
        "|afraid not|i'm afraid not|not really|not at all|no it's not|no it is not|no it isn't",
    ),
    **_openers(
        OTHER,
        "ja und nein|ja nein|yes and no|yes no|teilweise|halb|fast|partly|half|almost"
        "|nicht ganz|noch nicht ganz|not quite|not entirely|sort of|kind of|vielleicht|maybe"
        "|perhaps",
    ),
}
SOLVED_WORDS = Lexicon(
    name="solved",
    answers={RESOLVED: "resolved", NOT_RESOLVED: "not-resolved"},
    positive=_SOLVED_WORDS,
    negative=_UNSOLVED_WORDS,
    negated_after=frozenset(_SOLVED_DE),
    phrases=(
        ("solved-no-problems", _NO_PROBLEMS, RESOLVED),
        ("solved-still-not", _STILL_NOT, NOT_RESOLVED),
    ),
    anywhere=(
        ("solved-undecided", _SOLVED_UNDECIDED, RESERVED, OTHER),
        # The customer writes what the shop makes conditions of, too: a condition keeps
        # "solved" from closing, but takes no "not solved" back.
        ("solved-conditional", _STRONG_CONDITION, DENIED, RESOLVED),
        ("solved-partial", _IN_PART, DENIED, RESOLVED),
        ("solved-hedge", _HEDGE, DENIED, RESOLVED),
        ("solved-irony", _IRONY, DENIED, RESOLVED),
    ),
    weak_condition=frozenset(
        {"wenn", "falls", "sofern", "solange", "sobald", "erst", "bis", "if", "provided"}
        | {"once", "until", "till"}
    ),
    subjunctive=_SUBJUNCTIVES | {"it'd"},
    partly=_PARTLY,
    not_yet_undecided=False,
    ironic=frozenset({"super", "toll", "total", "wunderbar", "prima", "bestens"})
    | {"brilliantly", "wonderfully", "beautifully", "perfectly", "great"},
    openers=_SOLVED_OPENERS,
    acknowledgements=frozenset(
        {"ok", "okay", "oki", "okey", "k", "kk", "danke", "dank", "vielen", "besten"}
        | {"herzlichen", "schoen", "verstanden", "gelesen", "erhalten", "thanks", "thank"}
        | {"you", "thx", "cheers", "many", "noted", "got", "it", "received"}
    ),
    requests=_REQUEST,
)
LEXICONS = {PROPOSAL: PROPOSAL_WORDS, SOLVED_QUESTION: SOLVED_WORDS}
