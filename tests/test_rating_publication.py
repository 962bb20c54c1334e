"""Lob & Tadel given with a rating reach the certificate page the way the Lob & Tadel
form's entries do: only with the customer's consent (asked by the rating form) and
after the operator's release, in the one release list of `/betrieb` and the one
published list of `/siegel/SLUG` (texts and day only, escaped, never the customer). A
later rating of the case waits anew; a rejected one is never shown. Storage on SQLite
and PostgreSQL, pages over HTTP."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.web import certificate_data, operator_auth
from mailflow.web.app import create_app
from mediation import feedback_store, rating_store, seal
from mediation.rating_store import GivenRating
from mediation.storage import Case, Customer, Merchant
from mediation.workflow import State
from tests.conftest import make_config
from tests.test_web_rating_form import link, submit

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
CUSTOMER = "erika.kundin@example.org"
PASSWORD = "correct horse battery staple"
HASH = operator_auth.hash_password(PASSWORD, iterations=1000)
GOOD = {"Authorization": "Basic " + base64.b64encode(f"betrieb:{PASSWORD}".encode()).decode()}


def seed(engine: Engine, cases: int = 3) -> tuple[int, list[int], int]:
    """A merchant, its customer and `cases` closed cases (the last in English)."""
    with session_scope(engine) as session:
        merchant = Merchant(
            slug="moebel-fuchs", name="Möbel Fuchs", support_addresses=["s@fuchs.example"],
            domains=["fuchs.example"], created_at=NOW - timedelta(days=200),
        )  # fmt: skip
        customer = Customer(address=CUSTOMER, name="Erika Zauberhaft", created_at=NOW)
        session.add_all([merchant, customer])
        session.flush()
        seal.record(session, merchant.id, "precheck-passed", NOW.date(), "op", NOW)  # type: ignore[arg-type]
        ids = []
        for number in range(cases):
            case = Case(
                ref=f"SSG-2026-{number + 1:06d}", state=State.CLOSED_RESOLVED,
                merchant_id=merchant.id, customer_id=customer.id,
                language="en" if number == cases - 1 else "de",
                opened_at=NOW - timedelta(days=9), updated_at=NOW,
                closed_at=NOW - timedelta(days=2),
            )  # fmt: skip
            session.add(case)
            session.flush()
            ids.append(case.id)
        return merchant.id, ids, customer.id  # type: ignore[return-value]


def rate(engine: Engine, merchant_id: int, case_id: int, days_ago: int, **texts: object) -> int:
    """Rate a case `days_ago` days before NOW (Lob, Tadel, consent as given)."""
    given = GivenRating(service=4, **texts)  # type: ignore[arg-type]
    at = NOW - timedelta(days=days_ago)
    with session_scope(engine) as session:
        rating = rating_store.save(session, case_id, merchant_id, given, None, at)
        return rating.id  # type: ignore[return-value]


def test_only_consented_rated_texts_wait_and_only_released_ones_are_published(
    engine: Engine,
) -> None:
    """Consent and text: waiting, oldest first; no consent or no text: never. Released:
    published with the case's language and the day, newest first, nothing else."""
    mid, cases, _ = seed(engine, cases=4)
    first = rate(engine, mid, cases[0], 3, praise="Schnell", publish_consent=True)
    rate(engine, mid, cases[1], 2, praise="Privat", publish_consent=False)
    rate(engine, mid, cases[2], 2, publish_consent=True)  # no text
    english = rate(engine, mid, cases[3], 1, criticism="Slow", publish_consent=True)
    since = NOW - timedelta(days=365)
    with session_scope(engine) as session:
        assert [r.id for r in rating_store.waiting(session)] == [first, english]
        assert rating_store.published(session, mid, since) == []
        rating_store.release(session, first, "betrieb", NOW)
        rating_store.release(session, english, "betrieb", NOW)
    with Session(engine) as session:
        assert rating_store.waiting(session) == []
        shown = rating_store.published(session, mid, since)
    assert [(e["praise"], e["criticism"], e["language"]) for e in shown] == [
        ("", "Slow", "en"),
        ("Schnell", "", "de"),
    ]
    assert set(shown[0]) == {"praise", "criticism", "language", "received_at"}


