"""What an element's style draws, as far as reading a mail's text needs it.

Owns the reading of inline style and `<style>` sheets for the HTML-to-text converter
(`html_text`): the sides on which a border is drawn (`drawn_borders`, for the quote bars
of `html_quotes`), and whether the text inside an element shows (`view_of`, a `View` per
open element, inherited as in CSS). Text is not shown when inline style or a sheet hides
it (`display:none`, `visibility:hidden`, `opacity:0`, a font under 3 px, a box of no
height or width that hides its overflow, `mso-hide:all`, `content-visibility:hidden`, a
zero clip, an offset or indent far off the page, a zero scale), when the `hidden`
attribute or a closed `<details>` hides it, and when its colour cannot be told from the
background it is drawn on (white or transparent text on the default white, black on
black; white text on a dark background that the mail paints itself is shown).

A sheet is read once, up to MAX_SHEET_CHARS, and indexed by the one class, id or tag its
selectors end with, so that looking an element up costs the same for any sheet.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Class, id and name values that clients write are short; a longer one is cut before it
# is searched, which bounds the work per tag.
MAX_NAME_CHARS = 200


# -- borders -------------------------------------------------------------------------

_SIDES = ("top", "right", "bottom", "left")
_BORDER_STYLES = frozenset(
    {"none", "hidden", "solid", "dotted", "dashed", "double", "groove", "ridge", "inset",
     "outset"}
)  # fmt: skip
_ZERO_WIDTH = re.compile(r"0+(?:\.0*)?(?:[a-z]+|%)?")
_WIDTH = re.compile(r"(?:\d*\.?\d+)(?:[a-z]+|%)?|thin|medium|thick")
# Which of the 1-4 values of a box shorthand ("border-width: 0 0 0 2px") sets each side.
_BOX_INDEX = {
    1: (0, 0, 0, 0),
    2: (0, 1, 0, 1),
    3: (0, 1, 2, 1),
    4: (0, 1, 2, 3),
}


def declarations(style: str) -> list[tuple[str, str]]:
    """The (property, value) pairs of an inline style, in order, lower case."""
    pairs = []
    for declaration in style.lower().split(";"):
        name, colon, value = declaration.partition(":")
        if colon:
            pairs.append((name.strip(), value.replace("!important", "").strip()))
    return pairs


def drawn_borders(style: str) -> frozenset[str]:
    """The sides ("top", "right", "bottom", "left") on which an inline style draws a
    border. Later declarations win, as in CSS; a shorthand without a style draws none
    (CSS resets it), and a width given alone is taken as drawn, since a quote bar is what
    it is meant for. Logical `border-inline-start` is taken as the left side."""
    sides: dict[str, dict[str, str | None]] = {
        side: {"style": None, "width": None} for side in _SIDES
    }
    for name, value in declarations(style):
        name = name.replace("inline-start", "left").replace("inline-end", "right")
        parts = name.split("-")
        if parts[0] != "border" or len(parts) > 3:
            continue
        tokens = value.split()
        if len(parts) == 1:  # border: 1px solid #ccc
            for side in _SIDES:
                sides[side] = _shorthand(tokens)
        elif parts[1] in _SIDES and len(parts) == 2:  # border-left: 1px solid #ccc
            sides[parts[1]] = _shorthand(tokens)
        elif parts[1] in _SIDES and parts[2] in ("style", "width"):  # border-left-style
            sides[parts[1]][parts[2]] = tokens[0] if tokens else None
        elif parts[1] in ("style", "width") and len(parts) == 2 and 1 <= len(tokens) <= 4:
            for side, index in zip(_SIDES, _BOX_INDEX[len(tokens)], strict=True):
                sides[side][parts[1]] = tokens[index]
    return frozenset(side for side, box in sides.items() if _is_drawn(box["style"], box["width"]))


def _shorthand(tokens: list[str]) -> dict[str, str | None]:
    style = next((token for token in tokens if token in _BORDER_STYLES), "none")
    width = next((token for token in tokens if _WIDTH.fullmatch(token)), None)
    return {"style": style, "width": width}


def _is_drawn(style: str | None, width: str | None) -> bool:
    if style in ("none", "hidden"):
        return False
    if width is not None and _ZERO_WIDTH.fullmatch(width):
        return False
    return style is not None or width is not None


# -- visibility ----------------------------------------------------------------------

Rgb = tuple[float, float, float]
_WHITE: Rgb = (255.0, 255.0, 255.0)
_BLACK: Rgb = (0.0, 0.0, 0.0)
_LINK_BLUE: Rgb = (0.0, 0.0, 238.0)  # a link's colour unless the mail sets one
# Text whose colour differs from its background by less than this contrast ratio (WCAG's
# measure, 1 to 21) cannot be read: white on white is 1, #eeeeee on white 1.16, yellow on
# white 1.07; the light grey of a signature (#999999) is 2.8 and stays text.
MIN_CONTRAST = 1.2
# Text smaller than this many CSS pixels is a dot, not text (1 px and 2 pt are hidden).
MIN_FONT_PX = 3.0
# A box at most this small that hides its overflow shows nothing of what is in it.
MAX_HIDING_BOX_PX = 1.0
# An element moved this far off the page (left, top, margins, text indent) is not seen.
OFF_PAGE_PX = -500.0
# A `<style>` sheet is read up to this many characters; only rules of one class, one id
# or one tag are indexed, so that looking an element up costs the same for any sheet.
MAX_SHEET_CHARS = 200_000

# The CSS colour names (and the system colours Word writes), for the contrast of text
# with its background.
_NAMED_COLOURS = {
    name: tuple(float(int(value[i : i + 2], 16)) for i in (0, 2, 4))
    for name, value in re.findall(
        r"([a-z]+):([0-9a-f]{6})",
        (
            "aliceblue:f0f8ff antiquewhite:faebd7 aqua:00ffff aquamarine:7fffd4 azure:f0ffff "
            "beige:f5f5dc bisque:ffe4c4 black:000000 blanchedalmond:ffebcd blue:0000ff "
            "blueviolet:8a2be2 brown:a52a2a burlywood:deb887 cadetblue:5f9ea0 "
            "chartreuse:7fff00 chocolate:d2691e coral:ff7f50 cornflowerblue:6495ed "
            "cornsilk:fff8dc crimson:dc143c cyan:00ffff darkblue:00008b darkcyan:008b8b "
            "darkgoldenrod:b8860b darkgray:a9a9a9 darkgreen:006400 darkgrey:a9a9a9 "
            "darkkhaki:bdb76b darkmagenta:8b008b darkolivegreen:556b2f darkorange:ff8c00 "
            "darkorchid:9932cc darkred:8b0000 darksalmon:e9967a darkseagreen:8fbc8f "
            "darkslateblue:483d8b darkslategray:2f4f4f darkslategrey:2f4f4f "
            "darkturquoise:00ced1 darkviolet:9400d3 deeppink:ff1493 deepskyblue:00bfff "
            "dimgray:696969 dimgrey:696969 dodgerblue:1e90ff firebrick:b22222 "
            "floralwhite:fffaf0 forestgreen:228b22 fuchsia:ff00ff gainsboro:dcdcdc "
            "ghostwhite:f8f8ff gold:ffd700 goldenrod:daa520 gray:808080 green:008000 "
            "greenyellow:adff2f grey:808080 honeydew:f0fff0 hotpink:ff69b4 indianred:cd5c5c "
            "indigo:4b0082 ivory:fffff0 khaki:f0e68c lavender:e6e6fa lavenderblush:fff0f5 "
            "lawngreen:7cfc00 lemonchiffon:fffacd lightblue:add8e6 lightcoral:f08080 "
            "lightcyan:e0ffff lightgoldenrodyellow:fafad2 lightgray:d3d3d3 "
            "lightgreen:90ee90 lightgrey:d3d3d3 lightpink:ffb6c1 lightsalmon:ffa07a "
            "lightseagreen:20b2aa lightskyblue:87cefa lightslategray:778899 "
            "lightslategrey:778899 lightsteelblue:b0c4de lightyellow:ffffe0 lime:00ff00 "
            "limegreen:32cd32 linen:faf0e6 magenta:ff00ff maroon:800000 "
            "mediumaquamarine:66cdaa mediumblue:0000cd mediumorchid:ba55d3 "
            "mediumpurple:9370db mediumseagreen:3cb371 mediumslateblue:7b68ee "
            "mediumspringgreen:00fa9a mediumturquoise:48d1cc mediumvioletred:c71585 "
            "midnightblue:191970 mintcream:f5fffa mistyrose:ffe4e1 moccasin:ffe4b5 "
            "navajowhite:ffdead navy:000080 oldlace:fdf5e6 olive:808000 olivedrab:6b8e23 "
            "orange:ffa500 orangered:ff4500 orchid:da70d6 palegoldenrod:eee8aa "
            "palegreen:98fb98 paleturquoise:afeeee palevioletred:db7093 papayawhip:ffefd5 "
            "peachpuff:ffdab9 peru:cd853f pink:ffc0cb plum:dda0dd powderblue:b0e0e6 "
            "purple:800080 rebeccapurple:663399 red:ff0000 rosybrown:bc8f8f "
            "royalblue:4169e1 saddlebrown:8b4513 salmon:fa8072 sandybrown:f4a460 "
            "seagreen:2e8b57 seashell:fff5ee sienna:a0522d silver:c0c0c0 skyblue:87ceeb "
            "slateblue:6a5acd slategray:708090 slategrey:708090 snow:fffafa "
            "springgreen:00ff7f steelblue:4682b4 tan:d2b48c teal:008080 thistle:d8bfd8 "
            "tomato:ff6347 turquoise:40e0d0 violet:ee82ee wheat:f5deb3 white:ffffff "
            "whitesmoke:f5f5f5 yellow:ffff00 yellowgreen:9acd32 "
            "window:ffffff windowtext:000000 canvas:ffffff canvastext:000000"
        ),
    )
}
_HEX_COLOUR = re.compile(r"#?([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})")
_COLOUR_FUNCTION = re.compile(r"(rgba?|hsla?)\(([^()]*)\)")
_LENGTH = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))([a-z%]*)")
_ABSOLUTE_PX = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54,
                "mm": 96 / 25.4, "q": 96 / 101.6}  # fmt: skip
_FONT_KEYWORDS = {"xx-small": 9.0, "x-small": 10.0, "small": 13.0, "medium": 16.0,
                  "large": 18.0, "x-large": 24.0, "xx-large": 32.0, "xxx-large": 48.0}  # fmt: skip
_ZERO_SCALE = re.compile(r"scale[xyz3d]*\(\s*[+-]?0*\.?0*(?:\s*[,)])")
_ZERO_RECT = re.compile(r"rect\(\s*([^()]*)\)")
_HIDING_INSET = re.compile(r"inset\(\s*(?:50|[5-9]\d|100)(?:\.\d*)?%|circle\(\s*0")
# The style properties read for visibility; a sheet keeps no other.
_VISIBILITY_PROPERTIES = frozenset(
    {"display", "visibility", "opacity", "font-size", "font", "color",
     "-webkit-text-fill-color", "background", "background-color", "mso-hide",
     "content-visibility", "overflow", "overflow-x", "overflow-y", "height", "max-height",
     "width", "max-width", "clip", "clip-path", "left", "top", "margin", "margin-left",
     "margin-top", "text-indent", "transform"}
)  # fmt: skip
_OFFSET_PROPERTIES = frozenset(
    {"left", "top", "margin", "margin-left", "margin-top", "text-indent"}
)
_BOX_PROPERTIES = frozenset({"height", "max-height", "width", "max-width"})
_OVERFLOW_PROPERTIES = frozenset({"overflow", "overflow-x", "overflow-y"})
# Elements whose `bgcolor` attribute paints a background.
_BGCOLOR_TAGS = frozenset({"body", "table", "thead", "tbody", "tfoot", "tr", "td", "th"})
# Attributes that can change what is shown (besides style and the sheet's names).
_VIEW_ATTRIBUTES = frozenset({"hidden", "bgcolor", "color", "text"})


def _channel(text: str, scale: float = 255.0) -> float | None:
    try:
        number = float(text[:-1]) * scale / 100 if text.endswith("%") else float(text)
    except ValueError:
        return None
    return min(max(number, 0.0), scale)


def _colour(value: str, legacy: bool = False) -> tuple[Rgb, float] | None:
    """The colour and alpha that a CSS value (lower case) names, or None for one that this
    does not know (then the colour stays as it was). `legacy`: an HTML attribute, where
    "ffffff" without "#" is a colour too."""
    value = value.strip()
    if value in _NAMED_COLOURS:
        return _NAMED_COLOURS[value], 1.0  # type: ignore[return-value]
    if value == "transparent":
        return _BLACK, 0.0
    if value.startswith("#") or legacy:
        match = _HEX_COLOUR.fullmatch(value)
        if not match:
            return None
        digits = match[1]
        if len(digits) <= 4:
            digits = "".join(digit * 2 for digit in digits)
        rgb = (
            float(int(digits[0:2], 16)),
            float(int(digits[2:4], 16)),
            float(int(digits[4:6], 16)),
        )
        return rgb, int(digits[6:8], 16) / 255 if len(digits) == 8 else 1.0
    match = _COLOUR_FUNCTION.fullmatch(value)
    if not match:
        return None
    parts = [part for part in re.split(r"[\s,/]+", match[2].strip()) if part]
    if len(parts) not in (3, 4):
        return None
    alpha = _channel(parts[3], 1.0) if len(parts) == 4 else 1.0
    if match[1].startswith("rgb"):
        channels = [_channel(part) for part in parts[:3]]
        if alpha is None or None in channels:
            return None
        return (channels[0], channels[1], channels[2]), alpha  # type: ignore[return-value]
    hue = _channel(parts[0].removesuffix("deg"), 1e9)
    saturation, lightness = _channel(parts[1], 1.0), _channel(parts[2], 1.0)
    if alpha is None or hue is None or saturation is None or lightness is None:
        return None
    return _hsl(hue, saturation, lightness), alpha


def _hsl(hue: float, saturation: float, lightness: float) -> Rgb:
    def channel(n: int) -> float:
        k = (n + hue / 30) % 12
        chroma = saturation * min(lightness, 1 - lightness)
        return 255 * (lightness - chroma * max(-1.0, min(k - 3, 9 - k, 1.0)))

    return channel(0), channel(8), channel(4)


def _blend(colour: Rgb, alpha: float, below: Rgb) -> Rgb:
    return (
        colour[0] * alpha + below[0] * (1 - alpha),
        colour[1] * alpha + below[1] * (1 - alpha),
        colour[2] * alpha + below[2] * (1 - alpha),
    )


def _luminance(colour: Rgb) -> float:
    def linear(channel: float) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(colour[0]) + 0.7152 * linear(colour[1]) + 0.0722 * linear(colour[2])


def _contrast(first: Rgb, second: Rgb) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _px(value: str, font_px: float, percent_of: float | None = None) -> float | None:
    """A CSS length in pixels; None when it is none (or relative to what is unknown)."""
    match = _LENGTH.fullmatch(value.strip())
    if not match:
        return None
    number, unit = float(match[1]), match[2]
    if number == 0:
        return 0.0
    if unit in _ABSOLUTE_PX:
        return number * _ABSOLUTE_PX[unit]
    if unit == "":
        return number  # quirks mode reads a bare number as pixels
    if unit == "em":
        return number * font_px
    if unit == "rem":
        return number * 16.0
    if unit in ("ex", "ch"):
        return number * font_px / 2
    if unit == "%" and percent_of is not None:
        return number * percent_of / 100
    return None


def _font_px(value: str, parent_px: float, shorthand: bool) -> float | None:
    """The font size that a `font-size` value (or the size in a `font` shorthand) sets."""
    for token in value.split() if shorthand else [value.strip()]:
        size = token.split("/")[0]
        if size in _FONT_KEYWORDS:
            return _FONT_KEYWORDS[size]
        if size == "smaller":
            return parent_px * 5 / 6
        if size == "larger":
            return parent_px * 1.2
        if shorthand and ((size.isdigit() and size != "0") or not _LENGTH.fullmatch(size)):
            continue  # a weight ("700"), a style or a family, not the size
        return _px(size, parent_px, percent_of=parent_px)
    return None


def _background(value: str) -> tuple[Rgb, float] | None:
    """The colour of a `background` shorthand (transparent when it names none: the
    shorthand resets it; an image is not counted, mail clients block images)."""
    for token in re.findall(r"[a-z-]+\([^()]*\)|[^\s()]+", value):
        colour = _colour(token)
        if colour is not None:
            return colour
    return _BLACK, 0.0


def _hides_box(value: str, font_px: float) -> bool:
    size = _px(value.split()[0], font_px) if value.strip() else None
    return size is not None and size <= MAX_HIDING_BOX_PX


def _zero_clip(value: str) -> bool:
    match = _ZERO_RECT.search(value)
    if not match:
        return False
    sides = [_px(side, 16.0) for side in re.split(r"[\s,]+", match[1].strip()) if side]
    # rect(top, right, bottom, left): nothing shows when top meets bottom or right meets left.
    return len(sides) == 4 and None not in sides and (sides[0] >= sides[2] or sides[3] >= sides[1])  # type: ignore[operator]


def _off_page(value: str, font_px: float) -> bool:
    for token in value.split():
        offset = _px(token, font_px)
        if offset is not None and offset <= OFF_PAGE_PX:
            return True
    return False


class View(NamedTuple):
    """How the content of an element is drawn, as far as it decides whether text shows."""

    gone: bool = False  # no box at all (display:none and the like): nothing inside shows
    collapsed: bool = False  # a closed <details>: only its <summary> shows
    visible: bool = True  # `visibility`, inherited: a child may show itself again
    font_px: float = 16.0
    colour: Rgb = _BLACK
    alpha: float = 1.0
    background: Rgb = _WHITE  # what the text is drawn on: the nearest painted background
    opacity: float = 1.0
    shows_text: bool = True


def _finished(view: View) -> View:
    text = _blend(view.colour, view.alpha * view.opacity, view.background)
    shows = (
        not (view.gone or view.collapsed)
        and view.visible
        and view.font_px >= MIN_FONT_PX
        and _contrast(text, view.background) >= MIN_CONTRAST
    )
    return view._replace(shows_text=shows)


ROOT_VIEW = View()
_GONE = View(gone=True, shows_text=False)


def view_of(
    parent: View, tag: str, attributes: dict[str, str], declarations: list[tuple[str, str]]
) -> View:
    """The view of an element's content: its parent's, changed by its attributes and its
    style declarations (the sheet's first, then the inline ones, in order)."""
    if parent.gone:
        return parent
    if parent.collapsed:
        if tag != "summary":
            return _GONE
        parent = _finished(parent._replace(collapsed=False))
    if not declarations and tag not in ("a", "details") and _VIEW_ATTRIBUTES.isdisjoint(attributes):
        return parent
    colour, alpha = parent.colour, parent.alpha
    fill: tuple[Rgb, float] | None = None
    painted: tuple[Rgb, float] | None = None
    font_px, visible, opacity = parent.font_px, parent.visible, 1.0
    display: str | None = None
    gone = False
    clips: dict[str, bool] = {}
    boxes: dict[str, bool] = {}
    if tag == "a" and "href" in attributes:
        colour, alpha = _LINK_BLUE, 1.0
    if tag == "font" and (legacy := _colour(attributes.get("color", "").lower(), legacy=True)):
        colour, alpha = legacy
    if tag == "body" and (legacy := _colour(attributes.get("text", "").lower(), legacy=True)):
        colour, alpha = legacy
    if tag in _BGCOLOR_TAGS:
        painted = _colour(attributes.get("bgcolor", "").lower(), legacy=True)
    for name, value in declarations:
        if name == "display":
            display = value.split()[0] if value.split() else None
        elif name == "visibility":
            if value in ("hidden", "collapse"):
                visible = False
            elif value == "visible":
                visible = True
        elif name == "opacity":
            level = _channel(value, 1.0)
            opacity = opacity if level is None else level
        elif name in ("font-size", "font"):
            size = _font_px(value, parent.font_px, shorthand=name == "font")
            font_px = font_px if size is None else size
        elif name in ("color", "-webkit-text-fill-color"):
            if value in ("inherit", "currentcolor", "unset", "revert"):
                chosen: tuple[Rgb, float] | None = (parent.colour, parent.alpha)
            else:
                chosen = (_BLACK, 1.0) if value == "initial" else _colour(value)
            if chosen is not None and name == "color":
                colour, alpha = chosen
            elif chosen is not None:
                fill = chosen
        elif name == "background-color":
            painted = _colour(value) or painted
        elif name == "background":
            painted = _background(value)
        elif name == "mso-hide":
            gone = gone or value == "all"
        elif name == "content-visibility":
            gone = gone or value == "hidden"
        elif name in _OVERFLOW_PROPERTIES:
            clips[name] = any(word in ("hidden", "clip") for word in value.split())
        elif name in _BOX_PROPERTIES:
            boxes[name] = _hides_box(value, font_px)
        elif name == "clip":
            gone = gone or _zero_clip(value)
        elif name == "clip-path":
            gone = gone or bool(_HIDING_INSET.search(value))
        elif name in _OFFSET_PROPERTIES:
            gone = gone or _off_page(value, font_px)
        elif name == "transform":
            gone = gone or bool(_ZERO_SCALE.search(value))
    if display == "none" or (display is None and "hidden" in attributes):
        gone = True
    if any(clips.values()) and any(boxes.values()):
        gone = True
    if gone:
        return _GONE
    if fill is not None:
        colour, alpha = fill
    background = parent.background
    if painted is not None and painted[1] > 0:
        background = _blend(painted[0], painted[1], parent.background)
    collapsed = tag == "details" and "open" not in attributes
    return _finished(
        View(False, collapsed, visible, font_px, colour, alpha, background,
              parent.opacity * opacity)
    )  # fmt: skip


def _without_comments(css: str) -> str:
    """A sheet without its comments (also the "<!--" and "-->" that hide it from old
    clients), in one pass."""
    out, position = [], 0
    while (start := css.find("/*", position)) >= 0:
        out.append(css[position:start])
        end = css.find("*/", start + 2)
        position = len(css) if end < 0 else end + 2
    out.append(css[position:])
    return "".join(out).replace("<!--", " ").replace("-->", " ")


_BRACES = re.compile(r"[{}]")
_COMBINATORS = re.compile(r"\s*[>+~]\s*|\s+")
_COMPOUND = re.compile(r"([a-z][a-z0-9-]*)?((?:[.#][^\s.#>+~:\[\]()*,]+)*)")
# Declarations of a rule: (normal, important), property -> value, last one wins.
_Declarations = tuple[dict[str, str], dict[str, str]]


class Sheet:
    """The rules of the mail's `<style>` sheets that can hide text, indexed by the one
    class, id or tag their selector ends with.

    A rule of one compound selector (`.x`, `p.x`, `#x`, `p`) counts as written; a rule with
    combinators (`.a .x`) counts only when it hides on its own (no box, not visible, no
    font size): where it applies is not checked, and hiding more than a browser does only
    reads less. Rules in `@media` with a condition (a width, a colour scheme), selectors
    with pseudo-classes, attributes or several classes are not read.
    """

    def __init__(self) -> None:
        # "#id", ".class" or "tag" -> the tag the selector names ("" for any) -> declarations
        self.rules: dict[str, dict[str, _Declarations]] = {}
        self.read = 0

    def add(self, css: str) -> None:
        css = _without_comments(css[: max(0, MAX_SHEET_CHARS - self.read)])
        self.read += len(css)
        blocks: list[tuple[str, bool]] = []  # each open block's prelude, whether it applies
        start = 0
        for brace in _BRACES.finditer(css):
            chunk, start = css[start : brace.start()], brace.end()
            if brace.group() == "{":
                prelude = chunk.rsplit(";", 1)[-1].strip().lower()  # after an "@import ...;"
                applies = (not blocks or blocks[-1][1]) and _block_applies(prelude)
                blocks.append((prelude, applies))
            elif blocks:
                prelude, applies = blocks.pop()
                if applies and prelude and not prelude.startswith("@"):
                    self._rule(prelude, chunk)

    def _rule(self, prelude: str, body: str) -> None:
        normal: dict[str, str] = {}
        important: dict[str, str] = {}
        for declaration in body.lower().split(";"):
            name, colon, value = declaration.partition(":")
            name = name.strip()
            if not colon or name not in _VISIBILITY_PROPERTIES:
                continue
            target = important if "!important" in value else normal
            target.pop(name, None)
            target[name] = value.replace("!important", "").strip()
        if not normal and not important:
            return
        for selector in prelude.split(","):
            selector = selector.strip()
            if not selector or any(char in selector for char in ":[*()\\"):
                continue
            compounds = _COMBINATORS.split(selector)
            match = _COMPOUND.fullmatch(compounds[-1])
            if not match:
                continue
            tag, names = match[1] or "", re.findall(r"[.#][^.#]+", match[2])
            if len(names) > 1 or (not names and (not tag or len(compounds) > 1)):
                continue
            if len(compounds) > 1 and not _hides(tag, {**normal, **important}):
                continue
            key = names[0] if names else tag
            entry = self.rules.setdefault(key, {}).setdefault(tag if names else "", ({}, {}))
            for source, target in ((normal, entry[0]), (important, entry[1])):
                for name, value in source.items():
                    target.pop(name, None)
                    target[name] = value

    def declarations(
        self, tag: str, attributes: dict[str, str]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The sheet's declarations for an element in the order of their specificity
        (tag, class, id): the normal ones, and the important ones (which the inline
        style does not override)."""
        keys = [tag]
        keys += [
            "." + name for name in attributes.get("class", "")[:MAX_NAME_CHARS].lower().split()
        ]
        if "id" in attributes:
            keys.append("#" + attributes["id"][:MAX_NAME_CHARS].lower().strip())
        normal: list[tuple[str, str]] = []
        important: list[tuple[str, str]] = []
        for key in keys:
            for_tag = self.rules.get(key)
            if not for_tag:
                continue
            for entry in (for_tag.get(""), for_tag.get(tag) if key != tag else None):
                if entry:
                    normal += entry[0].items()
                    important += entry[1].items()
        return normal, important


def _block_applies(prelude: str) -> bool:
    """Whether the rules in a block apply on a screen: a style rule's nested rules, an
    `@media` without a condition ("all", "screen"), `@supports`, `@layer`."""
    if not prelude.startswith("@"):
        return True
    if prelude.startswith("@media"):
        query = prelude[6:]
        words = set(re.split(r"[\s,]+", query.strip())) - {""}
        return (
            "(" not in query
            and "not" not in words
            and (not words or bool(words & {"all", "screen"}))
        )
    return prelude.startswith(("@supports", "@layer"))


def _hides(tag: str, declarations: dict[str, str]) -> bool:
    view = view_of(ROOT_VIEW, tag or "div", {}, list(declarations.items()))
    return view.gone or not view.visible or view.font_px < MIN_FONT_PX
