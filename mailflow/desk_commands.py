"""The operator's desk on the command line: acts on a case, mediators, merchant edits.

- ``siegel case REF --withdraw [--reason TEXT]``, ``--close resolved|unresolved
  --reason TEXT``, ``--mediator ADDRESS``: through the workflow, logged, the parties
  told (`mediation.case_service`); the options are registered on ``siegel case`` by
  `mailflow.case_commands`, which calls `act_on_case`.
- ``siegel mediator add ADDRESS [--name N] [--language de|en] | set ADDRESS [--name N]
  [--language de|en] | list | pause ADDRESS | resume ADDRESS``: mediators as records
  (``[mediation] mediators`` is the seed, records win); adding or resuming one hands it
  the mediations waiting for a mediator. Every mail to a mediator is in its language
  (``[siegel] default_language`` unless given, and for one only in the seed).
- ``siegel merchant set SLUG --FIELD VALUE ...``: every field but the slug, each change
  recorded with who and when (shown by ``siegel merchant show``). ``--email`` also sends
  the complaint again to the shop's (first) address in each of its cases whose forward
  bounced, with a new deadline (`mediation.bounces.forward_again`), even when the address
  is unchanged: the operator says that it is right now.

A refused act (a closed case, no mediation) is one line and exit status 1.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from mailflow import casework, outbox
from mailflow.command_support import (
    EX_FAILED,
    EX_OK,
    Page,
    UsageError,
    add_command,
    add_paging,
    person_address,
)
from mailflow.config import Config
from mailflow.db import read_scope, session_scope, utcnow
from mailflow.merchant_values import clashes, merchant_values
from mailflow.schema import open_database
from mediation import case_service, mediator_store, merchant_changes, storage
from mediation.mediator_store import MediatorRecord
from mediation.outcomes import Outcome
from mediation.outgoing import LANGUAGES


def who() -> str:
    """The operator as the records name them: ``operator (LOGIN)``."""
    try:
        return f"operator ({getpass.getuser()})"
    except (KeyError, OSError):
        return "operator"


def _enqueue(session: Session, outcomes: list[Outcome], config: Config, now: datetime) -> int:
    count = 0
    for outcome in outcomes:
        for outgoing in outcome.outgoing:
            outbox.enqueue(session, outgoing, config, now)
            count += 1
    return count


# ------------------------------------------------------------------ case acts


MAX_REASON_CHARS = 2000
"""The reason of a closing or withdrawal, which both parties read in a mail: as long
as a text of the web forms may be."""


def act_on_case(args: argparse.Namespace, config: Config, engine: Engine, now: datetime) -> None:
    """Carry out ``--withdraw``, ``--close``, ``--mediator`` or ``--forward-not-received``
    of ``siegel case REF`` (at most one); prints one line. LookupError: no such case or
    mediator; UsageError: a bad combination; `case_service.NotAllowed`: the case's state
    does not allow it."""
    acts = ("withdraw", "close", "mediator", "forward_not_received")
    chosen = [name for name in acts if getattr(args, name, None)]
    if not chosen:
        return
    if len(chosen) > 1:
        raise UsageError(
            "--withdraw, --close, --mediator and --forward-not-received: one at a time"
        )
    reason = (getattr(args, "reason", None) or "").strip()
    if args.close and not reason:
        raise UsageError("--close needs --reason TEXT: the parties read it")
    if len(reason) > MAX_REASON_CHARS:
        raise UsageError(
            f"--reason is {len(reason)} characters; the parties read at most {MAX_REASON_CHARS}"
        )
    settings = casework.settings(config)
    with session_scope(engine) as session:
        if args.withdraw:
            outcome = case_service.withdraw(session, args.ref, reason, now, settings)
            done = "withdrawn"
        elif args.close:
            resolved = args.close == "resolved"
            outcome = case_service.close(session, args.ref, resolved, reason, now, settings)
            done = f"closed as {args.close}"
        elif args.forward_not_received:
            outcome = case_service.forward_not_received(session, args.ref, now, settings)
            done = "the missed deadline taken back"
        else:
            outcome = case_service.reassign(session, args.ref, args.mediator, now, settings)
            done = f"given to {args.mediator.lower()}"
        mails = _enqueue(session, [outcome], config, now)
    print(f"{args.ref.upper()}: {done}, {mails} mails queued")


def add_case_options(case: argparse.ArgumentParser) -> None:
    """The desk's options of ``siegel case REF``."""
    case.add_argument(
        "--withdraw", action="store_true", help="record that the customer withdrew the complaint"
    )
    case.add_argument(
        "--close", choices=("resolved", "unresolved"), help="close the case (needs --reason)"
    )
    case.add_argument("--reason", help="why (--close, --withdraw); the parties read it")
    case.add_argument("--mediator", help="give a case in mediation to this mediator (address)")
    case.add_argument(
        "--forward-not-received",
        action="store_true",
        help="take back the merchant's missed deadline: its forward bounced, reported late",
    )


# ------------------------------------------------------------------ mediators


