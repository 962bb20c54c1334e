"""Whether a customer's own words withdraw the complaint: a rule, not the model.

"Ich ziehe meine Beschwerde zurück", "hiermit nehme ich die Beschwerde zurück",
"I withdraw my complaint", "please close my complaint, it has been sorted out" is not
one (that is "solved"). Read on the sender's own text only (the reply reader's
`own_text`), sentence by sentence: a sentence with a negation ("nicht", "not") or a
question mark ("Kann ich die Beschwerde zurückziehen?") withdraws nothing, nor one that
states a condition, a hesitation or someone else's wish ("ich ziehe sie zurück, wenn
...", "der Händler hat mich gebeten, sie zurückzuziehen", "asked me to withdraw it
in exchange for a voucher"), and no sentence withdraws when another one refuses ("Das
werde ich nicht tun", "I refuse"). A withdrawal closes the case for good, and a shop
that presses its customers to withdraw gains by every one misread: when in doubt, the
case stays open.
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
# A condition or a hesitation ("wenn" but not "auch wenn", "if" but not "even if",
# "vielleicht", "thinking about"), or what someone else asks, wants or offers. "Würde"
# and "would" alone are politeness ("I would like to withdraw my complaint").
_NOT_AN_ACT = re.compile(
    r"\b(?:(?<!auch )(?<!selbst )wenn|falls|sofern|sobald|vorausgesetzt|"
    r"überlege|überlegen|vielleicht|eventuell|möglicherweise|könnte|gebeten|bittet|bat|"
    r"verlangt|verlangen|fordert|gefordert|aufgefordert|drängt|gedrängt|soll|sollte|"
    r"sollen|angeboten|anbietet|bietet|gegenzug|"
    r"(?<!even )if|unless|once|provided|maybe|perhaps|might|could|considering|"
    r"thinking|asked|asks|urged|urges|pressured|pressuring|requested|requests|suggested|"
    r"suggests|offered|offers|exchange|in return|should|wants|want me|wanted me|told|tells|"
    r"when|after|as soon as)\b"
)
# A refusal anywhere in the text: the withdrawal it refers to is someone else's wish.
_REFUSAL = re.compile(
    r"\b(?:weigere|verweigere|lehne\b[^.!?\n]{0,40}\bab|kommt\b[^.!?\n]{0,20}\bnicht in frage|"
    r"denke nicht daran|werde ich (?:aber )?nicht|mache ich nicht|tue ich nicht|"
    r"refuse|refused|refusing|decline|declined|no way|not going to|will not|won't)\b"
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def withdraws(text: str) -> bool:
    """Whether `text` (a customer's own words) withdraws the complaint."""
    lowered = text.lower()
    if _REFUSAL.search(lowered):
        return False
    for sentence in _SENTENCE.findall(lowered):
        if sentence.rstrip().endswith("?") or _NEGATION.search(sentence):
            continue
        if _NOT_AN_ACT.search(sentence):
            continue
        if any(pattern.search(sentence) for pattern in _PATTERNS):
            return True
    return False
