"""Notification templates: every one in German and English, with every parameter."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from mediation import templates
from mediation.notices import DEADLINE_SHOWN
from mediation.workflow import FOLDED, template_names

KEYS = sorted(templates.names("de"))
MACHINE_KEYS = {f"{party}.{name}" for party, names in template_names().items() for name in names}
OUTSIDE_CASES = {
    "customer.feedback_thanks",
    "customer.feedback_which_shop",
    "operator.forwarded_mail",
    "sender.complaint_empty",
    "sender.self_complaint",
    "sender.self_feedback",
    "sender.too_many_cases",
}
"""Mails about Lob & Tadel, which belongs to no case, the answer to a complaint that
opened none, and to a mail to too many cases: their subject names none."""
VALUES = {name: f'<{name}> & "{name}"' for name in templates.PARAMETERS} | {
    "ref": "SSG-2026-000123",
    "deadline": "Mittwoch, 4. März 2026, 17:00 Uhr (MEZ)",
}


def test_both_languages_have_every_template_the_machine_sends() -> None:
    """German and English have the same templates, covering every notification (the
    rating request only as a block: it always travels in a closing notice)."""
    assert templates.names("de") == templates.names("en")
    assert templates.names("de") >= MACHINE_KEYS - {"customer.rating_request"}
    assert set(DEADLINE_SHOWN) <= templates.names("de")


@pytest.mark.parametrize("block", templates.BLOCKS)
def test_every_block_is_written_in_both_languages_and_has_hosts_in_both(block: str) -> None:
    """A block (`workflow.FOLDED`) renders in German and English, and a template that
    has room for it has that room in both languages."""
    assert set(templates.BLOCKS) == FOLDED
    hosts = {
        language: {
            key
            for key in templates.names(language)
            if VALUES[block] in templates.render(key, language, VALUES).text
        }
        for language in templates.LANGUAGES
    }
    assert hosts["de"] == hosts["en"] and hosts["de"]
    assert hosts["de"] == {key for key in KEYS if templates.uses(key, block)}
    for language in templates.LANGUAGES:
        assert "${" not in templates.render_block(block, language, VALUES)


@pytest.mark.parametrize("language", templates.LANGUAGES)
@pytest.mark.parametrize("key", KEYS)
def test_every_template_renders_with_every_parameter(key: str, language: str) -> None:
    """The subject names the case (where there is one), the text uses known parameters
    only, the HTML part escapes every value, and a template that has a deadline states it."""
    rendered = templates.render(key, language, VALUES)
    if key not in OUTSIDE_CASES:
        assert rendered.subject.startswith("[SSG-2026-000123]")
    assert "${" not in rendered.subject + rendered.text
    assert "<" not in re.sub(
        r"<(/?)(p|br|blockquote|!DOCTYPE html|html[^>]*|head|meta[^>]*|body)>", "", rendered.html
    )
    for name in templates.PARAMETERS:
        if VALUES[name] in rendered.text:
            escaped = VALUES[name].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            assert escaped.replace('"', "&quot;") in rendered.html
    if key in DEADLINE_SHOWN:
        assert VALUES["deadline"] in rendered.text


@pytest.mark.parametrize("key", KEYS)
def test_german_and_english_use_the_same_parameters(key: str) -> None:
    """A translation says the same things: the same values appear in both."""
    used = {
        language: {
            name
            for name in templates.PARAMETERS
            if VALUES[name] in templates.render(key, language, VALUES).text
        }
        for language in templates.LANGUAGES
    }
    assert used["de"] == used["en"]


def test_a_missing_value_fails_loudly() -> None:
    """No mail goes out with a hole in it."""
    with pytest.raises(KeyError):
        templates.render("customer.complaint_acknowledged", "de", {"ref": "SSG-2026-000001"})


WINTER, SUMMER = datetime(2026, 3, 4, 16, tzinfo=UTC), datetime(2026, 7, 1, 7, 30, tzinfo=UTC)
SPRING = datetime(2026, 3, 30, 8, tzinfo=UTC)  # the day after the clocks went forward
BERLIN = "Europe/Berlin"


@pytest.mark.parametrize(
    "moment, language, zone, expected",
    [
        (WINTER, "de", BERLIN, "Mittwoch, 4. März 2026, 17:00 Uhr (MEZ)"),
        (SUMMER, "de", BERLIN, "Mittwoch, 1. Juli 2026, 09:30 Uhr (MESZ)"),
        (WINTER, "en", BERLIN, "Wednesday, 4 March 2026, 17:00 (CET)"),
        (SPRING, "en", "Europe/London", "Monday, 30 March 2026, 09:00 (BST)"),
        (None, "de", BERLIN, "ohne feste Frist"),
    ],
)  # fmt: skip
def test_deadlines_are_written_in_the_recipients_language_and_local_time(
    moment: datetime | None, language: str, zone: str, expected: str
) -> None:
    """Local wall time across daylight saving, with the zone's name in that language."""
    assert templates.format_moment(moment, language, zone) == expected