def _mediator_summary(
    mediator: Any, record: MediatorRecord | None, load: int, config: Config
) -> dict[str, Any]:
    return {
        "address": mediator.address,
        "name": record.name if record else "",
        "language": (record and record.language) or config.siegel.default_language,
        "paused": mediator.paused,
        "open_cases": load,
        "source": "record" if record else "config",
        "changed_at": record.changed_at.isoformat() if record else None,
        "changed_by": record.changed_by if record else None,
    }


def cmd_mediator_add(args: argparse.Namespace, config: Config) -> int:
    address = person_address(args.address, "mediator", config.siegel.domain)
    now = utcnow()
    engine = open_database(config.database_url)
    with session_scope(engine) as session:
        if mediator_store.record(session, address) is not None:
            print(f"siegel mediator add: {address} exists already", file=sys.stderr)
            return EX_FAILED
        shop = next((m for m in storage.merchants(session) if storage.is_own(m, address)), None)
        if shop is not None:
            raise UsageError(f"{address} is an address of the shop {shop.slug}: it cannot mediate")
        mediator_store.save(
            session,
            MediatorRecord(address=address, name=(args.name or "").strip(),
                           language=args.language, created_at=now, changed_at=now,
                           changed_by=who()),
        )  # fmt: skip
        picked = case_service.assign_waiting(session, now, casework.settings(config))
        mails = _enqueue(session, picked, config, now)
    print(f"mediator {address} added; {_picked(picked, mails)}")
    return EX_OK


def _picked(picked: list[Outcome], mails: int) -> str:
    refs = ", ".join(o.case_ref or "?" for o in picked)
    if not picked:
        return "no mediation was waiting"
    return f"waiting mediations assigned: {refs} ({mails} mails queued)"


def _mediator_record(
    session: Session, address: str, config: Config, now: datetime
) -> MediatorRecord:
    """The record of the mediator `address`; a new one for a mediator only in the seed.
    LookupError: no such mediator."""
    record = mediator_store.record(session, address)
    if record is None:
        seeded = address in {m.lower() for m in config.mediation.mediators}
        if not seeded:
            raise LookupError(f"no mediator {address} (see `siegel mediator list`)")
        record = MediatorRecord(address=address, created_at=now)  # the seed, as a record
    return record


def _set_paused(args: argparse.Namespace, config: Config, paused: bool) -> int:
    address = args.address.strip().lower()
    now = utcnow()
    engine = open_database(config.database_url)
    with session_scope(engine) as session:
        record = _mediator_record(session, address, config, now)
        record.paused, record.changed_at, record.changed_by = paused, now, who()
        mediator_store.save(session, record)
        picked = (
            [] if paused else case_service.assign_waiting(session, now, casework.settings(config))
        )
        mails = _enqueue(session, picked, config, now)
    state = "paused: no new cases" if paused else f"takes cases again; {_picked(picked, mails)}"
    print(f"mediator {address} {state}")
    return EX_OK


def cmd_mediator_pause(args: argparse.Namespace, config: Config) -> int:
    return _set_paused(args, config, True)


def cmd_mediator_resume(args: argparse.Namespace, config: Config) -> int:
    return _set_paused(args, config, False)


def cmd_mediator_set(args: argparse.Namespace, config: Config) -> int:
    """``siegel mediator set ADDRESS [--name N] [--language de|en]``: one line per change."""
    given = {field: getattr(args, field) for field in ("name", "language")}
    given = {field: value.strip() for field, value in given.items() if value is not None}
    if not given:
        raise UsageError("nothing to set: give --name or --language")
    address = args.address.strip().lower()
    now = utcnow()
    with session_scope(open_database(config.database_url)) as session:
        record = _mediator_record(session, address, config, now)
        default = config.siegel.default_language
        old = {"name": record.name, "language": record.language or default}
        lines = [f"  {f}: {shown(old[f])} → {shown(v)}" for f, v in given.items() if old[f] != v]
        for field, value in given.items():
            setattr(record, field, value)
        record.changed_at, record.changed_by = now, who()
        mediator_store.save(session, record)
    print(f"mediator {address}: {len(lines)} fields changed", *lines, sep="\n")
    return EX_OK


