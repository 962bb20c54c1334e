"""Every public page, the form pages and their answers included, in both languages:
the Content-Security-Policy without inline script or style and the other security
headers, no script, event handler or style attribute in the markup, and a merchant
name with markup shown as text (the certificate page, the badge, the rating form, the
Lob & Tadel form, their error and thanks pages). The operator's pages are checked in
tests/test_web_operator.py, the page's own escaping in tests/test_web_http.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.web.app import create_app
from mediation import seal
from mediation.storage import Case, Customer, Merchant
from mediation.workflow import State
from tests.test_web_feedback_form import confirmation_links, post
from tests.test_web_http import assert_secure
from tests.test_web_rating_form import link, submit

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
NAME = 'Evil <script>alert("x")</script> <img src=x onerror=alert(1)> & Co'
ESCAPED = "Evil &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt; &amp; Co"  # noqa: E501
SLUG = "evil"
MARKUP = '<b onmouseover="alert(2)">fett</b>'


@pytest.fixture
def site(sqlite_engine: Engine, config: Config) -> Iterator[tuple[TestClient, int]]:
    with session_scope(sqlite_engine) as session:
        merchant = Merchant(
            slug=SLUG, name=NAME, support_addresses=["s@evil.example"], domains=["evil.example"],
            created_at=NOW - timedelta(days=200),
        )  # fmt: skip
        customer = Customer(address="k@example.org", created_at=NOW)
        session.add_all([merchant, customer])
        session.flush()
        seal.record(session, merchant.id, "precheck-passed", NOW.date(), "op", NOW)  # type: ignore[arg-type]
        case = Case(
            ref="SSG-2026-000001", state=State.CLOSED_RESOLVED, merchant_id=merchant.id,
            customer_id=customer.id, opened_at=NOW - timedelta(days=9), updated_at=NOW,
            closed_at=NOW - timedelta(days=2),
        )  # fmt: skip
        session.add(case)
        customer_id = customer.id
    app = create_app(config, sqlite_engine, lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, customer_id  # type: ignore[misc]


def assert_clean(response, name_shown: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Security headers; no script, no inline handler or style; the name only escaped."""
    assert_secure(response)
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script" not in page.lower() and "<style" not in page.lower()
    assert not re.search(r"<[^>]*\s(on\w+|style)\s*=", page, re.IGNORECASE), page
    assert "javascript:" not in page.lower()
    assert NAME not in page and "<img src=x" not in page and MARKUP not in page
    if name_shown:
        assert ESCAPED in page


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_certificate_page_badge_and_lob_tadel_pages_are_clean(
    site, sqlite_engine: Engine, lang: str
) -> None:  # type: ignore[no-untyped-def]
    """Certificate page, Lob & Tadel form, its errors (with the submitted markup), the
    sent page, the confirmation page and its answer, the not-found page; the badge is
    SVG without script and with the name escaped."""
    client, _ = site
    assert_clean(client.get(f"/siegel/{SLUG}?lang={lang}"), name_shown=True)
    form = f"/siegel/{SLUG}/lob-tadel?lang={lang}"
    assert_clean(client.get(form), name_shown=True)
    bad = post(client, form, {"address": "kein", "praise": MARKUP})
    assert bad.status_code == 400
    assert_clean(bad, name_shown=True)
    assert "&lt;b onmouseover=&#34;alert(2)&#34;&gt;fett&lt;/b&gt;" in bad.text
    entry = {"address": "olga@example.org", "praise": MARKUP, "consent": "yes"}
    sent = post(client, form, entry)
    assert sent.status_code == 200
    assert_clean(sent)
    [path] = confirmation_links(sqlite_engine)
    assert_clean(client.get(f"{path}?lang={lang}"))
    assert_clean(post(client, f"{path}?lang={lang}", {}))
    assert_clean(client.get(f"/siegel/nichts?lang={lang}"))
    badge = client.get(f"/siegel/{SLUG}/badge.svg?lang={lang}")
    assert badge.status_code == 200 and "<script" not in badge.text
    assert "script-src" not in badge.headers["content-security-policy"]
    assert NAME not in badge.text


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_rating_form_and_its_answers_are_clean(site, config: Config, lang: str) -> None:  # type: ignore[no-untyped-def]
    """The rating form (the name in its heading), its errors with the submitted markup,
    the thanks page (the name in its text), the used and the invalid link's pages."""
    client, customer_id = site
    path = link(config, customer_id)
    assert_clean(client.get(f"{path}?lang={lang}"), name_shown=True)
    bad = submit(client, f"{path}?lang={lang}", {"service": "9", "praise": MARKUP})
    assert bad.status_code == 400
    assert_clean(bad, name_shown=True)
    assert "&lt;b onmouseover=&#34;alert(2)&#34;&gt;fett&lt;/b&gt;" in bad.text
    scores = {"service": "5", "reachability": "5", "reaction_time": "5", "praise": MARKUP}
    done = submit(client, f"{path}?lang={lang}", scores)
    assert done.status_code == 200
    assert_clean(done, name_shown=True)
    assert_clean(client.get(f"{path}?lang={lang}"))  # used
    assert_clean(client.get(f"{path[:-1]}x?lang={lang}"))  # altered
