"""What a reply to our question says beyond its words: negation scope and answer shape,
and the rules that read its verdict (on a proposal; on "is your problem solved?").

Owns `intent_inputs`, `verdict_hits` and `verdict_answer`. A bag of words cannot tell
"einverstanden" from "nicht einverstanden", "I accept" from "I don't accept", or "kein
Problem mehr" (solved) from "Problem" (not solved). So, on the normalised text
(`records.normalise`):
- the word n-grams see each of the three words after a negator, up to the next
  punctuation, as its own negated word ("nicht einverstanden" → "nicht nxeinverstanden");
- a small block of cue words records the negated words after and before a negator
  (German puts it after the verb: "das nehme ich nicht an"), the first word or two (the
  answer to a yes/no question usually opens the reply), the length (a bare "Ja." or
  "Declined." says all), a question mark, a condition ("nur wenn", "only if",
  "vorausgesetzt", "as long as": not yet a yes), and the context the reply answers.
Those are features: the model weighs them, and may weigh them wrong. An answer to either
question acts, so the rules below (`verdict_hits`) decide it where they can, and the
model only the rest, and only when it is sure (`classifier.classification`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from classifier.records import NEGATIVE, POSITIVE, normalise

# Negators in normalised form (lower case, umlauts spelt out: "nö" is "noe").
NEGATORS = frozenset(
    {
        "nicht",
        "nich",
        "net",
        "kein",
        "keine",
        "keinen",
        "keinem",
        "keiner",
        "keines",
        "nie",
        "niemals",
        "nichts",
        "nix",
        "nee",
        "noe",
        "nein",
        "keinesfalls",
        "keineswegs",
        "weder",
        "nirgends",
        "not",
        "no",
        "never",
        "nothing",
        "none",
        "nobody",
        "neither",
        "nor",
        "cannot",
        "can't",
        "cant",
        "don't",
        "dont",
        "won't",
        "wont",
        "isn't",
        "isnt",
        "doesn't",
        "doesnt",
        "didn't",
        "didnt",
        "haven't",
        "havent",
        "hasn't",
        "hasnt",
        "wasn't",
        "wasnt",
        "aren't",
        "arent",
        "wouldn't",
        "wouldnt",
        "couldn't",
        "couldnt",
        "shouldn't",
        "shouldnt",
        "nope",
        "nah",
    }
)
CONDITIONS = frozenset(
    {
        "wenn",
        "falls",
        "sofern",
        "solange",
        "vorausgesetzt",
        "bedingung",
        "if",
        "unless",
        "provided",
        "providing",
        "condition",
    }
)
_SCOPE = 3  # words a negation reaches, stopping early at punctuation
_DIGITS = re.compile(r"\d+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[?!.,;:()\"]")
_LENGTHS = ((1, "1"), (3, "3"), (10, "10"), (30, "30"))


def intent_inputs(text: str, context: str) -> tuple[str, str]:
    """For a normalised reply: the text for the word n-grams (negated words marked) and
    the space-separated cue words."""
    # Amounts and dates alike, as the word and character features count them.
    # Typographic apostrophes too ("don’t"), as phones write them.
    tokens = _TOKEN.findall(_DIGITS.sub("0", text.translate(_APOSTROPHES)))
    words = [token for token in tokens if token[0].isalnum()]
    marked = list(tokens)
    cues = [f"ctx:{context}", f"len:{_length(len(words))}"]
    if words:
        cues.append(f"first:{words[0]}")
        if len(words) > 1:
            cues.append(f"first2:{words[0]}_{words[1]}")
    if "?" in tokens:
        cues.append("question")
    for index, part in enumerate(tokens):
        # "as long as" / "so long as" is a condition too.
        if part in CONDITIONS or (part == "long" and index and tokens[index - 1] in ("as", "so")):
            cues.append("condition")
        if part not in NEGATORS:
            continue
        for after in _scope(tokens, range(index + 1, min(len(tokens), index + 1 + _SCOPE))):
            cues.append(f"neg:{tokens[after]}")
            marked[after] = "nx" + tokens[after].replace("'", "")
        for before in _scope(tokens, range(index - 1, max(-1, index - 1 - _SCOPE), -1)):
            cues.append(f"negb:{tokens[before]}")
    return " ".join(marked), " ".join(cues)


def _scope(tokens: list[str], positions: range) -> list[int]:
    """The positions of words in the negation's reach: up to punctuation or a negator."""
    reach = []
    for position in positions:
        token = tokens[position]
        if not token[0].isalnum() or token in NEGATORS:
            break
        reach.append(position)
    return reach


