"""What a reply to our question says beyond its words: negation scope and answer shape,
the intent model's inputs.

Owns `intent_inputs`. A bag of words cannot tell "einverstanden" from "nicht
einverstanden", "I accept" from "I don't accept", or "kein Problem mehr" (solved) from
"Problem" (not solved). So, on the normalised text (`records.normalise`):
- the word n-grams see each of the three words after a negator, up to the next
  punctuation, as its own negated word ("nicht einverstanden" → "nicht nxeinverstanden");
- a small block of cue words records the negated words after and before a negator
  (German puts it after the verb: "das nehme ich nicht an"), the first word or two (the
  answer to a yes/no question usually opens the reply), the length (a bare "Ja." or
  "Declined." says all), a question mark, a condition ("nur wenn", "only if",
  "vorausgesetzt", "as long as": not yet a yes), and the context the reply answers.
Those are features: the model weighs them, and may weigh them wrong. An answer to either
question acts, so the verdict rules (`classifier.verdicts`) decide it where they can, and
the model only the rest, and only when it is sure (`classifier.classification`).
"""

from __future__ import annotations

import re

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
APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[?!.,;:()\"]")
_LENGTHS = ((1, "1"), (3, "3"), (10, "10"), (30, "30"))


def intent_inputs(text: str, context: str) -> tuple[str, str]:
    """For a normalised reply: the text for the word n-grams (negated words marked) and
    the space-separated cue words."""
    # Amounts and dates alike, as the word and character features count them.
    # Typographic apostrophes too ("don’t"), as phones write them.
    tokens = _TOKEN.findall(_DIGITS.sub("0", text.translate(APOSTROPHES)))
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
