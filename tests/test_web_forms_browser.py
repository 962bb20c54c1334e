"""The forms in a real headless Chromium (Debian's chromium and chromedriver through
Selenium, as in tests/test_web_browser.py), over a case run through real SMTP and the
sink: the rating link from the closing mail opens the form, a submission counts once
(the certificate page's barometer changes), the reused and an altered link are
refused; Lob & Tadel goes through the sink's confirmation mail (double opt-in); the
operator logs in (HTTP Basic) and releases the entry, which then shows in public. Both
forms, filled in, are photographed in German and English for the README
(docs/rating-form-*.png, docs/feedback-form-*.png, with SIEGEL_SCREENSHOTS=1).

Skipped without the browser, failing under `CI=true` (the `browser` fixture).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mailflow.web import operator_auth
from mailflow.web.server import WebServer
from tests.harness import Harness, addressed_to, plain
from tests.net import free_port
from tests.sink import Sink
from tests.test_cases_e2e import CUSTOMER, MERCHANT
from tests.test_ratings_e2e import GERMAN_COMPLAINT, closed_case
from tests.test_web_browser import DOCS, browser, shown  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow

PASSWORD = "ein langes Betriebspasswort"
SHOPPER = "olga.shopper@example.org"


@pytest.fixture
def site(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[tuple[Harness, str]]:
    """Mail service and web side over one database (SQLite, then PostgreSQL); the links
    in mails point at the web side's port; the operator's login is configured (hash
    only)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = {
        "base_url": base,
        "operator_user": "betrieb",
        "operator_password_hash": operator_auth.hash_password(PASSWORD, iterations=1000),
    }
    harness = Harness(engine, tmp_path, sink, web=web)
    harness.add_merchant(
        "moebel-fuchs", "Möbel Fuchs", MERCHANT, "--order-pattern", r"\bMF-\d{6}\b",
        "--domain", "moebel-fuchs.example",
    )  # fmt: skip
    today = datetime.now(UTC).date().isoformat()
    status, _, errors = harness.siegel(
        "merchant", "precheck", "moebel-fuchs", "--passed", "--on", today, "--by", "test"
    )
    assert status == 0, errors
    server = WebServer(harness.config, clock=harness.clock, port=port).start()
    try:
        yield harness, base
    finally:
        server.stop()
        harness.stop()


def click_and_wait(driver, element) -> None:  # type: ignore[no-untyped-def]
    """Click a button or link and wait until the next page replaced this one. The old
    page's element is gone then: chromedriver says so as a stale element or, asked in
    the middle of the navigation, as a node that "does not belong to the document"."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def replaced(_driver) -> bool:  # type: ignore[no-untyped-def]
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
        return False

    element.click()
    WebDriverWait(driver, 10).until(replaced)


def photograph(driver, name: str) -> None:  # type: ignore[no-untyped-def]
    """NAME.png in DOCS: the page as far as it goes (the body, not the tall window)."""
    from selenium.webdriver.common.by import By

    DOCS.mkdir(exist_ok=True)
    assert driver.find_element(By.TAG_NAME, "body").screenshot(str(DOCS / f"{name}.png"))


def fill_rating(driver, scores: tuple[str, str, str], praise: str, criticism: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    for name, score in zip(("service", "reachability", "reaction_time"), scores, strict=True):
        driver.find_element(By.CSS_SELECTOR, f"input[name={name}][value='{score}']").click()
    driver.find_element(By.ID, "praise").send_keys(praise)
    driver.find_element(By.ID, "criticism").send_keys(criticism)
    driver.find_element(By.ID, "consent").click()


def login(driver, password: str | None = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    """Send the operator's Basic credentials with every request (None: stop sending)."""
    headers = {}
    if password is not None:
        token = base64.b64encode(f"betrieb:{password}".encode()).decode()
        headers = {"Authorization": f"Basic {token}"}
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})


def link_in(text: str, base: str) -> str:
    found = re.search(rf"{re.escape(base)}/\S+", text)
    assert found, text
    return found.group(0)


