"""A problem still open keeps a mail that reads as praise a complaint; praise that tells
of a problem solved, or uses the same words for something else, stays praise."""

from __future__ import annotations

import pytest

from mediation.open_problem import open_problem


@pytest.mark.parametrize(
    "text",
    [
        "Paket ist immer noch nicht da",
        "Ich habe immer noch keine Antwort erhalten.",
        "Die Lieferung ist bis heute nicht erfolgt.",
        "Das Paket ist seit 10 Tagen nicht da.",
        "Auf meine Reklamation kommt seit zehn Tagen keine Antwort.",
        "Ich warte seit drei Wochen auf mein Geld.",
        "Die Lieferung ist seit 2 Wochen überfällig.",
        "Niemand antwortet auf meine Mails.",
        "Der Kundendienst reagiert einfach nicht.",
        "Die Rückzahlung fehlt noch.",
        "Wo bleibt meine Bestellung?",
        "Können Sie mir bitte helfen?",
        "Ich möchte mein Geld zurück.",
        "Danke für gar nichts.",
        "Super gemacht, danke für nix!",
        "My sofa still hasn't arrived.",
        "I've not received my order.",
        "The refund has still not come through.",
        "Three weeks of 'we will call you back' and still nothing.",
        "I am still waiting for my refund.",
        "The parcel is overdue.",
        "Nobody answers my emails.",
        "Please help!",
        "I want a refund.",
        "Thanks a lot for nothing.",
    ],
)
def test_a_problem_still_open_is_found(text: str) -> None:
    assert open_problem(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        # A problem the shop solved: praise.
        "Nach einer Reklamation wegen eines kaputten Toasters kam sofort ein neuer. Danke!",
        "They sent the wrong colour, then the right ones by express.",
        "Returned a watch on Tuesday, the refund landed on Wednesday.",
        "Die Lieferung war überfällig, aber dann kam sie doch, mit einem Gutschein.",
        "Noch nicht mal ausgepackt, da kam schon die Gutschrift.",
        # The same words for something else.
        "Dieses Lob ist längst überfällig!",
        "This thank-you is long overdue.",
        "A long overdue thank you.",
        "I have never received such quick help.",
        "Never got a damaged item in ten years.",
        "Immer noch begeistert, ich habe nichts zu meckern.",
        "Bisher keine Probleme, alles super!",
        "Ich warte seit Jahren auf so einen guten Service.",
        "Still waiting for a shop that beats you.",
        "Was waiting since 2019 for a shop like this.",
        "Still no complaints after five years.",
        "Nobody answers as fast as you do!",
        "Antwortet nie zu spät.",
        "Please help yourself to the free samples.",
        "I'm still not over how fast it arrived!",
    ],
)
def test_praise_is_no_open_problem(text: str) -> None:
    assert open_problem(text) is None
