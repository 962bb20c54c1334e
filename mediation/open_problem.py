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
    r"(?:da|hier|angekommen|eingetroffen|erhalten|bekommen|geliefert|erfolgt|erstattet|"
    r"gutgeschrieben|zurücküberwiesen|gemeldet|reagiert|geantwortet|beantwortet)"
)
_ARRIVED_EN = (
    r"(?:arrived|received|got|gotten|delivered|refunded|heard back|answered|replied|"
    r"responded|here|come|come through|shown up|turned up)"
)
_OWED_DE = r"(?:antwort|reaktion|rückmeldung|lieferung|erstattung|rückzahlung|gutschrift|ware)"
_SPAN_DE = (
    r"(?:\d+|einer|einem|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|"
    r"mehreren|vielen) (?:tag|woche|monat)\w*"
)
_STILL_OPEN = re.compile(
    r"\b(?:"
    # German. What has not happened is named ("immer noch nicht angekommen", "seit zehn
    # Tagen keine Antwort"); "immer noch begeistert, nichts zu meckern" and "bisher
    # keine Probleme" are praise, "ich warte seit Jahren auf so einen Service" too.
    rf"(?:immer noch|noch immer|bis heute|bisher|bislang|noch) (?:nicht|nichts|kein\w*)"
    rf"(?: (?:\w+ ){{0,3}}?)?(?:{_ARRIVED_DE}|{_OWED_DE})"
    rf"|seit {_SPAN_DE} (?:nicht|nichts|kein\w*)(?: \w+){{0,3}}? (?:{_ARRIVED_DE}|{_OWED_DE})"
    rf"|(?:kommt|kam|gibt es|erhalte|bekomme|habe)(?: seit {_SPAN_DE})? (?:immer noch |noch )?"
    rf"keine {_OWED_DE}"
    rf"|warte\w* (?:seit {_SPAN_DE}|immer noch|noch immer|bis heute|vergeblich)"
    r"|(?:ist|sind) (?:jetzt |schon |seit \w+ \w+ )?überfällig"
    r"|(?:niemand|keiner) (?:antwortet|reagiert|meldet sich|kümmert sich)"
    r"|(?:antwortet|reagiert|meldet sich|kümmert sich) (?:einfach |überhaupt |gar )?"
    r"(?:niemand|keiner|nicht)(?! (?:zu|so) )"
    r"|(?:fehlt|fehlen) (?:immer noch|noch immer|bis heute|noch)"
    r"|wo bleibt"
    r"|helfen sie mir(?: bitte)?(?=\s*[.!]|\s*$)|(?:können|könnten) sie mir (?:bitte )?helfen"
    r"|bitte helfen sie|bitte um (?:hilfe|erstattung|"
    r"rückerstattung|ersatz|umtausch)"
    r"|(?:ich )?(?:will|möchte|verlange|fordere) (?:mein geld|eine (?:erstattung|"
    r"rückerstattung|gutschrift)|(?:einen )?ersatz|den kaufpreis)"
    r"|danke? (?:schön )?für (?:gar )?(?:nichts|nix)"
    # English, in the same way: not "still no complaints", "nobody answers as fast".
    r"|still (?:no (?:reply|response|answer|refund|delivery|parcel|package|sign|word|update)"
    rf"|nothing|(?:not|haven't|hasn't|have not|has not|never) (?:been |yet )?{_ARRIVED_EN}"
    r"|waiting (?:for|on) (?:my|our|the|a|an|any) (?:refund|reply|response|answer|parcel|"
    r"package|order|delivery|replacement|money|call|item))"
    rf"|(?:haven't|have not|hasn't|has not|i've not|i have not) (?:yet )?(?:been )?{_ARRIVED_EN}"
    r"|(?:i've|i have|we've|we have) been waiting (?:for|since|over|more than)"
    r"|waiting (?:for|since) (?:weeks|days|months|over a|more than a|\d+ (?:days|weeks|months))"
    r"|(?:is|are) (?:now |still |already )?overdue(?! (?:thank|praise|compliment))"
    r"|(?:no one|nobody|no-one) (?:answers|replies|responds|gets back|has answered|"
    r"has replied|has responded)(?! (?:as|so|faster|quicker|like))"
    r"|please help(?: me| us)?(?=\s*[.!]|\s*$)"
    r"|please (?:refund|sort (?:it|this) out|look into|respond|reply)"
    r"|i (?:want|demand|expect|need) (?:a refund|my money|a replacement|an answer)"
    r"|thanks? (?:a lot |so much |very much )?for nothing"
    r")\b"
)


def open_problem(text: str) -> str | None:
    """The words of `text` (a sender's own) that tell of a problem still open, or None."""
    match = _STILL_OPEN.search(text.lower())
    return match.group(0) if match else None
