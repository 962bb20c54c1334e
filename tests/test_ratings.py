"""Rating replies in German and English: scores, praise and criticism, quoted history,
tricky numbers that must not rate, and real mails that are no rating at all."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import pytest

from classifier.ratings import RatingReply, UnreadableRating, format_help, parse_rating
from tests.conftest import CORPORA
from tests.cpu_time import cpu_seconds

GMAIL_QUOTE_DE = """
Am Mo., 4. Mai 2026 um 10:12 Uhr schrieb Service-Siegel <fall+ssg-2026-000123@siegel.test>:

> Guten Tag,
>
> Ihr Fall [SSG-2026-000123] (Bestellung 4711 vom 3.5.) ist abgeschlossen.
> Bitte bewerten Sie von 1 bis 5, zum Beispiel:
> Service: 1
> Erreichbarkeit: 2
> Reaktionszeit: 3
"""

OUTLOOK_QUOTE_DE = """
________________________________
Von: Service-Siegel <fall+ssg-2026-000123@siegel.test>
Gesendet: Montag, 4. Mai 2026 10:12
An: Anna Kunde <anna@example.org>
Betreff: Ihre Bewertung zu Fall [SSG-2026-000123]

Bitte bewerten Sie Service, Erreichbarkeit und Reaktionszeit mit 1 bis 5.
Service: 2 Erreichbarkeit: 2 Reaktionszeit: 2
"""

GMAIL_QUOTE_EN = """
On Mon, May 4, 2026 at 10:12 AM Service-Siegel <case+ssg-2026-000123@siegel.test> wrote:

