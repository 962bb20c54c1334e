"""Intent cues: negation scope, answer shape and conditions, read from normalised replies."""

from __future__ import annotations

import pytest

from classifier import records as rec
from classifier.intent_cues import intent_inputs


def _inputs(text: str, context: str = "proposal") -> tuple[list[str], list[str]]:
    words, cues = intent_inputs(rec.normalise(text), context)
    return words.split(), cues.split()


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("Mit dem Vorschlag bin ich nicht einverstanden.", ["nxeinverstanden"]),
        ("I don't accept this offer, sorry", ["nxaccept", "nxthis", "nxoffer"]),
        ("I don’t accept this offer, sorry", ["nxaccept", "nxthis", "nxoffer"]),
        ("Kein Problem mehr, danke", ["nxproblem", "nxmehr"]),
        ("ja klar, gelöst ist hier gar nichts", []),
        ("That is not acceptable.", ["nxacceptable"]),
        ("Damit bin ich keinesfalls einverstanden", ["nxeinverstanden"]),
    ],
)
def test_words_after_a_negator_are_marked_up_to_punctuation(text, negated):
    """The (at most three) words after a negator, up to punctuation, become negated words;
    the words before and after that stay as they are."""
    words, _ = _inputs(text)
    assert [word for word in words if word.startswith("nx")] == negated


def test_words_before_a_negator_become_cues():
    """German puts the negator after the verb: "das nehme ich nicht an" gives cues for the
    words before it too."""
    _, cues = _inputs("Das nehme ich nicht an")
    assert {"negb:ich", "negb:nehme", "negb:das", "neg:an"} <= set(cues)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ja.", {"first:ja", "len:1"}),
        ("Declined.", {"first:declined", "len:1"}),
        ("Nein danke", {"first:nein", "first2:nein_danke", "len:3"}),
        ("Nur wenn der Händler die Kosten trägt?", {"condition", "question", "len:10"}),
        ("Only if they pay the return shipping", {"condition", "first:only"}),
        ("I'd accept as long as they confirm it in writing", {"condition"}),
    ],
)
def test_answer_shape_cues(text, expected):
    """First words, length, a question mark and a condition are cues of their own."""
    _, cues = _inputs(text)
    assert expected <= set(cues)


def test_context_is_a_cue():
    """The question the reply answers is a cue, so one model can weigh words per question."""
    assert "ctx:solved_question" in _inputs("ja", "solved_question")[1]
    assert "ctx:proposal" in _inputs("ja", "proposal")[1]
