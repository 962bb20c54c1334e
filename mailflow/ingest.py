"""`siegel ingest`: mail files (or stdin) stored as received mail, as an MTA delivers.

The MTA reads only the exit status (`mailflow.cli` lists them): 0 stored, 65 bad data,
66 no input file, 67 unknown recipient, and 75 for whatever may pass later (a bad
configuration or bad arguments included), so that the MTA keeps the mail. A pipe
transport starts one process per mail, so this module is parsed and run without the
rest of the command line (`mailflow.commands`): it loads what storing needs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path

from sqlalchemy import Engine

from mailflow import config as config_module
from mailflow import logs, spool
from mailflow.command_support import (
    EX_DATAERR,
    EX_NOINPUT,
    EX_NOUSER,
    EX_OK,
    EX_TEMPFAIL,
    ArgumentsRefused,
    add_command,
    one_line,
    options_anywhere,
    siegel_parser,
)
from mailflow.config import Config, ConfigError
from mailflow.schema import open_database
from mediation import addresses

log = logging.getLogger("mailflow.intake")


def register(commands: argparse._SubParsersAction) -> None:
    """`ingest` and its arguments, under `commands` (the sub-commands of a `siegel` parser)."""
    ingest = add_command(
        commands, "ingest", cmd_ingest, "store mail files (or stdin) as received mail", guard=False
    )
    ingest.add_argument("files", nargs="*", metavar="FILE", help="mail files; - or none: stdin")
    ingest.add_argument("-f", "--sender", help="envelope sender (as an MTA passes it)")
    ingest.add_argument(
        "-r", "--recipient", action="append", help="envelope recipient (repeatable)"
    )


def main(arguments: Sequence[str]) -> int:
    """`siegel ARGUMENTS` naming `ingest`: whatever may pass later is 75, never a bounce."""
    parser, commands = siegel_parser()
    register(commands)
    options_anywhere(parser)
    try:
        args = parser.parse_args(arguments)
    except ArgumentsRefused as refused:
        # A wrong pipe command in the MTA's configuration: keep the mail queued.
        return _ingest_failed(f"bad arguments: {refused.message}")
    logs.configure(args.verbose)  # stderr, rate-limited, address tokens redacted
    try:
        config = config_module.ensure_secret(config_module.load(args.config))
    except ConfigError as error:
        return _ingest_failed(f"configuration error: {error}", error)
    except OSError as error:
        return _ingest_failed(f"cannot prepare data directory: {one_line(error)}", error)
    except Exception as error:
        return _ingest_failed(f"cannot start: {one_line(error)}", error)
    try:
        return args.handler(args, config)
    except Exception as error:
        # Busy, locked, corrupt, missing or unreachable database, unknown driver, a bug:
        # nothing here proves that the mail can never be stored.
        return _ingest_failed(f"not stored: {one_line(error)}", error)


def _recipients_from_headers(raw: bytes, config: Config) -> list[str]:
    """Our valid addresses among Delivered-To, X-Original-To, To and Cc (a pipe without -r)."""
    headers = BytesHeaderParser().parsebytes(raw)
    found = []
    for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
        for _, address in getaddresses([str(v) for v in headers.get_all(name, [])]):
            try:
                addresses.parse_recipient(config.secret_bytes, config.siegel.domain, address)
            except addresses.AddressError:
                continue
            found.append(address)
    return list(dict.fromkeys(found))


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    """Store each input; the exit status is the worst outcome (75 at once, see `main`)."""
    sources = args.files or ["-"]
    engine = None
    status = EX_OK
    batch: list[tuple[str, spool.Arrival]] = []
    for name in sources:
        if name == "-":
            # A failing pipe from the MTA is not bad data: OSError is left to `main` (75).
            raw = sys.stdin.buffer.read()
        else:
            try:
                raw = Path(name).read_bytes()
            except OSError as error:
                print(f"siegel ingest: {name}: cannot read: {error.strerror}", file=sys.stderr)
                status = max(status, EX_NOINPUT)
                continue
        if not raw.strip():
            print(f"siegel ingest: {name}: empty input, not a mail", file=sys.stderr)
            status = max(status, EX_DATAERR)
            continue
        if len(raw) > config.smtp.max_message_bytes:
            # Permanent, as SMTP's 552 for the same mail: a retry would be refused again.
            print(
                f"siegel ingest: {name}: {len(raw)} bytes exceeds max_message_bytes "
                f"{config.smtp.max_message_bytes}",
                file=sys.stderr,
            )
            status = max(status, EX_DATAERR)
            continue
        recipients = args.recipient or _recipients_from_headers(raw, config)
        refused = []
        for address in recipients:
            try:
                addresses.parse_recipient(config.secret_bytes, config.siegel.domain, address)
            except addresses.AddressError as error:
                refused.append(f"{addresses.redact(address)} ({error})")
        if refused or not recipients:
            reason = ", ".join(refused) or f"no recipient at {config.siegel.domain}"
            print(f"siegel ingest: {name}: unknown recipient: {reason}", file=sys.stderr)
            status = max(status, EX_NOUSER)
            continue
        arrival = spool.Arrival(
            raw=raw,
            envelope_from=args.sender,
            envelope_to=tuple(recipients),
            source="file stdin" if name == "-" else f"file {Path(name).name}",
        )
        batch.append((name, arrival))
        if (
            len(batch) >= INGEST_BATCH_FILES
            or sum(len(a.raw) for _, a in batch) > INGEST_BATCH_BYTES
        ):
            engine = _store_batch(engine or open_database(config.database_url), batch)
    if batch:
        _store_batch(engine or open_database(config.database_url), batch)
    return status


INGEST_BATCH_FILES = 200
INGEST_BATCH_BYTES = 20_000_000
"""Files that `siegel ingest` stores in one transaction: each is reported stored only
after that commit, and a failure leaves the whole batch to be tried again."""


def _store_batch(engine: Engine, batch: list[tuple[str, spool.Arrival]]) -> Engine:
    stored = spool.store(engine, [arrival for _, arrival in batch])
    for (name, _), result in zip(batch, stored, strict=True):
        word = "already stored" if result.duplicate else "stored"
        print(f"{name}: {word} as mail {result.mail_id}")
    batch.clear()
    return engine


def _ingest_failed(problem: str, error: BaseException | None = None) -> int:
    """One line, no traceback (it is logged at debug level, `siegel -v`), exit 75."""
    if error is not None:
        log.debug("ingest failed", exc_info=error)
    print(f"siegel ingest: {problem}; temporary failure, the MTA will retry", file=sys.stderr)
    return EX_TEMPFAIL