> Your case [SSG-2026-000123] (order 4711 of 5/3) is closed.
> Please rate from 1 to 5: Service: 1, Reachability: 1, Reaction time: 1
"""


def scores(result: RatingReply | UnreadableRating) -> tuple[int | None, ...] | None:
    if isinstance(result, UnreadableRating):
        return None
    return (result.service, result.reachability, result.reaction_time)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # German forms
        ("Service: 4, Erreichbarkeit 5, Reaktionszeit 3", (4, 5, 3)),
        ("Service 4/5\nErreichbarkeit 5/5\nReaktionszeit 3/5", (4, 5, 3)),
        ("Service: 4 von 5 Sternen, Erreichbarkeit: 5 Sterne, Reaktionszeit 3 Punkte", (4, 5, 3)),
        ("Service=4; Erreichbarkeit=5; Reaktionszeit=3", (4, 5, 3)),
        ("Service (1-5): 4\nErreichbarkeit (1-5): 5\nReaktionszeit (1-5): 3", (4, 5, 3)),
        ("Service:\n4\nErreichbarkeit:\n5\nReaktionszeit:\n3", (4, 5, 3)),
        ("**Service:** 4\n**Erreichbarkeit:** 5\n**Reaktionszeit:** 3", (4, 5, 3)),
        ("Kundenservice: 4 Erreichbarkeit: 5 Antwortzeit: 3", (4, 5, 3)),
        ("4 5 3", (4, 5, 3)),
        ("4/5/3", (4, 5, 3)),
        ("4-5-3", (4, 5, 3)),
        ("4, 5, 3", (4, 5, 3)),
        ("4 / 5 / 3", (4, 5, 3)),
        ("5/5/5", (5, 5, 5)),
        ("4/5 5/5 3/5", (4, 5, 3)),
        ("Meine Bewertung: 4 5 3", (4, 5, 3)),
        ("Service, Erreichbarkeit, Reaktionszeit: 4 5 3", (4, 5, 3)),
        ("Service / Erreichbarkeit / Reaktionszeit (1-5): 4/5/3", (4, 5, 3)),
        ("Vielen Dank für den tollen Service\n4 5 3", (4, 5, 3)),
        ("★★★★☆ ★★★★★ ★★★☆☆", (4, 5, 3)),
        ("**** ***** ***", (4, 5, 3)),
        ("Service: ⭐️⭐️⭐️⭐️ Erreichbarkeit: ⭐️⭐️⭐️⭐️⭐️ Reaktionszeit: ⭐️⭐️⭐️", (4, 5, 3)),
        ("Service: vier\nErreichbarkeit: fünf\nReaktionszeit: drei", (4, 5, 3)),
        ("Service: gut\nErreichbarkeit: sehr gut\nReaktionszeit: befriedigend", (4, 5, 3)),
        ("Service: ausreichend, Erreichbarkeit: mangelhaft, Reaktionszeit: ungenügend", (2, 1, 1)),
        ("gut, sehr gut, befriedigend", (4, 5, 3)),
        (
            "Service: Schulnote 2, Erreichbarkeit: Schulnote 1, Reaktionszeit: Schulnote 3",
            (4, 5, 3),
        ),
        ("Noten: 2 1 3", (4, 5, 3)),
        ("Schulnoten: 1/1/6", (5, 5, 1)),
        # English forms
        ("Service: 4, Reachability: 5, Reaction time: 3", (4, 5, 3)),
        ("service 4 out of 5, reachability 5 of 5, response time 3/5", (4, 5, 3)),
        ("Customer service: four\nReachability: five\nResponse time: three", (4, 5, 3)),
        ("Service: excellent, reachability: good, reaction time: poor", (5, 4, 2)),
        ("Service: very good / Reachability: average / Response time: terrible", (5, 3, 1)),
        ("My rating: 5/5/4 - thanks for sorting it out!", (5, 5, 4)),
        ("Ratings: 3 4 5", (3, 4, 5)),
        ("Service, reachability and reaction time: excellent, good, good", (5, 4, 4)),
        # A word, then the number (a black-box run lost the worst score of the first)
        ("Service: gut, 4 Punkte. Erreichbarkeit: mies, 1 Punkt. Reaktionszeit 2.", (4, 1, 2)),
        ("Service: sehr gut, 2 Punkte. Erreichbarkeit: 5. Reaktionszeit: 3", (2, 5, 3)),
        # ... but a quantity after the word is no score: the word counts
        ("Service 4, Erreichbarkeit: schlecht, 2 Tage keine Antwort, Reaktionszeit 3", (4, 2, 3)),
    ],
)
def test_answer_forms_are_read(text: str, expected: tuple[int, int, int]) -> None:
    """Every documented German and English answer form gives the three scores in order."""
    result = parse_rating(text)
    assert scores(result) == expected
    assert isinstance(result, RatingReply)
    assert result.complete
    assert result.problems == ()


@pytest.mark.parametrize(
    "text",
    [
        "Bestellung 4711 vom 3.5.",
        "Ich habe am 12.05.2026 bestellt, Rechnung 2026-0042, 3 Artikel für 59,90 €.",
        "Lieferung nach 3-5 Tagen, Paket 2 von 3 fehlt noch.",
        "I ordered 3 items on 4/5 and paid 20 $, delivery took 4 days.",
        "Danke, alles gut!",
        "Vielen Dank für Ihre Hilfe.",
        "1. Lieferung kam spät\n2. Artikel beschädigt\n3. Rechnung falsch",
        "Der Service war super und die Reaktionszeit war 2 Tage.",
        "Our service desk is one of the best, call 0800 123456.",
        "Tel. 0511 4711 0815",
        "",
    ],
)
def test_numbers_that_are_no_rating_never_rate(text: str) -> None:
    """Order numbers, dates, prices, counts, list numbers and phone numbers give no score:
    the answer is unreadable (and the customer is shown the format)."""
    assert isinstance(parse_rating(text), UnreadableRating)


@pytest.mark.parametrize(
    ("text", "expected", "problem"),
    [
        (
            "Service: 6, Erreichbarkeit 5, Reaktionszeit 3",
            (None, 5, 3),
            "out-of-range: service '6'",
        ),
        (
            "Service: 0\nErreichbarkeit: 5\nReaktionszeit: 3",
            (None, 5, 3),
            "out-of-range: service '0'",
        ),
        (
            "Service: 10, Erreichbarkeit 5, Reaktionszeit 3",
            (None, 5, 3),
            "out-of-range: service '10'",
        ),
        ("4 6 3", (4, None, 3), "out-of-range: reachability '6'"),
        (
            "Service: 4,5 Erreichbarkeit: 5 Reaktionszeit: 3",
            (None, 5, 3),
            "not-whole: service '4,5'",
        ),
        (
            "Service: 8/10, Erreichbarkeit 5, Reaktionszeit 3",
            (None, 5, 3),
            "other-scale: service '8/10'",
        ),
        (
            "Service: 4, Erreichbarkeit 5, Reaktionszeit: 2 Tage",
            (4, 5, None),
            "not-a-score: reaction_time '2 Tage'",
        ),
        (
            "Service: 4-5, Erreichbarkeit 5, Reaktionszeit 3",
            (None, 5, 3),
            "not-a-score: service '4-5'",
        ),
        (
            "Service: nicht gut, Erreichbarkeit: gut, Reaktionszeit: gut",
            (None, 4, 4),
            "negated: service 'nicht gut'",
        ),
        (
            "Service: ☆☆☆☆☆ Erreichbarkeit: ★★★★★ Reaktionszeit: ★★★★★",
            (None, 5, 5),
            "out-of-range: service '☆☆☆☆☆'",
        ),
        (
            "Service: Schulnote 7, Erreichbarkeit 5, Reaktionszeit 3",
            (None, 5, 3),
            "out-of-range: service 'Schulnote 7'",
        ),
        (
            "Service 4\nErreichbarkeit 5\nReaktionszeit 3\nService 2",
            (None, 5, 3),
            "conflict: service 2 or 4",
        ),
        ("Service: 4\nErreichbarkeit: 5", (4, 5, None), "missing: reaction_time"),
    ],
)
def test_unusable_scores_are_problems_not_guesses(
    text: str, expected: tuple[int | None, ...], problem: str
) -> None:
    """A score outside 1-5, a fraction, another scale, a duration, a range, a negation
    or a contradiction leaves that dimension empty and names the problem."""
    result = parse_rating(text)
    assert scores(result) == expected
    assert isinstance(result, RatingReply)
    assert not result.complete
    assert problem in result.problems


def test_unlabelled_scores_other_than_three_are_not_assigned() -> None:
    """A lone "5" or "4 5" cannot say which dimension it rates: unreadable, with why."""
    for text, count in (("5", 1), ("4 5", 2), ("4 5 3 2", 4)):
        result = parse_rating(text)
        assert isinstance(result, UnreadableRating)
        assert any(p.startswith(f"unlabelled-scores: {count} in") for p in result.problems)


def test_praise_and_criticism_are_kept_apart() -> None:
    """Lob and Tadel sections run until the next marker; greeting and closing are dropped."""
    text = (
        "Hallo,\n\nService: 4, Erreichbarkeit 5, Reaktionszeit 3.\n"
        "Lob: Sehr freundlich am Telefon.\n"
        "Tadel: Die erste Antwort kam spät.\nHat zwei Tage gedauert.\n\n"
        "Viele Grüße\nAnna Kunde\n"
    )
    result = parse_rating(text)
    assert isinstance(result, RatingReply)
    assert scores(result) == (4, 5, 3)
    assert result.praise == "Sehr freundlich am Telefon."
    assert result.criticism == "Die erste Antwort kam spät.\nHat zwei Tage gedauert."
    assert result.comment == ""


def test_english_praise_criticism_and_free_comment() -> None:
    """ "Praise:" and "Criticism:" are read; unmarked text is the comment; "none" is empty."""
    text = (
        "Hi,\n\n4 5 3\n\nThe parcel finally arrived, thank you.\n"
        "Praise: quick and polite answer\nCriticism: none\n\nBest regards,\nJohn"
    )
    result = parse_rating(text)
    assert isinstance(result, RatingReply)
    assert scores(result) == (4, 5, 3)
    assert result.praise == "quick and polite answer"
    assert result.criticism == ""
    assert result.comment == "The parcel finally arrived, thank you."


@pytest.mark.parametrize(
    ("text", "expected", "comment"),
    [
        (
            "Sehr geehrte Damen und Herren,\n\nanbei meine Bewertung:\nService: sehr gut\n"
            "Erreichbarkeit: gut\nReaktionszeit: gut\n\nMit freundlichen Grüßen\nPeter Meier",
            (5, 4, 4),
            "anbei meine Bewertung",
        ),
        (
            "Hallo Team,\nich bewerte: Service 4, Erreichbarkeit 3, Reaktionszeit 2.\n"
            "Die Ware (Bestellnr. 10023, Lieferung am 14.3.) kam beschädigt an.\nMfG\nK. Müller",
            (4, 3, 2),
            "ich bewerte\nDie Ware (Bestellnr. 10023, Lieferung am 14.3.) kam beschädigt an.",
        ),
        (
            "Reaktionszeit: 3 (hat 2 Tage gedauert)\nService: 4\n"
            "Erreichbarkeit: 2 – nie jemand am Telefon\n\nGesendet von meinem iPhone",
            (4, 2, 3),
            "(hat 2 Tage gedauert)\nnie jemand am Telefon",
        ),
        (
            "Das Service-Team war nett. Service: 5/5! Erreichbarkeit : 4 Reaktionszeit: 4",
            (5, 4, 4),
            "Das Service-Team war nett.",
        ),
        (
            "Viele Grüße aus Berlin, hier meine Bewertung:\n4 5 3",
            (4, 5, 3),
            "Viele Grüße aus Berlin, hier meine Bewertung",
        ),
        (
            "Hi there,\nService - 4, Reachability - 5, Response time - 3\n"
            "Took a while but sorted in the end.\n\nKind regards,\nJane Doe\n+44 20 7946 0018",
            (4, 5, 3),
            "Took a while but sorted in the end.",
        ),
    ],
)
def test_real_style_letters(text: str, expected: tuple[int, int, int], comment: str) -> None:
    """Whole letters as customers write them: salutation, scores between sentences with
    order numbers and dates, closing, name and phone number: scores and comment only."""
    result = parse_rating(text)
    assert isinstance(result, RatingReply)
    assert scores(result) == expected
    assert result.problems == ()
    assert result.comment == comment


@pytest.mark.parametrize(
    ("text", "expected", "comment"),
    [
        ("5 5 4 alles gut", (5, 5, 4), "alles gut"),
        ("3 4 2 weil der Versand lange dauerte", (3, 4, 2), "weil der Versand lange dauerte"),
        ("4 5 3. Danke!", (4, 5, 3), "Danke!"),
        ("2 1 2 – the shop took ages", (2, 1, 2), "the shop took ages"),
    ],
)
def test_the_short_form_with_words_after_it(
    text: str, expected: tuple[int, int, int], comment: str
) -> None:
    """Three numbers and then the comment on the same line, with a mark between or
    without: the scores, and the words as the comment (without the mark)."""
    result = parse_rating(text)
    assert isinstance(result, RatingReply)
    assert (result.comment, result.problems) == (comment, ())
    assert scores(result) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sorry, my rating got lost: 2 1 2. They ignored me for weeks.", (2, 1, 2)),
        ("Hier kommt meine Bewertung nachträglich: 4 5 3, danke!", (4, 5, 3)),
    ],
)
def test_three_scores_after_a_rating_word_inside_a_sentence(
    text: str, expected: tuple[int, int, int]
) -> None:
    result = parse_rating(text)
    assert isinstance(result, RatingReply) and scores(result) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Meine Bewertung: 5 Sterne, mehr sage ich nicht.",
        "Zur Bewertung: 1 2 3 4 Pakete kamen an.",
        "Meine Noten für den Shop: 2 1 2",  # school grades: only as a line's label
        "Bestellung: 1 2 3",
    ],
)
def test_other_numbers_after_a_colon_in_a_sentence_are_no_rating(text: str) -> None:
    assert isinstance(parse_rating(text), UnreadableRating)


def test_the_writers_name_under_the_comment_signs_it() -> None:
    """A name alone on the last line (no closing formula before it) is the writer's
    signature when it is the sender's name or part of it, not part of the comment (a
    black-box run's stored comment ended in "Björn"); other last lines stay."""
    text = (
        "Service 5 von 5, Erreichbarkeit 3, Reaktionszeit 2 – am Anfang hat niemand "
        "geantwortet, danach lief es gut.\n\nBjörn"
    )
    signed = parse_rating(text, signed_by="Björn Petersen")
    assert isinstance(signed, RatingReply)
    assert signed.comment == "am Anfang hat niemand geantwortet, danach lief es gut."
    other = parse_rating(text.replace("Björn", "Weiter so"), signed_by="Björn Petersen")
    assert isinstance(other, RatingReply) and other.comment.endswith("Weiter so")


