"""The web side in a real headless Chromium (Debian's chromium and chromedriver, driven
by Selenium; nothing is downloaded): a case run through real SMTP changes the figures
on the certificate page; the badge of an expired seal says so; a screenshot per
language is written to docs/ for the README.

Without the browser the tests are skipped with the reason, except under CI (`CI=true`),
where a missing browser is a failure (scripts/test installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mailflow.web.server import WebServer
from tests.harness import REPO, Harness
from tests.net import free_port
from tests.sink import Sink
from tests.test_cases_e2e import MERCHANT
from tests.test_seal_e2e import CUSTOMERS, SCORING, served_and_rated

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DOCS = (
    REPO / "docs"
    if os.environ.get("SIEGEL_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="siegel-screenshots-"))
)
"""Where the browser tests save their screenshots: docs/, for the README, when
SIEGEL_SCREENSHOTS=1 (`SIEGEL_SCREENSHOTS=1 scripts/test -k browser`); else a temporary
folder, so that a test run leaves the checkout as it found it."""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        needed = " and ".join(missing)
        reason = f"headless browser tests need {needed} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1100,3400", "--hide-scrollbars", "--lang=de-DE",
    ):  # fmt: skip
        options.add_argument(argument)
    # A German browser: Accept-Language picks the page's language.
    options.add_experimental_option("prefs", {"intl.accept_languages": "de-DE,de"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


@pytest.fixture
def site(sqlite_engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[tuple[Harness, str]]:
    """The mail service (real SMTP in, worker, relay to the sink) and the web side on a
    free port, over one database; the web side reads the harness's clock."""
    harness = Harness(sqlite_engine, tmp_path, sink, scoring=SCORING)
    harness.add_merchant(
        "moebel-fuchs", "Möbel Fuchs", MERCHANT, "--language", "de",
        "--domain", "moebel-fuchs.example",
    )  # fmt: skip
    today = datetime.now(UTC).date().isoformat()
    for arguments in (
        ("merchant", "precheck", "moebel-fuchs", "--passed", "--on", today, "--by", "test"),
        ("merchant", "add", "alter-laden", "--name", "Alter Laden", "--email", "a@alt.example"),
        ("merchant", "precheck", "alter-laden", "--passed", "--on", "2024-01-10", "--by", "t"),
    ):
        status, _, errors = harness.siegel(*arguments)
        assert status == 0, errors
    port = free_port()
    web = WebServer(harness.config, clock=harness.clock, port=port).start()
    try:
        yield harness, f"http://127.0.0.1:{port}"
    finally:
        web.stop()
        harness.stop()


def shown(driver, css: str) -> str:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css).text


def test_a_case_by_mail_changes_the_certificate_page_in_the_browser(browser, site) -> None:  # type: ignore[no-untyped-def]
    """Before: no complaint, no rating. A complaint by SMTP that the merchant answers,
    the customer calls solved and rates: one complaint in the chart, one rating per
    dimension, one first reply, one timed resolution. With enough such cases and the
    recompute the page shows Bronze; both languages are photographed for the README."""
    harness, base = site
    browser.get(f"{base}/siegel/moebel-fuchs")
    assert shown(browser, "#merchant-name") == "Möbel Fuchs"
    chart = browser.find_element("css selector", "#complaints-chart")
    assert chart.get_attribute("data-total") == "0"
    assert "noch keine Bewertung" in shown(browser, "#dimension-1")

    served_and_rated(harness, CUSTOMERS[0], "Service: 5\nErreichbarkeit: 4\nReaktionszeit: 5")
    browser.refresh()
    chart = browser.find_element("css selector", "#complaints-chart")
    assert chart.get_attribute("data-total") == "1"
    assert re.search(r"Service\s+5,0\s+1", shown(browser, "#dimension-1"))
    assert "1 von 1 fälligen Fall" in shown(browser, "#figure-1")
    # Resolved within the day (within the same second, when the machine is fast).
    assert re.search(r"höchstens 1 Tag|weniger als 1 Tag", shown(browser, "#figure-4"))
    assert "(1 gelöster Fall)" in shown(browser, "#figure-4")

    for customer in CUSTOMERS[1:4]:
        served_and_rated(harness, customer, "Service: 5\nErreichbarkeit: 5\nReaktionszeit: 4")
    status, _, errors = harness.siegel("score", "--apply")
    assert status == 0, errors
    browser.get(f"{base}/siegel/moebel-fuchs?lang=de")
    assert shown(browser, "#tier") == "Bronze"
    assert (
        browser.find_element("css selector", "#complaints-chart").get_attribute("data-total") == "4"
    )
    assert "Siegel gültig" in shown(browser, "#seal-state")
    DOCS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(DOCS / "certificate-de.png"))
    browser.find_element("css selector", "#language-switch").click()
    assert shown(browser, "#barometer-title") == "Rating barometer"
    assert "Time to resolution" in shown(browser, "#process")
    assert browser.save_screenshot(str(DOCS / "certificate-en.png"))


