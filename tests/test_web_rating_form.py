"""The rating form over HTTP (Starlette's TestClient, the whole app): the signed link
opens the form, a good submission rates the case once through the same act as a rating
by mail (thanks mail in the outbox), and every refusal is a clear page: missing or
wrong CSRF token, a foreign origin, an altered, foreign or expired link, a used link,
an open case, bad scores, oversized input. A rating by mail before or after the form
replaces the current one; nothing is ever duplicated."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session
from starlette.testclient import TestClient

from mailflow import casework
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.models import OutboxMail
from mailflow.web import csrf
from mailflow.web.app import create_app
from mediation import case_ratings, form_store, rating_links, rating_store, seal, storage
from mediation.rating_store import GivenRating
from mediation.storage import Case, Customer, Merchant
from mediation.workflow import State
from tests.test_web_feedback_form import plain_text

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
CLOSED = NOW - timedelta(days=2)
CUSTOMER = "erika.kundin@example.org"
REF, OPEN_REF = "SSG-2026-000001", "SSG-2026-000002"
GOOD = {"service": "5", "reachability": "4", "reaction_time": "3", "praise": "Schnell"}


@pytest.fixture
def site(sqlite_engine: Engine, config: Config) -> Iterator[tuple[TestClient, Engine, int]]:
    with session_scope(sqlite_engine) as session:
        merchant = Merchant(
            slug="moebel-fuchs", name="Möbel Fuchs", support_addresses=["s@fuchs.example"],
            domains=["fuchs.example"], created_at=NOW - timedelta(days=200),
        )  # fmt: skip
        customer = Customer(address=CUSTOMER, created_at=NOW)
        session.add_all([merchant, customer])
        session.flush()
        seal.record(session, merchant.id, "precheck-passed", CLOSED.date(), "op", NOW)  # type: ignore[arg-type]
        cases = ((REF, State.CLOSED_RESOLVED, CLOSED), (OPEN_REF, State.AWAITING_MERCHANT, None))
        for ref, state, closed in cases:
            session.add(
                Case(
                    ref=ref,
                    state=state,
                    merchant_id=merchant.id,
                    customer_id=customer.id,
                    opened_at=NOW - timedelta(days=9),
                    updated_at=NOW,
                    closed_at=closed,
                )
            )
        customer_id = customer.id
    app = create_app(config, sqlite_engine, lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, sqlite_engine, customer_id  # type: ignore[misc]


def link(config: Config, customer_id: int, ref: str = REF, closed: datetime = CLOSED) -> str:
    url = rating_links.url(config.secret_bytes, "http://testserver", ref, customer_id, closed, 60)
    return urlsplit(url).path


def form_token(page: str) -> str:
    start = page.index(f'name="{csrf.FIELD}" value="') + len(f'name="{csrf.FIELD}" value="')
    return page[start : page.index('"', start)]


def submit(client: TestClient, path: str, fields: dict[str, str], **headers: str):  # type: ignore[no-untyped-def]
    token = form_token(client.get(path).text)
    return client.post(path, data={csrf.FIELD: token, **fields}, headers=headers)


def stored(engine: Engine, ref: str = REF) -> tuple[rating_store.Rating | None, int]:
    with Session(engine) as session:
        case = storage.load_case(session, ref)
        assert case is not None
        current = rating_store.current(session, case.id)  # type: ignore[arg-type]
        return current, len(rating_store.history(session, case.id))  # type: ignore[arg-type]


def outbox_kinds(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [row.kind for row in session.scalars(select(OutboxMail))]


def test_the_link_opens_the_form_and_a_submission_rates_the_case_once(site, config) -> None:  # type: ignore[no-untyped-def]
    """GET shows the three scales, Lob, Tadel and the consent; POST stores one rating
    with the consent, records the CustomerRated event, queues the thanks; the same
    link again (GET or POST) says it was used and changes nothing."""
    client, engine, customer_id = site
    path = link(config, customer_id)
    page = client.get(path, headers={"Accept-Language": "de"})
    assert page.status_code == 200 and 'name="reaction_time"' in page.text
    assert "Möbel Fuchs" in page.text and 'name="consent"' in page.text
    assert CUSTOMER not in page.text
    done = submit(client, path, GOOD | {"consent": "yes"})
    assert done.status_code == 200 and 'data-message="rating_thanks"' in done.text
    current, replaced = stored(engine)
    assert current is not None and replaced == 0
    assert (current.service, current.reachability, current.reaction_time) == (5, 4, 3)
    assert (current.praise, current.publish_consent, current.revision) == ("Schnell", True, 1)
    assert outbox_kinds(engine) == ["customer.rating_thanks"]
    with Session(engine) as session:
        case = storage.load_case(session, REF)
        assert [e.kind for e in storage.events_of(session, case.id)] == ["CustomerRated"]  # type: ignore[union-attr, arg-type]
    again = client.get(path)
    assert again.status_code == 410 and 'data-message="link_used"' in again.text
    token = form_token(page.text)
    repeated = client.post(path, data={csrf.FIELD: token, **GOOD, "service": "1"})
    assert repeated.status_code == 410 and "bereits verwendet" in repeated.text
    # The same link with its expiry spelled "0…" is no link (a black-box run rated anew).
    ref, seconds, mac = path.rsplit("/", 1)[1].split(".")
    respelled = f"{path.rsplit('/', 1)[0]}/{ref}.0{seconds}.{mac}"
    assert client.get(respelled).status_code == 404
    assert client.post(respelled, data={csrf.FIELD: token, **GOOD}).status_code in (403, 404)
    assert stored(engine)[0].service == 5  # type: ignore[union-attr]
    assert outbox_kinds(engine) == ["customer.rating_thanks"]


def test_the_link_page_is_neither_cached_nor_indexed_nor_redirected_by_host(site, config) -> None:  # type: ignore[no-untyped-def]
    """The form carries its link's token in its path and a form token in its body: no
    cache keeps it and no search engine lists it (a black-box run found neither header),
    before and after the submission; the same path with a slash added is not
    redirected to the host the request names (Starlette's redirect would have sent the
    token to it) but unknown. The certificate page may be cached as before."""
    client, _, customer_id = site
    path = link(config, customer_id)
    for answer in (client.get(path), submit(client, path, GOOD), client.get(path)):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-robots-tag"] == "noindex, nofollow"
    slashed = client.get(path + "/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert slashed.status_code == 404 and "location" not in slashed.headers
    assert "cache-control" not in client.get("/siegel/moebel-fuchs").headers


def test_a_rating_by_mail_and_by_form_replace_each_other(site, config) -> None:  # type: ignore[no-untyped-def]
    """Rated by mail first, the form starts from that rating and replaces it (revision
    2, the first in the history); a rating by mail afterwards replaces the form's."""
    client, engine, customer_id = site
    settings = casework.settings(config)

    def by_mail(given: GivenRating) -> None:
        with session_scope(engine) as session:
            case = storage.load_case(session, REF)
            case_ratings.rate(session, case, given, NOW, settings, source="rating mail 1")  # type: ignore[arg-type]

    by_mail(GivenRating(service=2, reachability=2, reaction_time=2))
    path = link(config, customer_id)
    page = client.get(path)
    assert 'id="rated-before"' in page.text and 'value="2" required checked' in page.text
    assert submit(client, path, GOOD).status_code == 200
    current, replaced = stored(engine)
    assert (current.service, current.revision, current.publish_consent, replaced) == (
        5,
        2,
        False,
        1,
    )  # type: ignore[union-attr]
    by_mail(GivenRating(service=1, reachability=1, reaction_time=1))
    current, replaced = stored(engine)
    assert (current.service, current.revision, replaced) == (1, 3, 2)  # type: ignore[union-attr]