def _length(words: int) -> str:
    return next((name for limit, name in _LENGTHS if words <= limit), "long")


# ------------------------------------------------------------------ verdict rules
#
# Two answers act, so they must be said in so many words: a party's answer to a mediator's
# proposal (accepted by both, the case closes settled; rejected, it goes back to mediation)
# and the customer's answer to "is your problem solved?" (solved, the case closes resolved
# for good; not solved, it goes to mediation). One engine reads both (`verdict_hits`),
# sentence by sentence, with the words of the context (`Lexicon`: `PROPOSAL_WORDS`,
# `SOLVED_WORDS`), each hit with a strength:
# - `stated` (decisive): an explicit answer, or a negated "yes", which is a clear "no"
#   ("nicht einverstanden", "I don't accept", "nicht gelöst", "nothing is solved");
# - `denied`: an answer the reply says it does not give: a negated "no" ("ich lehne nicht
#   ab") is no "no", and not yet a "yes" either; a "yes" said in irony, in part or with a
#   hedge is none;
# - `reserved`: the reply gives no answer yet, whatever else it says: undecided,
#   conditional (a plain "wenn"/"if" or a subjunctive in the verdict's own sentence:
#   "einverstanden wären wir, wenn ...", "gelöst wäre es erst, wenn ..."), or partial.
# A verdict in a question ("Was passiert, wenn ich ablehne?"), in an embedded question ("ob
# das gelöst ist", "whether"), quoted as a word ("solved"), reported ("der Händler sagt,
# es sei erledigt", "they say it's solved") or, on a proposal, said of another party ("der
# Kunde hat abgelehnt") states nothing. `verdict_answer` settles what the hits settle;
# everything else is left to the model, which must be sure (`classifier.classification`).

STATED = "stated"
DENIED = "denied"
RESERVED = "reserved"
OTHER = "other"  # with POSITIVE and NEGATIVE, the answers of `records.INTENT_BY_ANSWER`
ACCEPT, REJECT = POSITIVE, NEGATIVE  # on a proposal
RESOLVED, NOT_RESOLVED = POSITIVE, NEGATIVE  # to "is your problem solved?"
PROPOSAL, SOLVED_QUESTION = "proposal", "solved_question"  # the contexts