def test_the_badge_of_an_expired_seal_says_expired(browser, site) -> None:  # type: ignore[no-untyped-def]
    """A certification of January 2024 has expired: its badge says so and shows no
    tier; its page says the seal expired (no error page)."""
    _, base = site
    browser.get(f"{base}/siegel/alter-laden/badge.svg")
    state = browser.find_element("css selector", "text[data-state]")
    assert state.get_attribute("data-state") == "expired"
    assert state.text == "abgelaufen"
    browser.get(f"{base}/siegel/alter-laden/badge.svg?lang=en")
    assert browser.find_element("css selector", "text[data-state]").text == "expired"
    browser.get(f"{base}/siegel/alter-laden")
    assert shown(browser, "#seal-state") == "Siegel abgelaufen"


WORDS_WIDER_THAN_THEIR_BOX = """
const wider = [];
const probe = document.createElement('span');
probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap';
document.body.appendChild(probe);
for (const box of document.querySelectorAll(arguments[0])) {
  const style = getComputedStyle(box);
  const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  probe.style.font = style.font;
  probe.style.letterSpacing = style.letterSpacing;
  probe.style.textTransform = style.textTransform;
  for (const word of box.innerText.split(/\\s+/).filter(Boolean)) {
    probe.textContent = word;
    if (probe.getBoundingClientRect().width > room + 1) wider.push(word);
  }
}
probe.remove();
return wider;
"""


@pytest.mark.parametrize("width", [380, 412])
def test_on_a_phone_no_word_is_broken_and_the_page_does_not_scroll_sideways(
    browser, site, width: int
) -> None:  # type: ignore[no-untyped-def]
    """At phone widths the header's tagline and the tables' cells keep their words whole
    (a table too wide scrolls inside itself), and the page is no wider than the screen,
    also for a shop whose name is one 60-letter word."""
    harness, base = site
    served_and_rated(harness, CUSTOMERS[0], "Service: 5\nErreichbarkeit: 4\nReaktionszeit: 5")
    status, _, errors = harness.siegel(
        "merchant", "set", "moebel-fuchs", "--name", "Möbelfuchs" + "x" * 50
    )
    assert status == 0, errors
    browser.set_window_size(width, 900)
    for language in ("de", "en"):
        browser.get(f"{base}/siegel/moebel-fuchs?lang={language}")
        boxes = "header.site .tagline, th, td"
        assert browser.execute_script(WORDS_WIDER_THAN_THEIR_BOX, boxes) == []
        sideways = "return document.documentElement.scrollWidth - window.innerWidth"
        widest = (
            "return [...document.querySelectorAll('body *')].filter(e => "
            "e.getBoundingClientRect().right > window.innerWidth + 1).map(e => "
            "e.tagName + '.' + e.className + '#' + e.id).slice(0, 8)"
        )
        assert browser.execute_script(sideways) <= 0, browser.execute_script(widest)
