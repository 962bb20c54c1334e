"""The operator's case commands: merchants, cases, held mails and the deadline sweep.

``siegel merchant add|import|list|show``, ``siegel cases``, ``siegel case REF`` (with
``--category`` and ``--merchant`` corrections), ``siegel held`` and ``siegel sweep``.
Registered on the main parser by `mailflow.commands`; each handler takes the parsed
arguments and the configuration and returns the exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from classifier.records import CATEGORIES
from mailflow import casework, desk_commands, outbox
from mailflow.command_support import (
    EX_DATAERR,
    EX_FAILED,
    EX_NOINPUT,
    EX_OK,
    Page,
    UsageError,
    add_command,
    add_paging,
    local_time,
    moment_option,
    one_of,
    print_json,
)
from mailflow.config import Config
from mailflow.db import read_scope, session_scope, utcnow
from mailflow.merchant_values import Registered, clashes, merchant_values
from mailflow.models import OutboxMail, StoredMail
from mailflow.schema import open_database
from mediation import addresses, case_service, storage
from mediation.outgoing import LANGUAGES
from mediation.storage import Case, CaseDeadline, Customer, HeldMail, Merchant
from mediation.workflow import State


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# ------------------------------------------------------------------ merchants


def merchant_summary(merchant: Merchant) -> dict[str, Any]:
    return {
        "slug": merchant.slug,
        "name": merchant.name,
        "name_aliases": merchant.name_aliases,
        "emails": merchant.support_addresses,
        "domains": merchant.domains,
        "order_pattern": merchant.order_pattern,
        "language": merchant.language,
        "calendar": merchant.calendar_region,
        "timezone": merchant.timezone,
        "hours": merchant.opening_hours,
        "created_at": _iso(merchant.created_at),
    }


def cmd_merchant_add(args: argparse.Namespace, config: Config) -> int:
    values = merchant_values(args, config.siegel.domain)
    values["language"] = values["language"] or config.siegel.default_language
    with session_scope(open_database(config.database_url)) as session:
        if storage.merchant_by_slug(session, values["slug"]) is not None:
            print(f"siegel merchant add: {values['slug']} exists already", file=sys.stderr)
            return EX_FAILED
        clashes(values, storage.merchants(session))
        session.add(Merchant(**values, created_at=utcnow()))
    address = addresses.complaint_address(config.siegel.domain, values["slug"])
    print(f"merchant {values['slug']} added; its complaint address: {address}")
    return EX_OK


IMPORT_FIELDS = {
    "slug": None, "name": None, "name_alias": [], "email": [], "domain": [],
    "order_pattern": None, "language": None, "calendar": None, "timezone": None, "hours": None,
}  # fmt: skip
"""The keys of a line of `siegel merchant import`: the options of `merchant add` (the
repeatable ones a string or a list of strings), with their defaults."""
MAX_IMPORT_PROBLEMS = 20


def cmd_merchant_import(args: argparse.Namespace, config: Config) -> int:
    """Register many merchants at once from JSON Lines, checked as `merchant add` checks
    each; all or none: a file with a bad line registers nothing and names every such line."""
    name = "siegel merchant import"
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except OSError as error:
        print(f"{name}: {args.file}: cannot read: {error.strerror}", file=sys.stderr)
        return EX_NOINPUT
    except UnicodeDecodeError as error:
        print(f"{name}: {args.file}: not UTF-8 text: {error.reason}", file=sys.stderr)
        return EX_DATAERR
    problems: list[str] = []
    with session_scope(open_database(config.database_url)) as session:
        known = storage.merchants(session)
        registered, slugs = Registered(known), {merchant.slug for merchant in known}
        imported = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                values = _import_values(line, config)
                if values["slug"] in slugs:
                    raise UsageError(f"slug {values['slug']}: exists already")
                registered.check(values)
            except UsageError as problem:
                problems.append(f"line {number}: {problem}")
                continue
            slugs.add(values["slug"])
            registered.add(values["slug"], values["support_addresses"], values["domains"])
            imported.append(values)
        if problems:
            for problem in problems[:MAX_IMPORT_PROBLEMS]:
                print(f"{name}: {problem}", file=sys.stderr)
            more = len(problems) - MAX_IMPORT_PROBLEMS
            tail = f" ({more} more not shown)" if more > 0 else ""
            print(f"{name}: nothing imported{tail}", file=sys.stderr)
            return EX_DATAERR
        now = utcnow()
        session.add_all(Merchant(**values, created_at=now) for values in imported)
    print(f"{len(imported)} merchants imported")
    return EX_OK


def _import_values(line: str, config: Config) -> dict[str, Any]:
    """One line's merchant, checked (a UsageError saying what is wrong)."""
    try:
        given = json.loads(line)
    except json.JSONDecodeError as error:
        raise UsageError(f"not JSON: {error.msg}") from None
    if not isinstance(given, dict):
        raise UsageError("not a JSON object")
    unknown = sorted(set(given) - set(IMPORT_FIELDS))
    if unknown:
        raise UsageError(f"unknown key {unknown[0]!r} (keys: {', '.join(IMPORT_FIELDS)})")
    fields = {**IMPORT_FIELDS, **given}
    for key, default in IMPORT_FIELDS.items():
        value = fields[key]
        if isinstance(default, list):
            value = fields[key] = [value] if isinstance(value, str) else value
            if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
                raise UsageError(f"{key}: a string or a list of strings")
        elif value is not None and not isinstance(value, str):
            raise UsageError(f"{key}: a string")
    if not fields["slug"]:
        raise UsageError("slug: a shop needs one")
    if fields["language"] not in (None, *LANGUAGES):
        raise UsageError(f"language {fields['language']!r}: one of {', '.join(LANGUAGES)}")
    values = merchant_values(argparse.Namespace(**fields), config.siegel.domain)
    values["language"] = values["language"] or config.siegel.default_language
    return values