def test_inline_markers_on_one_line() -> None:
    """Scores and Lob/Tadel may share one line."""
    result = parse_rating(
        "Service: 5, Erreichbarkeit: 4, Reaktionszeit: 4. Lob: top. Kritik: keine"
    )
    assert isinstance(result, RatingReply)
    assert (scores(result), result.praise, result.criticism) == ((5, 4, 4), "top.", "")


def test_praise_without_scores_is_an_incomplete_rating() -> None:
    """Marked praise alone is kept (a reply with the format follows), not discarded."""
    result = parse_rating("Lob: Toller Laden, immer wieder gern!")
    assert isinstance(result, RatingReply)
    assert scores(result) == (None, None, None)
    assert result.praise == "Toller Laden, immer wieder gern!"
    assert not result.complete


@pytest.mark.parametrize(
    ("answer", "quote", "expected"),
    [
        ("Service: 5\nErreichbarkeit: 4\nReaktionszeit: 4\n", GMAIL_QUOTE_DE, (5, 4, 4)),
        ("4 5 3\n\nViele Grüße\nAnna", GMAIL_QUOTE_DE, (4, 5, 3)),
        ("Service gut, Erreichbarkeit gut, Reaktionszeit sehr gut\n", OUTLOOK_QUOTE_DE, (4, 4, 5)),
        ("Service: 4, reachability: 4, reaction time: 5\n", GMAIL_QUOTE_EN, (4, 4, 5)),
    ],
)
def test_quoted_history_below_the_answer_is_ignored(
    answer: str, quote: str, expected: tuple[int, int, int]
) -> None:
    """The rating request quoted below the answer (with its example scores, order
    number and date) changes nothing."""
    result = parse_rating(answer + quote)
    assert scores(result) == expected
    assert isinstance(result, RatingReply)
    assert result.problems == ()
    assert "4711" not in result.comment