def test_a_rejected_text_stays_off_and_a_new_rating_waits_anew(engine: Engine) -> None:
    """Rejected: off the list and the page. A later rating of a released case clears the
    release (new words are checked anew); without consent it never waits again. The
    replaced rating keeps its words in the history."""
    mid, cases, _ = seed(engine, cases=2)
    kept = rate(engine, mid, cases[0], 3, praise="Gut", publish_consent=True)
    refused = rate(engine, mid, cases[1], 3, praise="Beleidigung", publish_consent=True)
    since = NOW - timedelta(days=365)
    with session_scope(engine) as session:
        rating_store.release(session, kept, "betrieb", NOW)
        rating_store.reject(session, refused, "betrieb", NOW)
    with Session(engine) as session:
        assert rating_store.waiting(session) == []
        assert [e["praise"] for e in rating_store.published(session, mid, since)] == ["Gut"]
    rate(engine, mid, cases[0], 1, praise="Noch besser", publish_consent=True)
    with Session(engine) as session:
        assert [r.praise for r in rating_store.waiting(session)] == ["Noch besser"]
        assert rating_store.published(session, mid, since) == []
        assert [h.praise for h in rating_store.history(session, cases[0])] == ["Gut"]
    rate(engine, mid, cases[0], 0, praise="Per Mail")  # a reply gives no consent
    with Session(engine) as session:
        assert rating_store.waiting(session) == []
        assert rating_store.published(session, mid, since) == []


def test_the_last_decision_stands_and_clears_the_other(engine: Engine) -> None:
    """Released then rejected: off the page, only the refusal recorded; released again:
    shown, only the release recorded. Both kinds of entry alike."""
    mid, cases, _ = seed(engine, cases=1)
    rated = rate(engine, mid, cases[0], 3, praise="Gut", publish_consent=True)
    with session_scope(engine) as session:
        entry = feedback_store.record(
            session, merchant_id=mid, author="a@example.org", language="de", praise="Toll",
            criticism="", source=feedback_store.Source.PRAISE_ADDRESS, mail_id=1,
            received_at=NOW, merchant_named_by="test",
        )  # fmt: skip
        feedback_store.consent(session, entry.id, True)  # type: ignore[arg-type]
        entry_id = entry.id
    since = NOW - timedelta(days=365)
    for store, row_id, model in (
        (rating_store, rated, rating_store.Rating),
        (feedback_store, entry_id, feedback_store.Feedback),
    ):
        with session_scope(engine) as session:
            store.release(session, row_id, "betrieb", NOW)
            store.reject(session, row_id, "betrieb", NOW + timedelta(minutes=1))
        with Session(engine) as session:
            row = session.get(model, row_id)
            assert (row.released_at, row.rejected_by) == (None, "betrieb")  # type: ignore[union-attr]
            assert store.published(session, mid, since) == []
        with session_scope(engine) as session:
            store.release(session, row_id, "betrieb", NOW + timedelta(minutes=2))
        with Session(engine) as session:
            row = session.get(model, row_id)
            assert (row.rejected_at, row.released_by) == (None, "betrieb")  # type: ignore[union-attr]
            assert len(store.published(session, mid, since)) == 1


def test_the_page_lists_form_entries_and_rated_texts_together(engine: Engine) -> None:
    """One published list: entries of the Lob & Tadel form and rated texts, newest
    first, at most `FEEDBACK_SHOWN`."""
    mid, cases, _ = seed(engine, cases=1)
    rating = rate(engine, mid, cases[0], 2, praise="Aus Bewertung", publish_consent=True)
    with session_scope(engine) as session:
        rating_store.release(session, rating, "betrieb", NOW)
        for days in range(1, 12):
            entry = feedback_store.record(
                session, merchant_id=mid, author="a@example.org", language="de",
                praise=f"Formular {days}", criticism="", source=feedback_store.Source.WEB_FORM,
                mail_id=0, received_at=NOW - timedelta(days=days, hours=-12),
                merchant_named_by="web-form",
            )  # fmt: skip
            feedback_store.consent(session, entry.id)  # type: ignore[arg-type]
            feedback_store.release(session, entry.id, "betrieb", NOW)  # type: ignore[arg-type]
    with Session(engine) as session:
        shown = certificate_data.published(session, mid, NOW - timedelta(days=365))
    expected = ["Formular 1", "Formular 2", "Aus Bewertung"] + [
        f"Formular {d}" for d in range(3, 10)
    ]
    assert [e["praise"] for e in shown] == expected  # ten of twelve


