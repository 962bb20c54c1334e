"""Every command's parser, and the commands of the mail path: serve and its parts, the
stored mails, the outbox, the status, requeue and the schema upgrade.

`mailflow.cli` is the entry; `siegel ingest` is parsed and run by `mailflow.ingest`
alone, without loading this module.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from mailflow import (
    case_commands,
    classifier_commands,
    desk_commands,
    ingest,
    logs,
    outbox,
    queue,
    readable,
    report_commands,
    seal_commands,
)
from mailflow import config as config_module
from mailflow.command_support import (
    EX_FAILED,
    EX_OK,
    EX_PIPE,
    EX_TEMPFAIL,
    EX_UNAVAILABLE,
    EX_USAGE,
    LISTEN_ERRORS,
    ArgumentsRefused,
    Handler,
    Page,
    add_command,
    add_paging,
    cannot_listen,
    local_time,
    one_line,
    options_anywhere,
    print_json,
    siegel_parser,
    whole_number,
    write_raw,
)
from mailflow.config import Config, ConfigError
from mailflow.db import DatabaseUrlError, read_scope, utcnow
from mailflow.models import (
    MailStatus,
    OutboxAttempt,
    OutboxMail,
    OutboxStatus,
    StoredMail,
)
from mailflow.schema import SCHEMA_VERSION, open_database
from mediation import addresses
from mediation.storage import Case, CaseDeadline, HeldMail

log = logging.getLogger("mailflow.intake")


def _engine(config: Config) -> Engine:
    return open_database(config.database_url)


# ------------------------------------------------------------------ serve


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from mailflow.service import ALL_PARTS, Part, PortUnavailable, Service  # aiosmtpd, ...

    parts = ALL_PARTS if args.command == "serve" else {Part(args.command)}
    config_module.warn_if_others_may_read(args.config or config_module.default_path())
    threads = getattr(args, "threads", 1)
    try:
        Service(config, parts=parts, worker_threads=threads).run_until_signalled()
    except PortUnavailable as refused:
        return cannot_listen(args.command, refused.what, refused.address, refused.key, refused)
    except OSError as error:
        if error.errno not in LISTEN_ERRORS:
            raise
        # Taken between the check and the listener's bind, or a listener of its own.
        print(f"siegel {args.command}: cannot listen: {error}", file=sys.stderr)
        return EX_UNAVAILABLE
    return EX_OK


def cmd_web(args: argparse.Namespace, config: Config) -> int:
    from mailflow.service import PortUnavailable, check_port
    from mailflow.web import server  # starlette, uvicorn

    try:
        check_port("HTTP", config.web.host, config.web.port, "[web] port")
    except PortUnavailable as refused:
        return cannot_listen(args.command, refused.what, refused.address, refused.key, refused)
    return server.run(config)


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


def _print_mail_table(rows: Sequence[dict[str, Any]], config: Config) -> None:
    for row in rows:
        machine = f" [{row['machine']}]" if row["machine"] else ""
        reason = f"  ({row['quarantine_reason']})" if row["quarantine_reason"] else ""
        print(
            f"{row['id']:>7}  {row['status']:<11} {local_time(row['received_at'], config)}  "
            f"{(row['from'] or row['envelope_from'] or '-')[:32]:<32}  "
            f"{(row['subject'] or '')[:50]}{machine}{reason}"
        )


def _list_mails(args: argparse.Namespace, config: Config, status: str | None) -> int:
    page = Page.of(args)
    with read_scope(_engine(config)) as session:
        query = select(StoredMail).order_by(StoredMail.id.desc())  # type: ignore[union-attr]
        if status:
            query = query.where(StoredMail.status == status)
        query, total = page.query(session, query)
        rows = [mail_summary(m) for m in session.scalars(query)]
    return page.show(args.command, rows, total, lambda shown: _print_mail_table(shown, config))


def cmd_mails(args: argparse.Namespace, config: Config) -> int:
    return _list_mails(args, config, args.status)


def cmd_quarantine(args: argparse.Namespace, config: Config) -> int:
    return _list_mails(args, config, MailStatus.QUARANTINED)


def cmd_mail(args: argparse.Namespace, config: Config) -> int:
    with read_scope(_engine(config)) as session:
        mail = session.get(StoredMail, args.id)
        if mail is None:
            print(f"siegel mail: no mail {args.id}", file=sys.stderr)
            return EX_FAILED
        if args.raw:
            write_raw(mail.raw)
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
    """Each mail named (or every quarantined one): one line each; exit 1 if one was refused."""
    if bool(args.ids) == args.all:
        print("siegel requeue: give mail ids or --all", file=sys.stderr)
        return EX_USAGE
    engine = _engine(config)
    ids = queue.quarantined_ids(engine) if args.all else args.ids
    if not ids:
        print("no quarantined mail")
    refused = 0
    for mail_id in ids:
        try:
            mail = queue.requeue(engine, mail_id)
        except queue.NotRequeueable as refusal:
            mail, problem = None, str(refusal)
        else:
            problem = f"no mail {mail_id}"
        if mail is None:
            print(f"siegel requeue: {problem}", file=sys.stderr)
            refused += 1
        else:
            print(f"mail {mail_id} requeued")
    return EX_FAILED if refused else EX_OK


def _outbox_summary(row: OutboxMail) -> dict[str, Any]:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "recipient": row.recipient,
        "kind": row.kind,
        "case_ref": row.case_ref,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "suppressed_reason": row.suppressed_reason,
        "created_at": row.created_at.isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
    }


def cmd_outbox(args: argparse.Namespace, config: Config) -> int:
    page = Page.of(args)
    with read_scope(_engine(config)) as session:
        query = select(OutboxMail).order_by(OutboxMail.id.desc())  # type: ignore[union-attr]
        if args.status:
            query = query.where(OutboxMail.status == args.status)
        query, total = page.query(session, query)
        rows = [_outbox_summary(row) for row in session.scalars(query)]

    def table(rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            why = row["last_error"] or row["suppressed_reason"]
            error = f"  ({why})" if why else ""
            print(
                f"{row['id']:>7}  {row['status']:<10} {local_time(row['created_at'], config)}  "
                f"{row['recipient'][:40]:<40} {row['kind']}{error}"
            )

    return page.show(args.command, rows, total, table)


def cmd_outbox_show(args: argparse.Namespace, config: Config) -> int:
    """One outgoing mail as its recipient reads it: headers, text, HTML as text, and
    every delivery attempt; `--raw` the bytes as the relay sends them."""
    with read_scope(_engine(config)) as session:
        row = session.get(OutboxMail, args.id)
        if row is None:
            raise LookupError(f"no outgoing mail {args.id} (see `siegel outbox`)")
        raw = outbox.message(row, config, session)
        if args.raw:
            write_raw(raw)
            return EX_OK
        detail = _outbox_summary(row) | readable.readable(raw)
        detail["attempts"] = [
            {
                "at": attempt.at.isoformat(),
                "outcome": attempt.outcome,
                "code": attempt.code,
                "response": attempt.response,
            }
            for attempt in outbox.list_attempts(session, args.id)
        ]
    if args.json:
        print_json(detail)
        return EX_OK
    print(readable.as_text(detail, config))
    return EX_OK


def _count_by(session: Session, column: Any) -> dict[str, int]:
    return {
        str(value): count
        for value, count in session.execute(select(column, func.count()).group_by(column))
    }


# A row `claimed` or `sending` this long is reported stuck: a relay holds a claim for the
# seconds of one batch, while a dead one's rows wait for `Relay.recover`.
STUCK_AFTER = timedelta(minutes=1)


def status_report(session: Session, now: datetime) -> dict[str, Any]:
    """The service at a glance: queues, the relay's trouble, what is held, what is due."""
    mails = dict.fromkeys(MailStatus, 0) | _count_by(session, StoredMail.status)
    oldest = session.execute(
        select(StoredMail.id, StoredMail.received_at)
        .where(StoredMail.status.in_([MailStatus.NEW, MailStatus.PROCESSING]))  # type: ignore[attr-defined]
        .order_by(StoredMail.received_at, StoredMail.id)  # type: ignore[arg-type]
        .limit(1)
    ).first()
    sent = dict.fromkeys(OutboxStatus, 0) | _count_by(session, OutboxMail.status)
    deferred = session.scalar(
        select(func.count()).where(
            OutboxMail.status == OutboxStatus.QUEUED,
            OutboxMail.attempts > 0,  # type: ignore[operator]
        )
    )
    last_failure = session.execute(
        select(
            OutboxAttempt.outbox_id,
            OutboxAttempt.at,
            OutboxAttempt.outcome,
            OutboxAttempt.response,
        )
        .where(OutboxAttempt.outcome.in_(["deferred", "failed", "bounced"]))  # type: ignore[attr-defined]
        .order_by(OutboxAttempt.id.desc())  # type: ignore[union-attr]
        .limit(1)
    ).first()
    next_attempt = session.scalar(
        select(func.min(OutboxMail.next_attempt_at)).where(OutboxMail.status == OutboxStatus.QUEUED)
    )
    stuck, stuck_since = session.execute(
        select(func.count(), func.min(OutboxMail.claimed_at)).where(
            OutboxMail.status.in_([OutboxStatus.CLAIMED, OutboxStatus.SENDING]),  # type: ignore[attr-defined]
            OutboxMail.claimed_at < now - STUCK_AFTER,  # type: ignore[operator]
        )
    ).one()
    due = (
        select(CaseDeadline.kind, CaseDeadline.due_at, Case.ref)
        .join(Case, CaseDeadline.case_id == Case.id)  # type: ignore[arg-type]
        .where(CaseDeadline.held_reason.is_(None))  # type: ignore[union-attr]
        .order_by(CaseDeadline.due_at, CaseDeadline.id)  # type: ignore[arg-type]
    )
    pending = session.scalar(select(func.count()).select_from(due.subquery())) or 0
    overdue = session.scalar(
        select(func.count()).select_from(due.where(CaseDeadline.due_at <= now).subquery())  # type: ignore[operator]
    )
    held_deadlines = session.scalar(
        select(func.count()).where(CaseDeadline.held_reason.is_not(None))  # type: ignore[union-attr]
    )
    return {
        "at": now.isoformat(),
        "mails": {
            "by_status": mails,
            "oldest_unprocessed": None
            if oldest is None
            else {
                "id": oldest.id,
                "received_at": oldest.received_at.isoformat(),
                "age_seconds": round((now - oldest.received_at).total_seconds()),
            },
        },
        "outbox": {
            "by_status": sent,
            "deferred": deferred or 0,
            "next_attempt_at": next_attempt.isoformat() if next_attempt else None,
            # Claimed or sending for over a minute: a relay died, or hangs, holding them.
            "stuck": {
                "count": stuck,
                "oldest_claimed_at": stuck_since.isoformat() if stuck_since else None,
                "age_seconds": round((now - stuck_since).total_seconds()) if stuck_since else None,
            },
            "last_failure": None
            if last_failure is None
            else {
                "outbox_id": last_failure.outbox_id,
                "at": last_failure.at.isoformat(),
                "outcome": last_failure.outcome,
                "response": last_failure.response,
            },
        },
        "deadlines": {
            "pending": pending,
            "overdue": overdue or 0,
            "held": held_deadlines or 0,
            "next": [
                {"case": ref, "kind": kind, "due_at": due_at.isoformat()}
                for kind, due_at, ref in session.execute(due.limit(5))
            ],
        },
        "held_mails": session.scalar(select(func.count()).select_from(HeldMail)) or 0,
        "cases": _count_by(session, Case.state),
    }


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    with read_scope(_engine(config)) as session:
        report = status_report(session, utcnow())
    if args.json:
        print_json(report)
        return EX_OK
    mails, sent, deadlines = report["mails"], report["outbox"], report["deadlines"]

    def counts(values: dict[str, int]) -> str:
        return ", ".join(f"{name} {count}" for name, count in values.items()) or "none"

    oldest = mails["oldest_unprocessed"]
    waiting = (
        f"oldest unprocessed: mail {oldest['id']}, {_age(oldest['age_seconds'])} old"
        if oldest
        else "nothing waiting"
    )
    print(f"mails      {counts(mails['by_status'])}; {waiting}")
    print(f"outbox     {counts(sent['by_status'])}")
    retry = (
        f", next attempt {local_time(sent['next_attempt_at'], config)}"
        if sent["next_attempt_at"]
        else ""
    )
    stuck = sent["stuck"]
    stuck_since = (
        f" (claimed or sending since {local_time(stuck['oldest_claimed_at'], config)}, "
        f"{_age(stuck['age_seconds'])})"
        if stuck["count"]
        else ""
    )
    failed = sent["by_status"]["failed"]
    print(
        f"relay      {sent['deferred']} deferred, {failed} failed, "
        f"{stuck['count']} stuck{stuck_since}{retry}"
    )
    failure = sent["last_failure"]
    if failure:
        print(
            f"           last trouble: outbox {failure['outbox_id']} {failure['outcome']} at "
            f"{local_time(failure['at'], config)}: {failure['response'][:120]}"
        )
    print(f"held       {report['held_mails']} mails (siegel held)")
    print(f"cases      {counts(report['cases'])}")
    print(
        f"deadlines  {deadlines['pending']} pending, {deadlines['overdue']} overdue, "
        f"{deadlines['held']} held"
    )
    for due in deadlines["next"]:
        print(f"           {local_time(due['due_at'], config)}  {due['case']}  {due['kind']}")
    return EX_OK


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def cmd_db_upgrade(args: argparse.Namespace, config: Config) -> int:
    engine = _engine(config)
    print(f"schema at version {SCHEMA_VERSION} ({engine.url.render_as_string(True)})")
    return EX_OK


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser, commands = siegel_parser("The operator's whole interface besides mail.")

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        return add_command(commands, name, handler, help_text, guard=False)

    command("serve", cmd_serve, "run SMTP intake, IMAP pollers, worker, relay and scheduler")
    command("intake", cmd_serve, "run only the SMTP/LMTP intake and IMAP pollers")
    worker = command("worker", cmd_serve, "run only the worker, deadline sweep and recompute")
    worker.add_argument(
        "--threads",
        type=whole_number(1),
        default=1,
        help="worker threads in this process (default 1)",
    )
    command("relay", cmd_serve, "run only the relay that sends the outbox")
    command("web", cmd_web, "run only the web side: certificate pages and badges")

    ingest.register(commands)

    for name, handler, help_text, statuses in [
        ("mails", cmd_mails, "list stored mails, newest first", MailStatus),
        ("quarantine", cmd_quarantine, "list quarantined mails with their reasons", None),
        ("outbox", cmd_outbox, "list outgoing mails, newest first", OutboxStatus),
    ]:
        sub = add_command(commands, name, handler, help_text)
        add_paging(sub)
        if statuses:
            sub.add_argument(
                "--status", choices=[s.value for s in statuses], help="only this status"
            )
    verbs = sub.add_subparsers(dest="verb", metavar="VERB")  # `siegel outbox show ID`
    show = add_command(verbs, "show", cmd_outbox_show, "show one outgoing mail as it reads")
    show.add_argument("id", type=whole_number(1))
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--raw", action="store_true", help="print the message as the relay sends it")

    status = add_command(commands, "status", cmd_status, "queues, relay trouble, held, deadlines")
    status.add_argument("--json", action="store_true", help="print JSON")

    mail = command("mail", cmd_mail, "show one stored mail")
    mail.add_argument("id", type=whole_number(1))
    mail.add_argument("--json", action="store_true", help="print JSON")
    mail.add_argument("--raw", action="store_true", help="print the raw bytes as received")

    requeue = command("requeue", cmd_requeue, "put quarantined mails back into the queue")
    requeue.add_argument("ids", type=whole_number(1), nargs="*", metavar="ID")
    requeue.add_argument("--all", action="store_true", help="every quarantined mail")

    command("db-upgrade", cmd_db_upgrade, "upgrade the database schema to this version")
    merchant_verbs = case_commands.register(commands)
    classifier_commands.register(commands)
    seal_commands.register(commands, merchant_verbs)
    desk_commands.register(commands, merchant_verbs)
    report_commands.register(commands)
    options_anywhere(parser)
    return parser