def test_quoted_request_alone_is_unreadable() -> None:
    """A reply that only quotes the request (nothing written) rates nothing."""
    assert isinstance(parse_rating("\n" + GMAIL_QUOTE_DE), UnreadableRating)


def test_form_answered_inline_below_quoted_labels() -> None:
    """Answers typed below each quoted field of the request are read, including Lob and
    Tadel, although a single line between quotes looks like a wrapped quote."""
    text = (
        "> Service (1-5):\n4\n> Erreichbarkeit (1-5):\n5\n> Reaktionszeit (1-5):\n3\n"
        "> Lob:\nSchnelle Erstattung\n> Tadel:\nHotline schwer erreichbar\n"
    )
    result = parse_rating(text)
    assert isinstance(result, RatingReply)
    assert scores(result) == (4, 5, 3)
    assert (result.praise, result.criticism) == ("Schnelle Erstattung", "Hotline schwer erreichbar")


def test_html_only_reply_with_gmail_quote_container() -> None:
    """An HTML reply is read from its text, and Gmail's quote container is cut."""
    html = (
        "<div dir='ltr'>Service: 3<br>Erreichbarkeit: 2<br>Reaktionszeit: 4</div>"
        "<div class='gmail_quote'><blockquote>Service: 1<br>Bestellung 4711</blockquote></div>"
    )
    assert scores(parse_rating("", html)) == (3, 2, 4)


