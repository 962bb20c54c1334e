"""The web side over HTTP (Starlette's TestClient, the whole ASGI app): the certificate
page in both languages with its figures, the badge and its caching, the security
headers on every response, clear 404s, no 500 for an expired seal, escaping, and
nothing about a person on a public page."""

from __future__ import annotations

import http.client
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.web.app import create_app
from mailflow.web.server import WebServer
from mediation import badges, feedback_store, seal, storage
from mediation.rating_store import GivenRating
from mediation.rating_store import save as save_rating
from mediation.storage import Case, Customer, Merchant
from mediation.workflow import State
from tests.conftest import make_config
from tests.net import free_port

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
CUSTOMER = "erika.kundin@example.org"
SLUG = "moebel-fuchs"


def add_merchant(session, slug: str, name: str, checked: date | None = date(2026, 6, 1)) -> int:  # type: ignore[no-untyped-def]
    merchant = Merchant(
        slug=slug, name=name, support_addresses=[f"support@{slug}.example"],
        domains=[f"{slug}.example"], created_at=NOW,
    )  # fmt: skip
    session.add(merchant)
    session.flush()
    if checked is not None:
        seal.record(session, merchant.id, "precheck-passed", checked, "operator", NOW)
    return merchant.id  # type: ignore[return-value]


