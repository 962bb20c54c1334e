"""Language of a mail text: German, English, or something else.

Owns `detect_language` and `language_scores_many`. No model is loaded: it counts words
from small German and English lexicons (function words plus the vocabulary of shop
complaints and replies, so that a three-word mail like "Paket nie angekommen" or "refund
still missing" is decided) against function words of other European languages, and counts
letters that only one side uses (ä, ö, ü, ß for German; é, ñ, ç, ł, ... for others). Words
both lexicons share ("in", "so", "bin", "will") count for neither.

A whole batch is scored with a few numpy operations: words (letters, joined by an
apostrophe between letters: "don't") are hashed as `classifier.features` hashes words and
looked up among the hashed lexicon words.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.features import character_table, code_points, in_table, word_hashes

_GERMAN = """
aber alle allem allen aller alles als also am an andere anderen auch auf aus bei beim bereits
bin bis bisher bitte bzw da dabei dafür daher damit danach dann darauf das dass davon dazu dem
den denn der des deshalb dich die dies diese diesem diesen dieser dir doch dort du durch eigentlich
ein eine einem einen einer eines einfach einmal er es etwas euch euer für fuer ganz gar gegen
gerade gestern gibt habe haben hab hallo hast hat hatte hatten heute hier hin ich ihm ihn ihnen
ihr ihre ihrem ihren ihrer im immer ist ja jedoch jetzt kann kein keine keinen keiner können
koennen könnte konnte leider mal man mehr mein meine meinem meinen meiner mich mir mit möchte
moechte morgen muss müssen nach nachdem nein nicht nichts noch nun nur ob oder ohne schon sehr
sein seit seine sich sie sind soll sollte sondern sowie über ueber um und uns unser unsere
unter viel vom von vor wann warum was weil weiter wenn wer werde werden wie wieder wir wird
wo wurde wurden zu zum zur zwar zwei drei vier fünf tage tagen woche wochen monat
danke dank vielen herzlichen gruß gruss grüße gruesse grüßen freundlichen geehrte geehrter
damen herren liebe lieber servus moin
paket pakete sendung lieferung geliefert liefern zugestellt angekommen versand versendet
bestellung bestellt bestellnummer bestellnr auftrag rechnung zahlung bezahlt überwiesen
geld betrag erstattet erstattung rückerstattung rueckerstattung zurück zurueck rücksendung
retoure storniert stornierung storno widerruf kündigung gekündigt kaputt defekt beschädigt
falsch falsche falschen artikel ware kunde kundin kundenservice kundendienst händler shop
niemand erreichbar antwort antwortet geantwortet meldet anruf telefon beschwerde problem
gelöst geloest erledigt einverstanden vorschlag ablehnen annehmen abgelehnt angenommen
daten löschen gelöscht datenschutz werbung newsletter abgebucht gutschrift lieferant
bekommen erhalten gekommen wochenlang seitdem inzwischen trotzdem nochmal bereits schon
fehlt kam kommt immernoch leider sorry okay passt stimmt richtig genau klar natürlich
"""

_ENGLISH = """
a an in about after again all am and any are as at be because been before being both but by can
cannot could did do does doing done don't dont down during each few for from further had has
have having he her here hers him his how i i'm if into is it its it's just me more most my
myself no nor not now of off once only or other our ours out over own please same she should
some still such than that the their them then there these they this those through to too
under until up very was we were what when where which while who whom why with would you your
yours yet already never ever since ago got get received hi hello dear thanks thank regards
best sincerely kind yesterday today tomorrow week weeks month days day
parcel package delivery delivered deliver shipped shipping shipment arrived arrive tracking
courier order ordered invoice payment paid charged charge money amount refund refunded
return returned returning cancel cancelled canceled cancellation broken damaged defective
faulty wrong item items product customer support service nobody answer answered reply
replied phone call complaint issue problem solved resolved fixed agree accept reject
decline proposal offer data delete deleted privacy newsletter spam account unsubscribe
voucher warranty shop store seller merchant received receive still waiting nothing anything
yes yeah yep nope sure agreed accepted rejected declined sorry missing late help thing
unfortunately however anyway because really never without again told says said
"""

_OTHER = """
le la les un une des est et je vous nous pas que qui dans pour sur avec mon ma mes ce cette
sont été mais très bonjour merci commande colis reçu
el los las y que en por para con una es mi pedido gracias hola no muy pero está
il lo gli della che per non sono mio ho ordine grazie buongiorno
het een ik niet dat zijn met voor op je mijn bestelling bedankt dag geen
nie jest się na że to co jak dla zamówienie dziękuję
bir ve bu da için çok ama sipariş teşekkürler merhaba
o os um uma não com obrigado encomenda
"""

_LETTER = r"[^\W\d_]"
_APOSTROPHE = ord("'")
_TEXT_END = 0
_GERMAN_LETTERS = "äöüß"
_OTHER_LETTERS = "éèêëàâçñãõåøæłńśźżąęčřšžğşıœ"
LANGUAGES = ("de", "en", "other")


def _lexicons() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    german, english, other = (set(words.split()) for words in (_GERMAN, _ENGLISH, _OTHER))
    shared = german & english
    return (
        frozenset(german - shared),
        frozenset(english - shared),
        frozenset(other - german - english),
    )


def _words(lowered: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Code points of the texts, the hash of each word, and the text each word is in."""
    codes = code_points(lowered)
    letters = in_table(codes, character_table(_LETTER))
    in_word = letters.copy()
    in_word[1:-1] |= (codes[1:-1] == _APOSTROPHE) & letters[:-2] & letters[2:]
    hashes, first = word_hashes(codes, in_word)
    return codes, hashes, np.cumsum(codes == _TEXT_END)[first]