def test_quoted_text_becomes_a_blockquote_in_html() -> None:
    """A forwarded message is quoted in the text and a blockquote in the HTML part."""
    quoted = templates.quote("Zeile eins\n<script>alert(1)</script>")
    assert quoted == "> Zeile eins\n> <script>alert(1)</script>"
    html = templates.to_html(f"Hallo\n\n{quoted}\n", "de")
    assert (
        "<blockquote><p>Zeile eins<br>\n&lt;script&gt;alert(1)&lt;/script&gt;</p></blockquote>"
        in html
    )


def test_our_web_links_carry_the_language_and_only_they_are_links_in_html() -> None:
    """A web link of ours (rating, confirmation, certificate page) opens in the
    recipient's language and is an escaped <a href> in the HTML part, outside quotes; a
    URL anybody else wrote, and a value that is no http(s) URL, is never a link."""
    entry = {
        "subject": "Links",
        "text": "${rating_link}\n\n${complaint_text}\n\n> ${rating_link}\n\n${confirm_url}",
    }
    ours = 'https://siegel.example/bewertung/T?a=1&b="2"'
    values = {
        "rating_link": ours,
        "complaint_text": "Siehe https://evil.example/x",
        "confirm_url": "javascript:alert(1)",
    }
    rendered = templates.fill(entry, "en", values)
    assert rendered.text.startswith(f"{ours}&lang=en\n")
    assert "javascript:alert(1)\n" in rendered.text  # no link of ours: left alone
    shown = "https://siegel.example/bewertung/T?a=1&amp;b=&quot;2&quot;&amp;lang=en"
    assert f'<p><a href="{shown}">{shown}</a></p>' in rendered.html
    assert rendered.html.count("<a ") == 1  # not in the quote, not anybody else's URL
    assert "<p>Siehe https://evil.example/x</p>" in rendered.html
    assert templates.in_language("https://siegel.example/siegel/shop", "de") == (
        "https://siegel.example/siegel/shop?lang=de"
    )


def test_every_held_reason_has_a_sentence_for_the_operator_in_both_languages() -> None:
    """The operator reads why a mail did not act as a sentence, never a reason code."""
    from mediation.storage import HeldReason

    for language in templates.LANGUAGES:
        assert set(templates.HELD_TEXTS[language]) == {str(reason) for reason in HeldReason}
        assert templates.about_case(None, language) in ("kein Fall", "no case")


def test_committed_mail_docs_equal_the_generated_text() -> None:
    """docs/mails.md shows every template as rendered now (regenerate it when one changes:
    python -m mediation.templates.examples > docs/mails.md)."""
    from pathlib import Path

    from mediation.templates import examples

    page = Path(__file__).resolve().parents[1] / "docs" / "mails.md"
    assert page.read_text(encoding="utf-8") == examples.document()


