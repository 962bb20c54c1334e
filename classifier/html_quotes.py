"""What in an HTML mail's markup marks a quote, by mail client.

Owns the two kinds of quote structure that the HTML-to-text converter (`html_text`)
writes for the reply reader:

- quote elements, whose content is quoted as a plain-text client would quote it:
  `<blockquote>` with any attributes, any element with `type="cite"` or a `cite`
  attribute, GMX's `name="quote"`, the quote classes of other clients and ticket systems,
  and any element drawn with a left border but no right one (the bar that Gmail, Yahoo,
  Outlook, Apple Mail, Zimbra, Roundcube and others draw beside a quote), however the
  inline style spells it (`html_style.drawn_borders`);
- quote containers, the elements that clients wrap around the quoted or forwarded
  message (Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg` and its border-top
  separator, Apple's `AppleOriginalContents`, Thunderbird's `moz-forward-container`,
  Yahoo's `yahoo_quoted`, ...) or that only head the message that follows them
  (Outlook's separator, Zimbra's divider, Hotmail's `stopSpelling` rule), and the
  "Original Message" comment of Samsung Email and other mobile clients.

Thunderbird's `moz-cite-prefix` attribution is a quote element, not a container:
Thunderbird writes its reply below the quote by default.
"""

from __future__ import annotations

import re

from classifier.html_style import MAX_NAME_CHARS

# Words in the class, id, name or data-marker value of an element that holds (or heads)
# the quoted or forwarded message, by client. Matched inside the value, because clients
# that quote an HTML mail again prefix the names they find ("x_divRplyFwdMsg" by Outlook
# on the web, "ecxstopSpelling" by Hotmail, "ydp3f2a9yahoo_quoted" by Yahoo).
_CONTAINER_WORDS = (
    # Gmail, and clients that copy its markup (Superhuman, Spark)
    "gmail_quote",
    "gmail_attr",
    "gmail_extra",
    # Outlook desktop, Outlook on the web, Outlook for iOS, Android and Mac
    "divrplyfwdmsg",
    "appendonsend",
    "olk_src_body_section",
    "outlookmessageheader",
    "mail-editor-reference-message-container",
    "ms-outlook-mobile-reference-message",
    "mac_outlook_attribution_blockquote",
    # Apple Mail
    "appleoriginalcontents",
    # Thunderbird, SeaMonkey (its "moz-cite-prefix" attribution is a quote element below)
    "moz-forward-container",
    "moz-email-headers-table",
    # Yahoo, AOL
    "yahoo_quoted",
    "aolmsgpart",
    # Proton, Tutanota, Zoho, Skiff, Spark
    "protonmail_quote",
    "tutanota_quote",
    "zmail_extra",
    "skiff_quote",
    "messagereplysection",
    # Zimbra: `<hr id="zwchr" data-marker="__DIVIDER__">`, then headers and quoted text
    "zwchr",
    "__divider__",
    "__headers__",
    "__quoted_text__",
    # Hotmail and Windows Live Mail: `<hr id="stopSpelling">`
    "stopspelling",
    # Chinese webmail (QQ, 139, NetEase) and others that Proton Mail recognises
    "replysplit",
    "isforwardcontent",
    "isreplycontent",
    "origbody",
    "reply139content",
    "orimsghtmlseperator",
    "mail-quote-collapse",
)
_CONTAINER = re.compile("|".join(re.escape(word) for word in _CONTAINER_WORDS))
# Samsung Email and other mobile clients mark the quoted message with an HTML comment.
_CONTAINER_COMMENT = re.compile(r"original\s*message", re.IGNORECASE)
# GMX and Web.de give the quote element a name instead of a class; other clients and
# ticket systems a plain class.
_QUOTE_NAMES = frozenset({"quote", "quoted-content"})
_QUOTE_CLASSES = frozenset(
    {"quote", "quoted", "quotation", "mail-quote", "email-quote", "reply-quote", "replyquote",
     # Thunderbird's attribution line above its quote: quoted like the quote itself, not
     # a cut, since Thunderbird posts below the quote by default.
     "moz-cite-prefix"}
)  # fmt: skip
_ATTRIBUTES_WITH_NAMES = ("class", "id", "name", "data-marker")


def _is_quote_bar(borders: frozenset[str]) -> bool:
    """A border on the left and none on the right: the bar drawn beside a quote (a box
    drawn all round is a frame, not a quote)."""
    return "left" in borders and "right" not in borders


# Outlook heads the quoted message with its "From:/Sent:" block in a div whose only
# border is a thin line on top ("border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt
# 0cm 0cm 0cm"): Word writes every length in points, and Outlook's two colours for it are
# #E1E1E1 and #B5C4DF.
_OUTLOOK_TOP_BORDER = re.compile(r"border-top[^;]*(?:\d\s*pt|#(?:e1e1e1|b5c4df))", re.IGNORECASE)


def is_outlook_separator(style: str, borders: frozenset[str]) -> bool:
    """Whether a `<div>` with this inline style (drawing `borders`) is Outlook's separator
    above the quoted message."""
    return borders == {"top"} and bool(_OUTLOOK_TOP_BORDER.search(style))


def is_container(attributes: dict[str, str]) -> bool:
    """Whether an element's class, id, name or data-marker names a quote container."""
    names = " ".join(attributes.get(name, "")[:MAX_NAME_CHARS] for name in _ATTRIBUTES_WITH_NAMES)
    return bool(names.strip()) and bool(_CONTAINER.search(names.lower()))


def is_container_comment(comment: str) -> bool:
    """Whether an HTML comment marks the quoted message ("Original Message")."""
    return bool(_CONTAINER_COMMENT.search(comment))


def is_quote_element(tag: str, attributes: dict[str, str], borders: frozenset[str]) -> bool:
    """Whether an element is a quote; `borders`: the sides its inline style draws."""
    return (
        tag == "blockquote"
        or attributes.get("type", "").lower() == "cite"
        or "cite" in attributes
        or attributes.get("name", "").lower() in _QUOTE_NAMES
        or not _QUOTE_CLASSES.isdisjoint(
            attributes.get("class", "")[:MAX_NAME_CHARS].lower().split()
        )
        or _is_quote_bar(borders)
    )
