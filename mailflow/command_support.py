"""What every `siegel` subcommand shares: exit codes, JSON output, paging, argument errors,
the parser's plumbing.

The exit codes of every command are the constants below, and only these (README,
"Exit codes", lists them with their meaning). They follow sysexits(3) where a caller
reads them (an MTA running `siegel ingest`), 2 for bad arguments and configuration
as argparse and the shell do, and 128+13 for a closed output pipe as a shell does.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import re
import sys
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import Select, func, select
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from mailflow.config import Config
from mailflow.db import utcnow
from mediation import addresses
from mediation.outgoing import CONTROLS_BUT_LINE_BREAK

EX_OK = 0
"""Done."""
EX_FAILED = 1
"""The command ran and found a problem: no such mail, case or merchant; a sweep with
failed deadlines; a refused requeue."""
EX_USAGE = 2
"""Bad arguments (an unknown option, an unknown filter value, a malformed time) or a
bad configuration; nothing was done."""
EX_DATAERR = 65
"""Bad input data: `ingest` of an empty or oversize mail, `classify --jsonl` lines that
cannot be classified."""
EX_NOINPUT = 66
"""An input file that cannot be read."""
EX_NOUSER = 67
"""`ingest`: no recipient of ours."""
EX_UNAVAILABLE = 69
"""`serve`, `intake`: the SMTP/LMTP (or web) port is in use or may not be bound."""
EX_TEMPFAIL = 75
"""Try again later: `ingest` on any failure that may pass; any command whose data
directory cannot be prepared."""
EX_PIPE = 128 + 13
"""The reader of our output went away (`siegel mails | head`): quiet, as a shell
reports a process ended by SIGPIPE."""

DEFAULT_PAGE = 100
"""Rows a list command prints as a table when no --limit is given."""

Handler = Callable[[argparse.Namespace, Config], int]


class UsageError(Exception):
    """A bad argument: printed as one line, exit status 2."""


def moment_option(text: str | None, config: Config, option: str = "--at") -> datetime:
    """A time option (`--at`): ISO 8601; without an offset, the operator's local time
    (`[siegel] timezone`), as the text output shows times (`local_time`); not given: now."""
    if text is None:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected an ISO time, e.g. 2026-03-04T10:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(config.siegel.timezone))
    return moment


def local_time(moment: datetime | str | None, config: Config) -> str:
    """A moment in a command's text output: the operator's local time to the minute with
    its zone ("2026-12-08 13:00 CET"), which `moment_option` reads back (JSON output keeps
    ISO 8601 in UTC with its offset)."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(zoneinfo.ZoneInfo(config.siegel.timezone))
    return local.strftime("%Y-%m-%d %H:%M %Z")


_MAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def person_address(value: str, option: str, domain: str) -> str:
    """`value` lower-cased, checked to be a person's mailbox: a mail address, and none
    of the service's own at `domain` (mail to those comes back into our intake)."""
    address = value.strip().lower()
    if not _MAIL_ADDRESS.match(address):
        raise UsageError(f"{option} {value!r}: not a mail address")
    if addresses.in_scheme(domain, address):
        raise UsageError(
            f"{option} {address}: one of the service's own addresses at {domain}; "
            "name a person's mailbox"
        )
    return address


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def one_of(option: str, value: str | None, valid: Sequence[str], listing: str = "") -> None:
    """Refuse a filter `value` that is none of `valid` (UsageError naming them all)."""
    if value is None or value in valid:
        return
    shown = ", ".join(valid[:20]) + (f" and {len(valid) - 20} more" if len(valid) > 20 else "")
    hint = f" (see `{listing}`)" if listing else ""
    if not valid:
        raise UsageError(f"{option} {value!r}: unknown; there are none yet{hint}")
    raise UsageError(f"{option} {value!r}: unknown; one of {shown}{hint}")


# ------------------------------------------------------------------ paging


def add_paging(parser: argparse.ArgumentParser) -> None:
    """--json, --limit and --offset of a list command (see `Page`)."""
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--limit",
        type=whole_number(1),
        help=f"at most N rows (default: all in JSON, {DEFAULT_PAGE} in the table)",
    )
    parser.add_argument(
        "--offset", type=whole_number(0), default=None, help="skip the first N rows"
    )