_RULE_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[?!.,;:()\"–—-]")
_DOT_IN_NUMBER = re.compile(r"(?<=\d)\.(?=\d)")
_SENTENCE_ENDS = frozenset("?!.;")
# Where a clause ends: its punctuation and the conjunctions between clauses.
_CLAUSE_ENDS = frozenset(',:()"–—-') | {"und", "aber", "sondern", "jedoch", "oder"}
_CLAUSE_ENDS |= {"and", "but", "or", "although", "though"}
# A dot after these ends no sentence ("Frau Dr. Hollmann, hiermit nehme ich ... an").
_ABBREVIATIONS = frozenset(
    {"dr", "nr", "ca", "bzw", "inkl", "evtl", "ggf", "z", "b", "u", "a", "mr", "mrs", "ms", "st"}
)
# Negators of a verdict: `NEGATORS` and the words that refuse in so many words.
_NEGATES = (NEGATORS | {"unable", "unwilling", "refuse", "refuses"}) - {"nor"}
# How far the rules look from a verdict word, within its clause.
_REACH = 12
# An embedded question asks, it states nothing: "ob das gelöst ist", "whether I accept".
_EMBEDDED_QUESTION = frozenset({"ob", "whether"})
# Reported speech: a verdict after these says what another says ("der Händler schreibt,
# es sei erledigt", "they claim it's solved", "laut Händler"); said by "ich"/"I" (as I
# said) it is one's own.
_REPORTS = frozenset(
    {"sagt", "sagte", "schreibt", "schrieb", "behauptet", "behauptete", "meint", "meinte"}
    | {"says", "said", "claims", "claimed", "writes", "wrote", "told", "tells", "insists"}
)
# The same verbs in the plural, said by "they" ("sie sagen", "they claim"): "I regret to
# say" is one's own.
_THEY_REPORT = frozenset(
    {"sagen", "schreiben", "behaupten", "meinen", "say", "claim", "write", "insist"}
)
_THEY = frozenset({"sie", "die", "they"})
_HEARSAY = frozenset(
    {"laut", "zufolge", "angeblich", "sei", "seien", "supposedly", "allegedly", "according"}
)
_FIRST_PERSON = frozenset({"ich", "wir", "i", "we"})
# The conditions that make a verdict conditional, wherever in the reply they stand.
_STRONG_CONDITION = re.compile(
    r"\bnur ,? ?(?:wenn|falls|sofern|unter|gegen|bei)\b|\bunter (?:der|folgender|einer) "
    r"(?:bedingung|voraussetzung)|\bvorausgesetzt\b|\bes sei denn\b|\bbedingung :"
    r"|\b(?:aber|jedoch|doch) nur\b(?! ,? ?weil)|\bonly (?:if|on|when|provided)\b"
    r"|\bon (?:the )?condition\b|\bprovided (?:that|the|they|you|we|it)\b|\bproviding\b"
    r"|\b(?:as|so) long as\b|\bunless\b|\bsubject to\b|\bbut only\b(?! because)"
)
# A concession is no condition: "auch wenn es mir schwerfällt", "even if".
_CONCESSION = frozenset({"auch", "selbst", "even"})
# No answer yet, in either context: undecided, or not ready to say.
_NOT_YET_DECIDED = (
    r"\bunsicher\b|\bnicht (?:ganz )?sicher\b|\bnoch (?:nicht|keine) (?:entschieden|entscheidung)"
    r"|\b(?:weiss|wissen) (?:es |ich |wir |das )?noch nicht\b|\bjein\b"
    r"|\bmelden? (?:mich|uns) (?:noch|bis|spaeter|innerhalb|nach|in|wieder|fristgerecht)\b"
    r"|\bnot (?:yet )?sure\b|\bunsure\b|\bundecided\b|\bmade up (?:my|our) minds?\b"
    r"|\b(?:haven't|have not|not yet|yet to) (?:\w+ )?decided?\b|\b(?:get|come) back to you\b"
    r"|\bnot saying\b|\b(?:ich )?(?:will|moechte) (?:ich )?nicht (?:sagen|behaupten)\b"
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
# What "agree with" must be about to be a verdict ("I agree with the customer" is none).
_AGREE_OBJECTS = frozenset(
    {"proposal", "proposed", "this", "that", "it", "you", "offer", "settlement", "mediator"}
    | {"suggestion", "solution", "terms"}
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
        | {"wuerde", "wuerden", "wuerd", "waere", "waeren", "koennte", "koennten", "haette"}
        | {"haetten", "would", "could", "might", "i'd", "we'd"}
    ),
    partly=frozenset(
        {"ganz", "wirklich", "voll", "vollstaendig", "komplett", "unbedingt", "so", "100"}
        | {"entirely", "fully", "quite", "completely", "totally", "really", "necessarily"}
        | {"wholly"}
    ),
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

_SOLVED_WORDS = frozenset(
    {"geloest", "erledigt", "geklaert", "behoben", "geregelt"}
    | {"solved", "resolved", "sorted", "fixed", "settled"}
)
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
_YES_WORD = r"(?:geloest|erledigt|geklaert|behoben|geregelt|solved|resolved|sorted|fixed|settled)"
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
# A "yes" in part: "ja, aber ...", "gelöst, aber die Rechnung stimmt noch nicht".
_IN_PART = re.compile(
    r"\bteilweise\b|\bzum teil\b|\bin teilen\b|\bhalb\b|\bgroesstenteils\b|\bweitgehend\b"
    r"|\bpartly\b|\bpartially\b|\bin part\b|\bhalf\b|\bmostly\b|\blargely\b|\bsort of\b"
    r"|\bkind of\b|\bausser\b|\bexcept\b|\b(?:fast|beinahe) geschafft\b|\b(?:almost|nearly) there\b"
    r"|\b(?:fast|beinahe|almost|nearly) (?:\w+ )?" + _YES_WORD + r"\b"
    r"|\b(?:ja|yes|yeah|yep|geloest|erledigt|solved|resolved|sorted|fixed) ,? ?"
    r"(?:aber|but|jedoch|allerdings)\b"
    r"|\b(?:aber|jedoch|allerdings|but|however) (?:\w+ ){0,6}?(?:noch|nicht|kein\w*|nichts|fehlt"
    r"|fehlen|still|not|no|nothing|missing|wrong|falsch)\b"
)
# A "yes" with a hedge: hoped for, likely, expected, or seen so far.
_HEDGE = re.compile(
    r"\bhoffentlich\b|\b(?:ich|wir) hoffen?\b|\bhoffe ich\b|\bvielleicht\b|\beventuell\b"
    r"|\bwahrscheinlich\b|\bvermutlich\b|\bscheinbar\b|\banscheinend\b|\bsieht (?:\w+ )?aus\b"
    r"|\bscheint\b|\bgehe davon aus\b|\bdenke (?:ich )?schon\b|\bglaube (?:ich )?schon\b"
    r"|\bhopefully\b|\b(?:i|we) hope\b|\bhope so\b|\bmaybe\b|\bperhaps\b|\bprobably\b"
    r"|\blikely\b|\bseems?\b|\blooks like\b|\bi think so\b|\bi guess\b|\bso far\b|\bbis jetzt\b"
    r"|\bbisher\b|\bshould be\b|\bsollte\b"
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
_REPEATED = re.compile(r"(\w)\1+")


def _openers(answer: str, phrases: str) -> dict[tuple[str, ...], str]:
    """Bare answers, "|"-separated, as the rules compare them: letters said once ("jaaa",
    "neee" are "ja", "ne")."""
    return {
        tuple(_REPEATED.sub(r"\1", word) for word in phrase.split()): answer
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
    negated_after=frozenset({"geloest", "erledigt", "geklaert", "behoben", "geregelt"}),
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
    subjunctive=frozenset(
        {"wuerde", "wuerden", "wuerd", "waere", "waeren", "koennte", "koennten", "haette"}
        | {"haetten", "would", "could", "might", "i'd", "we'd", "it'd"}
    ),
    partly=frozenset(
        {"ganz", "voll", "vollstaendig", "komplett", "100", "entirely", "fully", "quite"}
        | {"completely", "totally", "wholly"}
    ),
    not_yet_undecided=False,
    ironic=frozenset({"super", "toll", "total", "wunderbar", "prima", "bestens"})
    | {"brilliantly", "wonderfully", "beautifully", "perfectly", "great"},
    openers=_SOLVED_OPENERS,
    acknowledgements=frozenset(
        {"ok", "okay", "oki", "okey", "k", "kk", "danke", "dank", "vielen", "besten"}
        | {"herzlichen", "schoen", "verstanden", "gelesen", "erhalten", "thanks", "thank"}
        | {"you", "thx", "cheers", "many", "noted", "got", "it", "received"}
    ),
)
LEXICONS = {PROPOSAL: PROPOSAL_WORDS, SOLVED_QUESTION: SOLVED_WORDS}
# After a bare answer these may follow in its clause: "Ja danke", "Nein leider".
_AFTER_ANSWER = frozenset(
    {"danke", "leider", "endlich", "bitte", "sorry", "thanks", "thank", "sadly"}
    | {"unfortunately", "finally", "please"}
)
# A greeting before the answer in the same sentence: "Hallo, ja ...".
_GREETINGS = frozenset(
    {"hallo", "hi", "hey", "hello", "moin", "servus", "guten", "tag", "morgen", "abend"}
    | {"good", "morning", "afternoon", "evening", "again", "nochmal", "zusammen"}
)
_IN_PHRASE = "·"  # a word of a set phrase, when the other rules read the sentence
_ANSWER_NAMES = {POSITIVE: "yes", NEGATIVE: "no", OTHER: "no answer"}


@dataclass(frozen=True)
class VerdictHit:
    """One verdict rule that fired: its id, strength, the answer it speaks of and the
    (normalised) words it read."""

    rule: str
    strength: str  # STATED, DENIED or RESERVED
    answer: str  # POSITIVE, NEGATIVE or OTHER
    words: str

    @property
    def detail(self) -> str:
        return f"{self.strength} {_ANSWER_NAMES[self.answer]}: {self.words}"


def verdict_hits(text: str, context: str) -> list[VerdictHit]:
    """The verdict rules of `context` that fire on a reply's own text (as written, not
    normalised), reservations first, then the verdicts in the order of the text."""
    lexicon = LEXICONS[context]
    sentences = _sentences(text)
    said_words = [word for words, _ in sentences for word in words if word[0].isalnum()]
    if lexicon.acknowledgements and said_words and lexicon.acknowledgements.issuperset(said_words):
        # "Ok", "Danke!": the mail was read, the question is not answered
        return [
            VerdictHit(f"{lexicon.name}-acknowledgement", RESERVED, OTHER, " ".join(said_words))
        ]
    hits: list[VerdictHit] = []
    verdicts: list[VerdictHit] = []
    for words, question in sentences:
        said = " ".join(words)
        for rule, pattern, strength, answer in lexicon.anywhere:
            if found := pattern.search(said):
                hits.append(VerdictHit(rule, strength, answer, found.group(0)))
        if question:
            continue  # "Was passiert, wenn ich ablehne?" states nothing
        stated, rest = _verdicts(words, lexicon)
        verdicts.extend(stated)
        if not stated:
            continue
        if weak := _weak_condition(rest, lexicon.weak_condition):
            hits.append(VerdictHit(f"{lexicon.name}-conditional", RESERVED, OTHER, weak))
        if lexicon.partial and (partial := lexicon.partial.search(said)):
            hits.append(VerdictHit(f"{lexicon.name}-partial", RESERVED, OTHER, partial.group(0)))
    return hits + verdicts


def verdict_answer(hits: list[VerdictHit]) -> str | None:
    """What the hits settle: POSITIVE or NEGATIVE when the reply states one and only that,
    OTHER when it reserves its answer, denies one without stating the other, or says
    both; None when no rule fired (the model decides)."""
    if any(hit.strength == RESERVED for hit in hits):
        return OTHER
    stated = {hit.answer for hit in hits if hit.strength == STATED}
    denied = {hit.answer for hit in hits if hit.strength == DENIED}
    if len(stated) == 1 and not stated & denied:
        return next(iter(stated))
    return OTHER if stated or denied else None


def _sentences(text: str) -> list[tuple[list[str], bool]]:
    """The normalised words of each sentence (a line ends one too), and whether it is a
    question."""
    sentences = []
    for line in text.translate(_APOSTROPHES).splitlines():
        words: list[str] = []
        for part in _RULE_TOKEN.findall(_DOT_IN_NUMBER.sub("", normalise(line))):
            if part not in _SENTENCE_ENDS or (
                part == "." and words and (words[-1] in _ABBREVIATIONS or words[-1].isdigit())
            ):
                words.append(part)
            elif words:
                sentences.append((words, part == "?"))
                words = []
        if words:
            sentences.append((words, False))
    return sentences


def _clauses(words: list[str]) -> tuple[list[int], list[int]]:
    """Per word, where its clause starts and where it ends (exclusive), in one pass each."""
    starts, start = [], 0
    for index, word in enumerate(words):
        starts.append(start)
        if word in _CLAUSE_ENDS:
            start = index + 1
    ends, end = [0] * len(words), len(words)
    for index in range(len(words) - 1, -1, -1):
        ends[index] = end
        if words[index] in _CLAUSE_ENDS:
            end = index
    return starts, ends


def _verdicts(words: list[str], lexicon: Lexicon) -> tuple[list[VerdictHit], list[str]]:
    """The verdicts a statement says, each as said, negated or reserved, and the words
    that are no set phrase (where conditions are looked for). Every look around a
    verdict word reaches at most `_REACH` words, so that the work grows with the text,
    not with its square."""
    said = " ".join(words)
    # Set phrases carry a negator of their own ("keine Einwände", "keine Probleme mehr",
    # "auf keinen Fall"), which negates nothing else: their words are no other verdict.
    found, spans = [], []
    for rule, pattern, answer in lexicon.phrases:
        spans.extend(phrase.span() for phrase in pattern.finditer(said))
        if phrase := pattern.search(said):
            found.append(VerdictHit(rule, STATED, answer, phrase.group(0)))
    opener = _opener(words, lexicon)
    if spans:
        words = _mask(words, sorted(spans))
    # A bare "no" before a "yes" phrase is part of it: "Nein, keine Probleme mehr".
    if opener and not (opener.answer == NEGATIVE and POSITIVE in {hit.answer for hit in found}):
        found.append(opener)
    starts, ends = _clauses(words)
    for index, word in enumerate(words):
        start, end = max(starts[index], index - _REACH), min(ends[index], index + _REACH + 1)
        if word in lexicon.separable:
            particle, answer = lexicon.separable[word]
            # The particle closes the clause: "nehmen den Vorschlag an", not "nehmen an, dass".
            last = ends[index] - 1
            if last >= end or last == index or words[last] != particle or _assumes(words, last + 1):
                continue
        elif word in lexicon.positive or word in lexicon.negative:
            answer = POSITIVE if word in lexicon.positive else NEGATIVE
            if _not_a_verdict(words, index, start, end):
                continue
            last = end - 1 if word in lexicon.negated_after else index
        else:
            continue
        if not lexicon.third_party.isdisjoint(words[start:index]):
            continue  # "der Kunde hat abgelehnt" reports another's verdict
        if _reported(words, index):
            continue  # "der Händler schreibt, es sei erledigt"
        if answer == POSITIVE and index and words[index - 1] in lexicon.ironic:
            found.append(VerdictHit(f"{lexicon.name}-irony", DENIED, answer, words[index]))
            continue  # "super gelöst", "brilliantly solved"
        if subjunctive := lexicon.subjunctive.intersection(words[start:end]):
            # "gelöst wäre es erst, wenn ...", "it would be solved if ..."
            found.append(
                VerdictHit(f"{lexicon.name}-conditional", RESERVED, OTHER, min(subjunctive))
            )
            continue
        found.append(_negation(words, (start, index, last), answer, lexicon))
    return found, [word for word in words if word != _IN_PHRASE]


def _mask(words: list[str], spans: list[tuple[int, int]]) -> list[str]:
    """`words` (as joined by spaces) with those in the sorted character `spans` masked."""
    masked, span, offset = [], 0, 0
    for word in words:
        while span < len(spans) and spans[span][1] <= offset:
            span += 1
        inside = span < len(spans) and spans[span][0] <= offset
        masked.append(_IN_PHRASE if inside else word)
        offset += len(word) + 1
    return masked


def _opener(words: list[str], lexicon: Lexicon) -> VerdictHit | None:
    """A bare answer that opens the sentence (after a greeting): "Ja.", "Ja, danke",
    "Leider nein, ...", "Not yet, ...", "Teilweise." It stands alone in its clause
    ("Nein danke" too), so "No problem" or "ja klar" is none."""
    if not lexicon.openers:
        return None
    start = next((i for i, word in enumerate(words) if word in _CLAUSE_ENDS), len(words))
    start = start + 1 if 0 < start < len(words) and _GREETINGS.issuperset(words[:start]) else 0
    for size in (4, 3, 2, 1):
        key = tuple(_REPEATED.sub(r"\1", word) for word in words[start : start + size])
        if len(key) < size or key not in lexicon.openers:
            continue
        after = words[start + size : start + size + 1]
        if after and after[0] not in _CLAUSE_ENDS and after[0] not in _AFTER_ANSWER:
            return None
        answer = lexicon.openers[key]
        strength = RESERVED if answer == OTHER else STATED
        return VerdictHit(f"{lexicon.name}-answer", strength, answer, " ".join(key))
    return None


def _assumes(words: list[str], end: int) -> bool:
    """ "Ich nehme an, dass ..." and "angenommen, dass ..." assume; they accept nothing."""
    return not {"dass", "that"}.isdisjoint(words[end : end + 2])


def _not_a_verdict(words: list[str], index: int, start: int, end: int) -> bool:
    word, after = words[index], words[index + 1 : end]
    if not _EMBEDDED_QUESTION.isdisjoint(words[start:index]):
        return True  # "ich weiß nicht, ob das gelöst ist"
    if words[index - 1 : index] == ['"'] == words[index + 1 : index + 2]:
        return True  # the word "solved", quoted: named, not said
    if word in ("annehmen", "angenommen") and _assumes(words, index + 1):
        return True
    if word.startswith(("accept", "agree")) and after[:1] == ["that"] and len(after) > 1:
        return True  # "I accept that the shop tried": a concession
    if word.startswith("agree") and after[:1] == ["with"]:
        return _AGREE_OBJECTS.isdisjoint(after[1:3])  # "with (the) proposal", "with this"
    return False


def _reported(words: list[str], index: int) -> bool:
    """Whether the verdict at `index` reports what another says: after a reporting verb
    not said by "ich"/"I" ("der Händler schreibt, ...", "they said ..."), or hearsay
    ("laut Händler", "angeblich", "es sei erledigt")."""
    for before in range(max(0, index - _REACH), index):
        word = words[before]
        if word in _HEARSAY:
            return True
        if word in _REPORTS and (before == 0 or words[before - 1] not in _FIRST_PERSON):
            return True
        if word in _THEY_REPORT and before and words[before - 1] in _THEY:
            return True
    return False


def _negation(
    words: list[str], where: tuple[int, int, int], answer: str, lexicon: Lexicon
) -> VerdictHit:
    """The hit of the verdict at `index` (its clause from `start`, its last word at
    `last`, the particle of a German verb): as said, negated, partly negated or not yet
    given. A negator stands up to four words before it, or between it and `last`."""
    start, index, last = where
    negators = [
        i
        for i in (*range(max(start, index - 4), index), *range(index + 1, last + 1))
        if words[i] in _NEGATES and words[i + 1 : i + 2] not in (["nur"], ["only"])
    ]
    said = " ".join(words[min([index, *negators]) : last + 1])
    name = f"{lexicon.name}-{lexicon.answers[answer]}"
    if not negators:
        return VerdictHit(name, STATED, answer, said)
    if any(words[i + 1 : i + 2] and words[i + 1] in lexicon.partly for i in negators):
        return VerdictHit(f"{lexicon.name}-partial", RESERVED, OTHER, said)
    if lexicon.not_yet_undecided and (
        any(words[i - 1] == "noch" for i in negators if i) or "yet" in words[start : last + 2]
    ):
        return VerdictHit(f"{lexicon.name}-undecided", RESERVED, OTHER, said)
    if answer == POSITIVE:  # "nicht einverstanden", "nicht gelöst": a clear "no"
        return VerdictHit(f"{name}-negated", STATED, NEGATIVE, said)
    return VerdictHit(f"{name}-negated", DENIED, NEGATIVE, said)  # "lehne nicht ab"


def _weak_condition(words: list[str], conditions: frozenset[str]) -> str | None:
    """The first condition or subjunctive of a sentence that is no concession ("auch
    wenn es mir schwerfällt", "even if", "wenn auch ungern")."""
    for index, word in enumerate(words):
        if word not in conditions or (index and words[index - 1] in _CONCESSION):
            continue
        if word == "wenn" and words[index + 1 : index + 2] == ["auch"]:
            continue
        return word
    return None
