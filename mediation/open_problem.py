"""Whether a mail tells of a problem still open: a rule beside the category model.

Praise at the complaint address opens no case (`feedback.is_praise`). The model reads a
mail that praises and complains at once ("Ich war immer zufrieden, aber diesmal ist die
Lieferung seit zwei Wochen überfällig. Bitte helfen Sie.") or thanks in bitter irony
("Danke für nichts") as praise now and then, and a complaint taken for praise gets no
case at all. Praise often tells of a problem the shop has solved ("the wrong colour
came, they sent the right one express", "Erstattung am nächsten Tag"): that is praise.
What makes a complaint is a problem that is still open, in the writer's words: still
waiting, nothing yet, overdue, nobody answers, a request for help or for the money.
Read on the sender's own text only (the reply reader's `own_text`).
"""

from __future__ import annotations

import re

_ARRIVED_DE = (
    r"(?:angekommen|eingetroffen|erhalten|bekommen|geliefert|erstattet|gutgeschrieben|"
    r"zurücküberwiesen|gemeldet|reagiert|geantwortet|beantwortet)"
)
_ARRIVED_EN = (
    r"(?:arrived|received|got|gotten|delivered|refunded|heard back|answered|replied|"
    r"responded|here)"
)
_STILL_OPEN = re.compile(
    r"\b(?:"
    # German: still nothing, waiting, overdue, nobody answers, asking for help or money.
    # Not "bisher keine Probleme" (praise): what has not happened must be named.
    r"(?:immer noch|noch immer)\b[^.!?\n]{0,40}\b(?:nicht|kein|keine|keinen|nichts)\b"
    r"|(?:bis heute|bisher|bislang|noch) (?:nicht|keine?n?|nichts)\b"
    rf"[^.!?\n]{{0,30}}\b{_ARRIVED_DE}"
    r"|(?:ich )?warte(?:n)? (?:seit|immer noch|noch immer|bis heute|vergeblich)"
    r"|überfällig(?! (?:lob|dank))"  # not an overdue thanks
    r"|(?:antwortet|reagiert|meldet sich|kümmert sich) (?:niemand|keiner|nicht|nie)"
    r"|bitte helfen|helfen sie mir|bitte um (?:hilfe|erstattung|rückerstattung|ersatz|umtausch)"
    r"|(?:ich )?(?:will|möchte|verlange|fordere) (?:mein geld|eine (?:erstattung|"
    r"rückerstattung|gutschrift)|(?:einen )?ersatz|den kaufpreis)"
    r"|danke? für nichts"
    # English: the same, and not "still no complaints" (praise).
    r"|still (?:no (?:reply|response|answer|refund|delivery|parcel|package|sign|word|update)"
    rf"|(?:not|haven't|hasn't|have not|has not|never) (?:been )?{_ARRIVED_EN}|waiting)"
    rf"|(?:haven't|have not|hasn't|has not|never) (?:yet )?(?:been )?{_ARRIVED_EN}"
    r"|(?:i've|i have|we've|we have) been waiting"
    r"|waiting (?:for|since) (?:weeks|days|months|over|more than|\d+)"
    r"|overdue(?! (?:thank|praise|compliment))"  # not "a long overdue thank you"
    r"|(?:no one|nobody|no-one) (?:answers|replies|responds|gets back|has answered|has replied)"
    r"|please (?:help|refund|sort (?:it|this) out|look into|respond|reply)"
    r"|i (?:want|demand|expect|need) (?:a refund|my money|a replacement|an answer)"
    r"|thanks for nothing"
    r")\b"
)


def open_problem(text: str) -> str | None:
    """The words of `text` (a sender's own) that tell of a problem still open, or None."""
    match = _STILL_OPEN.search(text.lower())
    return match.group(0) if match else None