@pytest.fixture
def client(sqlite_engine: Engine, config: Config) -> Iterator[TestClient]:
    with session_scope(sqlite_engine) as session:
        merchant_id = add_merchant(session, SLUG, "Möbel Fuchs")
        customer = Customer(address=CUSTOMER, created_at=NOW)
        session.add(customer)
        session.flush()
        for number, (days, state, closed_after) in enumerate(
            [(40, State.CLOSED_RESOLVED, 3), (20, State.CLOSED_RESOLVED, 6),
             (10, State.CLOSED_UNRESOLVED, 9), (70, State.AWAITING_MERCHANT, None)]
        ):  # fmt: skip
            opened = NOW - timedelta(days=days)
            case = Case(
                ref=f"SSG-2026-{number + 1:06d}", state=state, merchant_id=merchant_id,
                customer_id=customer.id, opened_at=opened, updated_at=opened,
                first_reply_at=opened + timedelta(hours=2), first_reply_business_hours=2.0,
                first_reply_business_seconds=7200, first_reply_within_deadline=True,
                closed_at=opened + timedelta(days=closed_after) if closed_after else None,
            )  # fmt: skip
            session.add(case)
            session.flush()
            if closed_after:
                given = GivenRating(service=5, reachability=4, reaction_time=4)
                save_rating(session, case.id, merchant_id, given, None, opened + timedelta(days=10))
        for praise, consent, released in [
            ("Toller Service <b>wirklich</b>", True, True),
            ("Nicht freigegeben", True, False),
            ("Ohne Zustimmung", False, True),
        ]:
            entry = feedback_store.record(
                session, merchant_id=merchant_id, author=CUSTOMER, language="de",
                praise=praise, criticism="", source=feedback_store.Source.PRAISE_ADDRESS,
                mail_id=1, received_at=NOW - timedelta(days=5), merchant_named_by="test",
            )  # fmt: skip
            feedback_store.consent(session, entry.id, consent)
            if released:
                feedback_store.release(session, entry.id, "operator", NOW)
        add_merchant(session, "abgelaufen", "Alter Laden", checked=date(2025, 1, 10))
        add_merchant(session, "testphase", "Neuer Laden", checked=None)
        withdrawn = add_merchant(session, "entzogen", "Weg Shop")
        seal.record(session, withdrawn, "precheck-failed", date(2026, 10, 1), "operator", NOW)
        add_merchant(session, "evil", 'Evil <script>alert("x")</script> & Co')
    app = create_app(config, sqlite_engine, lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as running:
        yield running


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def assert_secure(response) -> None:  # type: ignore[no-untyped-def]
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "script-src" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


def test_the_certificate_page_shows_the_figures_in_german_and_english(client: TestClient) -> None:
    """German by Accept-Language, English by the switch: state, validity, barometer
    with counts and intervals, reply and resolution times, rates, the chart, the
    explanation with its window and computation date."""
    german = client.get(f"/siegel/{SLUG}", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert german.status_code == 200
    assert_secure(german)
    text = words(german.text)
    assert '<html lang="de">' in german.text
    assert "Zertifiziert, derzeit ohne Stufe" in text  # 4 cases: below Bronze's minimum
    # Not "Stufe kein Siegel … gültig bis", which reads like a valid seal:
    assert 'id="tier"' not in german.text and "Stufe kein Siegel" not in text
    assert "Zertifizierung gültig bis einschließlich 31.05.2027" in text
    assert "Service 5,0 3" in text and "Erreichbarkeit 4,0 3" in text
    assert "Erstantworten innerhalb der Frist 100,0 % (4 von 4 fälligen Fällen)" in text
    assert "Erste Antwort, Median 2 Geschäftsstunden" in text
    assert "Zeit bis zur Lösung, Median höchstens 3 Tage (2 gelöste Fälle)" in text
    assert "Zeit bis zur Lösung, 90-%-Wert höchstens 6 Tage" in text
    assert "Lösungsquote 66,7 % (2 von 3 abgeschlossenen Fällen)" in text
    assert 'data-total="4"' in german.text
    assert "Zeitraum: Fälle und Bewertungen vom 26.11.2025 bis 26.11.2026." in text
    assert "Berechnet am 26.11.2026, 12:00." in text
    english = client.get(f"/siegel/{SLUG}?lang=en", headers={"Accept-Language": "de"})
    text = words(english.text)
    assert '<html lang="en">' in english.text and english.headers["content-language"] == "en"
    assert "Time to resolution, median at most 3 days (2 resolved cases)" in text
    assert "Resolution rate 66.7 % (2 of 3 closed cases)" in text
    assert 'href="/siegel/moebel-fuchs?lang=de"' in english.text  # the visible switch


def test_one_resolved_case_is_named_in_the_singular(client: TestClient, sqlite_engine) -> None:  # type: ignore[no-untyped-def]
    """The time to resolution counts its cases in the right number: "(1 gelöster Fall)",
    "(1 resolved case)"; two or more are "gelöste Fälle", "resolved cases"."""
    with session_scope(sqlite_engine) as session:
        merchant_id = add_merchant(session, "einzeln", "Einzel Laden")
        customer = Customer(address="eine.kundin@example.org", created_at=NOW)
        session.add(customer)
        session.flush()
        opened = NOW - timedelta(days=10)
        session.add(
            Case(
                ref="SSG-2026-000099", state=State.CLOSED_RESOLVED, merchant_id=merchant_id,
                customer_id=customer.id, opened_at=opened, updated_at=opened,
                closed_at=opened + timedelta(days=2),
            )
        )  # fmt: skip
    german = words(client.get("/siegel/einzeln?lang=de").text)
    assert "Zeit bis zur Lösung, Median höchstens 2 Tage (1 gelöster Fall)" in german
    english = words(client.get("/siegel/einzeln?lang=en").text)
    assert "Time to resolution, median at most 2 days (1 resolved case)" in english


def test_only_consented_and_released_praise_is_shown_and_nothing_about_a_person(
    client: TestClient,
) -> None:
    """Lob & Tadel: consented and released only, escaped; no customer address, no
    case address and no case reference anywhere on the page."""
    page = client.get(f"/siegel/{SLUG}").text
    assert "Toller Service &lt;b&gt;wirklich&lt;/b&gt;" in page
    assert "Nicht freigegeben" not in page and "Ohne Zustimmung" not in page
    assert CUSTOMER not in page and "erika" not in page
    assert "SSG-2026" not in page and "fall+" not in page and "@siegel.test" not in page


def test_unknown_and_withdrawn_merchants_get_a_clear_404(client: TestClient) -> None:
    """Unknown slugs, withdrawn seals and unknown paths: the not-found page, 404, with
    the security headers, in the request's language."""
    for path in ("/siegel/gibt-es-nicht", "/siegel/entzogen"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert_secure(response)
        assert "Kein Siegel unter dieser Adresse" in response.text
    english = client.get("/siegel/entzogen", headers={"Accept-Language": "en"})
    assert "No seal at this address" in english.text
    # Elsewhere only a page is missing, not a seal (a black-box run found "/" and
    # "/robots.txt" telling visitors that a seal shown there is not genuine).
    for path in ("/", "/irgendwo", "/robots.txt"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert_secure(response)
        assert "Seite nicht gefunden" in response.text and "Kein Siegel" not in response.text
    english = client.get("/", headers={"Accept-Language": "en"})
    assert "Page not found" in english.text and "No seal" not in english.text


@pytest.mark.parametrize(
    "path",
    ["//evil.example/login", "/%2F%2Fevil.example", "/%5Cevil.example", "///evil.example/x"],
)
def test_the_language_switch_stays_on_this_site_whatever_the_path(
    sqlite_engine: Engine, config: Config, path: str
) -> None:
    """The switch links to the requested path in the other language; a path that starts
    with two slashes (or a backslash, which browsers read as one) must not make it a
    link to another host (a black-box run: "//evil.example/login" on our 404 page).
    Sent as raw request lines through the real server, as a browser would."""
    port = free_port()
    server = WebServer(config, engine=sqlite_engine, port=port).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", path)
        response = connection.getresponse()
        page = response.read().decode()
        connection.close()
    finally:
        server.stop()
    assert response.status == 404
    [href] = re.findall(r'href="([^"]*)"[^>]*id="language-switch"', page)
    assert href.startswith("/") and not href.startswith(("//", "/\\"))
    assert "evil.example" in href  # the same page, named in our own site's path


def test_a_connection_that_sends_its_request_head_too_slowly_is_closed(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """`[web] request_head_seconds`: a client that opened a connection and dribbles its
    header (slowloris) or sends nothing is closed after that long, also after a first
    answer on a kept-alive connection; a request sent in time is answered."""
    config = make_config(tmp_path, web={"request_head_seconds": 0.5})
    port = free_port()
    server = WebServer(config, engine=sqlite_engine, port=port).start()
    try:
        silent = socket.create_connection(("127.0.0.1", port), timeout=5)
        dribbling = socket.create_connection(("127.0.0.1", port), timeout=5)
        dribbling.sendall(b"GET /siegel/x HTTP/1.1\r\nHost: a\r\n")
        kept = socket.create_connection(("127.0.0.1", port), timeout=5)
        kept.sendall(b"GET /siegel/x HTTP/1.1\r\nHost: a\r\n\r\n")
        assert kept.recv(12) == b"HTTP/1.1 404"
        started = time.monotonic()
        for connection in (silent, dribbling, kept):
            while connection.recv(65536):  # the rest of an answer, then the close
                pass
        assert time.monotonic() - started < 4
    finally:
        server.stop()


def test_a_method_a_page_does_not_take_is_405_with_allow_not_a_missing_seal(
    client: TestClient,
) -> None:
    """DELETE, PUT or POST on a real shop's page: 405 naming the methods it takes, with
    a page that says so (a black-box run read "no seal here, a seal shown is not real")."""
    for method in ("DELETE", "PUT", "POST"):
        response = client.request(method, "/siegel/moebel-fuchs")
        assert response.status_code == 405
        assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}
        assert_secure(response)
        assert "Kein Siegel" not in response.text and "Nicht möglich" in response.text


def test_expired_and_trial_seals_get_their_page_without_a_tier(client: TestClient) -> None:
    """An expired certification and a missing pre-check are pages (200) saying so."""
    expired = client.get("/siegel/abgelaufen")
    assert expired.status_code == 200
    assert "Siegel abgelaufen" in words(expired.text) and 'data-tier="none"' in expired.text
    assert "10.01.2026" in words(expired.text)
    pending = client.get("/siegel/testphase?lang=en")
    assert pending.status_code == 200 and "Pre-check pending" in pending.text


def test_only_the_certificate_page_says_how_its_figures_are_computed(client: TestClient) -> None:
    """The footer about recomputing every figure belongs to the page that shows them,
    not to a 404, a form or a message page."""
    footer = "Alle Zahlen sind aus gemessenen Fällen"
    assert footer in client.get(f"/siegel/{SLUG}").text
    assert footer not in client.get("/siegel/gibt-es-nicht").text
    assert footer not in client.get(f"/siegel/{SLUG}/lob-tadel").text


def test_names_are_escaped_everywhere(client: TestClient) -> None:
    """A merchant name with markup is text on the page and in the badge snippet."""
    page = client.get("/siegel/evil").text
    assert "<script>" not in page
    assert "Evil &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in page


def test_the_badge_shows_the_state_caches_and_may_be_embedded(client: TestClient) -> None:
    """The badge: SVG, short max-age in the browser only (it differs by the page it is
    on, which shared caches may not tell apart) and an ETag (304 on revalidation), embeddable
    (no frame-ancestors, no X-Frame-Options); an expired seal says expired, a withdrawn
    one withdrawn, an unknown one 404."""
    badge = client.get(f"/siegel/{SLUG}/badge.svg")
    assert badge.status_code == 200 and badge.headers["content-type"].startswith("image/svg+xml")
    assert badge.headers["cache-control"] == "private, max-age=300"
    assert "frame-ancestors" not in badge.headers["content-security-policy"]
    assert "x-frame-options" not in badge.headers
    etag = badge.headers["etag"]
    again = client.get(f"/siegel/{SLUG}/badge.svg", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    expired = client.get("/siegel/abgelaufen/badge.svg")
    assert 'data-state="expired">abgelaufen<' in expired.text
    assert "kein Siegel" not in expired.text and "Bronze" not in expired.text
    assert 'data-mark="none"' in expired.text and 'data-mark="tick"' not in expired.text
    english = client.get("/siegel/entzogen/badge.svg?lang=en")
    assert 'data-state="withdrawn">withdrawn<' in english.text
    # Certified, below Bronze: as the page says, "without a tier", not "no seal".
    assert "Zertifiziert, derzeit ohne Stufe" in client.get(f"/siegel/{SLUG}").text
    assert ">ohne Stufe<" in badge.text and "kein Siegel" not in badge.text
    assert client.get("/siegel/gibt-es-nicht/badge.svg").status_code == 404


def test_a_badge_link_from_another_domain_is_shown_as_not_valid_there(
    client: TestClient, config: Config
) -> None:
    """The snippet's link carries the domain token; opened from the shop it is valid,
    from another domain not valid there, with an altered token invalid."""
    page = client.get(f"/siegel/{SLUG}").text
    token = badges.token(config.badge_secret_bytes, SLUG, f"{SLUG}.example")
    assert f"d=moebel-fuchs.example&amp;amp;v={token}" in page  # the snippet, shown as text
    link = f"/siegel/{SLUG}?d=moebel-fuchs.example&v={token}"
    mine = client.get(link, headers={"Referer": "https://www.moebel-fuchs.example/kasse"})
    assert 'id="verdict"' in mine.text and "verdict-valid" in mine.text
    copied = client.get(link, headers={"Referer": "https://billig-moebel.example/"})
    assert "verdict-wrong-domain" in copied.text
    assert "nicht gültig" in words(copied.text) and "billig-moebel.example" in copied.text
    altered = client.get(link[:-2] + "xx", headers={"Referer": "https://moebel-fuchs.example/"})
    assert "verdict-invalid" in altered.text


def test_the_badge_image_on_another_domain_says_not_valid_here(client: TestClient) -> None:
    """The image itself, shown on a page of another host (the Referer a browser sends
    with it), says "hier nicht gültig" in warning colours without a tick, whatever the
    seal (a black-box run saw a valid Gold badge on any domain); on the shop's domain or
    a subdomain, on our own pages (the certificate page's preview) and without a
    Referer it shows the seal. Caches keep one per referring page."""

    def shown(referer: str | None) -> str:
        headers = {"Referer": referer} if referer else {}
        badge = client.get(f"/siegel/{SLUG}/badge.svg", headers=headers)
        assert badge.status_code == 200 and "Referer" in badge.headers["vary"]
        return badge.text

    assert "active" in shown("http://[broken/")  # no URL: nothing to compare, no 500
    assert client.get(f"/siegel/{SLUG}", headers={"Referer": "http://[x/"}).status_code == 200
    elsewhere = shown("https://fake-gold.example/")
    assert 'data-state="elsewhere">hier nicht gültig<' in elsewhere
    assert "fake-gold.example" in elsewhere and 'data-mark="tick"' not in elsewhere
    assert 'aria-label="Service-Siegel: hier nicht gültig – fake-gold.example"' in elsewhere
    # A long host keeps its end, the part that names the site, within the badge:
    long = shown("https://shop.with.a.very.long.subdomain.copycat.example/")
    assert ">…subdomain.copycat.example<" in long
    for referer in (
        "https://moebel-fuchs.example/kasse",
        "https://www.moebel-fuchs.example/",
        f"http://testserver/siegel/{SLUG}",
        None,
    ):
        assert 'data-state="active"' in shown(referer), referer


def test_a_failure_is_a_500_page_with_the_headers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error: the error page in the request's language, headers included."""

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database gone")

    monkeypatch.setattr(storage, "merchant_by_slug", broken)
    response = client.get(f"/siegel/{SLUG}?lang=en")
    assert response.status_code == 500
    assert_secure(response)
    assert "Something went wrong" in response.text and "database gone" not in response.text


def test_static_files_come_from_the_package(client: TestClient) -> None:
    """The stylesheet is served by us, with the headers; the page loads nothing else."""
    css = client.get("/static/siegel.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    page = client.get(f"/siegel/{SLUG}").text
    assert not re.search(r"(src|href)=\"https?://(?!127\.0\.0\.1:8080)", page)
    assert "<script" not in page and "style=" not in page
