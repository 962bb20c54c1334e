"""The `siegel` command line: the operator's whole interface besides mail.

Exit codes follow sysexits(3) where an MTA reads them (`siegel ingest`): 0 stored
(committed), 65 bad data (empty, or larger than `[smtp] max_message_bytes`, which SMTP
refuses with 552 too), 66 no input file, 67 unknown recipient; everything else that
may pass is 75, the MTA's "try again": a busy, locked, corrupt, missing or unreachable
database, an unknown database driver, an unexpected error, and for `ingest` also a bad
configuration or bad arguments, so that the MTA keeps the mail while the operator
fixes it. Each failure is one line on stderr; `-v` logs the traceback. Other commands
exit 2 for a bad configuration or bad arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from mailflow import case_commands, classifier_commands, logs, outbox, queue, seal_commands, spool
from mailflow import config as config_module
from mailflow.command_support import EX_OK, EX_USAGE, Handler, add_command, print_json
from mailflow.config import Config, ConfigError
from mailflow.db import open_database
from mailflow.models import MailStatus, StoredMail
from mediation import addresses

EX_DATAERR = 65
EX_NOINPUT = 66
EX_NOUSER = 67
EX_TEMPFAIL = 75

log = logging.getLogger("mailflow.intake")


def _engine(config: Config) -> Engine:
    return open_database(config.database_url)


# ------------------------------------------------------------------ serve


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from mailflow.service import ALL_PARTS, Part, Service  # aiosmtpd, imapclient, apscheduler

    parts = ALL_PARTS if args.command == "serve" else {Part(args.command)}
    threads = getattr(args, "threads", 1)
    if threads < 1:
        print("siegel: --threads must be at least 1", file=sys.stderr)
        return EX_USAGE
    Service(config, parts=parts, worker_threads=threads).run_until_signalled()
    return EX_OK


# ------------------------------------------------------------------ ingest


def _recipients_from_headers(raw: bytes, config: Config) -> list[str]:
    """Our valid addresses among Delivered-To, X-Original-To, To and Cc (a pipe without -r)."""
    from email.parser import BytesHeaderParser
    from email.utils import getaddresses

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
        engine = engine or _engine(config)
        [stored] = spool.store(engine, [arrival])
        word = "already stored" if stored.duplicate else "stored"
        print(f"{name}: {word} as mail {stored.mail_id}")
    return status


def _one_line(error: BaseException) -> str:
    """The error's kind and message on one line, for an MTA's log and bounce text."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    kind = type(cause).__name__
    if type(cause).__module__ not in ("builtins", __name__):
        kind = f"{type(cause).__module__.partition('.')[0]}.{kind}"
    message = " ".join(str(cause).split())[:400]
    return f"{message} ({kind})" if message else kind


def _ingest_failed(problem: str, error: BaseException | None = None) -> int:
    """One line, no traceback (it is logged at debug level, `siegel -v`), exit 75."""
    if error is not None:
        log.debug("ingest failed", exc_info=error)
    print(f"siegel ingest: {problem}; temporary failure, the MTA will retry", file=sys.stderr)
    return EX_TEMPFAIL


# ------------------------------------------------------------------ mails


def mail_summary(mail: StoredMail) -> dict[str, Any]:
    return {
        "id": mail.id,
        "message_id": mail.message_id,
        "sha256": mail.sha256,
        "status": mail.status,
        "received_at": mail.received_at.isoformat(),
        "machine": mail.machine,
        "machine_rule": mail.machine_rule,
        "source": mail.source,
        "envelope_from": mail.envelope_from,
        "envelope_to": [addresses.redact(a) for a in mail.envelope_to],
        "from": mail.from_address,
        "subject": mail.subject,
        "size": mail.size,
        "attempts": mail.attempts,
        "arrivals": mail.arrivals,
        "last_error": mail.last_error,
        "quarantine_reason": mail.quarantine_reason,
    }


