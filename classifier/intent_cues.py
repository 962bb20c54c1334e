"""What a reply to our question says beyond its words: negation scope and answer shape,
and the rules that read a verdict on a proposal.

Owns `intent_inputs`, `proposal_hits` and `proposal_answer`. A bag of words cannot tell
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
Those are features: the model weighs them, and may weigh them wrong. An answer to a
proposal acts, so the rules below (`proposal_hits`) decide it where they can, and the
model only the rest, and only when it is sure (`classifier.classification`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


# ------------------------------------------------------------------ proposal verdict rules
#
# Accepting or rejecting a mediator's proposal acts (an acceptance by both closes the case
# settled, a rejection sends it back to mediation), so it must be said in so many words.
# The rules read the reply sentence by sentence, each hit with a strength:
# - `stated` (decisive): an explicit verdict ("ich nehme den Vorschlag an", "einverstanden",
#   "I accept", "wir lehnen ab", "abgelehnt", "I reject"), or a negated acceptance, which is a
#   clear rejection ("nicht einverstanden", "das nehme ich nicht an", "I don't accept");
# - `denied`: an answer the reply says it does not give: a negated rejection ("ich lehne
#   nicht ab", "I don't reject it") is no rejection, and not yet an acceptance either; a
#   counter-proposal is no acceptance;
# - `reserved`: the reply gives no answer yet, whatever else it says: undecided ("wir prüfen
#   noch", "Bedenkzeit", "still checking", "need time", "think it over"), conditional ("nur,
#   wenn", "unter der Bedingung", "vorausgesetzt", "only if", "provided that", "as long as";
#   a plain "wenn"/"if" or a subjunctive in the verdict's own sentence: "einverstanden wären
#   wir, wenn ..."), or partial ("teilweise", "grundsätzlich ja, aber", "but not").
# A verdict in a question ("Was passiert, wenn ich ablehne?") or said of another party
# ("der Kunde hat abgelehnt") states nothing. `proposal_answer` settles what the hits
# settle; everything else is left to the model, which must be sure (`proposal_threshold`).

STATED = "stated"
DENIED = "denied"
RESERVED = "reserved"
ACCEPT, REJECT, OTHER = POSITIVE, NEGATIVE, "other"  # the answers of `records.INTENT_BY_ANSWER`

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
# After a negator these make it partial ("nicht ganz einverstanden", "not fully agree").
_PARTLY = frozenset(
    {"ganz", "wirklich", "voll", "vollstaendig", "komplett", "unbedingt", "so", "100"}
    | {"entirely", "fully", "quite", "completely", "totally", "really", "necessarily", "wholly"}
)
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
# German finite verbs whose particle closes the clause: "wir nehmen den Vorschlag an".
_SEPARABLE = {
    **dict.fromkeys(("nehme", "nehmen", "nehm", "nimmt"), ("an", ACCEPT)),
    **dict.fromkeys(("stimme", "stimmen", "stimmt"), ("zu", ACCEPT)),
    **dict.fromkeys(("lehne", "lehnen", "lehnt", "lehn"), ("ab", REJECT)),
}
# German verdicts whose negator may follow them ("einverstanden bin ich nicht", "wir
# akzeptieren den Vorschlag nicht", "ablehnen möchte ich ihn nicht").
_NEGATED_AFTER = frozenset(
    {"einverstanden", "akzeptiere", "akzeptieren", "akzeptiert", "akzeptabel", "annehmbar"}
    | {"annehmen", "angenommen", "zustimmen", "ablehnen", "abgelehnt"}
)
# Acceptances that carry a negator of their own: "keine Einwände", "no objection".
_NO_OBJECTION = re.compile(
    r"\b(?:keine?n?|keinerlei) einw(?:a|ae)nde?n?\b|\bnichts (?:einzuwenden|dagegen)\b"
    r"|\bno objections?\b"
)
# Refusals in so many words: "kommt nicht in Frage", "auf keinen Fall", "no way".
_REFUSAL = re.compile(
    r"\bkommt (?:fuer (?:mich|uns) )?(?:nicht|keinesfalls|ueberhaupt nicht) in frage\b"
    r"|\bauf (?:gar )?keinen fall\b|\bno way\b|\babsolutely not\b|\bnot a chance\b"
)
# How far the rules look from a verdict word, within its clause.
_REACH = 12
# Another party as the subject: its verdict is reported, not given.
_THIRD_PARTY = frozenset(
    {"kunde", "kundin", "haendler", "haendlerin", "er", "customer", "merchant", "shop"}
    | {"he", "she", "they"}
)
# What "agree with" must be about to be a verdict ("I agree with the customer" is none).
_AGREE_OBJECTS = frozenset(
    {"proposal", "proposed", "this", "that", "it", "you", "offer", "settlement", "mediator"}
    | {"suggestion", "solution", "terms"}
)
# Conditions that make any verdict of the reply conditional, wherever they stand.
_STRONG_CONDITION = re.compile(
    r"\bnur ,? ?(?:wenn|falls|sofern|unter|gegen|bei)\b|\bunter (?:der|folgender|einer) "
    r"(?:bedingung|voraussetzung)|\bvorausgesetzt\b|\bes sei denn\b|\bbedingung :"
    r"|\b(?:aber|jedoch|doch) nur\b(?! ,? ?weil)|\bonly (?:if|on|when|provided)\b"
    r"|\bon (?:the )?condition\b|\bprovided (?:that|the|they|you|we|it)\b|\bproviding\b"
    r"|\b(?:as|so) long as\b|\bunless\b|\bsubject to\b|\bbut only\b(?! because)"
)
# Conditions and subjunctives that make the verdict of their own sentence conditional.
_WEAK_CONDITION = frozenset(
    {"wenn", "falls", "sofern", "solange", "sobald", "if", "provided", "once"}
    | {"wuerde", "wuerden", "wuerd", "waere", "waeren", "koennte", "koennten", "haette"}
    | {"haetten", "would", "could", "might", "i'd", "we'd"}
)
# A concession is no condition: "auch wenn es mir schwerfällt", "even if".
_CONCESSION = frozenset({"auch", "selbst", "even"})
# Partial verdicts, read in the verdict's own sentence.
_PARTIAL = re.compile(
    r"\b(?:aber|jedoch|but) (?:nicht|not)\b|\bteilweise\b|\bzum teil\b|\bin teilen\b"
    r"|\bpartly\b|\bpartially\b|\bin part\b|\bthe part\b"
)
# Undecided, anywhere in the reply: no answer yet.
_UNDECIDED = re.compile(
    r"\bbedenkzeit\b|\bueberlegen\b|\bueberlege\b|\bunentschlossen\b|\bunentschieden\b"
    r"|\bunsicher\b|\bnicht (?:ganz )?sicher\b|\bnoch (?:nicht|keine) (?:entschieden|entscheidung)"
    r"|\b(?:weiss|wissen) (?:es |ich |wir )?noch nicht\b|\bjein\b"
    r"|\bnoch (?:\w+ )?(?:pruefen|klaeren|besprechen|abstimmen|entscheiden)\b"
    r"|\b(?:pruefe|pruefen|prueft|klaeren|klaere)\b(?! sie\b)[^.!?;]{0,60}\b"
    r"(?:noch|intern|derzeit|gerade|aktuell|momentan|zurzeit)\b"
    r"|\b(?:intern|derzeit|gerade|aktuell|momentan|zurzeit) "
    r"(?:\w+ )?(?:pruefen|pruefe|prueft)\b|\bin (?:der )?(?:internen |laufenden )?pruefung\b"
    r"|\bwird (?:noch )?geprueft\b"
    r"|\b(?:erst|zuerst|vorher|noch) (?:\w+ ){0,5}(?:besprechen|ruecksprache|sprechen|reden)\b"
    r"|\bruecksprache\b|\b(?:schauen|sehen) uns (?:\w+ ){0,4}noch (?:\w+ )?an\b"
    r"|\bnoch (?:nicht |un)einig\b|\bmade up (?:my|our) minds?\b"
    r"|\b(?:bevor|ehe) (?:ich|wir) (?:mich |uns )?(?:entscheide|entscheiden|zustimme|zustimmen)"
    r"|\b(?:danach|dann|spaeter) (?:entscheide|entscheiden)\b|\b(?:mehr|etwas|noch) zeit\b"
    r"|\bfrist\w* (?:\w+ ){0,5}verlaenger|\bfristverlaengerung\b"
    r"|\bmelden? (?:mich|uns) (?:noch|bis|spaeter|innerhalb|nach|in|wieder|fristgerecht)\b"
    r"|\bgrundsaetzlich (?:ja|einverstanden|nicht abgeneigt)\b|\bim prinzip\b"
    r"|\bstill (?:checking|reviewing|considering|looking|discussing|thinking|deciding)\b"
    r"|\b(?:checking|reviewing|considering|discussing) (?:\w+ ){0,3}internally\b"
    r"|\b(?:check|review|discuss) (?:\w+ ){0,3}internally\b|\binternally (?:checking|reviewing)\b"
    r"|\b(?:need|needs|needed) (?:some |a bit of |a little |a few |more )?(?:more )?(?:time|days)\b"
    r"|\bbrauchen? (?:\w+ )?zeit\b|\bmore time\b|\bthink (?:it |this |that )?(?:over|about)\b"
    r"|\bthinking (?:it |this )?(?:over|about)\b|\bsleep on it\b|\b(?:get|come) back to you\b"
    r"|\brevert\b|\bnot (?:yet )?sure\b|\bunsure\b|\bundecided\b"
    r"|\b(?:haven't|have not|not yet|yet to) (?:\w+ )?decided?\b|\bbefore (?:i|we) (?:decide|agree)"
    r"|\b(?:discuss|talk|speak) (?:it |this |that )?(?:over )?(?:with|to)\b"
    r"|\bcheck with (?:my|our)\b"
    r"|\b(?:extend|extension of) the deadline\b|\bin principle\b"
    r"|\btaking (?:our )?client's instructions\b"
)
# A counter-proposal is no acceptance (a rejection with one is still a rejection).
_COUNTER = re.compile(r"\bgegen(?:vorschlag|angebot)\b|\bcounter ?-? ?(?:offer|proposal)\b")
# Read in every sentence, questions too: (rule, pattern, strength, answer).
_ANYWHERE = (
    ("proposal-undecided", _UNDECIDED, RESERVED, OTHER),
    ("proposal-conditional", _STRONG_CONDITION, RESERVED, OTHER),
    ("proposal-counter", _COUNTER, DENIED, ACCEPT),
)
# Set phrases, each with the negator of its own: (rule, pattern, answer).
_PHRASES = (
    ("proposal-no-objection", _NO_OBJECTION, ACCEPT),
    ("proposal-refusal", _REFUSAL, REJECT),
)
_ANSWER_NAMES = {ACCEPT: "accept", REJECT: "reject", OTHER: "no answer"}


@dataclass(frozen=True)
class VerdictHit:
    """One verdict rule that fired: its id, strength, the answer it speaks of and the
    (normalised) words it read."""

    rule: str
    strength: str  # STATED, DENIED or RESERVED
    answer: str  # ACCEPT, REJECT or OTHER
    words: str

    @property
    def detail(self) -> str:
        return f"{self.strength} {_ANSWER_NAMES[self.answer]}: {self.words}"


def proposal_hits(text: str) -> list[VerdictHit]:
    """The verdict rules that fire on a reply's own text (as written, not normalised),
    reservations first, then the verdicts in the order of the text."""
    hits: list[VerdictHit] = []
    verdicts: list[VerdictHit] = []
    for words, question in _sentences(text):
        said = " ".join(words)
        for rule, pattern, strength, answer in _ANYWHERE:
            if found := pattern.search(said):
                hits.append(VerdictHit(rule, strength, answer, found.group(0)))
        if question:
            continue  # "Was passiert, wenn ich ablehne?" states nothing
        stated = _verdicts(words)
        verdicts.extend(stated)
        if not stated:
            continue
        if weak := _weak_condition(words):
            hits.append(VerdictHit("proposal-conditional", RESERVED, OTHER, weak))
        if partial := _PARTIAL.search(said):
            hits.append(VerdictHit("proposal-partial", RESERVED, OTHER, partial.group(0)))
    return hits + verdicts


def proposal_answer(hits: list[VerdictHit]) -> str | None:
    """What the hits settle: ACCEPT or REJECT when the reply states one and only that,
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


