"""The one HTML-to-text converter: the reply reader's text and the text a person reads."""

from __future__ import annotations

import pytest

from classifier.html_text import MAX_DEPTH, MAX_TAGS, bounded_html, html_to_text, readable_text
from classifier.quote_markers import HTML_CUT_MARK
from tests.cpu_time import LINEAR_LIMIT, growth_ratio


def test_readable_text_keeps_preformatted_text_and_writes_a_repeated_link_once() -> None:
    """<pre> keeps its line breaks and indentation; a link whose text is its URL is not
    written twice; comments vanish; entities are decoded."""
    text = readable_text('<pre>a\n  b</pre><p><a href="https://x.example/">x.example</a></p>')
    assert text == "a\n  b\n\nx.example"
    assert readable_text("<p>eins<br>zwei</p><!-- <p>drei</p> -->") == "eins\nzwei"
    assert readable_text("<p>a &lt; b &amp;&nbsp;c &uuml;</p>") == "a < b & c ü"


def test_readable_text_writes_links_list_items_and_image_alt_texts() -> None:
    """Links a reader can follow as "text (url)", others as their text; list items with a
    dash; an image as its alt text; paragraphs and lists apart by a blank line."""
    markup = (
        '<p>Bestellung bei <a href="https://shop.example/4711">Beispiel-Shop</a>, '
        '<a href="javascript:alert(1)">Gutschein</a>, <a href="mailto:a@b.example"></a></p>'
        "<ul><li>Karton</li><li>Vase</li></ul><div>Foto: <img alt='Paket.jpg'></div>"
    )
    assert readable_text(markup) == (
        "Bestellung bei Beispiel-Shop (https://shop.example/4711), Gutschein, "
        "mailto:a@b.example\n\n- Karton\n- Vase\n\nFoto: Paket.jpg"
    )
    # A link that a block closes ends before the line does.
    assert readable_text('<p><a href="https://x.example/a">hier</p>') == (
        "hier (https://x.example/a)"
    )
    # The reply reader reads the words only.
    assert (
        html_to_text(markup).text == "Bestellung bei Beispiel-Shop, Gutschein,\nKarton\nVase\nFoto:"
    )


def test_the_reply_reader_text_with_links_is_its_text_line_for_line() -> None:
    """`HtmlText.with_links` is `text` with "(url)" after the text of each link a reader
    can follow, on the same lines (quote marks and cut mark included), so that the reader
    finds quotes without the targets and keeps them in what the sender wrote."""
    markup = (
        '<p>Bestellung bei <a href="https://shop.example/4711">Beispiel-Shop</a>, '
        '<a href="javascript:alert(1)">Gutschein</a>, <a href="https://x.example">x.example</a>'
        '<a href="https://shop.example/logo"><img alt="Logo" src="cid:x"></a></p>'
        '<div class="gmail_quote"><blockquote><a href="mailto:a@b.example">Anna</a></blockquote>'
        "</div>"
    )
    converted = html_to_text(markup)
    assert converted.text == (
        f"Bestellung bei Beispiel-Shop, Gutschein, x.example\n{HTML_CUT_MARK}\n> Anna"
    )
    assert converted.with_links == (
        "Bestellung bei Beispiel-Shop (https://shop.example/4711), Gutschein, x.example\n"
        f"{HTML_CUT_MARK}\n> Anna (mailto:a@b.example)"
    )
    assert html_to_text("<p>a</p>").with_links == "a"


def test_text_a_client_does_not_show_is_no_text_in_either() -> None:
    """Hidden text (a preheader, white on white) is left out of both texts; the reader
    keeps it apart in `hidden`."""
    markup = (
        '<div style="display:none">Vorschau: Problem gelöst?</div>'
        '<p>Danke, das Paket kam an.</p><p style="color:#fff">#abschluss</p>'
    )
    assert readable_text(markup) == "Danke, das Paket kam an."
    converted = html_to_text(markup)
    assert converted.text == "Danke, das Paket kam an."
    assert converted.hidden == "Vorschau: Problem gelöst?\n#abschluss"


