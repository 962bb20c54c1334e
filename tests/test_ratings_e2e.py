"""Ratings by mail end to end: real SMTP in, the worker and relay in-process, the sink.

When a case closes the customer is asked to rate it; the reply (to the case address or
found by its threading headers) is read, stored and thanked with what was read; a later
rating replaces it and the earlier one is kept; an answer that holds no rating gets the
format in the customer's language and is held for the operator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from classifier.ratings import format_help
from mailflow.web.app import create_app
from mediation import rating_store as ratings
from mediation import storage
from tests.harness import Harness, addressed_to, compose, plain
from tests.sink import Received, Sink
from tests.test_cases_e2e import CUSTOMER, MERCHANT, REF

ENGLISH_COMPLAINT = (
    "Hello,\n\nI ordered a sofa from Möbel Fuchs (order MF-204518). It arrived with a deep "
    "tear in the cover and a broken armrest. Nobody answers my emails.\n"
    "I want a new sofa or my money back.\n\nBest regards\nErika Muster\n"
)
GERMAN_COMPLAINT = (
    "Guten Tag,\n\nmein Sofa von Möbel Fuchs (Bestellnummer MF-204518) kam mit einem Riss "
    "im Bezug an. Ich möchte ein neues Sofa oder mein Geld zurück.\n\nViele Grüße\n"
    "Erika Muster\n"
)


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(engine, tmp_path, sink)
    running.add_merchant(
        "moebel-fuchs", "Möbel Fuchs", MERCHANT, "--order-pattern", r"\bMF-\d{6}\b"
    )
    yield running
    running.stop()


def closed_case(harness: Harness, complaint: str, solved: str) -> tuple[str, Received]:
    """Complaint, merchant reply, customer "solved": the case reference and the closing
    mail the customer got, which carries the rating request."""
    harness.send(compose(f"Erika Muster <{CUSTOMER}>", "beschwerde@siegel.test", "Sofa", complaint))
    [forward] = addressed_to(harness.process(), MERCHANT)
    ref = REF.search(forward.message["Subject"]).group(1)  # type: ignore[union-attr]
    answer = "Wir holen das Sofa ab und liefern ein neues. / We will replace the sofa."
    harness.send(harness.reply(forward, MERCHANT, answer))
    [forwarded] = addressed_to(harness.process(), CUSTOMER)
    harness.send(harness.reply(forwarded, CUSTOMER, solved))
    closing = harness.process()
    assert harness.case(ref)["state"] == "closed_resolved"
    [request] = addressed_to(closing, CUSTOMER)
    assert harness.sent([request]) == [(CUSTOMER, "customer.case_resolved")]
    return ref, request


def stored(harness: Harness, ref: str) -> tuple[ratings.Rating | None, list[ratings.RatingHistory]]:
    with Session(harness.engine) as session:
        case = storage.load_case(session, ref)
        assert case is not None and case.id is not None
        return ratings.current(session, case.id), ratings.history(session, case.id)


def test_a_rating_reply_is_stored_thanked_and_replaced_with_history(harness: Harness) -> None:
    """The customer answers the rating request: the scores and Lob & Tadel are stored
    and read back in the thanks; a second answer, found only by its threading headers,
    replaces the first, which stays in the history; the case stays closed."""
    ref, request = closed_case(harness, GERMAN_COMPLAINT, "Ja, danke, das Problem ist gelöst.")
    request_text = plain(request)
    assert "Service (1-5):" in request_text and "Note" not in request_text
    first = "Service: 5\nErreichbarkeit: 4\nReaktionszeit: 5\nLob: Schnelle Abholung\n"
    harness.send(harness.reply(request, CUSTOMER, first))
    sent = harness.process()
    assert harness.sent(sent) == [(CUSTOMER, "customer.rating_thanks")]
    thanks = plain(sent[0])
    assert "Service: 5\nErreichbarkeit: 4\nReaktionszeit: 5\nLob: Schnelle Abholung" in thanks
    current, history = stored(harness, ref)
    assert current is not None and history == []
    assert (current.service, current.reachability, current.reaction_time) == (5, 4, 5)
    assert (current.praise, current.revision) == ("Schnelle Abholung", 1)

    correction = "3 3 2\n\nIch war zu großzügig."
    second = harness.reply(sent[0], CUSTOMER, correction)
    harness.send(second)
    assert harness.sent(harness.process()) == [(CUSTOMER, "customer.rating_thanks")]
    current, history = stored(harness, ref)
    assert current is not None and (current.service, current.reachability) == (3, 3)
    assert (current.reaction_time, current.revision, current.praise) == (2, 2, "")
    assert current.comment == "Ich war zu großzügig."
    [replaced] = history
    assert (replaced.service, replaced.praise, replaced.revision) == (5, "Schnelle Abholung", 1)
    case = harness.case(ref)
    assert case["state"] == "closed_resolved" and case["held_mails"] == []
    rated = [event for event in case["events"] if event["kind"] == "CustomerRated"]
    assert [event["data"]["service"] for event in rated] == [5, 3]
    listed = json.loads(harness.siegel("ratings", "moebel-fuchs", "--json")[1])
    assert [(row["case"], row["service"], row["revision"]) for row in listed] == [(ref, 3, 2)]


@pytest.mark.parametrize(
    "language, complaint, solved, unreadable, readable, thanked",
    [
        ("de", GERMAN_COMPLAINT, "Ja, danke, das Problem ist gelöst.",
         "Vielen Dank für alles!", "Service: gut, Erreichbarkeit: 5, Reaktionszeit: 4",
         "Service: 4\nErreichbarkeit: 5\nReaktionszeit: 4"),
        ("en", ENGLISH_COMPLAINT, "Yes, thank you, the problem is solved.",
         "Thanks a lot for everything!", "service 4/5, reachability 5/5, reaction time 3/5",
         "Service: 4\nReachability: 5\nReaction time: 3"),
    ],
)  # fmt: skip
def test_an_unreadable_answer_gets_the_format_in_the_customers_language(
    harness: Harness,
    language: str,
    complaint: str,
    solved: str,
    unreadable: str,
    readable: str,
    thanked: str,
) -> None:
    """An answer to the rating request without a rating is held for the operator and
    the customer is shown the format, in German or English; answering that mail with a
    rating rates the case."""
    ref, request = closed_case(harness, complaint, solved)
    harness.send(harness.reply(request, CUSTOMER, unreadable))
    sent = harness.process()
    assert harness.sent(sent) == [(CUSTOMER, "customer.rating_help")]
    assert sent[0].message["Content-Language"] == language
    assert format_help(language) in plain(sent[0])
    assert stored(harness, ref) == (None, [])
    assert [h["reason"] for h in harness.case(ref)["held_mails"]] == ["closed-case"]

    harness.send(harness.reply(sent[0], CUSTOMER, readable))
    sent = harness.process()
    assert harness.sent(sent) == [(CUSTOMER, "customer.rating_thanks")]
    assert thanked in plain(sent[0])
    assert stored(harness, ref)[0] is not None


def test_a_rating_try_after_closing_gets_the_format_not_case_closed(harness: Harness) -> None:
    """A customer who answers the closing mail (not the rating request) with a rating
    that cannot be read is shown the format, in its language, and nothing is stored."""
    ref, request = closed_case(harness, GERMAN_COMPLAINT, "Ja, danke, das Problem ist gelöst.")
    harness.send(
        compose(CUSTOMER, request.message["Reply-To"], "Bewertung", "Ich gebe 5 Sterne, top!")
    )
    sent = harness.process()
    assert harness.sent(sent) == [(CUSTOMER, "customer.rating_help")]
    assert format_help("de") in plain(sent[0])
    assert stored(harness, ref) == (None, [])


def test_the_rating_link_speaks_the_customers_language_and_is_a_link(harness: Harness) -> None:
    """The English closing mail's rating link carries ?lang=en and is a link in the HTML
    part; the form it opens is English without ?lang, even for a German browser (the
    language the mail was written in), and ?lang=de still switches it."""
    _, request = closed_case(harness, ENGLISH_COMPLAINT, "Yes, thank you, the problem is solved.")
    link = re.search(r"http://\S+/bewertung/\S+", plain(request)).group(0)  # type: ignore[union-attr]
    assert link.endswith("?lang=en")
    html = request.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f'<a href="{link}">{link}</a>' in html
    path = urlsplit(link).path
    with TestClient(create_app(harness.config, harness.engine, harness.clock)) as client:
        bare = client.get(path, headers={"Accept-Language": "de-DE,de;q=0.9"})
        assert '<html lang="en">' in bare.text and 'id="rating-form"' in bare.text
        assert '<html lang="de">' in client.get(f"{path}?lang=de").text


def test_signature_and_empty_fields_are_never_stored(harness: Harness) -> None:
    """Only the new text is read: an empty "Tadel:" stores nothing, the signature and
    the quoted request are no comment."""
    ref, request = closed_case(harness, GERMAN_COMPLAINT, "Ja, danke, das Problem ist gelöst.")
    answer = (
        "Service: 4\nErreichbarkeit: 5\nReaktionszeit: 3\nLob: freundlich\nTadel:\n\n"
        "-- \nErika Muster\nMusterweg 1, 12345 Berlin\nTel. 030 1234567"
    )
    harness.send(harness.reply(request, CUSTOMER, answer))
    assert harness.sent(harness.process()) == [(CUSTOMER, "customer.rating_thanks")]
    current, _ = stored(harness, ref)
    assert current is not None
    assert (current.service, current.reachability, current.reaction_time) == (4, 5, 3)
    assert (current.praise, current.criticism, current.comment) == ("freundlich", "", "")


def test_a_second_rating_says_which_one_it_replaces(harness: Harness) -> None:
    """The customer's second rating replaces the first, and its event says so."""
    ref, request = closed_case(harness, GERMAN_COMPLAINT, "Ja, danke, das Problem ist gelöst.")
    harness.send(harness.reply(request, CUSTOMER, "5 5 5"))
    [thanks] = harness.process()
    harness.send(harness.reply(thanks, CUSTOMER, "2 2 2"))
    harness.process()
    rated = [e for e in harness.case(ref)["events"] if e["kind"] == "CustomerRated"]
    assert "replaces" not in rated[0]["reason"]
    assert "replaces the customer's rating #1" in rated[1]["reason"]
    assert rated[1]["data"]["replaces_revision"] == 1