# ----------------------------------------------------------------------------- HTTP


@pytest.fixture
def site(sqlite_engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, Config, int]]:
    _, _, customer_id = seed(sqlite_engine, cases=2)
    config = make_config(tmp_path, web={"operator_user": "betrieb", "operator_password_hash": HASH})
    app = create_app(config, sqlite_engine, lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, config, customer_id


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_rating_form_text_with_consent_waits_for_release_and_then_shows_escaped(site) -> None:  # type: ignore[no-untyped-def]
    """The rating form with consent: the text is in the operator's release list (not on
    the page); released by POST with the form token it shows on the certificate page,
    escaped, without the customer's address or name or the case. Without consent it is
    never listed."""
    client, config, customer_id = site
    markup = 'Top <script>alert("x")</script> & schnell'
    scores = {"service": "5", "reachability": "4", "reaction_time": "5"}
    done = submit(client, link(config, customer_id), scores | {"praise": markup, "consent": "yes"})
    assert done.status_code == 200
    other = link(config, customer_id, ref="SSG-2026-000002")
    assert submit(client, other, scores | {"criticism": "Geheim"}).status_code == 200

    assert markup not in client.get("/siegel/moebel-fuchs").text
    listing = client.get("/betrieb", headers=GOOD)
    assert "<script>alert" not in listing.text and "Top &lt;script&gt;" in listing.text
    assert "Geheim" not in listing.text
    row = re.search(r'<tr id="rating-(\d+)">', listing.text)
    assert row, listing.text
    action = f"/betrieb/bewertung/{row.group(1)}"
    assert f'action="{action}?lang=de"' in listing.text
    token = re.search(r'name="csrf" value="([^"]+)"', listing.text).group(1)  # type: ignore[union-attr]
    assert client.post(action, data={"action": "release"}, headers=GOOD).status_code == 403
    released = client.post(
        action, data={"action": "release", "csrf": token}, headers=GOOD, follow_redirects=False
    )
    assert released.status_code == 303 and released.headers["location"] == "/betrieb"
    assert 'id="rating-' not in client.get("/betrieb", headers=GOOD).text

    page = client.get("/siegel/moebel-fuchs").text
    feedback = page[page.index('id="feedback"') : page.index('id="explanation"')]
    assert "Top &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; schnell" in feedback
    assert "<script>" not in page
    for private in (CUSTOMER, "Zauberhaft", "SSG-2026", "Geheim"):
        assert private not in page
    unknown = {"action": "release", "csrf": token}
    assert client.post("/betrieb/bewertung/99999", data=unknown, headers=GOOD).status_code == 404


def test_a_rejected_rating_text_leaves_the_list_and_never_shows(site) -> None:  # type: ignore[no-untyped-def]
    """Reject: off the release list, never on the certificate page; the rating counts."""
    client, config, customer_id = site
    scores = {"service": "2", "reachability": "2", "reaction_time": "2"}
    submit(
        client, link(config, customer_id), scores | {"criticism": "Unsachlich", "consent": "yes"}
    )
    listing = client.get("/betrieb", headers=GOOD).text
    row = re.search(r'<tr id="rating-(\d+)">', listing).group(1)  # type: ignore[union-attr]
    token = re.search(r'name="csrf" value="([^"]+)"', listing).group(1)  # type: ignore[union-attr]
    client.post(f"/betrieb/bewertung/{row}", data={"action": "reject", "csrf": token}, headers=GOOD)
    assert "Unsachlich" not in client.get("/betrieb", headers=GOOD).text
    page = client.get("/siegel/moebel-fuchs").text
    assert "Unsachlich" not in page
    assert re.search(r"Service\s+2,0\s+1", words(page[page.index('id="dimension-1"') :]))
