"""Whether a customer's own words withdraw the complaint: a rule, not the model.

"Ich ziehe meine Beschwerde zurück", "hiermit nehme ich die Beschwerde zurück",
"I withdraw my complaint", "please close my complaint, it has been sorted out" is not
one (that is "solved"). Read on the sender's own text only (the reply reader's
`own_text`), sentence by sentence: a sentence with a negation ("nicht", "not") or a
question mark ("Kann ich die Beschwerde zurückziehen?") withdraws nothing.
"""

from __future__ import annotations

import re

_OBJECT = r"(?:beschwerde|reklamation|anfrage|fall|schlichtungsantrag)"
_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        # "ich ziehe meine Beschwerde (hiermit) zurück", "nehme die Beschwerde zurück"
        rf"\b(?:ziehe|ziehen|nehme|nehmen)\b[^.!?\n]{{0,60}}\b{_OBJECT}\b[^.!?\n]{{0,40}}\bzurück\b",
        # "möchte meine Beschwerde zurückziehen", "die Beschwerde ist zurückgezogen"
        rf"\b{_OBJECT}\b[^.!?\n]{{0,60}}\bzurück(?:zu)?(?:ziehen|nehmen|gezogen|genommen)\b",
        r"\b(?:withdraw|withdrawing|retract|retracting)\b[^.!?\n]{0,40}\b(?:complaint|case|claim)\b",
        r"\b(?:complaint|case|claim)\b[^.!?\n]{0,40}\b(?:withdrawn|retracted)\b",
    )
)
_NEGATION = re.compile(
    r"\b(?:nicht|kein|keine|keinen|nie|niemals|not|never|no|don't|dont|won't|wont|"
    r"doesn't|cannot|can't)\b"
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def withdraws(text: str) -> bool:
    """Whether `text` (a customer's own words) withdraws the complaint."""
    for sentence in _SENTENCE.findall(text.lower()):
        if sentence.rstrip().endswith("?") or _NEGATION.search(sentence):
            continue
        if any(pattern.search(sentence) for pattern in _PATTERNS):
            return True
    return False