def _verdicts(words: list[str]) -> list[VerdictHit]:
    """The verdicts a statement says, each as said, negated or reserved. Every look
    around a verdict word reaches at most `_REACH` words, so that the work grows with the
    text, not with its square."""
    said = " ".join(words)
    # Set phrases carry a negator of their own ("keine Einwände", "auf keinen Fall"),
    # which negates nothing else.
    phrases = [
        VerdictHit(rule, STATED, answer, found.group(0))
        for rule, pattern, answer in _PHRASES
        if (found := pattern.search(said))
    ]
    if phrases:
        return phrases
    starts, ends = _clauses(words)
    found = []
    for index, word in enumerate(words):
        start, end = max(starts[index], index - _REACH), min(ends[index], index + _REACH + 1)
        if word in _SEPARABLE:
            particle, answer = _SEPARABLE[word]
            # The particle closes the clause: "nehmen den Vorschlag an", not "nehmen an, dass".
            last = ends[index] - 1
            if last >= end or last == index or words[last] != particle or _assumes(words, last + 1):
                continue
        elif word in _ACCEPT_WORDS or word in _REJECT_WORDS:
            answer = ACCEPT if word in _ACCEPT_WORDS else REJECT
            if _not_a_verdict(words, index, end):
                continue
            last = end - 1 if word in _NEGATED_AFTER else index
        else:
            continue
        if not _THIRD_PARTY.isdisjoint(words[start:index]):
            continue  # "der Kunde hat abgelehnt" reports another's verdict
        found.append(_negation(words, start, index, last, answer))
    return found


