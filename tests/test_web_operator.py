"""The operator's views over HTTP: off (404) without a configured login; behind HTTP
Basic (401 with a challenge without or with wrong credentials); the merchants with
tier, trial and validity, the cases needing attention and the Lob & Tadel entries
waiting for release; release and reject by POST with a CSRF token bound to the login.
The password is kept only as a PBKDF2 hash."""

from __future__ import annotations

import base64
import http.client
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from mailflow.config import ConfigError
from mailflow.db import session_scope
from mailflow.web import csrf, operator_auth
from mailflow.web.app import create_app
from mailflow.web.server import WebServer
from mediation import feedback_store, seal
from mediation.storage import Case, CaseDeadline, Customer, HeldMail, Merchant
from mediation.workflow import State
from tests.conftest import make_config
from tests.net import free_port

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
HASH = operator_auth.hash_password(PASSWORD, iterations=1000)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


GOOD = basic("betrieb", PASSWORD)


def seed(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        fuchs = Merchant(slug="moebel-fuchs", name="Möbel Fuchs", created_at=NOW)
        neu = Merchant(slug="neuer-laden", name="Neuer Laden", created_at=NOW)
        customer = Customer(address="k@example.org", created_at=NOW)
        session.add_all([fuchs, neu, customer])
        session.flush()
        seal.record(session, fuchs.id, "precheck-passed", date(2026, 1, 15), "op", NOW)  # type: ignore[arg-type]
        seal.record(session, neu.id, "precheck-passed", date(2026, 11, 1), "op", NOW)  # type: ignore[arg-type]
        seal.record(session, neu.id, "trial-started", date(2026, 11, 1), "op", NOW)  # type: ignore[arg-type]
        for ref, state, merchant_id in (
            ("SSG-2026-000001", State.NEEDS_MERCHANT, None),
            ("SSG-2026-000002", State.IN_MEDIATION, fuchs.id),
            ("SSG-2026-000004", State.AWAITING_MERCHANT, fuchs.id),  # its forward bounced
            ("SSG-2026-000003", State.AWAITING_MERCHANT, fuchs.id),
        ):
            case = Case(
                ref=ref, state=state, merchant_id=merchant_id, customer_id=customer.id,
                opened_at=NOW - timedelta(days=3), updated_at=NOW,
            )  # fmt: skip
            session.add(case)
            session.flush()
        session.add(
            CaseDeadline(case_id=case.id, kind="merchant_reply", due_at=NOW - timedelta(hours=1))
        )  # type: ignore[arg-type]
        ids = {}
        for text, consent in (("Wartet auf Freigabe", True), ("Ohne Zustimmung", False)):
            entry = feedback_store.record(
                session, merchant_id=fuchs.id, author="a@example.org", language="de",
                praise=text, criticism="", source=feedback_store.Source.PRAISE_ADDRESS,
                mail_id=1, received_at=NOW, merchant_named_by="test",
            )  # fmt: skip
            feedback_store.consent(session, entry.id, consent)  # type: ignore[arg-type]
            ids[text] = entry.id
        return ids  # type: ignore[return-value]


@pytest.fixture
def client(sqlite_engine: Engine, tmp_path) -> Iterator[tuple[TestClient, dict[str, int]]]:  # type: ignore[no-untyped-def]
    ids = seed(sqlite_engine)
    config = make_config(tmp_path, web={"operator_user": "betrieb", "operator_password_hash": HASH})
    app = create_app(config, sqlite_engine, lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as running:
        yield running, ids


def test_the_views_are_off_without_a_login_and_closed_without_credentials(
    sqlite_engine: Engine,
    config,
    client,  # type: ignore[no-untyped-def]
) -> None:
    """No operator_user: 404. Configured: no or wrong credentials get 401 with a Basic
    challenge and nothing of the data."""
    off = TestClient(create_app(config, sqlite_engine, lambda: NOW))
    assert off.get("/betrieb").status_code == 404
    running, _ = client
    for headers in (
        {},
        basic("betrieb", "falsch"),
        basic("jemand", PASSWORD),
        {"Authorization": "Basic !!"},
    ):
        page = running.get("/betrieb", headers=headers)
        assert page.status_code == 401 and page.headers["www-authenticate"].startswith("Basic")
        assert "Möbel Fuchs" not in page.text and "Wartet" not in page.text


def test_the_overview_lists_merchants_attention_and_waiting_entries(client) -> None:  # type: ignore[no-untyped-def]
    """Tier, trial and validity per merchant; a case without shop, one waiting for the
    shop's address (its forward bounced: no deadline), one in mediation without
    mediator, an overdue deadline; only the consented entry waits."""
    running, _ = client
    with session_scope(running.app.state.engine) as session:
        session.add(HeldMail(mail_id=7, reason="self-complaint", detail="x", held_at=NOW))
    page = running.get("/betrieb", headers=GOOD)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    # Certified on 15.01.2026 for twelve months: valid up to and including 14.01.2027,
    # the day the public certificate shows too.
    assert "Möbel Fuchs ohne Stufe zertifiziert 14.01.2027" in text
    certificate = running.get("/siegel/moebel-fuchs", headers={"Accept-Language": "de"})
    assert '<strong id="valid-until">14.01.2027</strong>' in certificate.text
    assert "Neuer Laden ohne Stufe Testphase 01.01.2027" in text
    assert "SSG-2026-000001" in page.text and "SSG-2026-000002 (in_mediation)" in text
    assert "SSG-2026-000003: merchant_reply, Donnerstag, 26. November 2026, 11:00 Uhr" in text
    english = running.get("/betrieb?lang=en", headers=GOOD).text
    assert "Thursday, 26 November 2026, 11:00 (CET)" in english and "certified" in english
    assert "Mail an lob@" in text and "mail to praise@" in english
    assert "Ein Shop kann sich nicht über sich selbst beschweren" in text  # not its code
    assert "a shop cannot complain about itself" in english
    unreachable = page.text.split('id="merchant-unreachable">')[1].split("</ul>")[0]
    assert "SSG-2026-000004: siegel merchant set moebel-fuchs --email" in unreachable
    assert "SSG-2026-000003" not in unreachable
    assert "Wartet auf Freigabe" in text and "Ohne Zustimmung" not in text


def test_release_and_reject_need_the_form_token_and_take_the_entry_off_the_list(
    client,
    sqlite_engine: Engine,  # type: ignore[no-untyped-def]
) -> None:
    """Without a token (or with another form's): 403 and nothing changes; with it the
    entry is released by the operator and shown on the certificate page; a rejected one
    leaves the list and is never shown."""
    running, ids = client
    entry = ids["Wartet auf Freigabe"]
    path = f"/betrieb/lob-tadel/{entry}"
    assert running.post(path, data={"action": "release"}, headers=GOOD).status_code == 403
    stray = csrf.issue(b"y" * 40, "operator", "betrieb", NOW)
    assert (
        running.post(path, data={"action": "release", "csrf": stray}, headers=GOOD).status_code
        == 403
    )
    token = re.search(
        r'name="csrf" value="([^"]+)"', running.get("/betrieb", headers=GOOD).text
    ).group(1)  # type: ignore[union-attr]
    assert running.post(path, data={"action": "release", "csrf": token}).status_code == 401
    odd = running.post(path, data={"action": "delete", "csrf": token}, headers=GOOD)
    assert odd.status_code == 400 and 'data-message="unknown_action"' in odd.text
    done = running.post(
        path, data={"action": "release", "csrf": token}, headers=GOOD, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/betrieb"
    with Session(sqlite_engine) as session:
        found = session.get(feedback_store.Feedback, entry)
        assert found is not None and found.released_by == "betrieb"
        assert feedback_store.waiting(session) == []
    assert "Wartet auf Freigabe" in running.get("/siegel/moebel-fuchs").text
    with session_scope(sqlite_engine) as session:
        feedback_store.consent(session, ids["Ohne Zustimmung"], True)
    rejected = running.post(
        f"/betrieb/lob-tadel/{ids['Ohne Zustimmung']}", data={"action": "reject", "csrf": token},
        headers=GOOD, follow_redirects=False,
    )  # fmt: skip
    assert rejected.status_code == 303
    assert "Ohne Zustimmung" not in running.get("/betrieb", headers=GOOD).text
    assert "Ohne Zustimmung" not in running.get("/siegel/moebel-fuchs").text


def test_parallel_guesses_get_no_more_checks_than_sequential_ones(
    sqlite_engine: Engine, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Twelve wrong logins at once from one client (a black-box run got 43 of 100
    checked): a check under way counts as a failure, so at most
    `operator_login_failures` are checked and the others get 429 at once (some of
    those checks may have been refused as busy: at most two hashes at once), and in all
    no more than that many are checked before the client is throttled."""
    seed(sqlite_engine)
    slow = operator_auth.hash_password(PASSWORD, iterations=200_000)
    web = {
        "operator_user": "betrieb", "operator_password_hash": slow,
        "operator_login_failures": 3, "operator_login_window_minutes": 10,
    }  # fmt: skip
    app = create_app(make_config(tmp_path, web=web), sqlite_engine, lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as running:
        start = threading.Barrier(12)

        def guess(number: int) -> int:
            start.wait()
            return running.get("/betrieb", headers=basic("betrieb", f"rate{number}")).status_code

        with ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(guess, range(12)))
        assert codes.count(401) <= 3 and set(codes) <= {401, 429}, codes
        for number in range(3):  # sequential guesses make up the rest of the three
            code = running.get("/betrieb", headers=basic("betrieb", f"x{number}")).status_code
            codes.append(code)
        assert codes.count(401) == 3, codes
        assert running.get("/betrieb", headers=basic("betrieb", PASSWORD)).status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(
    sqlite_engine: Engine, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A black-box run behind a proxy at 127.0.0.2: five wrong logins from different
    visitors locked the operator out, as every visitor was the proxy. With the proxy in
    `[web] trusted_proxies` (real uvicorn, real sockets) its X-Forwarded-For names the
    client: other visitors' failures do not count against the operator's."""
    seed(sqlite_engine)
    web = {
        "operator_user": "betrieb", "operator_password_hash": HASH,
        "operator_login_failures": 3, "trusted_proxies": ["127.0.0.2"],
    }  # fmt: skip
    port = free_port()
    config = make_config(tmp_path, web=web, database={"url": str(sqlite_engine.url)})
    server = WebServer(config, engine=sqlite_engine, port=port).start()
    try:

        def login(visitor: str, password: str) -> int:
            connection = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0)
            )
            headers = basic("betrieb", password) | {"X-Forwarded-For": visitor}
            connection.request("GET", "/betrieb", headers=headers)
            status = connection.getresponse().status
            connection.close()
            return status

        assert [login(f"203.0.113.{n}", "falsch") for n in range(6)] == [401] * 6
        assert login("198.51.100.7", PASSWORD) == 200
        assert [login("203.0.113.9", "falsch") for _ in range(4)] == [401, 401, 401, 429]
    finally:
        server.stop()


def test_credentials_that_are_no_base64_are_a_failure_not_a_lockout(client) -> None:  # type: ignore[no-untyped-def]
    """A non-ASCII Basic value raised past the throttle (a review found five such
    requests answered 500 and the right password refused for ever after): it is a wrong
    login like any other, and a right one still logs in afterwards."""
    running, _ = client
    for _ in range(3):
        assert running.get("/betrieb", headers={"Authorization": b"Basic \xe9"}).status_code == 401
    assert running.get("/betrieb", headers=GOOD).status_code == 200


def test_password_hashes_verify_and_a_login_needs_one(
    sqlite_engine: Engine, tmp_path, caplog
) -> None:  # type: ignore[no-untyped-def]
    """PBKDF2 hashes verify their password only; a password given where its hash belongs
    stops the start. A user without a hash (the shell of `siegel cases`, which need not
    know the web side's secret) loads: the views stay off, and the web side says so."""
    assert operator_auth.verify_password(HASH, PASSWORD)
    assert not operator_auth.verify_password(HASH, PASSWORD + "x")
    assert not operator_auth.verify_password("plain", PASSWORD)
    with pytest.raises(ConfigError, match="operator_password_hash"):
        make_config(tmp_path, web={"operator_user": "betrieb", "operator_password_hash": PASSWORD})
    without = make_config(tmp_path, web={"operator_user": "betrieb"})
    with caplog.at_level("WARNING", logger="mailflow.web"):
        app = create_app(without, sqlite_engine, lambda: NOW)
    assert "operator views are off" in caplog.text
    assert TestClient(app).get("/betrieb", headers=GOOD).status_code == 404


def test_failed_logins_are_throttled_per_client_without_telling_users_apart(
    sqlite_engine: Engine, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """After `operator_login_failures` failures (wrong password or unknown user alike)
    within the window the client gets 429 with Retry-After, right credentials included,
    and the same page whoever it claims to be; once the oldest failure leaves the
    window it may log in again, and a good login clears its count."""
    seed(sqlite_engine)
    web = {
        "operator_user": "betrieb", "operator_password_hash": HASH,
        "operator_login_failures": 3, "operator_login_window_minutes": 10,
    }  # fmt: skip
    clock = [NOW]
    app = create_app(make_config(tmp_path, web=web), sqlite_engine, lambda: clock[0])
    running = TestClient(app, raise_server_exceptions=False)
    assert running.get("/betrieb").status_code == 401  # no credentials: no failure
    assert running.get("/betrieb", headers=basic("betrieb", "falsch")).status_code == 401
    assert running.get("/betrieb", headers=GOOD).status_code == 200  # clears the count
    for headers in (basic("betrieb", "falsch"), basic("jemand", PASSWORD), basic("x", "y")):
        clock[0] += timedelta(minutes=1)
        assert running.get("/betrieb", headers=headers).status_code == 401
    answers = [
        running.get("/betrieb", headers=headers)
        for headers in (GOOD, basic("betrieb", "falsch"), basic("jemand", "falsch"), {})
    ]
    assert {answer.status_code for answer in answers} == {429}
    assert {answer.headers["retry-after"] for answer in answers} == {str(8 * 60)}
    assert len({answer.text for answer in answers}) == 1
    assert "www-authenticate" not in answers[0].headers and "Möbel Fuchs" not in answers[0].text
    assert "Zu viele" in answers[0].text and answers[0].headers["content-security-policy"]
    token = csrf.issue(b"x" * 40, "operator", "betrieb", NOW)
    blocked = running.post("/betrieb/lob-tadel/1", data={"csrf": token}, headers=GOOD)
    assert blocked.status_code == 429
    clock[0] += timedelta(minutes=8)  # the first of the three failures leaves the window
    assert running.get("/betrieb", headers=GOOD).status_code == 200