def cmd_merchant_list(args: argparse.Namespace, config: Config) -> int:
    page = Page.of(args)
    with read_scope(open_database(config.database_url)) as session:
        rows, total = page.rows([merchant_summary(m) for m in storage.merchants(session)])

    def table(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            also = f"  (also: {', '.join(row['name_aliases'])})" if row["name_aliases"] else ""
            print(f"{row['slug']:<24} {row['name']:<32} {', '.join(row['emails'])}{also}")

    return page.show("merchant list", rows, total, table)


def cmd_merchant_show(args: argparse.Namespace, config: Config) -> int:
    with read_scope(open_database(config.database_url)) as session:
        merchant = storage.merchant_by_slug(session, args.slug)
        if merchant is None:
            print(f"siegel merchant show: no merchant {args.slug}", file=sys.stderr)
            return EX_FAILED
        detail = merchant_summary(merchant)
        detail["changes"] = desk_commands.change_history(session, merchant.id)  # type: ignore[arg-type]
    detail["complaint_address"] = addresses.complaint_address(config.siegel.domain, merchant.slug)
    if args.json:
        print_json(detail)
        return EX_OK
    changes = detail.pop("changes")
    _print_fields({**detail, "created_at": local_time(detail["created_at"], config)})
    print("\nchanges:" if changes else "\nchanges: none")
    for change in changes:
        old, new = desk_commands.shown(change["old"]), desk_commands.shown(change["new"])
        at = local_time(change["at"], config)
        print(f"  {at}  {change['by']}  {change['field']}: {old} → {new}")
    return EX_OK


def _print_fields(detail: dict[str, Any]) -> None:
    for key, value in detail.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key:>28}: {'-' if shown in (None, '') else shown}")


# ------------------------------------------------------------------ cases


def check_merchant(session: Session, option: str, slug: str | None) -> None:
    """Refuse a `--merchant` filter naming no registered merchant (UsageError listing
    the registered ones): an unknown slug must not look like "no cases"."""
    if slug is not None and storage.merchant_by_slug(session, slug.lower()) is None:
        slugs = [merchant.slug for merchant in storage.merchants(session)]
        one_of(option, slug, slugs, "siegel merchant list")


def _case_rows(
    session: Session, state: str | None, merchant: str | None, page: Page
) -> tuple[list[dict[str, Any]], int]:
    query = (
        select(Case, Merchant.slug, Customer.address)
        .join(Merchant, Case.merchant_id == Merchant.id, isouter=True)  # type: ignore[arg-type]
        .join(Customer, Case.customer_id == Customer.id)  # type: ignore[arg-type]
        .order_by(Case.opened_at, Case.id)  # type: ignore[arg-type]
    )
    if state:
        query = query.where(Case.state == state)
    if merchant:
        query = query.where(Merchant.slug == merchant.lower())
    query, total = page.query(session, query)
    rows = [
        {
            "ref": case.ref,
            "state": case.state,
            "merchant": slug,
            "customer": customer,
            "mediator": case.mediator,
            "category": case.category,
            "needs_triage": case.needs_triage,
            "opened_at": _iso(case.opened_at),
            "closed_at": _iso(case.closed_at),
            "first_reply_business_hours": case.first_reply_business_hours,
            "merchant_missed_deadline": case.merchant_missed_deadline,
        }
        for case, slug, customer in session.execute(query)
    ]
    return rows, total