def cmd_mediator_list(args: argparse.Namespace, config: Config) -> int:
    page = Page.of(args)
    with read_scope(open_database(config.database_url)) as session:
        roster = mediator_store.roster(session, config.mediation.mediators)
        loads = storage.open_cases_per_mediator(session, [m.address for m in roster])
        records = {r.address: r for r in mediator_store.records(session)}
        everyone = [
            _mediator_summary(m, records.get(m.address), loads[m.address], config) for m in roster
        ]
    rows, total = page.rows(everyone)

    def table(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            state = "paused" if row["paused"] else "active"
            print(f"{row['address']:<40} {state:<7} {row['open_cases']:>4} open  "
                  f"{row['language']:<2} {row['source']:<6} {row['name']}")  # fmt: skip

    return page.show("mediator list", rows, total, table)


# ------------------------------------------------------------------ merchant set

_OPTIONS = {
    "name": "name",
    "name_alias": "name_aliases",
    "email": "support_addresses",
    "domain": "domains",
    "order_pattern": "order_pattern",
    "language": "language",
    "calendar": "calendar_region",
    "timezone": "timezone",
    "hours": "opening_hours",
}
"""``merchant set`` option → merchant field (the names of ``merchant add``)."""


def cmd_merchant_set(args: argparse.Namespace, config: Config) -> int:
    given = {option: getattr(args, option) for option in _OPTIONS if getattr(args, option)}
    if not given:
        raise UsageError(f"nothing to set: give one of --{', --'.join(_OPTIONS)}".replace("_", "-"))
    now = utcnow()
    with session_scope(open_database(config.database_url)) as session:
        merchant = storage.merchant_by_slug(session, args.slug)
        if merchant is None:
            raise LookupError(f"no merchant {args.slug}")
        current = argparse.Namespace(
            slug=merchant.slug,
            name=merchant.name,
            name_alias=list(merchant.name_aliases),
            email=list(merchant.support_addresses),
            domain=list(merchant.domains),
            order_pattern=merchant.order_pattern,
            language=merchant.language,
            calendar=merchant.calendar_region,
            timezone=merchant.timezone,
            hours=merchant.opening_hours,
        )
        for option, value in given.items():
            # A shop needs its name and email; its lists of domains and aliases may be empty.
            cleared = [] if option in ("domain", "name_alias") else None
            setattr(current, option, cleared if value in ("-", ["-"]) else value)
        checked = merchant_values(current, config.siegel.domain)
        if "email" in given or "domain" in given:
            clashes(checked, storage.merchants(session))
        values = {_OPTIONS[option]: checked[_OPTIONS[option]] for option in given}
        changes = merchant_changes.change(session, merchant, values, who(), now)
        lines = [f"  {c.field}: {shown(c.old)} → {shown(c.new)}" for c in changes]
        if "email" in given:
            # The cases whose forward bounced wait for this: the complaint goes out again.
            settings = casework.settings(config)
            again = case_service.forward_again(session, merchant.slug, now, settings)
            _enqueue(session, again, config, now)
            address = checked["support_addresses"][0]
            lines += [f"  {o.case_ref}: complaint forwarded again to {address}" for o in again]
    print(f"merchant {args.slug.lower()}: {len(changes)} fields changed", *lines, sep="\n")
    return EX_OK


def shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "-"
    return "-" if value in (None, "") else str(value)


def change_history(session: Session, merchant_id: int) -> list[dict[str, Any]]:
    """The recorded changes of a merchant, for ``siegel merchant show``."""
    return [
        {"at": c.at.isoformat(), "by": c.actor, "field": c.field, "old": c.old, "new": c.new}
        for c in merchant_changes.history(session, merchant_id)
    ]


# ------------------------------------------------------------------ parser


_LANGUAGE_HELP = "the language of its mails (default: [siegel] default_language)"


def register(commands: Any, merchant_verbs: Any) -> None:
    """Add ``siegel mediator`` and ``siegel merchant set``."""
    mediator = commands.add_parser("mediator", help="mediators: add, set, list, pause, resume")
    verbs = mediator.add_subparsers(dest="verb", required=True, metavar="VERB")
    add = add_command(verbs, "add", cmd_mediator_add, "register a mediator; it takes waiting cases")
    add.add_argument("address", help="the mediator's mail address")
    add.add_argument("--name", help="the mediator's name")
    add.add_argument("--language", choices=LANGUAGES, help=_LANGUAGE_HELP)
    change = add_command(verbs, "set", cmd_mediator_set, "change a mediator's name or language")
    change.add_argument("address")
    change.add_argument("--name", help="the mediator's name")
    change.add_argument("--language", choices=LANGUAGES, help=_LANGUAGE_HELP)
    listing = add_command(verbs, "list", cmd_mediator_list, "list mediators with their load")
    add_paging(listing)
    pause = add_command(verbs, "pause", cmd_mediator_pause, "give a mediator no new cases")
    pause.add_argument("address")
    resume = add_command(verbs, "resume", cmd_mediator_resume, "give a paused mediator cases again")
    resume.add_argument("address")

    edit = add_command(merchant_verbs, "set", cmd_merchant_set, "change a merchant's fields")
    edit.add_argument("slug")
    edit.add_argument("--name", help="the shop's name as customers write it")
    edit.add_argument(
        "--name-alias",
        action="append",
        help="other names customers use, replacing them (repeatable); - clears",
    )
    edit.add_argument(
        "--email", action="append", help="support addresses, replacing them (repeatable)"
    )
    edit.add_argument("--domain", action="append", help="domains, replacing them (repeatable)")
    edit.add_argument("--order-pattern", help="regular expression of its order numbers; - clears")
    edit.add_argument("--language", choices=LANGUAGES)
    edit.add_argument("--calendar", help="its own holiday region, e.g. DE-BY; - clears")
    edit.add_argument("--timezone", help="its own time zone; - clears")
    edit.add_argument("--hours", help="its own business hours, HH:MM-HH:MM; - clears")