def test_a_submission_without_a_valid_form_token_or_from_elsewhere_is_refused(site, config) -> None:  # type: ignore[no-untyped-def]
    """No token, a token of another form or link, or a foreign Origin: 403 with a page
    that says to reload; nothing stored."""
    client, engine, customer_id = site
    path = link(config, customer_id)
    missing = client.post(path, data=GOOD)
    assert missing.status_code == 403 and 'data-message="form_stale"' in missing.text
    other = csrf.issue(config.secret_bytes, "rating", "another-link", NOW)
    assert client.post(path, data={csrf.FIELD: other, **GOOD}).status_code == 403
    foreign = submit(client, path, GOOD, origin="https://evil.example")
    assert foreign.status_code == 403
    assert stored(engine) == (None, 0)
    assert submit(client, path, GOOD, origin="http://testserver").status_code == 200


def test_a_form_open_too_long_is_shown_again_with_what_was_entered(site, config) -> None:  # type: ignore[no-untyped-def]
    """A genuine token past `[web] form_minutes` (the page left open over lunch): the
    form again, with the scores and words as entered, a note and a fresh token; nothing
    stored until it is sent again. From another site it is refused as before."""
    client, engine, customer_id = site
    path = link(config, customer_id)
    digest = rating_links.digest(path.rsplit("/", 1)[1])
    old = csrf.issue(config.secret_bytes, "rating", digest, NOW - timedelta(hours=3))
    entered = GOOD | {"criticism": "Die Lieferung dauerte drei Wochen.", "consent": "yes"}
    again = client.post(path, data={csrf.FIELD: old, **entered})
    assert again.status_code == 400 and 'data-error="form_expired"' in again.text
    assert "Die Lieferung dauerte drei Wochen.</textarea>" in again.text
    assert 'value="4" required checked' in again.text and 'id="consent" checked' in again.text
    assert stored(engine) == (None, 0)
    foreign = client.post(
        path, data={csrf.FIELD: old, **entered}, headers={"origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "drei Wochen" not in foreign.text
    sent = client.post(path, data={csrf.FIELD: form_token(again.text), **entered})
    assert sent.status_code == 200
    current, _ = stored(engine)
    assert current is not None and current.criticism == "Die Lieferung dauerte drei Wochen."


def test_altered_foreign_and_expired_links_are_refused_with_a_clear_page(site, config) -> None:  # type: ignore[no-untyped-def]
    """A changed character, another case's reference, another customer or a later
    expiry: "invalid" (404); past its expiry: "expired" (410); an open case: 409."""
    client, engine, customer_id = site
    path = link(config, customer_id)
    altered = path[:-1] + ("A" if path[-1] != "A" else "B")
    for bad in (
        altered,
        path.replace(REF, OPEN_REF),
        link(config, customer_id + 1),
        path.replace(".", ".9", 1),
        "/bewertung/nonsense",
    ):
        page = client.get(bad, headers={"Accept-Language": "en"})
        assert page.status_code == 404, bad
        assert 'data-message="link_invalid"' in page.text and "Invalid link" in page.text
    expired = link(config, customer_id, closed=NOW - timedelta(days=61))
    page = client.get(expired)
    assert page.status_code == 410 and 'data-message="link_expired"' in page.text
    assert client.post(expired, data=GOOD).status_code in (403, 410)
    page = client.get(link(config, customer_id, OPEN_REF, closed=NOW))
    assert page.status_code == 409 and 'data-message="link_not_closed"' in page.text
    assert stored(engine) == (None, 0)


def test_bad_input_shows_the_form_again_with_errors_in_the_page_language(site, config) -> None:  # type: ignore[no-untyped-def]
    """Missing or out-of-range scores and too long texts: 400, the form again with what
    was entered and one message per problem (German or English); a body over the limit:
    413. Nothing stored, the link still usable."""
    client, engine, customer_id = site
    path = link(config, customer_id)
    bad = submit(client, path, {"service": "6", "reachability": "", "praise": "x" * 2001})
    assert bad.status_code == 400
    assert (
        'data-error="score_service"' in bad.text and 'data-error="score_reaction_time"' in bad.text
    )
    assert "Das Lob ist zu lang" in bad.text and "Bitte bewerten Sie die Erreichbarkeit" in bad.text
    english = submit(client, f"{path}?lang=en", {"service": "0"})
    assert "Please rate the service from 1 to 5." in english.text
    huge = submit(client, path, GOOD | {"criticism": "y" * 70_000})
    assert huge.status_code == 413
    assert stored(engine) == (None, 0)
    assert submit(client, path, GOOD).status_code == 200


def test_the_used_link_is_recorded_by_digest_only(site, config) -> None:  # type: ignore[no-untyped-def]
    """The token itself is stored nowhere: the used link is its SHA-256."""
    client, engine, customer_id = site
    path = link(config, customer_id)
    assert submit(client, path, GOOD).status_code == 200
    token = path.rsplit("/", 1)[1]
    with Session(engine) as session:
        assert form_store.link_use(session, rating_links.digest(token)) is not None
        [row] = session.scalars(select(OutboxMail))
    assert token not in plain_text(row)
