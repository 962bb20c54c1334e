"""The Lob & Tadel form over HTTP, with double opt-in: the entry counts only after the
link mailed (through the outbox) to the address given is confirmed, and is published
only with consent after the operator's release. Refusals: missing or wrong CSRF token,
bad input, limits per address and per client, unknown and expired confirmation links;
a confirmed link confirms nothing twice."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session
from starlette.testclient import TestClient

from mailflow import outbox
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.models import OutboxMail
from mailflow.web import csrf
from mailflow.web.app import create_app
from mediation import feedback_store, rating_links, seal
from mediation.storage import Merchant
from tests.conftest import make_config

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
SLUG = "moebel-fuchs"
FORM = f"/siegel/{SLUG}/lob-tadel"
ENTRY = {"address": "olga@example.org", "praise": "Sehr freundlich", "consent": "yes"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def build(engine: Engine, config: Config, clock: Clock) -> TestClient:
    with session_scope(engine) as session:
        if session.scalars(select(Merchant)).first() is None:
            merchant = Merchant(
                slug=SLUG, name="Möbel Fuchs", support_addresses=["s@fuchs.example"],
                domains=["fuchs.example"], created_at=NOW,
            )  # fmt: skip
            gone = Merchant(slug="entzogen", name="Weg", created_at=NOW)
            session.add_all([merchant, gone])
            session.flush()
            seal.record(session, merchant.id, "precheck-passed", NOW.date(), "op", NOW)  # type: ignore[arg-type]
            seal.record(session, gone.id, "precheck-failed", NOW.date(), "op", NOW)  # type: ignore[arg-type]
    return TestClient(create_app(config, engine, clock), raise_server_exceptions=False)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(sqlite_engine: Engine, config: Config, clock: Clock) -> Iterator[TestClient]:
    with build(sqlite_engine, config, clock) as running:
        yield running


def token_of(page: str) -> str:
    found = re.search(rf'name="{csrf.FIELD}" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def post(client: TestClient, path: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(path, data={csrf.FIELD: token_of(client.get(path).text), **fields})


def plain_text(row: OutboxMail) -> str:
    """The text part of an outbox row, as the relay sends it."""
    raw = outbox.message(row, make_config(Path(".")))
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return text.replace("\r\n", "\n")


def html_text(row: OutboxMail) -> str:
    """The HTML part of an outbox row, as the relay sends it."""
    raw = outbox.message(row, make_config(Path(".")))
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return message.get_body(("html",)).get_content()  # type: ignore[union-attr]


def confirmation_links(engine: Engine) -> list[str]:
    with Session(engine) as session:
        rows = list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))  # type: ignore[arg-type]
    links = []
    for row in rows:
        assert row.kind == "shopper.feedback_confirm"
        body = plain_text(row)
        links.append(urlsplit(re.search(r"http://\S+", body).group(0)).path)  # type: ignore[union-attr]
    return links


def entries(engine: Engine) -> list[feedback_store.Feedback]:
    with Session(engine) as session:
        return list(session.scalars(select(feedback_store.Feedback)))


def test_an_entry_counts_only_after_its_confirmation_and_shows_only_after_release(
    client: TestClient, sqlite_engine: Engine
) -> None:
    """The certificate page links the form; sending it mails a confirmation link and
    stores nothing countable; GET on the link shows a button (a link scanner confirms
    nothing), POST confirms: one entry from the web form with the consent, waiting for
    release, not shown; confirming again changes nothing; released, it is shown."""
    page = client.get(f"/siegel/{SLUG}")
    assert f'href="{FORM}?lang=de"' in page.text
    sent = post(client, FORM, ENTRY)
    assert sent.status_code == 200 and 'data-message="feedback_sent"' in sent.text
    assert entries(sqlite_engine) == []
    [path] = confirmation_links(sqlite_engine)
    shown = client.get(path)
    assert shown.status_code == 200 and 'id="confirm-form"' in shown.text
    assert entries(sqlite_engine) == []
    done = post(client, path, {})
    assert done.status_code == 200 and 'data-message="confirm_done"' in done.text
    [entry] = entries(sqlite_engine)
    assert (entry.author, entry.praise, entry.source) == (
        "olga@example.org",
        "Sehr freundlich",
        "web-form",
    )
    assert entry.publish_consent and entry.released_at is None
    with Session(sqlite_engine) as session:
        assert [e.id for e in feedback_store.waiting(session)] == [entry.id]
    assert "Sehr freundlich" not in client.get(f"/siegel/{SLUG}").text
    assert client.get(path).status_code == 200 and len(entries(sqlite_engine)) == 1
    with session_scope(sqlite_engine) as session:
        feedback_store.release(session, entry.id, "op", NOW)  # type: ignore[arg-type]
    page = client.get(f"/siegel/{SLUG}").text
    assert "Sehr freundlich" in page and "olga" not in page


def test_bad_input_and_missing_tokens_are_refused(
    client: TestClient, sqlite_engine: Engine
) -> None:
    """No CSRF token or one of another merchant's form: 403; no address, no text, too
    long a text: 400 with the messages (English by the switch); an unknown or withdrawn
    merchant: 404. No mail is queued for any of them."""
    assert client.post(FORM, data=ENTRY).status_code == 403
    other = csrf.issue(b"x" * 40, "feedback", SLUG, NOW)
    assert client.post(FORM, data={csrf.FIELD: other, **ENTRY}).status_code == 403
    bad = post(client, f"{FORM}?lang=en", {"address": "not-an-address", "praise": ""})
    assert bad.status_code == 400
    assert "Please give a valid email address." in bad.text
    assert "Please write praise, criticism or both." in bad.text
    long = post(client, FORM, ENTRY | {"criticism": "x" * 2001})
    assert long.status_code == 400 and "Der Tadel ist zu lang" in long.text
    assert client.get("/siegel/entzogen/lob-tadel").status_code == 404
    assert client.get("/siegel/unbekannt/lob-tadel").status_code == 404
    assert client.post("/siegel/unbekannt/lob-tadel", data=ENTRY).status_code == 404
    crowded = {csrf.FIELD: token_of(client.get(FORM).text), **ENTRY}
    crowded |= {f"extra{n}": "x" for n in range(20)}  # more fields than the form has
    assert client.post(FORM, data=crowded).status_code == 413
    as_json = client.post(FORM, json={csrf.FIELD: token_of(client.get(FORM).text), **ENTRY})
    assert as_json.status_code == 415 and 'data-message="not_a_form"' in as_json.text
    multipart = client.post(FORM, data=ENTRY, files={"photo": ("a.jpg", b"x", "image/jpeg")})
    assert multipart.status_code == 415
    assert confirmation_links(sqlite_engine) == []


def test_a_form_open_too_long_is_shown_again_with_what_was_entered(
    client: TestClient, sqlite_engine: Engine, clock: Clock
) -> None:
    """A page left open past `[web] form_minutes`: the form again with the address and
    words as entered, a note in the page's language and a fresh token; nothing is
    requested until it is sent again."""
    page = client.get(f"{FORM}?lang=en").text
    clock.now = NOW + timedelta(hours=3)
    entered = ENTRY | {"criticism": "Telefon nie erreichbar"}
    again = client.post(f"{FORM}?lang=en", data={csrf.FIELD: token_of(page), **entered})
    assert again.status_code == 400 and 'data-error="form_expired"' in again.text
    assert "The form was open too long and has expired." in again.text
    assert "Telefon nie erreichbar</textarea>" in again.text and "olga@example.org" in again.text
    assert confirmation_links(sqlite_engine) == []
    sent = client.post(FORM, data={csrf.FIELD: token_of(again.text), **entered})
    assert sent.status_code == 200
    assert len(confirmation_links(sqlite_engine)) == 1


def test_an_address_of_ours_is_refused_with_a_message(
    client: TestClient, sqlite_engine: Engine, config: Config
) -> None:
    """The confirmation link would go to ourselves (and is never sent there): an address
    at the service's domain or a subdomain of it is refused, saying why."""
    for address in (f"beschwerde@{config.siegel.domain}", f"x@mail.{config.siegel.domain}"):
        refused = post(client, f"{FORM}?lang=en", ENTRY | {"address": address.upper()})
        assert refused.status_code == 400 and 'data-error="address_ours"' in refused.text
        assert "This address belongs to Service-Siegel itself." in refused.text
    assert confirmation_links(sqlite_engine) == []