def _lexicon_table() -> tuple[np.ndarray, np.ndarray]:
    """The hashes of all lexicon words, sorted, and the language (column) of each."""
    hashes, languages = [], []
    for column, words in enumerate(_lexicons()):
        hashes.append(_words(sorted(words))[1])
        languages.append(np.full(len(words), column))
    order = np.argsort(np.concatenate(hashes))
    return np.concatenate(hashes)[order], np.concatenate(languages)[order]


_LEXICON_HASHES, _LEXICON_LANGUAGES = _lexicon_table()


def _letter_columns() -> np.ndarray:
    """Per code point up to the last special letter: 0 for German, 2 for other letters."""
    columns = np.ones(max(map(ord, _GERMAN_LETTERS + _OTHER_LETTERS)) + 2, dtype=np.int64)
    columns[[ord(letter) for letter in _GERMAN_LETTERS]] = 0
    columns[[ord(letter) for letter in _OTHER_LETTERS]] = 2
    return columns


_LETTER_COLUMNS = _letter_columns()


def language_scores_many(texts: Sequence[str]) -> list[dict[str, float]]:
    """Evidence for each language in each text: matched words, plus letters only one side
    uses (weaker evidence than words, "Müller" in an English mail: capped)."""
    count = len(texts)
    codes, hashes, word_text = _words([text.lower() for text in texts])
    slot = np.searchsorted(_LEXICON_HASHES, hashes).clip(max=len(_LEXICON_HASHES) - 1)
    known = _LEXICON_HASHES[slot] == hashes
    cells = word_text[known] * len(LANGUAGES) + _LEXICON_LANGUAGES[slot[known]]
    table = np.bincount(cells, minlength=count * len(LANGUAGES)).reshape(count, len(LANGUAGES))
    table = table.astype(np.float64)
    text_of = np.cumsum(codes == _TEXT_END)
    # Letters only one side uses: column 0 (German) or 2 (other), 1 for all other letters.
    letter_column = _LETTER_COLUMNS[np.minimum(codes, len(_LETTER_COLUMNS) - 1)]
    # A text's end mark counts for the next text, in the neutral column; the last one for
    # a text that does not exist: cut off.
    cells = text_of * len(LANGUAGES) + letter_column
    letters = np.bincount(cells, minlength=(count + 1) * len(LANGUAGES))
    letters = letters[: count * len(LANGUAGES)].reshape(count, len(LANGUAGES))
    for column in (0, 2):
        table[:, column] += np.minimum(3.0, 0.5 * letters[:, column])
    return [dict(zip(LANGUAGES, row, strict=True)) for row in table.tolist()]


def language_scores(text: str) -> dict[str, float]:
    """Evidence for each language in one text (see `language_scores_many`)."""
    return language_scores_many([text])[0]


def detect_language(text: str) -> str:
    """'de', 'en' or 'other' (another language, or no evidence at all, e.g. "ok")."""
    return decide_language(language_scores(text))


def decide_language(scores: dict[str, float]) -> str:
    """The language with the most evidence; 'other' on a tie between German and English."""
    german, english, other = scores["de"], scores["en"], scores["other"]
    # The first of the highest in the order de, en, other, as max() would pick.
    if (other > german and other > english) or german == english == other == 0.0:
        return "other"
    if german == english:
        return "other"
    return "de" if german > english else "en"