ERIKA = ("Erika Muster", "erika@example.org")
DAVE = "dave@example.com"


@pytest.mark.parametrize(
    "name, address, language, greeting, shown",
    [
        (*ERIKA, "de", "Guten Tag Erika Muster,", "Erika Muster <erika@example.org>"),
        (*ERIKA, "en", "Hello Erika Muster,", "Erika Muster <erika@example.org>"),
        ("", DAVE, "de", "Guten Tag,", DAVE),
        (None, DAVE, "en", "Hello,", DAVE),
        ("Dave@Example.com", DAVE, "en", "Hello,", DAVE),
        ('"<info@shop.example>"', DAVE, "de", "Guten Tag,", DAVE),
        ('  "Dave  Miller" ', DAVE, "en", "Hello Dave Miller,", f"Dave Miller <{DAVE}>"),
    ],
)
def test_people_are_greeted_by_name_only_when_they_gave_one(
    name: str | None, address: str, language: str, greeting: str, shown: str
) -> None:
    """No name, or an address given as the name: a greeting without a name and the
    address shown once; else the name, in both languages."""
    assert templates.greeting(name, address, language) == greeting
    assert templates.mailbox(name, address) == shown


def test_customers_are_greeted_by_the_one_greeting_helper() -> None:
    """Every mail to a customer of a case opens with ``${greeting}`` (`templates.greeting`),
    none with the name placeholder that shows a bare address."""
    for language in templates.LANGUAGES:
        for key in KEYS:
            text = templates.render(key, language, VALUES).text
            assert "Guten Tag <customer_name>" not in text and "Hello <customer_name>" not in text
            if key.startswith("customer.") and key not in OUTSIDE_CASES:
                assert text.startswith(VALUES["greeting"]), key


def _logged_kinds() -> set[str]:
    """Every kind a case's timeline may show: the workflow's events and what the case
    service logs by name (`transitions.log(session, case, "Kind", ...)`, the holds)."""
    import dataclasses
    import inspect
    from pathlib import Path

    from mediation import events

    kinds = {
        name
        for name, value in vars(events).items()
        if inspect.isclass(value)
        and dataclasses.is_dataclass(value)
        and value.__module__ == events.__name__
    }
    for source in (Path(__file__).parents[1] / "mediation").glob("*.py"):
        text = source.read_text(encoding="utf-8")
        kinds |= set(re.findall(r'transitions\.log\(\s*session,\s*\w+,\s*"(\w+)"', text))
        for line in text.splitlines():
            if re.match(r"\s*kind = ", line):  # holds.py: the kind chosen by reason
                kinds |= set(re.findall(r'"([A-Z]\w+)"', line))
    return kinds


@pytest.mark.parametrize("language", templates.LANGUAGES)
def test_every_timeline_entry_has_a_label_in_both_languages(language: str) -> None:
    """A German case file read "EvidenceAttached (das System)" (a black-box finding):
    every kind a timeline shows has its words in each language."""
    missing = {kind for kind in _logged_kinds() if kind not in templates.EVENT_LABELS[language]}
    assert missing == set()


def test_every_bounce_situation_has_its_step_in_both_languages() -> None:
    """Each situation `mediation.bounces` tells the operator of has its next step in
    German and English (a missing one failed the report's unit of work)."""
    import inspect

    from mediation import bounces

    named = set(
        re.findall(r'"((?:forward|merchant)-[a-z]+|customer|mediator)"', inspect.getsource(bounces))
    )
    values = {"slug": "s", "ref": "SSG-2026-000001", "address": "a@b.example", "current": "c"}
    assert {"forward-stopped", "forward-late", "forward-answered", "merchant-changed"} <= named
    for language in templates.LANGUAGES:
        assert set(templates.BOUNCE_STEPS[language]) >= named | {"merchant", "customer", "mediator"}
        for situation in templates.BOUNCE_STEPS[language]:
            assert "${" not in templates.bounce_step(situation, language, values)