def _assumes(words: list[str], end: int) -> bool:
    """ "Ich nehme an, dass ..." and "angenommen, dass ..." assume; they accept nothing."""
    return not {"dass", "that"}.isdisjoint(words[end : end + 2])


def _not_a_verdict(words: list[str], index: int, end: int) -> bool:
    word, after = words[index], words[index + 1 : end]
    if word in ("annehmen", "angenommen") and _assumes(words, index + 1):
        return True
    if word.startswith(("accept", "agree")) and after[:1] == ["that"] and len(after) > 1:
        return True  # "I accept that the shop tried": a concession
    if word.startswith("agree") and after[:1] == ["with"]:
        return _AGREE_OBJECTS.isdisjoint(after[1:3])  # "with (the) proposal", "with this"
    return False


def _negation(words: list[str], start: int, index: int, last: int, answer: str) -> VerdictHit:
    """The hit of the verdict at `index` (its clause from `start`, its last word at
    `last`, the particle of a German verb): as said, negated, partly negated or not yet
    given. A negator stands up to four words before it, or between it and `last`."""
    negators = [
        i
        for i in (*range(max(start, index - 4), index), *range(index + 1, last + 1))
        if words[i] in _NEGATES and words[i + 1 : i + 2] not in (["nur"], ["only"])
    ]
    said = " ".join(words[min([index, *negators]) : last + 1])
    name = "accept" if answer == ACCEPT else "reject"
    if not negators:
        return VerdictHit(f"proposal-{name}", STATED, answer, said)
    if any(words[i + 1 : i + 2] and words[i + 1] in _PARTLY for i in negators):
        return VerdictHit("proposal-partial", RESERVED, OTHER, said)
    if any(words[i - 1] == "noch" for i in negators if i) or "yet" in words[start : last + 2]:
        return VerdictHit("proposal-undecided", RESERVED, OTHER, said)
    if answer == ACCEPT:  # "nicht einverstanden", "I don't accept": a clear rejection
        return VerdictHit(f"proposal-{name}-negated", STATED, REJECT, said)
    return VerdictHit(f"proposal-{name}-negated", DENIED, REJECT, said)  # "lehne nicht ab"


def _weak_condition(words: list[str]) -> str | None:
    """The first condition or subjunctive of a sentence that is no concession ("auch
    wenn es mir schwerfällt", "even if", "wenn auch ungern")."""
    for index, word in enumerate(words):
        if word not in _WEAK_CONDITION or (index and words[index - 1] in _CONCESSION):
            continue
        if word == "wenn" and words[index + 1 : index + 2] == ["auch"]:
            continue
        return word
    return None