def main(arguments: Sequence[str]) -> int:
    """`siegel ARGUMENTS` for every command but `ingest` (`mailflow.cli` decides)."""
    try:
        args = build_parser().parse_args(arguments)
    except ArgumentsRefused as refused:
        prog = refused.parser.prog
        print(f"{prog}: {refused.message} (see `{prog} --help`)", file=sys.stderr)
        return EX_USAGE
    logs.configure(args.verbose)  # stderr, rate-limited, address tokens redacted
    try:
        config = config_module.ensure_secret(config_module.load(args.config))
    except ConfigError as error:
        print(f"siegel: configuration error: {error}", file=sys.stderr)
        return EX_USAGE
    except OSError as error:
        print(f"siegel: cannot prepare data directory: {error}", file=sys.stderr)
        return EX_TEMPFAIL
    try:
        status = args.handler(args, config)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
    except BrokenPipeError:
        return _pipe_closed()
    except DatabaseUrlError as error:
        print(f"siegel: configuration error: [database] url: {error}", file=sys.stderr)
        return EX_USAGE
    except (DBAPIError, sqlite3.Error) as error:  # sqlite3's own: from our BEGIN IMMEDIATE
        # Unreachable, locked past its timeout, not a database: one line (-v: the trace).
        log.debug("database error", exc_info=True)
        print(f"siegel: database error: {one_line(error)}", file=sys.stderr)
        return EX_TEMPFAIL
    return status


def _pipe_closed() -> int:
    """The reader went away (`siegel mails | head`): no traceback, no error line. What
    is still buffered goes nowhere, so that the flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EX_PIPE
