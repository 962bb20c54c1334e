"""Exact-match benchmark of reply readers on the same mails: ours (`extract_reply`),
mail-parser-reply (when installed) and a talon-style baseline written here.

    .venv/bin/python bench/replies.py [--misses]

Corpora, each with the expectations it ships:
- `ours`: tests/replies/ (raw mails, read as production reads them; expected new text);
- `talon-text`: talon's plain-text pairs (expected: the text above the quote, signature
  included, as talon defines its reply);
- `talon-clients`: talon's client fixtures (12 plain-text replies; 9 HTML replies compared
  without whitespace, as talon's own tests do);
- `email_reply_parser`: its exact expectations (visible reply without signature).

Each reader is asked for what the corpus calls the reply: the new text without the
signature for `ours` and `email_reply_parser` (ours: `new_text`; mail-parser-reply: the
latest reply's `body`), the text with its signature for talon's sets (ours: `authored`;
mail-parser-reply: `content`). Both sides are compared after the same normalisation (line
ends, trailing spaces, blank lines at both ends). mail-parser-reply and the baseline read
text only: they get the text part, or for an HTML-only mail parsing's text of it.

The talon-style baseline is the classic approach in a few lines: mark each line as a quote
('>'), a splitter (English and German "On ... wrote:" / "Am ... schrieb", a "From:"/"Von:"
block, "-----Original Message-----") or text, and keep the text above the first splitter
or above the quote block that ends the mail.
"""

from __future__ import annotations

import argparse
import email
import json
import quopri
import re
import sys
from collections.abc import Callable
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier.html_text import readable_text  # noqa: E402
from classifier.replies import extract_reply  # noqa: E402
from mailflow import casework, parsing  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"
OURS = ROOT / "tests" / "replies"

# One case: the text part, the HTML part, the expected reply, whether the expectation
# includes the signature, and whether it is compared without any whitespace.
Case = tuple[str, str | None, str, bool, bool]
Reader = Callable[[str, str | None, bool], str]


