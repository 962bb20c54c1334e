"""Mediator commands: the ``#`` lines of a mediator's reply, in German and English.

`parse(own_text)` reads only what the mediator wrote (the reply reader's own text,
without quotes, answered quotes, hidden text and signature; as a second guard, reading
stops at the first ``>`` quoted line), so a quoted ``#abschluss`` never closes a case.
A line starting with ``#`` and a word is a command:

- ``#vorschlag`` / ``#proposal`` + text: a settlement proposal;
- ``#frist N`` / ``#extend N``: extend the current deadline by N business days;
- ``#notiz`` / ``#note`` + text: an internal note, sent to nobody;
- ``#abschluss gelöst|ungelöst`` / ``#close resolved|unresolved``: close the case.

The text of a proposal or note is the rest of its line and the lines after it, up to
the next blank line or command (a mediator's "Dear both, ..." and signature after it
are the message, not the proposal). Every other line is the message to both parties;
the blank lines around a removed command are one. The result lists the events in the
order they apply: the message first, then the commands as written.
A line like ``#12345`` (an order number) is text, not a command.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from mediation.events import (
    DeadlineExtended,
    MediationClosed,
    MediatorMessaged,
    MediatorNoted,
    ProposalMade,
)

MediatorEvent = MediatorMessaged | ProposalMade | DeadlineExtended | MediatorNoted | MediationClosed

_COMMAND_LINE = re.compile(r"^\s*#(?P<word>[^\W\d_][\w-]*)(?P<rest>.*)$")
_QUOTED_LINE = re.compile(r"^\s*>")
MAX_EXTENSION_DAYS = 365


class Command(enum.StrEnum):
    PROPOSAL = "proposal"
    EXTEND = "extend"
    NOTE = "note"
    CLOSE = "close"


WORDS: dict[str, Command] = {
    "vorschlag": Command.PROPOSAL,
    "proposal": Command.PROPOSAL,
    "frist": Command.EXTEND,
    "extend": Command.EXTEND,
    "notiz": Command.NOTE,
    "note": Command.NOTE,
    "abschluss": Command.CLOSE,
    "close": Command.CLOSE,
}

OUTCOMES: dict[str, bool] = {
    "gelöst": True,
    "geloest": True,
    "resolved": True,
    "ungelöst": False,
    "ungeloest": False,
    "unresolved": False,
}


class ProblemCode(enum.StrEnum):
    UNKNOWN_COMMAND = "unknown-command"
    MISSING_TEXT = "missing-text"
    BAD_DAYS = "bad-days"
    BAD_OUTCOME = "bad-outcome"
    NOT_POSSIBLE = "not-possible"  # understood, but the case's state does not allow it


@dataclass(frozen=True)
class Problem:
    """A command line that could not be understood; the mediator is told."""

    code: ProblemCode
    line: str


@dataclass(frozen=True)
class Instructions:
    """What a mediator's reply asks for."""

    events: tuple[MediatorEvent, ...]
    problems: tuple[Problem, ...]

    @property
    def message(self) -> str:
        found = [e.text for e in self.events if isinstance(e, MediatorMessaged)]
        return found[0] if found else ""


@dataclass
class _Open:
    """A proposal or note being collected, line by line."""

    command: Command
    line: str
    lines: list[str]


def parse(own_text: str) -> Instructions:
    """The mediator's events and problems in the new part of a reply."""
    message: list[str | None] = []  # None: a command stood here
    commands: list[MediatorEvent] = []
    problems: list[Problem] = []
    collecting: _Open | None = None

    def finish() -> None:
        nonlocal collecting
        if collecting is None:
            return
        text = "\n".join(collecting.lines).strip()
        if not text:
            problems.append(Problem(ProblemCode.MISSING_TEXT, collecting.line))
        elif collecting.command is Command.PROPOSAL:
            commands.append(ProposalMade(text))
        else:
            commands.append(MediatorNoted(text))
        collecting = None

    for line in own_text.splitlines():
        if _QUOTED_LINE.match(line):
            break
        match = _COMMAND_LINE.match(line)
        if match is None:
            if collecting is not None and not line.strip() and any(collecting.lines):
                finish()  # a blank line ends the proposal or note: the rest is the message
            (collecting.lines if collecting else message).append(line)
            continue
        finish()
        message.append(None)
        word, rest = match["word"].casefold(), match["rest"].strip(" \t:")
        command = WORDS.get(word)
        if command is None:
            problems.append(Problem(ProblemCode.UNKNOWN_COMMAND, line.strip()))
        elif command in (Command.PROPOSAL, Command.NOTE):
            collecting = _Open(command, line.strip(), [rest] if rest else [])
        elif command is Command.EXTEND:
            days = rest.split()[0] if rest.split() else ""
            if days.isdecimal() and 1 <= int(days) <= MAX_EXTENSION_DAYS:
                commands.append(DeadlineExtended(int(days)))
            else:
                problems.append(Problem(ProblemCode.BAD_DAYS, line.strip()))
        else:
            outcome = OUTCOMES.get(rest.casefold().rstrip(".!"))
            if outcome is None:
                problems.append(Problem(ProblemCode.BAD_OUTCOME, line.strip()))
            else:
                commands.append(MediationClosed(resolved=outcome))
    finish()
    text = _closed_up(message)
    events: list[MediatorEvent] = [MediatorMessaged(text)] if text else []
    return Instructions(tuple(events + commands), tuple(problems))


def _closed_up(lines: list[str | None]) -> str:
    """The message's lines without the commands (None): where removing one leaves two
    runs of blank lines together, one blank line (the mediator's own stay as written)."""
    kept: list[str] = []
    removed = False  # a command since the last kept line
    for line in lines:
        if line is None:
            removed = True
        elif removed and not line.strip() and kept and not kept[-1].strip():
            continue
        else:
            kept.append(line)
            removed = False
    return "\n".join(kept).strip()