def test_format_help_exists_in_german_and_english() -> None:
    """The help for an unreadable answer exists in both languages and its own example
    is a readable rating (so following it works)."""
    for language, expected in (("de", (4, 5, 3)), ("en", (4, 5, 3))):
        help_text = format_help(language)
        example = help_text.split("\n\n")[1]
        assert scores(parse_rating(example)) == expected
    assert "Reaktionszeit" in format_help("de")
    assert "Reaction time" in format_help("en")
    with pytest.raises(ValueError, match="language"):
        format_help("fr")


# ------------------------------------------------------------------- real mail corpora


def _huge(path: Path) -> bool:
    return path.stat().st_size > 1_000_000


def _corpus_bodies() -> list[tuple[str, str, str | None]]:
    """Text (and HTML) bodies of every real mail in the reply and MIME corpora."""
    bodies: list[tuple[str, str, str | None]] = []
    for folder in ("email_reply_parser", "talon/fixtures", "flanker/messages"):
        for path in sorted((CORPORA / folder).rglob("*")):
            # Multi-megabyte MIME torture (enclosed-endless.eml) tests the MIME parser for
            # ten seconds, not rating replies.
            if not path.is_file() or path.suffix in (".json", ".md") or _huge(path):
                continue
            raw = path.read_bytes()
            if path.suffix in (".eml", ".msg") or folder == "flanker/messages":
                message = email.message_from_bytes(raw, policy=policy.default)
                try:
                    text_part = message.get_body(("plain",))
                    html_part = message.get_body(("html",))
                    text = text_part.get_content() if text_part else ""
                    html = html_part.get_content() if html_part else None
                except (LookupError, ValueError, AttributeError):
                    continue  # an unknown charset or broken MIME: nothing to read
                bodies.append((path.name, text, html))
            elif path.suffix == ".html":
                bodies.append((path.name, "", raw.decode("utf-8", "replace")))
            else:
                bodies.append((path.name, raw.decode("utf-8", "replace"), None))
    quotations = json.loads((CORPORA / "talon" / "expected_text_quotations.json").read_text())
    bodies += [(f"talon-{i}", pair["input"], None) for i, pair in enumerate(quotations["pairs"])]
    return bodies