def cmd_cases(args: argparse.Namespace, config: Config) -> int:
    page = Page.of(args)
    with read_scope(open_database(config.database_url)) as session:
        check_merchant(session, "--merchant", args.merchant)
        rows, total = _case_rows(session, args.state, args.merchant, page)

    def table(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            print(
                f"{row['ref']}  {row['state']:<19} {local_time(row['opened_at'], config)}  "
                f"{(row['merchant'] or '-'):<20} {(row['category'] or '-'):<20} "
                f"{row['customer']}"
            )

    return page.show("cases", rows, total, table)


def case_detail(session: Session, case: Case, domain: str) -> dict[str, Any]:
    """Everything about one case: parties, deadlines, latency, events with their mails."""
    merchant = session.get(Merchant, case.merchant_id) if case.merchant_id else None
    customer = session.get(Customer, case.customer_id)
    assert customer is not None and case.id is not None
    deadlines = session.scalars(select(CaseDeadline).where(CaseDeadline.case_id == case.id)).all()
    events = storage.events_of(session, case.id)
    mail_ids = {e.mail_id for e in events if e.mail_id is not None}
    mails = {
        mail.id: mail
        for mail in session.scalars(select(StoredMail).where(StoredMail.id.in_(mail_ids)))  # type: ignore[union-attr]
    }
    sent = session.scalars(
        select(OutboxMail).where(OutboxMail.case_ref == case.ref).order_by(OutboxMail.id)  # type: ignore[arg-type]
    ).all()
    held = session.scalars(select(HeldMail).where(HeldMail.case_id == case.id)).all()
    return {
        "ref": case.ref,
        "state": case.state,
        "category": case.category,
        "category_confidence": case.category_confidence,
        "needs_triage": case.needs_triage,
        "language": case.language,
        "subject": case.subject,
        "opened_at": _iso(case.opened_at),
        "closed_at": _iso(case.closed_at),
        "merchant": merchant.slug if merchant else None,
        "merchant_name": merchant.name if merchant else None,
        "customer": customer.address,
        "customer_name": customer.name,
        "mediator": case.mediator,
        "deadlines": {d.kind: _iso(d.due_at) for d in deadlines},
        "held_deadlines": {d.kind: d.held_reason for d in deadlines if d.held_reason},
        "merchant_given_at": _iso(case.merchant_given_at),
        "first_reply_at": _iso(case.first_reply_at),
        "first_reply_seconds": case.first_reply_seconds,
        "first_reply_business_hours": case.first_reply_business_hours,
        "first_reply_within_deadline": case.first_reply_within_deadline,
        "merchant_missed_deadline": case.merchant_missed_deadline,
        "events": [
            {
                "at": _iso(event.at),
                "kind": event.kind,
                "actor": event.actor,
                "actor_address": event.actor_address,
                "state_before": event.state_before,
                "state_after": event.state_after,
                "reason": event.reason,
                "data": event.data,
                "mail": _mail_reference(mails.get(event.mail_id)) if event.mail_id else None,
            }
            for event in events
        ],
        "outgoing": [
            {
                "id": row.id,
                "kind": row.kind,
                "to": row.recipient,
                "status": row.status,
                "message_id": row.message_id,
                "created_at": _iso(row.created_at),
                "sent_at": _iso(row.sent_at),
                "in_reply_to_mail": row.in_reply_to_mail,
            }
            for row in sent
        ],
        "held_mails": [_held_summary(row, mails.get(row.mail_id), case.ref) for row in held],
    }


def _mail_reference(mail: StoredMail | None) -> dict[str, Any] | None:
    if mail is None:
        return None
    return {
        "id": mail.id,
        "message_id": mail.message_id,
        "from": mail.from_address,
        "subject": mail.subject,
        "received_at": _iso(mail.received_at),
        "machine": mail.machine,
    }


def cmd_case(args: argparse.Namespace, config: Config) -> int:
    engine = open_database(config.database_url)
    now = utcnow()
    try:
        if args.category:
            if args.category not in CATEGORIES:
                raise UsageError(f"--category: one of {', '.join(CATEGORIES)}")
            with session_scope(engine) as session:
                case_service.correct_category(session, args.ref, args.category, now)
            print(f"{args.ref.upper()}: category {args.category} (kept for training)")
        if args.merchant:
            _assign_merchant(engine, config, args.ref, args.merchant, now)
        desk_commands.act_on_case(args, config, engine, now)
    except case_service.NotAllowed as error:
        print(f"siegel case: {error}", file=sys.stderr)
        return EX_FAILED
    except LookupError as error:
        print(f"siegel case: {error.args[0]}", file=sys.stderr)
        return EX_FAILED
    with Session(engine) as session:
        case = storage.load_case(session, args.ref)
        if case is None:
            print(f"siegel case: no case {args.ref}", file=sys.stderr)
            return EX_FAILED
        detail = case_detail(session, case, config.siegel.domain)
    if args.json:
        print_json(detail)
    else:
        _print_case(detail, config)
    return EX_OK


def _assign_merchant(engine: Engine, config: Config, ref: str, slug: str, now: datetime) -> None:
    with session_scope(engine) as session:
        case = storage.load_case(session, ref)
        if case is not None and case.state != State.NEEDS_MERCHANT:
            raise LookupError(f"{case.ref} is {case.state}; only needs_merchant takes a merchant")
        outcome = case_service.assign_merchant(session, ref, slug, now, casework.settings(config))
        for outgoing in outcome.outgoing:
            outbox.enqueue(session, outgoing, config, now)
    print(f"{ref.upper()}: merchant {slug}, {len(outcome.outgoing)} mails queued")


def _print_case(detail: dict[str, Any], config: Config) -> None:
    """`siegel case REF` as text: every moment in the operator's time zone, as the lists
    show them (the JSON keeps ISO 8601 in UTC)."""
    skip = {"events", "outgoing", "held_mails", "deadlines", "held_deadlines"}
    fields = {k: v for k, v in detail.items() if k not in skip}
    for key, value in fields.items():
        if key.endswith("_at") and isinstance(value, str) and value:
            fields[key] = local_time(value, config)
    _print_fields(fields)
    print("\ndeadlines:")
    for kind, due in detail["deadlines"].items() or [("-", "")]:
        held = detail["held_deadlines"].get(kind)
        shown = local_time(due, config) if due else ""
        print(f"  {kind:<18} {shown}" + (f"  HELD: {held}" if held else ""))
    print("\ntimeline:")
    for event in detail["events"]:
        mail = event["mail"]
        via = f"  mail {mail['id']} {mail['subject']!r}" if mail else ""
        print(f"  {local_time(event['at'], config)}  {event['kind']:<26} {event['actor']:<9} "
              f"{event['state_before'] or '-'} → {event['state_after']}{via}")  # fmt: skip
        print(f"      {event['reason']}")
    print("\nmails sent:")
    for row in detail["outgoing"] or [None]:
        if row:
            sent_at = local_time(row["created_at"], config)
            print(f"  {sent_at}  {row['status']:<10} {row['kind']:<34} {row['to']}")


# ------------------------------------------------------------------ held mails


def _held_summary(row: HeldMail, mail: StoredMail | None, ref: str | None) -> dict[str, Any]:
    """One held mail as the operator sees it; a signed address of ours in it (a sender
    forging one, a probing recipient) shows without its token."""
    return {
        "id": row.id,
        "mail_id": row.mail_id,
        "reason": row.reason,
        "detail": addresses.redact(row.detail),
        "sender": addresses.redact(row.sender) if row.sender else None,
        "case": ref,
        "held_at": _iso(row.held_at),
        "sender_told": row.sender_told,
        "subject": mail.subject if mail else None,
    }


def cmd_held(args: argparse.Namespace, config: Config) -> int:
    page = Page.of(args)
    with read_scope(open_database(config.database_url)) as session:
        query = (
            select(HeldMail, StoredMail, Case.ref)
            .join(StoredMail, HeldMail.mail_id == StoredMail.id, isouter=True)  # type: ignore[arg-type]
            .join(Case, HeldMail.case_id == Case.id, isouter=True)  # type: ignore[arg-type]
            .order_by(HeldMail.id.desc())  # type: ignore[union-attr]
        )
        query, total = page.query(session, query)
        rows = [_held_summary(held, mail, ref) for held, mail, ref in session.execute(query)]

    def table(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            held_at = local_time(row["held_at"], config)
            print(
                f"{held_at}  mail {row['mail_id']:<6} {row['reason']:<17} "
                f"{row['case'] or '-':<16} {row['sender'] or '-'}\n      {row['detail']}"
            )

    return page.show("held", rows, total, table)


# ------------------------------------------------------------------ sweep


def cmd_sweep(args: argparse.Namespace, config: Config) -> int:
    """Fire what is due at `--at` (default now); its mails are due now, not at `--at`."""
    now = moment_option(args.at, config)
    engine = open_database(config.database_url)
    report = casework.sweep(engine, config, now, send_at=utcnow())
    for fired in report.fired:
        held = f"  HELD: {fired.held}" if fired.held else ""
        print(f"{fired.case_ref}  {fired.kind:<18} {len(fired.outgoing)} mails{held}")
    print(
        f"swept at {now.isoformat()}: {len(report.fired)} deadlines fired, "
        f"{report.mails} mails queued, {len(report.failed)} failed"
    )
    return EX_FAILED if report.failed else EX_OK


# ------------------------------------------------------------------ parser


def register(commands: Any) -> Any:
    """Add the case commands to the `siegel` sub-command parser `commands`; returns the
    verbs of ``siegel merchant``, to which the seal commands add theirs."""

    def command(name: str, handler: Any, help_text: str, parent: Any = commands) -> Any:
        return add_command(parent, name, handler, help_text)

    merchant = commands.add_parser("merchant", help="register and show merchants")
    verbs = merchant.add_subparsers(dest="verb", required=True, metavar="VERB")
    add = command("add", cmd_merchant_add, "register a merchant", verbs)
    add.add_argument("slug", help="short name, used in beschwerde+SLUG@")
    add.add_argument("--name", required=True, help="the shop's name as customers write it")
    add.add_argument(
        "--name-alias",
        action="append",
        help='another name customers use for the shop, e.g. "Grüne Tasse" (repeatable)',
    )
    add.add_argument(
        "--email",
        action="append",
        required=True,
        help="support address (repeatable; the first gets the complaints)",
    )
    add.add_argument("--domain", action="append", help="the shop's mail/web domain (repeatable)")
    add.add_argument("--order-pattern", help="regular expression of its order numbers")
    add.add_argument(
        "--language",
        choices=LANGUAGES,
        help="its mails' language (default [siegel] default_language)",
    )
    add.add_argument("--calendar", help="its own holiday region, e.g. DE-BY")
    add.add_argument("--timezone", help="its own time zone, e.g. Europe/Vienna")
    add.add_argument("--hours", help="its own business hours, HH:MM-HH:MM")
    imports = command(
        "import", cmd_merchant_import, "register many merchants from JSON Lines", verbs
    )
    imports.add_argument(
        "file",
        help="one JSON object a line, keys as the options of `merchant add` (slug, name, "
        "name_alias, email, domain, order_pattern, language, calendar, timezone, hours); "
        "- reads standard input. All or none: a bad line registers nothing",
    )
    listing = command("list", cmd_merchant_list, "list merchants", verbs)
    add_paging(listing)
    show = command("show", cmd_merchant_show, "show one merchant", verbs)
    show.add_argument("slug")
    show.add_argument("--json", action="store_true", help="print JSON")

    cases = command("cases", cmd_cases, "list cases, oldest first")
    cases.add_argument("--state", choices=[s.value for s in State])
    cases.add_argument("--merchant", help="only this merchant's (slug)")
    add_paging(cases)

    case = command("case", cmd_case, "show one case: parties, deadlines, timeline, mails")
    case.add_argument("ref", help="case reference, e.g. SSG-2026-000123")
    case.add_argument("--json", action="store_true", help="print JSON")
    case.add_argument("--category", help="correct the category (kept for classifier training)")
    case.add_argument("--merchant", help="name the merchant of a case in needs_merchant (slug)")
    desk_commands.add_case_options(case)

    held = command("held", cmd_held, "list held mails with their reasons, newest first")
    add_paging(held)

    sweep = command("sweep", cmd_sweep, "fire the deadlines due now (or at --at) once")
    sweep.add_argument("--at", help="ISO time to sweep as of (local time when no offset)")
    return verbs