MAX_WHOLE_NUMBER = 2**63 - 1
"""The largest number a command takes: what a database's 64-bit integer holds (SQLite
cannot even compare with a larger one)."""


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse `type`: a whole number of at least `minimum`, at most
    `MAX_WHOLE_NUMBER`."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{number} is less than {minimum}")
        if number > MAX_WHOLE_NUMBER:
            raise argparse.ArgumentTypeError(f"{number} is larger than {MAX_WHOLE_NUMBER}")
        return number

    return parse


@dataclass(frozen=True)
class Page:
    """Which rows of a listing to show.

    `--json` without --limit and --offset prints every row, as a JSON array; with
    either it prints one page as ``{"total", "offset", "limit", "items"}``. The table
    shows `DEFAULT_PAGE` rows unless --limit says otherwise, and says on stderr how
    many more there are: a listing never stops silently.
    """

    limit: int | None
    offset: int
    as_json: bool
    paged: bool

    @classmethod
    def of(cls, args: argparse.Namespace) -> Page:
        as_json = bool(getattr(args, "json", False))
        limit, offset = getattr(args, "limit", None), getattr(args, "offset", None)
        paged = limit is not None or offset is not None
        if limit is None and not as_json:
            limit = DEFAULT_PAGE
        return cls(limit, offset or 0, as_json, paged)

    def query(self, session: Session, query: Select) -> tuple[Select, int]:
        """`query` cut to this page, and the number of rows of the whole `query`."""
        counted = select(func.count()).select_from(query.order_by(None).subquery())
        total = session.scalar(counted) or 0
        return query.offset(self.offset).limit(self.limit), total

    def rows(self, rows: Sequence[Any]) -> tuple[list[Any], int]:
        """This page of rows listed in full already, and their number."""
        end = None if self.limit is None else self.offset + self.limit
        return list(rows[self.offset : end]), len(rows)

    def show(
        self,
        command: str,
        items: Sequence[Any],
        total: int,
        table: Callable[[Sequence[Any]], None],
    ) -> int:
        """Print `items` (this page of `total` rows) as JSON or with `table`."""
        if self.as_json:
            if self.paged:
                print_json(
                    {"total": total, "offset": self.offset, "limit": self.limit, "items": items}
                )
            else:
                print_json(list(items))
            return EX_OK
        if items:
            table(items)
        else:
            print("(none)" if not total else f"(none at offset {self.offset})")
        if self.offset + len(items) < total:
            shown = f"{self.offset + 1}-{self.offset + len(items)}" if items else "none"
            sys.stdout.flush()
            print(
                f"siegel {command}: rows {shown} of {total} shown; "
                f"--offset {self.offset + len(items)} for the next, --limit N for more",
                file=sys.stderr,
            )
        return EX_OK


# ------------------------------------------------------------------ commands


def cannot_listen(
    command: str, what: str, address: tuple[str, int], key: str, error: OSError
) -> int:
    """One line for a listening port that cannot be bound (in use, or privileged), with
    the key that moves it; returns `EX_UNAVAILABLE`. For any server command (`serve`,
    `intake`, a web server)."""
    host, port = address
    reason = error.strerror or str(error)
    if error.errno == errno.EADDRINUSE:
        hint = f"another process listens there (`ss -ltnp 'sport = :{port}'`): stop it or set {key}"
    elif error.errno == errno.EACCES:
        hint = f"ports below 1024 need privileges: choose another with {key}"
    else:
        hint = f"check {key} and the host's addresses"
    print(
        f"siegel {command}: cannot listen for {what} on {host}:{port}: {reason.lower()}; {hint}",
        file=sys.stderr,
    )
    return EX_UNAVAILABLE


LISTEN_ERRORS = frozenset({errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL})
"""The errors of binding a listening socket that `cannot_listen` reports."""