@pytest.fixture(scope="module")
def corpus_bodies() -> list[tuple[str, str, str | None]]:
    if not CORPORA.is_dir():
        pytest.skip(f"mail corpora not found at {CORPORA}")
    return _corpus_bodies()


def test_real_mails_that_are_no_ratings_give_no_scores(corpus_bodies: list) -> None:
    """Over a hundred real mails (replies of many clients, MIME torture) yield not one
    score, praise or criticism: nothing is guessed from their numbers."""
    assert len(corpus_bodies) > 100
    for name, text, html in corpus_bodies:
        result = parse_rating(text, html)
        assert isinstance(result, UnreadableRating), name


def test_rating_above_real_quoted_mails_is_read(corpus_bodies: list) -> None:
    """A rating written above each real mail, quoted German-Gmail style, is read exactly."""
    for name, text, _ in corpus_bodies:
        if not text.strip():
            continue
        quoted = "\n".join(f"> {line}" for line in text.splitlines())
        mail = (
            "Service: 2, Erreichbarkeit: 4, Reaktionszeit: 5\n\n"
            "Am Di., 5. Mai 2026 um 09:00 Uhr schrieb Shop <shop@example.org>:\n\n" + quoted
        )
        assert scores(parse_rating(mail)) == (2, 4, 5), name


def test_huge_pasted_text_is_read_quickly(corpus_bodies: list) -> None:
    """The 766 KB long-quote mail and the pathological one are read in well under a second."""
    for file_name in ("email_long_quote.txt", "pathological.txt"):
        text = (CORPORA / "email_reply_parser" / "emails" / file_name).read_text(errors="replace")
        assert cpu_seconds(lambda text=text: parse_rating(text)) < 1.0, file_name
