"""Rating replies: a customer's 1-5 scores for Service, Erreichbarkeit and Reaktionszeit,
with praise and criticism (Lob & Tadel), read from a German or English mail.

Owns `parse_rating` and the help text (`format_help`) that an unreadable answer gets.
Only the lines the customer wrote now are read (`extract_reply`, `Reply.own_text`): a
quoted line never counts, not even one the customer typed a score into ("> Service (1-5):
4") or answered inline, since a quoted earlier rating or our own summary of one looks the
same. `parse_rating` may be given the whole body or just the reply's own text
(`Classification.own_text`, what the case service reads). An answer typed on its own line
below a quoted form field ("> Service (1-5):" then "4") is the customer's: from the whole
body it is read with the quoted label as its label (Lob and Tadel answers too); in the
own text alone the labels are gone, so three such answers are read in the asked order
and fewer are reported, not guessed at, while Lob and Tadel answers become the comment.

A score is read only where it is unambiguous, never guessed:
- after a dimension's label: "Service: 4", "Erreichbarkeit 5/5", "reaction time ★★★☆☆",
  "Service: sehr gut", "Service: Schulnote 2";
- as a line of exactly three scores in the asked order (Service, Erreichbarkeit,
  Reaktionszeit): "4 5 3", "4/5/3", "4-5-3", "gut, sehr gut, befriedigend", optionally
  after "Bewertung:" / "Rating:";
- as exactly three lines in a row that hold one score each, in the same order: "4", "5",
  "3" (the inline answers to our form, once the quoted labels are cut).
A number followed by a unit ("2 Tage", "3 hours", "20 €"), part of a range ("3-5 Tage"),
longer than one digit on a score line, or not next to a label is no score: "Bestellung
4711 vom 3.5." rates nothing. A score outside 1-5, a fraction, another scale ("8/10") or
a negated word ("nicht gut") is reported as a problem, never clamped or rounded.

Words (label slots and score lines): German school-grade words and their English
counterparts, number words, and explicit school grades, mapped so that 5 is best:

    5  sehr gut, ausgezeichnet, hervorragend, exzellent, fünf; excellent, outstanding,
       very good, five
    4  gut, vier; good, four
    3  befriedigend, mittel, mittelmäßig, durchschnittlich, okay, ok, drei; satisfactory,
       average, fair, okay, ok, three
    2  ausreichend, schlecht, zwei; poor, bad, two
    1  mangelhaft, ungenügend, sehr schlecht, eins; very poor, very bad, terrible, awful, one
    Schulnote (or "Note") 1 2 3 4 5 6 -> 5 4 3 2 1 1; a score line after "Noten:" or
    "Schulnoten:" is read as school grades too (in German "Note" is the school grade).

Free text: what follows "Lob:", "Positiv:", "praise:" is praise; "Tadel:", "Kritik:",
"Negativ:", "criticism:" is criticism; "Lob & Tadel:", "Anmerkung:", "comment:" and the
rest of the text (without greeting and closing) is the comment. "keine", "-", "none" as
a whole section mean nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from classifier.replies import extract_reply

DIMENSIONS = ("service", "reachability", "reaction_time")
MAX_READ_CHARS = 20_000

_WORD_SCORES = {
    5: "sehr gut|ausgezeichnet|hervorragend|exzellent|fünf|fuenf"
    "|excellent|outstanding|very good|five",
    4: "gut|vier|good|four",
    3: "befriedigend|mittelmäßig|mittelmaessig|mittel|durchschnittlich|okay|ok|drei"
    "|satisfactory|average|fair|three",
    2: "ausreichend|schlecht|zwei|poor|bad|two",
    1: "mangelhaft|ungenügend|ungenuegend|sehr schlecht|eins|very poor|very bad|terrible|awful|one",
}
_WORD_VALUE = {word: value for value, words in _WORD_SCORES.items() for word in words.split("|")}
_GRADE_TO_SCORE = {1: 5, 2: 4, 3: 3, 4: 2, 5: 1, 6: 1}

_LABELS = {
    "service": r"kundenservice|kundendienst|service",
    "reachability": r"erreichbarkeit|reachability|availability",
    "reaction_time": r"reaktionszeit|reaktionsgeschwindigkeit|antwortzeit"
    r"|reaction\s+time|response\s+time|reply\s+time",
}
_LABEL = re.compile(
    r"\b(?:" + "|".join(f"(?P<{name}>{pattern})" for name, pattern in _LABELS.items()) + r")\b",
    re.IGNORECASE,
)
# After a label: an optional hint "(1-5)" copied from our request, then ":", "=" or a
# dash ("Service - 4"; a dash alone is too weak to report a problem after it), all
# possibly inside Markdown emphasis ("**Service:** 4") that must not read as stars.
_AFTER_LABEL = re.compile(
    r"[*_]{0,2}[ \t]*(?:\([^()\n]{0,40}\))?[ \t]*[*_]{0,2}"
    # Only after a colon may the score stand on the next line: "Danke für den Service"
    # followed by a line "4 5 3" is no Service score.
    r"(?:(?P<mark>[:=])[*_]{0,2}[ \t]*(?:\n[ \t]*)?|[ \t]*[-–][ \t]*)?"
)
# The three labels in the asked order introduce a score line: "Service, Erreichbarkeit,
# Reaktionszeit: 4 5 3".
_BETWEEN_LABELS = r")(?:[ \t]*[,;/|&+][ \t]*|[ \t]+(?:(?:und|and)[ \t]+)?)(?:"
_LABELS_IN_ORDER = (
    r"(?:" + _BETWEEN_LABELS.join(_LABELS.values()) + r")[ \t]*(?:\([^()\n]{0,40}\))?"
)
_SPACE = re.compile(r"[ \t]*")

_NUMBER = re.compile(r"(?<![\d.,])(?P<whole>\d+)(?:[.,](?P<fraction>\d+))?(?!\d)")
_SCALE = re.compile(
    r"[ \t]*(?:/|von|aus|of|out\s+of)[ \t]*(?P<scale>\d+)(?![ \t]*/[ \t]*\d)(?![.,]?\d)",
    re.IGNORECASE,
)
_RANGE = re.compile(r"[ \t]*(?:-|–|bis|to)[ \t]*\d", re.IGNORECASE)
_QUANTITY = re.compile(
    r"[ \t]*(?:werktage?n?|arbeitstage?n?|tage?n?|tag|business\s+days?|days?|stunden?|std\b\.?"
    r"|hours?|hrs?\b|h\b|minuten?|minutes?|min\b|wochen?|weeks?|monate?n?|months?|jahre?n?"
    r"|years?|€|eur\b|euro|\$|%|prozent|percent|uhr\b|mal\b|times\b|x\b|stück|pieces?"
    r"|items?|artikel|pakete?|mails?|anrufe?|calls?)",
    re.IGNORECASE,
)
_UNIT = re.compile(
    r"[ \t]*(?:sternen?|stern|stars?|punkten?|punkt|points?|pkt\b\.?)", re.IGNORECASE
)
_STARS = re.compile(r"(?:[★⭐✭✮✪☆✩]\ufe0f?){1,10}|\*{1,10}(?!\*)")
_FILLED_STARS = frozenset("★⭐✭✮✪*")
_WORD = re.compile(
    r"(?P<negation>(?:nicht|not|kein|keine|no)\s+(?:so\s+|sehr\s+|very\s+|really\s+)?)?"
    r"(?P<word>"
    + "|".join(sorted(_WORD_VALUE, key=len, reverse=True)).replace(" ", r"\s+")
    + r")\b",
    re.IGNORECASE,
)
# "one of the best", "eins der schnellsten": a number word that does not score.
_NOT_A_SCORE_AFTER_WORD = re.compile(r"\s+(?:of|von|der|die|das|the)\b", re.IGNORECASE)
# A word and a comma before a number after a label's colon: "mies, 1 Punkt".
_WORD_THEN_NUMBER = re.compile(r"[ \t]*(?:[^\W\d_]+[ \t]+)?[^\W\d_]{2,20}[ \t]*,[ \t]*(?=\d)")
_GRADE = re.compile(r"(?:schul)?note[ \t]*:?[ \t]*(?P<grade>\d+)(?![.,]?\d)", re.IGNORECASE)
_LETTER_AFTER = re.compile(r"[^\W\d_]")

_LINE_PREFIX = re.compile(
    r"[ \t]*(?:[-*•][ \t]+)?(?:(?P<prefix>" + _LABELS_IN_ORDER + r"|meine\s+bewertung(?:en)?"
    r"|bewertung(?:en)?"
    r"|my\s+ratings?|ratings?|scores?|punkte|sterne|stars|(?P<grades>schulnoten|noten))"
    r"[ \t]*[:=]?)?[ \t]*",
    re.IGNORECASE,
)
_LABELS_IN_ORDER_LINE = re.compile(_LABELS_IN_ORDER, re.IGNORECASE)
_RATING_WORDS = re.compile(
    r"\b(?:sterne?|stars?|punkte|points|bewertung|bewerte|rating|rate|note|schulnote)\b"
    r"|\b\d{1,2}\s*(?:/|von|of|out\s+of)\s*(?:5|10)\b",
    re.IGNORECASE,
)
_SLASHED = re.compile(r"(\d)[ \t]*/[ \t]*(\d)[ \t]*/[ \t]*(\d)(?![ \t]*/|\d)")
_SCORE_SEPARATOR = re.compile(r"[ \t]*[,;/|–-]?[ \t]*")
_LINE_TAIL = re.compile(r"[ \t]*(?:[.!,;–-](?:[ \t].*)?|(?<=[ \t])[^\W\d_].*)?")
"""What may follow three scores on their line: nothing, a mark and text ("4 5 3 - danke!"),
or words ("5 5 4 alles gut"), never a digit ("4 5 3 4")."""
_INLINE_SCORES = re.compile(
    r"\b(?:my\s+ratings?|ratings?|scores?|meine\s+bewertung(?:en)?|bewertung(?:en)?|"
    r"punkte|sterne|stars)\b[^:\n]{0,30}:[ \t]*",
    re.IGNORECASE,
)
"""A rating word and a colon in a sentence, with the scores after it (not "Noten": school
grades count the other way, and are read only as a line's label)."""
_TAIL_MARK = re.compile(r"[ \t]*[.!,;–-]?[ \t]*")

_MARKER_WORDS = (
    r"lob\s*(?:&|und|and)\s*tadel|praise\s*(?:&|and)\s*criticism"
    r"|lob|positiv(?:es)?|praise|positive|tadel|kritik|negativ(?:es)?|criticism|critique"
    r"|negative|anmerkungen?|kommentare?|comments?|remarks?"
)
_MARKER = re.compile(r"(?<![^\W_])(?P<kind>" + _MARKER_WORDS + r")[ \t]*:", re.IGNORECASE)
_PRAISE = frozenset({"lob", "positiv", "positives", "praise", "positive"})
_CRITICISM = frozenset(
    {"tadel", "kritik", "negativ", "negatives", "criticism", "critique", "negative"}
)
_NOTHING = frozenset(
    {"-", "–", "—", "/", "keine", "keiner", "keins", "nichts", "nix", "none", "nothing", "n/a"}
)

_QUOTED = re.compile(r"^[ \t]*>[> \t]*")
# A quoted form field of our request, left empty: "Service (1-5):", "Lob:".
_FORM_FIELD = re.compile(
    r"(?P<field>" + "|".join([*_LABELS.values(), _MARKER_WORDS]) + r")"
    r"[ \t]*(?:\([^()\n]{0,40}\))?[ \t]*[:=]?[ \t]*(?:_+|\.+)?",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"(?:hallo|hi|hello|hey|guten\s+(?:tag|morgen|abend)|moin|servus|sehr\s+geehrte[rs]?"
    r"|liebe[rs]?|dear)\b[^\n]{0,60}$",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^[ \t]*(?:(?:viele|liebe|beste|freundliche|herzliche|mit\s+freundlichen)\s+grü(?:ß|ss)en?"
    r"|grü(?:ß|ss)e|gru(?:ß|ss)|mfg|lg|vg|best\s+regards|kind\s+regards|regards|cheers"
    r"|yours\s+(?:sincerely|truly))\b[^\n]{0,40}$|^[ \t]*best[ \t]*,?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class RatingReply:
    """What a customer's rating reply said. Scores are 1-5 or None (not given, or given
    in a form that could not be read: see `problems`)."""

    service: int | None
    reachability: int | None
    reaction_time: int | None
    praise: str
    criticism: str
    comment: str
    """Free text marked neither as praise nor as criticism."""
    complete: bool
    """All three scores were read."""
    problems: tuple[str, ...]
    """What could not be read, as "code: detail" ("out-of-range: service 6")."""
    readable = True


@dataclass(frozen=True)
class UnreadableRating:
    """A reply with neither a score nor marked praise or criticism: the customer gets
    `format_help` in reply."""

    problems: tuple[str, ...]
    tried: bool = False
    """It names a dimension, a score scale or stars: meant as a rating, not read."""
    readable = False


NO_SCORES = "no-scores"
"""The problem of a reply with no score and no marked praise or criticism at all."""


class _Token(NamedTuple):
    value: int | None
    problem: str | None  # why `value` is None, e.g. "out-of-range"
    text: str
    end: int
    quantity: bool = False  # a number with a unit or a range: not a score at all


def parse_rating(
    text: str, html: str | None = None, signed_by: str = ""
) -> RatingReply | UnreadableRating:
    """Read a rating reply from a mail body (`text`, and `html` if there is one);
    `signed_by` is the writer's name, which as the last line signs the mail."""
    reply = extract_reply(text, html)
    inline, answer_lines = _inline_answers(reply.full)
    body = _without_lines(reply.own_text, answer_lines)
    body = "\n".join([*inline, body]) if inline else body
    # A rating answer is a few lines; reading a bounded prefix bounds the work for a
    # huge unquoted paste (the raw mail is kept anyway).
    body = body[:MAX_READ_CHARS]
    found: dict[str, list[int]] = {name: [] for name in DIMENSIONS}
    problems: list[str] = []
    consumed: list[tuple[int, int]] = []
    _read_labelled(body, found, problems, consumed)
    _read_score_lines(body, found, problems, consumed)
    scores: dict[str, int | None] = {}
    for name in DIMENSIONS:
        values = sorted(set(found[name]))
        scores[name] = values[0] if len(values) == 1 else None
        if len(values) > 1:
            problems.append(f"conflict: {name} " + " or ".join(map(str, values)))
    # The closing formula and the name under it are no comment; a closing before the
    # last score ("Viele Grüße aus Berlin, hier meine Bewertung: 4 5 3") is no closing.
    last_score = max((end for _, end in consumed), default=0)
    closing = _CLOSING.search(body, last_score)
    end = closing.start() if closing else _signature_start(body, last_score, signed_by)
    free = _free_text(_remove_spans(body[:end], consumed))
    if all(value is None for value in scores.values()) and not (
        free["praise"] or free["criticism"]
    ):
        tried = bool(problems) or bool(_LABEL.search(body) or _RATING_WORDS.search(body))
        return UnreadableRating((*problems, NO_SCORES), tried)
    problems += [f"missing: {name}" for name in DIMENSIONS if scores[name] is None]
    return RatingReply(
        service=scores["service"],
        reachability=scores["reachability"],
        reaction_time=scores["reaction_time"],
        praise=free["praise"],
        criticism=free["criticism"],
        comment=free["comment"],
        complete=all(value is not None for value in scores.values()),
        problems=tuple(problems),
    )


def _signature_start(body: str, after: int, name: str) -> int | None:
    """Where a last line after the scores that is the writer's name, or part of it, and
    nothing else begins ("Björn" under the comment): a signature, no comment."""
    words = {word.casefold() for word in name.split()}
    lines = body[after:].rstrip().rsplit("\n", 1)
    last = lines[-1].strip()
    if len(lines) < 2 or not last or not {w.casefold() for w in last.split()} <= words:
        return None
    return after + len(body[after:].rstrip()) - len(lines[-1])


def _read_labelled(
    body: str, found: dict[str, list[int]], problems: list[str], consumed: list[tuple[int, int]]
) -> None:
    """Scores right after a dimension's label."""
    in_order = [match.span() for match in _LABELS_IN_ORDER_LINE.finditer(body)]
    for label in _LABEL.finditer(body):
        if any(start <= label.start() < end for start, end in in_order):
            continue  # the labels head a score line, read by `_read_score_lines`
        name = label.lastgroup or ""
        after = _AFTER_LABEL.match(body, label.end())
        explicit = bool(after and after.group("mark"))
        start = after.end() if after else label.end()
        token = _score_at(body, start, grades=False)
        if explicit and (said := _WORD_THEN_NUMBER.match(body, start)):
            # "Erreichbarkeit: mies, 1 Punkt", "Service: gut, 4 Punkte": the number
            # says it exactly, whatever the word in front of it (known or not).
            number = _score_at(body, said.end(), grades=False)
            if number is not None and not number.quantity:  # "schlecht, 2 Tage ...": no score
                token = number
        if token is None:
            continue
        if token.quantity:
            # "Reaktionszeit: 2 Tage" answers a question we did not ask; without the
            # colon ("Reaktionszeit 2 Tage") it is just a sentence.
            if explicit:
                problems.append(f"not-a-score: {name} '{token.text}'")
            continue
        if token.value is None:
            # Without a colon only a lone digit is surely meant as a score ("Service 6");
            # "Service 0800 123456" is a phone number.
            if explicit or (token.problem == "out-of-range" and len(token.text) == 1):
                problems.append(f"{token.problem}: {name} '{token.text}'")
                consumed.append((label.start(), token.end))
            continue
        found[name].append(token.value)
        consumed.append((label.start(), token.end))


def _read_score_lines(
    body: str, found: dict[str, list[int]], problems: list[str], consumed: list[tuple[int, int]]
) -> None:
    """Lines of scores without labels: exactly three are Service, Erreichbarkeit,
    Reaktionszeit, on one line ("4 5 3") or one per line on lines that follow each other
    (blank lines between allowed): the form answered inline below its quoted labels, of
    which the reply's new text keeps only the answers. Any other number of them is
    reported, not guessed at."""
    lone: list[tuple[int, _Token]] = []  # one score per line, in a row: (line start, score)

    def settle_lone_lines() -> None:
        if len(lone) == 3:
            _assign(found, problems, [token for _, token in lone])
        elif lone:
            _report_unlabelled(problems, [token for _, token in lone])
        consumed.extend((start, start + token.end) for start, token in lone)
        lone.clear()

    start = 0
    for line in body.split("\n"):
        end = start + len(line)
        if not line.strip():
            pass  # a blank line neither starts nor ends a run of lone scores
        elif any(a < end and b > start for a, b in consumed):
            settle_lone_lines()
        else:
            tokens, tail = _score_line(line)
            scores_from, offset = 0, 0  # where the consumed span starts; the tokens' base
            if not tokens and (inline := _INLINE_SCORES.search(line)):
                # "Sorry, my rating got lost: 2 1 2. They ignored me": three scores after
                # a rating word and a colon inside a sentence; fewer or more are no rating.
                after, _ = _score_line(line[inline.end() :])
                if len(after) == 3:
                    tokens, tail = after, True
                    scores_from, offset = inline.start(), inline.end()
            if len(tokens) == 1 and not tail:
                lone.append((start, tokens[0]))
            else:
                settle_lone_lines()
                if len(tokens) == 3:
                    _assign(found, problems, tokens)
                    # Text after the scores ("4 5 3 - danke!") stays for the comment,
                    # without the mark between.
                    mark = _TAIL_MARK.match(line, offset + tokens[-1].end)
                    assert mark is not None  # every part of it is optional
                    consumed.append((start + scores_from, start + mark.end()))
                elif tokens and not tail:
                    _report_unlabelled(problems, tokens)
                    consumed.append((start, end))
        start = end + 1
    settle_lone_lines()


def _assign(found: dict[str, list[int]], problems: list[str], tokens: list[_Token]) -> None:
    """Three unlabelled scores, in the order the request asks for them."""
    for name, token in zip(DIMENSIONS, tokens, strict=True):
        if token.value is None:
            problems.append(f"{token.problem}: {name} '{token.text}'")
        else:
            found[name].append(token.value)


def _report_unlabelled(problems: list[str], tokens: list[_Token]) -> None:
    shown = " ".join(token.text for token in tokens)
    problems.append(f"unlabelled-scores: {len(tokens)} in '{shown}', expected 3")


def _score_line(line: str) -> tuple[list[_Token], bool]:
    """The score tokens a line consists of (none when it is not a score line), and
    whether text follows them ("4 5 3, danke!")."""
    prefix = _LINE_PREFIX.match(line)
    position = prefix.end() if prefix else 0
    grades = bool(prefix and prefix.group("grades"))
    tokens: list[_Token] = []
    if slashed := _SLASHED.match(line, position):
        # "5/5/5": three scores, not "5 out of 5" followed by a 5.
        for group in (1, 2, 3):
            digit = int(slashed.group(group))
            end = slashed.end(group)
            text = slashed.group(group)
            tokens.append(_grade_token(digit, text, end) if grades else _ranged(digit, text, end))
        position = len(line)
    while position < len(line):
        token = _score_at(line, position, grades=grades, single_digit=True)
        if token is None or token.quantity:
            break
        tokens.append(token)
        separator = _SCORE_SEPARATOR.match(line, token.end)
        if separator is None or separator.end() == token.end:
            break
        position = separator.end()
    if not tokens:
        return [], False
    rest = line[tokens[-1].end :]
    if not _LINE_TAIL.fullmatch(rest):
        return [], False
    return tokens, bool(rest.strip(" \t.!,;–-"))


def _score_at(
    text: str, position: int, *, grades: bool, single_digit: bool = False
) -> _Token | None:
    """The score written at `position` (spaces skipped), or None if none starts there."""
    position = _SPACE.match(text, position).end()  # type: ignore[union-attr]
    if grade := _GRADE.match(text, position):
        return _grade_token(int(grade.group("grade")), grade.group(0), grade.end())
    if number := _NUMBER.match(text, position):
        return _number_token(text, number, grades=grades, single_digit=single_digit)
    if stars := _STARS.match(text, position):
        filled = sum(1 for char in stars.group(0) if char in _FILLED_STARS)
        return _ranged(filled, stars.group(0), stars.end())
    if word := _WORD.match(text, position):
        if _NOT_A_SCORE_AFTER_WORD.match(text, word.end()):
            return None
        end = _unit_end(text, word.end())
        if word.group("negation"):
            return _Token(None, "negated", text[position:end], end)
        value = _WORD_VALUE[" ".join(word.group("word").lower().split())]
        return _Token(value, None, text[position:end], end)
    return None


def _number_token(
    text: str, number: re.Match[str], *, grades: bool, single_digit: bool
) -> _Token | None:
    start, end = number.start(), number.end()
    # On a score line "4-5-3" is three scores; elsewhere "4-5" is a range.
    quantity = (None if single_digit else _RANGE.match(text, end)) or _QUANTITY.match(text, end)
    if quantity and not _LETTER_AFTER.match(text, quantity.end()):
        return _Token(None, "not-a-score", text[start : quantity.end()], quantity.end(), True)
    if _LETTER_AFTER.match(text, end):
        return None  # "1A", "4711abc": a code, not a score
    whole = number.group("whole")
    if single_digit and len(whole) > 1:
        return None
    if number.group("fraction") is not None:
        return _Token(None, "not-whole", number.group(0), end)
    scale = _SCALE.match(text, end)
    if scale and single_digit and scale.group("scale") != "5":
        scale = None  # "5/3" on a score line: the 3 is the next score
    if scale:
        end = _unit_end(text, scale.end())
        if scale.group("scale") != "5":
            return _Token(None, "other-scale", text[start:end], end)
        return _ranged(int(whole), text[start:end], end)
    end = _unit_end(text, end)
    if grades:
        return _grade_token(int(whole), text[start:end], end)
    return _ranged(int(whole), text[start:end], end)


def _grade_token(grade: int, text: str, end: int) -> _Token:
    if grade not in _GRADE_TO_SCORE:
        return _Token(None, "out-of-range", text, end)
    return _Token(_GRADE_TO_SCORE[grade], None, text, end)


def _ranged(value: int, text: str, end: int) -> _Token:
    if not 1 <= value <= 5:
        return _Token(None, "out-of-range", text, end)
    return _Token(value, None, text, end)


def _unit_end(text: str, end: int) -> int:
    unit = _UNIT.match(text, end)
    return unit.end() if unit else end


def _inline_answers(full: str) -> tuple[list[str], list[str]]:
    """Form fields answered below their quoted label, as "Label: answer" lines, and the
    answer lines themselves. Reply extraction keeps a single line between two quoted
    lines as quoted (a wrapped quote), which would drop exactly these answers."""
    lines = full.split("\n")
    fields: list[str] = []
    answers: list[str] = []
    for index, line in enumerate(lines):
        if not _QUOTED.match(line):
            continue
        field = _FORM_FIELD.fullmatch(_QUOTED.sub("", line).strip())
        if field is None:
            continue
        block: list[str] = []
        following = index + 1
        while following < len(lines) and lines[following].strip():
            if _QUOTED.match(lines[following]):
                break
            block.append(lines[following])
            following += 1
        if block:
            fields.append(f"{field.group('field')}: " + " ".join(item.strip() for item in block))
            answers += block
    return fields, answers


def _without_lines(text: str, lines: list[str]) -> str:
    remaining = list(lines)
    kept = []
    for line in text.split("\n"):
        if line in remaining:
            remaining.remove(line)
        else:
            kept.append(line)
    return "\n".join(kept)


def _remove_spans(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, position = [], 0
    for start, end in sorted(spans):
        if start > position:
            pieces.append(text[position:start])
        position = max(position, end)
    pieces.append(text[position:])
    return "\n".join(pieces)


def _free_text(text: str) -> dict[str, str]:
    """Praise, criticism and comment from what is left once the scores are taken out."""
    sections: dict[str, list[str]] = {"praise": [], "criticism": [], "comment": []}
    markers = list(_MARKER.finditer(text))
    sections["comment"].append(text[: markers[0].start()] if markers else text)
    for index, marker in enumerate(markers):
        following = markers[index + 1] if index + 1 < len(markers) else None
        kind = " ".join(marker.group("kind").lower().split())
        section = "praise" if kind in _PRAISE else "criticism" if kind in _CRITICISM else "comment"
        sections[section].append(text[marker.end() : following.start() if following else None])
    return {name: _clean("\n".join(parts), name) for name, parts in sections.items()}


def _clean(text: str, section: str) -> str:
    lines = []
    for line in text.split("\n"):
        line = " ".join(line.split()).strip(",;:–- ")
        if line and any(char.isalnum() for char in line):
            lines.append(line)
    if section == "comment" and lines and _GREETING.match(lines[0]):
        lines = lines[1:]
    cleaned = "\n".join(lines).strip()
    return "" if cleaned.lower().strip(".!") in _NOTHING else cleaned


_HELP = {
    "de": (
        "Bitte antworten Sie auf diese Mail mit drei Bewertungen von 1 (schlecht) bis "
        "5 (sehr gut), zum Beispiel:\n\n"
        "Service: 4\nErreichbarkeit: 5\nReaktionszeit: 3\n"
        "Lob: was Ihnen gefallen hat\nTadel: was besser werden sollte\n\n"
        "Kurz geht es auch: drei Zahlen in dieser Reihenfolge, zum Beispiel 4 5 3.\n\n"
        "Bitte schreiben Sie in Ihren eigenen Text, nicht in die zitierten Zeilen unserer "
        "Mail (mit „>“ davor): Diese lesen wir nicht."
    ),
    "en": (
        "Please reply to this mail with three ratings from 1 (poor) to 5 (excellent), "
        "for example:\n\n"
        "Service: 4\nReachability: 5\nReaction time: 3\n"
        "Praise: what you liked\nCriticism: what should improve\n\n"
        "A short form works too: three numbers in this order, for example 4 5 3.\n\n"
        "Please write in your own text, not into the quoted lines of our mail (those "
        "starting with “>”): we do not read those."
    ),
}


_FILLED_FIELD = re.compile(
    r"(?:" + "|".join(_LABELS.values()) + r")[ \t]*\(1-5\)[ \t]*[:=][ \t]*(?:[1-6]\b|[★⭐*]{1,5})",
    re.IGNORECASE,
)
"""A field of the request's form, "Service (1-5):", with a score after it; the examples of
`format_help` ("Service: 4") have no scale, so quoting them is no try at a rating."""


def filled_in_quote(text: str) -> bool:
    """Whether a quoted line of `text` is a field of our rating request with a score
    typed after its label ("> Service (1-5): 2"). Quoted lines never act, so that is not
    read as a rating, but it is the customer's try at one: it is answered with the format
    (`format_help`), not taken as other words."""
    return any(
        _FILLED_FIELD.match(_QUOTED.sub("", line).strip())
        for line in text.split("\n")
        if _QUOTED.match(line)
    )


def format_help(language: str) -> str:
    """How to answer a rating request, for the reply to an unreadable answer."""
    if language not in _HELP:
        raise ValueError(f"language must be one of {sorted(_HELP)}, got {language!r}")
    return _HELP[language]