def test_the_rating_link_from_the_mail_rates_once_and_is_refused_after(browser, site) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The closing mail's link opens the form; the submission shows the thanks, the
    customer gets the thanks mail, the certificate page counts one rating; the same
    link again says it was used, an altered one that it is invalid."""
    from selenium.webdriver.common.by import By

    harness, base = site
    _, request = closed_case(harness, GERMAN_COMPLAINT, "Ja, danke, das Problem ist gelöst.")
    url = link_in(plain(request), base)
    assert "/bewertung/" in url
    browser.get(f"{base}/siegel/moebel-fuchs")
    assert "noch keine Bewertung" in shown(browser, "#dimension-1")

    assert url.endswith("?lang=de")  # the language of the mail it came in
    browser.get(url.replace("?lang=de", "?lang=en"))  # looking at the form uses nothing
    assert shown(browser, "#submit") == "Send rating"
    fill_rating(browser, ("5", "4", "5"), "Quick and friendly", "The first parcel got lost")
    photograph(browser, "rating-form-en")
    browser.get(url)
    assert shown(browser, "#rating-merchant") == "Möbel Fuchs"
    fill_rating(browser, ("5", "4", "5"), "Schnell und freundlich", "Das erste Paket ging verloren")
    photograph(browser, "rating-form-de")
    click_and_wait(browser, browser.find_element(By.ID, "submit"))
    assert shown(browser, "#message-title") == "Danke für Ihre Bewertung"
    assert harness.sent(harness.process()) == [(CUSTOMER, "customer.rating_thanks")]

    browser.get(f"{base}/siegel/moebel-fuchs")
    assert re.search(r"Service\s+5,0\s+1", shown(browser, "#dimension-1"))
    browser.get(url)
    assert shown(browser, "#message-title") == "Link bereits verwendet"
    browser.back()
    token = url.removesuffix("?lang=de")
    browser.get(token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert shown(browser, "#message-title") == "Link ungültig"
    browser.get(f"{base}/siegel/moebel-fuchs")
    assert re.search(r"Service\s+5,0\s+1", shown(browser, "#dimension-1"))  # still one
    assert "Schnell und freundlich" not in shown(browser, "#feedback")  # not yet released

    login(browser)
    browser.get(f"{base}/betrieb")
    row = browser.find_element(By.CSS_SELECTOR, "#waiting tbody tr[id^=rating-]")
    assert "Schnell und freundlich" in row.text and "Bewertungsformular" in row.text
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "button[value=release]"))
    login(browser, None)
    browser.get(f"{base}/siegel/moebel-fuchs")
    assert "Schnell und freundlich" in shown(browser, "#feedback")
    assert "Das erste Paket ging verloren" in shown(browser, "#feedback")
    assert CUSTOMER not in browser.page_source


def test_lob_and_tadel_by_double_opt_in_and_the_operators_release(browser, site) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """From the certificate page to the form; the confirmation mail reaches the sink;
    its link confirms; the operator sees the entry behind the login and releases it;
    the certificate page shows it, without the author's address."""
    from selenium.webdriver.common.by import By

    harness, base = site
    browser.get(f"{base}/siegel/moebel-fuchs/lob-tadel?lang=en")
    browser.find_element(By.ID, "address").send_keys(SHOPPER)
    browser.find_element(By.ID, "praise").send_keys("Helpful advice on the phone")
    browser.find_element(By.ID, "criticism").send_keys("Delivery took two weeks")
    browser.find_element(By.ID, "consent").click()
    photograph(browser, "feedback-form-en")
    browser.get(f"{base}/siegel/moebel-fuchs")
    click_and_wait(browser, browser.find_element(By.ID, "feedback-link"))
    browser.find_element(By.ID, "address").send_keys(SHOPPER)
    browser.find_element(By.ID, "praise").send_keys("Beratung am Telefon war top")
    browser.find_element(By.ID, "criticism").send_keys("Lieferung dauerte zwei Wochen")
    browser.find_element(By.ID, "consent").click()
    photograph(browser, "feedback-form-de")
    click_and_wait(browser, browser.find_element(By.ID, "submit"))
    assert shown(browser, "#message-title") == "Bitte bestätigen Sie Ihre E-Mail-Adresse"
    [mail] = addressed_to(harness.process(), SHOPPER)
    url = link_in(plain(mail), base)
    browser.get(url)
    click_and_wait(browser, browser.find_element(By.ID, "submit"))
    assert shown(browser, "#message-title") == "Bestätigt"

    browser.get(f"{base}/betrieb")
    assert "Beratung am Telefon" not in browser.page_source  # 401 without the login
    login(browser)
    browser.get(f"{base}/betrieb")
    row = browser.find_element(By.CSS_SELECTOR, "#waiting tbody tr")
    assert "Beratung am Telefon war top" in row.text and "Möbel Fuchs" in row.text
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "button[value=release]"))
    assert "Beratung am Telefon" not in shown(browser, "#waiting")
    login(browser, None)
    browser.get(f"{base}/siegel/moebel-fuchs")
    assert "Beratung am Telefon war top" in shown(browser, "#feedback")
    assert SHOPPER not in browser.page_source