def test_quotes_are_marked_for_the_reader_and_shown_unmarked_to_a_person() -> None:
    """html_to_text writes '>' and the cut mark; readable_text neither."""
    markup = (
        "<div>Ja, bitte.</div><blockquote>Soll ich erstatten?</blockquote>"
        '<div class="gmail_quote">Am 3. März schrieb X:</div>'
    )
    converted = html_to_text(markup)
    assert (
        converted.text
        == f"Ja, bitte.\n> Soll ich erstatten?\n{HTML_CUT_MARK}\nAm 3. März schrieb X:"
    )
    assert converted.markers == ("html-quote-element", "html-quote-container")
    assert readable_text(markup) == ("Ja, bitte.\n\nSoll ich erstatten?\n\nAm 3. März schrieb X:")


def test_readable_text_draws_paragraphs_as_a_browser_does() -> None:
    """Outlook's MsoNormal paragraphs have no margins: one line each, and an empty one
    is a blank line; so is a block holding only a no-break space; Gmail's signature gets
    no added dashes; white space runs on across tags as one space."""
    outlook = (
        '<p class="MsoNormal">Guten Tag,<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<p class="MsoNormal">das Paket ist da.<o:p></o:p></p>'
        '<p class="MsoNormal">Jan<o:p></o:p></p>'
    )
    assert readable_text(outlook) == "Guten Tag,\n\ndas Paket ist da.\nJan"
    assert readable_text("<div>a</div><div>&nbsp;</div><div>b</div>") == "a\n\nb"
    gmail = '<div>Danke</div><div class="gmail_signature">--<br>Priya</div>'
    assert readable_text(gmail) == "Danke\n--\nPriya"
    assert html_to_text(gmail).text == "Danke\n-- \n--\nPriya"
    assert readable_text("a <b> </b> <i>b</i>") == "a b"


def test_bounded_html_cuts_at_the_limits_and_where_nothing_more_shows() -> None:
    """Cut before the tag that nests deeper than MAX_DEPTH or the '<' past MAX_TAGS, at a
    comment never closed and at a tag never finished (a browser shows neither)."""
    cut = bounded_html("<div>" * (MAX_DEPTH + 50) + "tief")
    assert cut == "<div>" * MAX_DEPTH
    flat = "<p>x" * 5000 + "<br>" * 5000
    assert bounded_html(flat) == flat
    assert bounded_html("<" * (MAX_TAGS + 10)) == "<" * MAX_TAGS
    assert bounded_html("a<!-- b --> c <!-- d <p>e</p>") == "a<!-- b --> c "
    assert bounded_html("<p>hallo</p> welt <b") == "<p>hallo</p> welt "
    assert bounded_html("x < y, 3 <4") == "x < y, 3 <4"
    assert readable_text("<p>hallo</p> welt <div class='x") == "hallo\n\nwelt"


HOSTILE_MARKUP = {
    "nested divs": ("", "<div>", 1_000),
    "many paragraphs": ("", "<p>x</p>", 1_000),
    "many list items": ("<ul>", "<li>x", 2_000),
    "entities": ("", "&amp;", 40_000),
    "brackets": ("", "<", 8_000),
    "open comments": ("", "<!--", 20_000),
    "marked sections": ("", "<![CDATA[>", 4_000),
    "open declarations": ("", "<!x", 40_000),
    "open end tags": ("", "</x", 30_000),
    "open start tags": ("", "<a ", 4_000),
    "big sheet": ("<style>", ".a{display:none}", 40_000),
}


@pytest.mark.parametrize("name", HOSTILE_MARKUP)
def test_hostile_html_is_read_in_linear_time(name: str) -> None:
    """Markup that the stdlib tokenizer reads in quadratic time (a construct open to the
    end) or that floods it costs about five times as much for five times the input, not 25
    times (the stdlib alone: 7 to 17 times for four times the input)."""
    prefix, unit, count = HOSTILE_MARKUP[name]
    for convert in (html_to_text, readable_text):
        ratio = growth_ratio(convert, lambda n: prefix + unit * n, count)
        assert ratio < LINEAR_LIMIT, convert.__name__