def test_characters_nobody_types_are_dropped_and_full_fields_fit_the_body(
    client: TestClient, sqlite_engine: Engine
) -> None:
    """A black-box run stored terminal escapes (clear screen, title, bell, backspace)
    and a right-to-left override from the form: they are dropped, line breaks and tabs
    kept. Both texts at their limit in three-byte characters (about 36 KiB encoded) are
    taken, not refused as too large."""
    hostile = "Normal \x1b[2J\x1b[31mROT\x1b]0;TITLE\x07 \x08\x08bs\r\nZeile\t2 \u202eumgedreht"
    assert post(client, FORM, ENTRY | {"praise": hostile}).status_code == 200
    full = {"praise": "好" * 2000, "criticism": "差" * 2000}
    assert post(client, FORM, ENTRY | {"address": "li@example.org"} | full).status_code == 200
    for path in confirmation_links(sqlite_engine):
        post(client, path, {})
    first, second = sorted(entries(sqlite_engine), key=lambda entry: entry.id)
    assert first.praise == "Normal [2J[31mROT]0;TITLE bs\nZeile\t2 umgedreht"
    assert (second.praise, second.criticism) == (full["praise"], full["criticism"])


def test_the_same_form_sent_twice_is_one_request(client: TestClient, sqlite_engine: Engine) -> None:
    """A double click or back-and-send posts the same form again (a black-box run got
    two mails and two counted entries): one request, one mail; a changed text is new."""
    page = client.get(FORM).text
    fields = {csrf.FIELD: token_of(page), **ENTRY}
    first, second = client.post(FORM, data=fields), client.post(FORM, data=fields)
    assert first.status_code == second.status_code == 200
    assert 'data-message="feedback_sent"' in second.text
    assert len(confirmation_links(sqlite_engine)) == 1
    assert post(client, FORM, ENTRY | {"praise": "Doch noch etwas"}).status_code == 200
    assert len(confirmation_links(sqlite_engine)) == 2