def normalised(text: str, no_whitespace: bool = False) -> str:
    if no_whitespace:
        return re.sub(r"\s", "", text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


# -- corpora ----------------------------------------------------------------------------


def ours() -> list[Case]:
    cases = []
    for path in sorted(OURS.glob("*.eml")):
        text, html = casework.reply_parts(parsing.parse(path.read_bytes()))
        expected = path.with_suffix(".expected").read_text(encoding="utf-8")
        cases.append((text, html, expected, False, False))
    return cases


def talon_text() -> list[Case]:
    folder = CORPORA / "talon"
    if not folder.is_dir():
        return []
    pairs = json.loads((folder / "expected_text_quotations.json").read_text())["pairs"]
    return [(pair["input"], None, pair["expected_reply"], True, False) for pair in pairs]


def talon_clients() -> list[Case]:
    folder = CORPORA / "talon"
    if not folder.is_dir():
        return []
    expected = json.loads((folder / "expected_fixtures.json").read_text())
    cases: list[Case] = []
    for name, reply in expected["standard_replies"].items():
        raw = (folder / "fixtures" / "standard_replies" / name).read_bytes()
        message = email.message_from_bytes(raw, policy=policy.default)
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        cases.append((text, None, reply, True, False))
    for name, reply in expected["html_replies_whitespace_insensitive"].items():
        html = (folder / "fixtures" / "html_replies" / name).read_text(errors="replace")
        cases.append(("", html, reply, True, True))
    return cases


def email_reply_parser() -> list[Case]:
    folder = CORPORA / "email_reply_parser"
    if not folder.is_dir():
        return []
    expected = json.loads((folder / "expected.json").read_text())
    cases: list[Case] = []
    for subfolder in ("emails", "emails_pr80_multilang"):
        for name, expectation in expected[subfolder].items():
            reply = expectation.get("exact", expectation.get("top_exact"))
            if reply is None:
                continue
            raw = (folder / subfolder / name).read_bytes()
            if subfolder == "emails_pr80_multilang":
                raw = quopri.decodestring(raw)  # raw quoted-printable bodies
            cases.append((raw.decode("utf-8"), None, reply, False, False))
    return cases


CORPUS_SETS: dict[str, Callable[[], list[Case]]] = {
    "ours": ours,
    "talon-text": talon_text,
    "talon-clients": talon_clients,
    "email_reply_parser": email_reply_parser,
}


# -- readers ----------------------------------------------------------------------------


def read_ours(text: str, html: str | None, with_signature: bool) -> str:
    reply = extract_reply(text, html)
    return reply.authored if with_signature else reply.new_text


def _text_of(text: str, html: str | None) -> str:
    """What a text-only reader gets: the text part, or parsing's text of the HTML."""
    if text.strip() or html is None:
        return text
    return readable_text(html)


def mail_parser_reply() -> Reader | None:
    try:
        from mailparser_reply import EmailReplyParser
        from mailparser_reply.constants import MAIL_LANGUAGES
    except ImportError:
        return None
    parser = EmailReplyParser(languages=list(MAIL_LANGUAGES))

    def read(text: str, html: str | None, with_signature: bool) -> str:
        replies = parser.read(_text_of(text, html)).replies
        if not replies:
            return ""
        return replies[0].content if with_signature else replies[0].body

    return read


_BASELINE_SPLITTERS = re.compile(
    r"^\s*(?:on\s.{1,200}\swrote:|am\s.{1,200}\sschrieb\s.{0,200}:|-+\s*original message\s*-+"
    r"|-+\s*ursprüngliche nachricht\s*-+|(?:from|von):\s.*)\s*$",
    re.IGNORECASE,
)


def read_baseline(text: str, html: str | None, with_signature: bool) -> str:
    lines = _text_of(text, html).replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if _BASELINE_SPLITTERS.match(line):
            return "\n".join(lines[:index])
    end = len(lines)
    while end and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    return "\n".join(lines[:end])


# -- report -----------------------------------------------------------------------------


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument(
        "--misses", action="store_true", help="list our misses, and whether another reader hit"
    )
    options = arguments.parse_args()
    readers: dict[str, Reader | None] = {
        "ours": read_ours,
        "mail-parser-reply": mail_parser_reply(),
        "talon-style baseline": read_baseline,
    }
    header = f"{'corpus':<20}{'cases':>6}" + "".join(f"{name:>24}" for name in readers)
    print(header)
    print("-" * len(header))
    totals = dict.fromkeys(readers, 0)
    count = 0
    for corpus, load in CORPUS_SETS.items():
        cases = load()
        if not cases:
            print(f"{corpus:<20}{'absent':>6}")
            continue
        count += len(cases)
        row = f"{corpus:<20}{len(cases):>6}"
        for name, reader in readers.items():
            if reader is None:
                row += f"{'not installed':>24}"
                continue
            matched = 0
            for index, (text, html, expected, with_signature, no_space) in enumerate(cases):
                got = reader(text, html, with_signature)
                hit = normalised(got, no_space) == normalised(expected, no_space)
                matched += hit
                if not hit and name == "ours" and options.misses:
                    others = [
                        other
                        for other, read in readers.items()
                        if read is not None
                        and other != name
                        and normalised(read(text, html, with_signature), no_space)
                        == normalised(expected, no_space)
                    ]
                    print(f"  miss {corpus}[{index}] (hit by: {', '.join(others) or 'none'}):")
                    print(f"    got {got[:90]!r}\n    not {expected[:90]!r}")
            totals[name] += matched
            row += f"{f'{matched} = {matched / len(cases):.1%}':>24}"
        print(row)
    print("-" * len(header))
    print(
        f"{'all':<20}{count:>6}"
        + "".join(
            f"{f'{totals[name]} = {totals[name] / count:.1%}' if reader else '-':>24}"
            for name, reader in readers.items()
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
