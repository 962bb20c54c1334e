"""The verdict rules: what a reply answers to a mediator's proposal or to "is your
problem solved?", read sentence by sentence with the words of its context
(`classifier.verdict_words`).

Owns `VerdictHit`, `verdict_hits` and `verdict_answer`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifier.intent_cues import APOSTROPHES, NEGATORS
from classifier.records import NEGATIVE, OTHER, POSITIVE, normalise
from classifier.verdict_words import DENIED, LEXICONS, REPEATED, RESERVED, STATED, Lexicon

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
#   hedge is none, nor one followed by what is still missing ("ja, die Ware ist da, aber
#   die Abholung hat niemand organisiert", "gelöst wurde nur ..."); a bare "yes" in a reply
#   that asks for or takes something ("Ja, gerne, schicken Sie mir den Gutschein") answers
#   an offer (one the shop may have set up in its reply), not our question;
# - `reserved`: the reply gives no answer yet, whatever else it says: undecided,
#   conditional (a plain "wenn"/"if" or a subjunctive in the verdict's own sentence:
#   "einverstanden wären wir, wenn ...", "gelöst wäre es erst, wenn ..."), or partial.
# A verdict in a question ("Was passiert, wenn ich ablehne?"), in an embedded question ("ob
# das gelöst ist", "whether"), quoted as a word ("solved"), reported ("der Händler sagt,
# es sei erledigt", "they say it's solved") or, on a proposal, said of another party ("der
# Kunde hat abgelehnt") states nothing. `verdict_answer` settles what the hits settle;
# everything else is left to the model, which must be sure (`classifier.classification`).

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
_NEGATES = (NEGATORS | {"unable", "unwilling", "refuse", "refuses", "niemand"}) - {"nor"}
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
# What "agree with" must be about to be a verdict ("I agree with the customer" is none).
_AGREE_OBJECTS = frozenset(
    {"proposal", "proposed", "this", "that", "it", "you", "offer", "settlement", "mediator"}
    | {"suggestion", "solution", "terms"}
)
# A concession is no condition: "auch wenn es mir schwerfällt", "even if".
_CONCESSION = frozenset({"auch", "selbst", "even"})
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
    said_verdicts: list[tuple[list[str], list[VerdictHit]]] = []
    request, yes = None, False
    for words, question in sentences:
        said = " ".join(words)
        for rule, pattern, strength, answer in lexicon.anywhere:
            if found := pattern.search(said):
                hits.append(VerdictHit(rule, strength, answer, found.group(0)))
        if lexicon.requests and not request and (found := lexicon.requests.search(said)):
            request = found.group(0)
            yes = lexicon.openers.get((REPEATED.sub(r"\1", request.split()[0]),)) == POSITIVE
        if question:
            continue  # "Was passiert, wenn ich ablehne?" states nothing
        stated, rest = _verdicts(words, lexicon)
        said_verdicts.append((words, stated))
        if not stated:
            continue
        if weak := _weak_condition(rest, lexicon.weak_condition):
            hits.append(VerdictHit(f"{lexicon.name}-conditional", RESERVED, OTHER, weak))
        if lexicon.partial and (partial := lexicon.partial.search(said)):
            hits.append(VerdictHit(f"{lexicon.name}-partial", RESERVED, OTHER, partial.group(0)))
    verdicts = _yes_to_another_question(said_verdicts, lexicon.name)
    answer = f"{lexicon.name}-answer"
    # A "yes" said in so many words ("Ja, gelöst, bitte senden Sie mir keine Mails mehr")
    # answers our question whatever else the reply asks for.
    worded = any(hit.answer == POSITIVE and hit.rule != answer for hit in verdicts)
    bare_yes = yes or any(hit.rule == answer and hit.answer == POSITIVE for hit in verdicts)
    if request and bare_yes and not worded:
        # "Ja, gerne, schicken Sie mir den Gutschein", "Ja gerne": the "yes" takes an offer
        hits.append(VerdictHit(f"{lexicon.name}-request", DENIED, POSITIVE, request))
    return hits + verdicts


def _yes_to_another_question(
    said: list[tuple[list[str], list[VerdictHit]]], name: str
) -> list[VerdictHit]:
    """The verdicts of the sentences `said`, in order; a bare "yes" in a sentence that
    says something of its own ("Ja, der Händler hat sich gemeldet.") is no answer when a
    later sentence denies the question's own word in so many words ("Gelöst ist aber
    gar nichts", "But nothing is solved"): that "yes" answers another question. A "yes"
    alone ("Yes. Can't believe it got solved so fast.") stays one, and a bare "no" is
    never turned (closing a case wrongly costs more than mediating it)."""
    verdicts = [hit for _, stated in said for hit in stated]
    for place, (words, stated) in enumerate(said):
        if len(stated) != 1 or stated[0].rule != f"{name}-answer":
            continue
        [bare] = stated
        own = [w for w in words if w[0].isalnum() and w not in _AFTER_ANSWER | _GREETINGS]
        if bare.answer != POSITIVE or len(own) < 3:
            continue
        later = [hit for _, hits in said[place + 1 :] for hit in hits]
        if any(_denies_outright(hit, name) for hit in later):
            verdicts[verdicts.index(bare)] = VerdictHit(
                f"{name}-answer-elsewhere", DENIED, POSITIVE, bare.words
            )
    return verdicts


def _denies_outright(hit: VerdictHit, name: str) -> bool:
    """A "yes" word negated at close range: "nicht gelöst", "nothing is solved",
    "gelöst ist aber gar nichts" (not "can't believe it got solved")."""
    if hit.strength != STATED or hit.answer != NEGATIVE or not hit.rule.endswith("-negated"):
        return False
    words = hit.words.split()
    return (words[0] in _NEGATES and len(words) <= 3) or (words[-1] in _NEGATES and len(words) <= 5)


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
    for line in text.translate(APOSTROPHES).splitlines():
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
    closing = [
        word in _CLAUSE_ENDS and not _particle_aber(words, index)
        for index, word in enumerate(words)
    ]
    starts, start = [], 0
    for index in range(len(words)):
        starts.append(start)
        if closing[index]:
            start = index + 1
    ends, end = [0] * len(words), len(words)
    for index in range(len(words) - 1, -1, -1):
        ends[index] = end
        if closing[index]:
            end = index
    return starts, ends


# Between "aber" and the negator it stresses: "gelöst ist aber gar nichts".
_STRESS = frozenset({"gar", "überhaupt", "ueberhaupt", "noch", "leider", "immer"})


def _particle_aber(words: list[str], index: int) -> bool:
    """Whether "aber" at `index` stresses a negation in its clause ("gelöst ist aber
    (gar) nichts") rather than opening a clause of its own ("gelöst war aber nicht
    einfach"): a linking verb before it, and after it (and a stressing word) a negator
    that ends the clause."""
    if words[index] != "aber" or not index or words[index - 1] not in _LINKING_VERBS:
        return False
    after = index + 1
    while after < len(words) and words[after] in _STRESS:
        after += 1
    ends = after + 1 == len(words) or (after + 1 < len(words) and not words[after + 1][0].isalnum())
    return after < len(words) and words[after] in _NEGATES and ends


_LINKING_VERBS = frozenset(
    {"ist", "sind", "war", "waren", "wurde", "wurden", "hat", "haben", "hatte", "hatten"}
)


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
        phrases = list(pattern.finditer(said))
        spans.extend(phrase.span() for phrase in phrases)
        if phrases:
            found.append(VerdictHit(rule, STATED, answer, phrases[0].group(0)))
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
        key = tuple(REPEATED.sub(r"\1", word) for word in words[start : start + size])
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
