"""Language of a mail text: German, English, or something else.

Owns `detect_language`. No model is loaded: it counts words from small German and English
lexicons (function words plus the vocabulary of shop complaints and replies, so that a
three-word mail like "Paket nie angekommen" or "refund still missing" is decided) against
function words of other European languages, and counts letters that only one side uses
(ä, ö, ü, ß for German; é, ñ, ç, ł, ... for others). Words both lexicons share ("in", "so",
"bin", "will") count for neither.
"""

from __future__ import annotations

import re

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

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_GERMAN_LETTERS = re.compile(r"[äöüß]", re.IGNORECASE)
_OTHER_LETTERS = re.compile(r"[éèêëàâçñãõåøæłńśźżąęčřšžğşıœ]", re.IGNORECASE)


def _lexicons() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    german, english, other = (set(words.split()) for words in (_GERMAN, _ENGLISH, _OTHER))
    shared = german & english
    return (
        frozenset(german - shared),
        frozenset(english - shared),
        frozenset(other - german - english),
    )


_GERMAN_WORDS, _ENGLISH_WORDS, _OTHER_WORDS = _lexicons()


def language_scores(text: str) -> dict[str, float]:
    """Evidence for each language: matched words, plus letters only one side uses."""
    scores = {"de": 0.0, "en": 0.0, "other": 0.0}
    for word in _WORD.findall(text.lower()):
        if word in _GERMAN_WORDS:
            scores["de"] += 1.0
        elif word in _ENGLISH_WORDS:
            scores["en"] += 1.0
        elif word in _OTHER_WORDS:
            scores["other"] += 1.0
    # Letters are weaker evidence than words ("Müller" in an English mail): capped.
    scores["de"] += min(3.0, 0.5 * len(_GERMAN_LETTERS.findall(text)))
    scores["other"] += min(3.0, 0.5 * len(_OTHER_LETTERS.findall(text)))
    return scores


def detect_language(text: str) -> str:
    """'de', 'en' or 'other' (another language, or no evidence at all, e.g. "ok")."""
    return decide_language(language_scores(text))


def decide_language(scores: dict[str, float]) -> str:
    """The language with the most evidence; 'other' on a tie between German and English."""
    best = max(scores, key=lambda language: scores[language])
    if scores[best] == 0.0 or best == "other":
        return "other"
    runner_up = scores["en" if best == "de" else "de"]
    if scores[best] == runner_up:
        return "other"
    return best