def guarded(handler: Handler) -> Handler:
    """`handler` with argument errors (exit 2) and unknown names (exit 1) as one line."""

    def run(args: argparse.Namespace, config: Config) -> int:
        try:
            return handler(args, config)
        except UsageError as error:
            print(f"siegel {command_name(args)}: {error}", file=sys.stderr)
            return EX_USAGE
        except LookupError as error:
            print(f"siegel {command_name(args)}: {error.args[0]}", file=sys.stderr)
            return EX_FAILED

    return run


def command_name(args: argparse.Namespace) -> str:
    """The command as typed, with its verb: `merchant show`, `outbox show`, `mails`."""
    verb = getattr(args, "verb", None) or getattr(args, "action", None)
    return f"{args.command} {verb}" if verb else args.command


def add_command(
    parent: Any, name: str, handler: Handler, help_text: str, *, guard: bool = True
) -> argparse.ArgumentParser:
    """A sub-command of `parent` (a sub-parsers action) running `handler`, `guarded`
    unless `guard` is False (`siegel ingest` maps every error to its own exit code)."""
    sub = parent.add_parser(name, help=help_text, description=help_text)
    sub.set_defaults(handler=guarded(handler) if guard else handler)
    return sub


_UNPRINTABLE = re.compile(f"[{CONTROLS_BUT_LINE_BREAK}]")


class PrintableText(io.TextIOBase):
    """A text stream that writes control characters as ``\\xNN`` (a CR LF as LF) to the
    stream it wraps; bytes written to its `buffer` pass as they are (``--raw``)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        shown = text.replace("\r\n", "\n")
        self._stream.write(_UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", shown))
        return len(text)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def buffer(self) -> Any:
        return self._stream.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")


@contextlib.contextmanager
def printable_output() -> Iterator[None]:
    """sys.stdout and sys.stderr as `PrintableText` for the duration."""
    output, errors = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = PrintableText(output), PrintableText(errors)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = output, errors


def write_raw(data: bytes) -> None:
    """A mail's bytes as they are (`--raw`) into a pipe or a file; on a terminal as text
    through `PrintableText`, so that a mail's escape sequences cannot drive it."""
    if sys.stdout.isatty():
        sys.stdout.write(data.decode("utf-8", "replace"))
    else:
        sys.stdout.buffer.write(data)


# ------------------------------------------------------------------ parsing the command line


def options_anywhere(parser: argparse.ArgumentParser) -> None:
    """Let `--config` and `-v` stand after the command too (`siegel mails --config X`):
    every sub-command takes them, and a value given there wins."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for sub in dict.fromkeys(action.choices.values()):
            known = sub._option_string_actions
            if "--config" not in known:
                sub.add_argument(
                    "--config", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS
                )
            if "-v" not in known and "--verbose" not in known:
                sub.add_argument(
                    "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                    help=argparse.SUPPRESS,
                )  # fmt: skip
            options_anywhere(sub)


class ArgumentsRefused(Exception):
    """The arguments as typed cannot be parsed (`Parser.error`)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser, self.message = parser, message


class Parser(argparse.ArgumentParser):
    """A parser (and, by argparse's default, its subparsers) whose errors the caller reports."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentsRefused(self, message)


def siegel_parser(description: str = "") -> tuple[Parser, argparse._SubParsersAction]:
    """The `siegel` parser with its global options, and the sub-parsers action that each
    command adds itself to (`add_command`); `options_anywhere` once they all have."""
    parser = Parser(prog="siegel", description=description or None)
    parser.add_argument(
        "--config", type=Path, help="configuration file (default: $SIEGEL_CONFIG or ./config.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser, parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv` (after the global options), found without argparse."""
    tokens = iter(argv)
    for token in tokens:
        if len(token) > 2 and "--config".startswith(token):
            next(tokens, None)
        elif not token.startswith("-"):
            return token
    return None


def one_line(error: BaseException) -> str:
    """The error's kind and message on one line, for an MTA's log and bounce text."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    kind = type(cause).__name__
    if type(cause).__module__ not in ("builtins", __name__):
        kind = f"{type(cause).__module__.partition('.')[0]}.{kind}"
    message = " ".join(str(cause).split())[:400]
    return f"{message} ({kind})" if message else kind