def test_the_shop_cannot_leave_lob_tadel_about_itself(
    client: TestClient, sqlite_engine: Engine
) -> None:
    """From the shop's registered address or an address at its domain (or a subdomain,
    any case): refused with the reason, no confirmation mail, no entry; a customer at
    another domain is taken."""
    for address in ("s@fuchs.example", "Marketing@Fuchs.Example", "a@shop.fuchs.example"):
        refused = post(client, FORM, ENTRY | {"address": address})
        assert refused.status_code == 400
        assert "Ein Shop kann kein Lob &amp; Tadel über sich selbst abgeben" in refused.text
    english = post(client, f"{FORM}?lang=en", ENTRY | {"address": "s@fuchs.example"})
    assert "a shop cannot leave praise and criticism about itself" in english.text
    assert confirmation_links(sqlite_engine) == [] and entries(sqlite_engine) == []
    assert post(client, FORM, ENTRY | {"address": "olga@notfuchs.example"}).status_code == 200
    assert len(confirmation_links(sqlite_engine)) == 1


def test_requests_are_limited_per_address_and_per_client(
    sqlite_engine: Engine, tmp_path, clock: Clock
) -> None:  # type: ignore[no-untyped-def]
    """Three a day per address, then 429; four an hour per client (across addresses),
    then 429; an hour later the client may send again."""
    config = make_config(
        tmp_path, web={"feedback_per_address_per_day": 3, "feedback_per_ip_per_hour": 4}
    )
    with build(sqlite_engine, config, clock) as client:
        for number in range(3):  # three different texts (the same one twice is one)
            assert post(client, FORM, ENTRY | {"praise": f"Lob {number}"}).status_code == 200
        limited = post(client, FORM, ENTRY)
        assert limited.status_code == 429 and 'data-message="rate_limited"' in limited.text
        tagged = ENTRY | {"address": "olga+4@example.org", "praise": "Getarnt"}
        assert post(client, FORM, tagged).status_code == 429  # a +tag is the same mailbox
        assert post(client, FORM, ENTRY | {"address": "b@example.org"}).status_code == 200
        assert post(client, FORM, ENTRY | {"address": "c@example.org"}).status_code == 429
        clock.now = NOW + timedelta(hours=1, minutes=1)
        assert post(client, FORM, ENTRY | {"address": "c@example.org"}).status_code == 200
        assert post(client, FORM, ENTRY).status_code == 429  # still the same day
    assert len(confirmation_links(sqlite_engine)) == 5


def test_unknown_and_expired_confirmation_links_are_refused(
    client: TestClient, sqlite_engine: Engine, clock: Clock, config: Config
) -> None:
    """A made-up token: 404; a real one after its 72 hours: 410 and no entry."""
    assert client.get("/lob-tadel/bestaetigen/erfunden").status_code == 404
    assert post(client, FORM, ENTRY).status_code == 200
    [path] = confirmation_links(sqlite_engine)
    clock.now = NOW + timedelta(hours=73)
    page = client.get(path)
    assert page.status_code == 410 and 'data-message="confirm_expired"' in page.text
    digest = rating_links.digest(path.rsplit("/", 1)[1])
    token = csrf.issue(config.secret_bytes, "confirm", digest, clock.now)  # a fresh form
    assert client.post(path, data={csrf.FIELD: token}).status_code == 410
    assert entries(sqlite_engine) == []


def test_the_confirmation_speaks_the_language_the_form_was_sent_in(
    client: TestClient, sqlite_engine: Engine
) -> None:
    """A form sent in English: the mail's confirmation link carries ?lang=en and is a
    link in its HTML part; the page it opens is English without ?lang, even for a German
    browser, and ?lang=de still switches it."""
    assert post(client, f"{FORM}?lang=en", ENTRY).status_code == 200
    with Session(sqlite_engine) as session:
        [row] = session.scalars(select(OutboxMail)).all()
    url = re.search(r"http://\S+", plain_text(row)).group(0)  # type: ignore[union-attr]
    assert url.endswith("?lang=en")
    assert f'<a href="{url}">{url}</a>' in html_text(row)
    path = urlsplit(url).path
    page = client.get(path, headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="en">' in page.text and 'id="confirm-form"' in page.text
    assert '<html lang="de">' in client.get(f"{path}?lang=de").text