def _print_mail_table(rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        print("(none)")
        return
    for row in rows:
        machine = f" [{row['machine']}]" if row["machine"] else ""
        reason = f"  ({row['quarantine_reason']})" if row["quarantine_reason"] else ""
        print(
            f"{row['id']:>7}  {row['status']:<11} {row['received_at'][:19]}  "
            f"{(row['from'] or row['envelope_from'] or '-')[:32]:<32}  "
            f"{(row['subject'] or '')[:50]}{machine}{reason}"
        )


def _list_mails(config: Config, status: str | None, limit: int) -> list[dict[str, Any]]:
    with Session(_engine(config)) as session:
        query = select(StoredMail).order_by(StoredMail.id.desc()).limit(limit)
        if status:
            query = query.where(StoredMail.status == status)
        return [mail_summary(m) for m in session.scalars(query)]


def cmd_mails(args: argparse.Namespace, config: Config) -> int:
    rows = _list_mails(config, args.status, args.limit)
    print_json(rows) if args.json else _print_mail_table(rows)
    return EX_OK


def cmd_quarantine(args: argparse.Namespace, config: Config) -> int:
    rows = _list_mails(config, MailStatus.QUARANTINED, args.limit)
    print_json(rows) if args.json else _print_mail_table(rows)
    return EX_OK


def cmd_mail(args: argparse.Namespace, config: Config) -> int:
    with Session(_engine(config)) as session:
        mail = session.get(StoredMail, args.id)
        if mail is None:
            print(f"siegel mail: no mail {args.id}", file=sys.stderr)
            return 1
        if args.raw:
            sys.stdout.buffer.write(mail.raw)
            return EX_OK
        detail = mail_summary(mail) | {
            "parsed": mail.parsed,
            "classification": mail.classification,
            "processed_at": mail.processed_at.isoformat() if mail.processed_at else None,
        }
    if args.json:
        print_json(detail)
    else:
        for key, value in detail.items():
            if key == "parsed" and value:
                value = {k: v for k, v in value.items() if k != "text"}
                print(f"{'text':>18}: {(mail.parsed or {}).get('text', '')[:2000]!s}")
            print(f"{key:>18}: {json.dumps(value, ensure_ascii=False, default=str)}")
    return EX_OK


def cmd_requeue(args: argparse.Namespace, config: Config) -> int:
    try:
        mail = queue.requeue(_engine(config), args.id)
    except queue.NotRequeueable as refusal:
        print(f"siegel requeue: {refusal}", file=sys.stderr)
        return 1
    if mail is None:
        print(f"siegel requeue: no mail {args.id}", file=sys.stderr)
        return 1
    print(f"mail {args.id} requeued")
    return EX_OK


def cmd_outbox(args: argparse.Namespace, config: Config) -> int:
    with Session(_engine(config)) as session:
        rows = [
            {
                "id": row.id,
                "message_id": row.message_id,
                "recipient": row.recipient,
                "kind": row.kind,
                "case_ref": row.case_ref,
                "status": row.status,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "created_at": row.created_at.isoformat(),
                "next_attempt_at": row.next_attempt_at.isoformat(),
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            }
            for row in outbox.list_rows(session, status=args.status, limit=args.limit)
        ]
    if args.json:
        print_json(rows)
    elif not rows:
        print("(none)")
    else:
        for row in rows:
            error = f"  ({row['last_error']})" if row["last_error"] else ""
            print(
                f"{row['id']:>7}  {row['status']:<10} {row['created_at'][:19]}  "
                f"{row['recipient'][:40]:<40} {row['kind']}{error}"
            )
    return EX_OK


def cmd_db_upgrade(args: argparse.Namespace, config: Config) -> int:
    engine = _engine(config)
    from mailflow.db import MIGRATIONS

    print(f"schema at version {len(MIGRATIONS)} ({engine.url.render_as_string(True)})")
    return EX_OK


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="siegel", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, help="configuration file (default: $SIEGEL_CONFIG or ./config.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        return add_command(commands, name, handler, help_text, guard=False)

    command("serve", cmd_serve, "run SMTP intake, IMAP pollers, worker, relay and scheduler")
    command("intake", cmd_serve, "run only the SMTP/LMTP intake and IMAP pollers")
    worker = command("worker", cmd_serve, "run only the worker, deadline sweep and recompute")
    worker.add_argument(
        "--threads", type=int, default=1, help="worker threads in this process (default 1)"
    )
    command("relay", cmd_serve, "run only the relay that sends the outbox")

    ingest = command("ingest", cmd_ingest, "store mail files (or stdin) as received mail")
    ingest.add_argument("files", nargs="*", metavar="FILE", help="mail files; - or none: stdin")
    ingest.add_argument("-f", "--sender", help="envelope sender (as an MTA passes it)")
    ingest.add_argument(
        "-r", "--recipient", action="append", help="envelope recipient (repeatable)"
    )

    for name, handler, help_text in [
        ("mails", cmd_mails, "list stored mails, newest first"),
        ("quarantine", cmd_quarantine, "list quarantined mails with their reasons"),
        ("outbox", cmd_outbox, "list outgoing mails, newest first"),
    ]:
        sub = command(name, handler, help_text)
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("--limit", type=int, default=100)
        if name != "quarantine":
            sub.add_argument("--status", help="only this status")

    mail = command("mail", cmd_mail, "show one stored mail")
    mail.add_argument("id", type=int)
    mail.add_argument("--json", action="store_true", help="print JSON")
    mail.add_argument("--raw", action="store_true", help="print the raw bytes as received")

    requeue = command("requeue", cmd_requeue, "put a quarantined mail back into the queue")
    requeue.add_argument("id", type=int)

    command("db-upgrade", cmd_db_upgrade, "upgrade the database schema to this version")
    merchant_verbs = case_commands.register(commands)
    classifier_commands.register(commands)
    seal_commands.register(commands, merchant_verbs)
    return parser


class _ArgumentsRefused(Exception):
    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser, self.message = parser, message


class _Parser(argparse.ArgumentParser):
    """A parser (and, by argparse's default, its subparsers) whose errors `main` reports."""

    def error(self, message: str) -> NoReturn:
        raise _ArgumentsRefused(self, message)


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv` (after the global options), found without argparse."""
    tokens = iter(argv)
    for token in tokens:
        if len(token) > 2 and "--config".startswith(token):
            next(tokens, None)
        elif not token.startswith("-"):
            return token
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    ingest = _command_in(arguments) == "ingest"
    try:
        args = parser.parse_args(arguments)
    except _ArgumentsRefused as refused:
        if ingest:
            # A wrong pipe command in the MTA's configuration: keep the mail queued.
            return _ingest_failed(f"bad arguments: {refused.message}")
        argparse.ArgumentParser.error(refused.parser, refused.message)  # usage, exit 2
    logs.configure(args.verbose)  # stderr, rate-limited, address tokens redacted
    if ingest:
        return _main_ingest(args)
    try:
        config = config_module.ensure_secret(config_module.load(args.config))
    except ConfigError as error:
        print(f"siegel: configuration error: {error}", file=sys.stderr)
        return EX_USAGE
    except OSError as error:
        print(f"siegel: cannot prepare data directory: {error}", file=sys.stderr)
        return EX_TEMPFAIL
    return args.handler(args, config)


def _main_ingest(args: argparse.Namespace) -> int:
    """`siegel ingest` behind an MTA: whatever may pass later is 75, never a bounce."""
    try:
        config = config_module.ensure_secret(config_module.load(args.config))
    except ConfigError as error:
        return _ingest_failed(f"configuration error: {error}", error)
    except OSError as error:
        return _ingest_failed(f"cannot prepare data directory: {_one_line(error)}", error)
    except Exception as error:
        return _ingest_failed(f"cannot start: {_one_line(error)}", error)
    try:
        return args.handler(args, config)
    except Exception as error:
        # Busy, locked, corrupt, missing or unreachable database, unknown driver, a bug:
        # nothing here proves that the mail can never be stored.
        return _ingest_failed(f"not stored: {_one_line(error)}", error)


if __name__ == "__main__":
    sys.exit(main())
