"""The operator's seal commands: scores, the barometer, ratings and the seal's records.

``siegel score [--merchant SLUG] [--at TIME] [--json] [--apply]``, ``siegel barometer
SLUG``, ``siegel ratings SLUG``, and the merchant's seal records: ``siegel merchant
precheck SLUG --passed|--failed``, ``siegel merchant trial SLUG --start DAY``,
``siegel merchant certify SLUG`` and ``siegel merchant seal SLUG``. Registered on the
main parser by `mailflow.commands`; each handler takes the parsed arguments and the
configuration and returns the exit status.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from mailflow import sealwork
from mailflow.case_commands import check_merchant
from mailflow.command_support import (
    EX_OK,
    Page,
    UsageError,
    add_command,
    add_paging,
    local_time,
    moment_option,
    print_json,
)
from mailflow.config import Config
from mailflow.db import read_scope, session_scope, utcnow
from mailflow.schema import open_database
from mediation import feedback_store as feedback
from mediation import rating_store as ratings
from mediation import seal, storage
from mediation.storage import Case, Merchant
from scoring import Assessment


def _day(text: str | None, option: str, config: Config) -> date:
    """A day option (ISO date); default today in the operator's time zone."""
    if text is None:
        return sealwork.scoring_day(config, utcnow())
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected an ISO date, e.g. 2026-03-02") from None
    if day < EARLIEST_DAY:
        raise UsageError(f"{option} {text}: before {EARLIEST_DAY.isoformat()}, a typing error?")
    return day


EARLIEST_DAY = date(2000, 1, 1)
"""No seal record of an online shop is older: an earlier day is a typing error."""
TRIAL_AHEAD_DAYS = 366
"""A trial may be recorded ahead of its start, by up to a year."""


def _past_day(text: str | None, option: str, config: Config) -> date:
    """A day on which something happened (a pre-check, a certification): not later
    than today, which would replace the real record with one that holds nothing yet."""
    day = _day(text, option, config)
    today = sealwork.scoring_day(config, utcnow())
    if day > today:
        raise UsageError(f"{option} {text}: a day after today ({today.isoformat()})")
    return day


def _merchant(session: Session, slug: str) -> Merchant:
    merchant = storage.merchant_by_slug(session, slug)
    if merchant is None:
        raise LookupError(f"no merchant {slug}")
    return merchant


# ------------------------------------------------------------------ score


def cmd_score(args: argparse.Namespace, config: Config) -> int:
    at = moment_option(args.at, config)
    engine = open_database(config.database_url)
    with Session(engine) as session:
        check_merchant(session, "--merchant", args.merchant)
    if args.apply:
        done = sealwork.recompute(engine, config, at, args.merchant)
        for change in done.changes:
            mailed = "mail queued" if change.mail else "no support address, not mailed"
            print(f"{change.merchant}: {change.before} → {change.after} ({mailed})")
        print(f"scored {done.assessed} merchants at {at.isoformat()}: {len(done.changes)} changed")
        return EX_OK
    with Session(engine) as session:
        assessments = sealwork.assess(session, config, at, args.merchant)
    if args.json:
        print_json([assessment.as_dict() for assessment in assessments])
    elif args.merchant:
        _print_assessment(assessments[0], config.siegel.default_language)
    else:
        for assessment in assessments or [None]:
            print(_line(assessment) if assessment else "(no merchants)")
    return EX_OK


def _line(assessment: Assessment) -> str:
    figures = assessment.figures
    earned = (
        f" (earned {assessment.earned_tier})" if assessment.earned_tier != assessment.tier else ""
    )
    return (
        f"{assessment.merchant:<24} {assessment.tier:<7}{earned:<17} "
        f"{assessment.seal.phase:<17} {figures['cases']:>6} cases {figures['ratings']:>6} ratings"
    )


def _print_assessment(assessment: Assessment, language: str) -> None:
    print(_line(assessment))
    for reason in assessment.reasons(language):
        print(f"  {reason}")
    print()
    for check in assessment.explanation:
        verdict = "met" if check.met else "MISSED"
        value = "-" if check.value is None else f"{check.value:.4g}"
        print(
            f"  {check.tier:<7} {check.figure:<26} {value:>8} {check.comparison} "
            f"{check.limit:<8.4g} {verdict}"
        )


# ------------------------------------------------------------------ barometer, ratings


def cmd_barometer(args: argparse.Namespace, config: Config) -> int:
    at = moment_option(args.at, config)
    with read_scope(open_database(config.database_url)) as session:
        summary = sealwork.barometer(session, config, args.slug, at)
    if args.json:
        print_json(summary)
        return EX_OK
    shown = summary["figures"]
    print(f"{summary['merchant']}: {summary['tier']} ({summary['seal']['phase']})")
    for name, value in shown.items():
        print(f"  {name:<26} {'-' if value is None else value}")
    rated = summary["ratings"]
    print(f"  {'ratings':<26} {rated['count']}")
    for dimension in ratings.DIMENSIONS:
        scores = rated[dimension]
        mean = "-" if scores["mean"] is None else f"{scores['mean']:.2f}"
        low_high = scores["interval"]
        interval = f", interval {low_high[0]:.2f}-{low_high[1]:.2f}" if low_high else ""
        print(f"  {dimension:<26} mean {mean} from {scores['count']} scores{interval}")
    # The shrunk score the tier is judged on is no mean: the public sees the means above.
    print(f"  {'rating score for the tier':<26} {rated['tier_score']:.2f} (shrunk, not a mean)")
    return EX_OK


def cmd_ratings(args: argparse.Namespace, config: Config) -> int:
    page = Page.of(args)
    with read_scope(open_database(config.database_url)) as session:
        merchant = _merchant(session, args.slug)
        query = (
            select(ratings.Rating, Case.ref)
            .join(Case, ratings.Rating.case_id == Case.id)  # type: ignore[arg-type]
            .where(ratings.Rating.merchant_id == merchant.id)
            .order_by(ratings.Rating.received_at.desc())  # type: ignore[attr-defined]
        )
        query, total = page.query(session, query)
        rows = [
            {"case": ref, **rating.model_dump(exclude={"id", "case_id", "merchant_id"})}
            for rating, ref in session.execute(query)
        ]

    def line(row: dict[str, Any]) -> str:
        scores = " ".join("-" if row[d] is None else str(row[d]) for d in ratings.DIMENSIONS)
        return (
            f"{row['case']}  {local_time(row['received_at'], config)}  {scores}  #{row['revision']}"
        )

    return _show("ratings", page, rows, total, line, ("praise", "criticism", "comment"))


def _show(
    command: str,
    page: Page,
    rows: list[dict[str, Any]],
    total: int,
    line: Callable[[dict[str, Any]], str],
    texts: tuple[str, ...],
) -> int:
    """Ratings or Lob & Tadel entries (a `page` of `total`): JSON, or a `line` each with
    its free `texts` indented below it."""

    def table(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            print(line(row))
            for name in texts:
                if row[name]:
                    print(f"      {name}: {row[name]}")

    return page.show(command, rows, total, table)


def cmd_feedback(args: argparse.Namespace, config: Config) -> int:
    """Lob & Tadel outside cases, newest first; entries whose shop is not yet known too."""
    page = Page.of(args)
    with read_scope(open_database(config.database_url)) as session:
        check_merchant(session, "--merchant", args.merchant)
        merchant_id = _merchant(session, args.merchant).id if args.merchant else None
        rows, total = page.rows(feedback.listing(session, merchant_id))
        slugs = {m.id: m.slug for m in session.scalars(select(Merchant))}
    for row in rows:
        row["merchant"] = slugs.get(row.pop("merchant_id"))

    def line(row: dict[str, Any]) -> str:
        shop = row["merchant"] or "(shop not yet named)"
        return f"#{row['id']}  {local_time(row['received_at'], config)}  {shop}  {row['source']}"

    return _show("feedback", page, rows, total, line, ("praise", "criticism"))


# ------------------------------------------------------------------ seal records


def _record(args: argparse.Namespace, config: Config, kind: str, on: date) -> int:
    by = args.by or _login()
    with session_scope(open_database(config.database_url)) as session:
        merchant = _merchant(session, args.slug)
        seal.record(session, merchant.id, kind, on, by, utcnow())  # type: ignore[arg-type]
    print(f"{merchant.slug}: {kind} on {on.isoformat()} by {by}")
    return EX_OK


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment or passwd
        return "operator"


def cmd_precheck(args: argparse.Namespace, config: Config) -> int:
    kind = "precheck-passed" if args.passed else "precheck-failed"
    return _record(args, config, kind, _past_day(args.on, "--on", config))


def cmd_trial(args: argparse.Namespace, config: Config) -> int:
    start = _day(args.start, "--start", config)
    latest = sealwork.scoring_day(config, utcnow()) + timedelta(days=TRIAL_AHEAD_DAYS)
    if start > latest:
        raise UsageError(f"--start {args.start}: more than a year ahead ({latest.isoformat()})")
    return _record(args, config, "trial-started", start)


def cmd_certify(args: argparse.Namespace, config: Config) -> int:
    return _record(args, config, "certified", _past_day(args.on, "--on", config))


def cmd_seal(args: argparse.Namespace, config: Config) -> int:
    with Session(open_database(config.database_url)) as session:
        merchant = _merchant(session, args.slug)
        found = session.get(seal.Seal, merchant.id)
        fields = [name for name in seal.Seal.model_fields if name != "merchant_id"]
        record = {name: getattr(found, name) for name in fields} if found else {"tier": "none"}
        entries = [
            entry.model_dump(
                exclude={"id", "merchant_id", "assessment"} if not args.json else {"id"}
            )
            for entry in seal.history(session, merchant.id)  # type: ignore[arg-type]
        ]
    detail = {"merchant": merchant.slug, **record, "history": entries}
    if args.json:
        print_json(detail)
        return EX_OK
    for key, value in detail.items():
        if key != "history":
            print(f"{key:>20}: {'-' if value is None else value}")
    print("\nhistory:")
    for entry in entries or [None]:
        if entry is None:
            print("  (none)")
            continue
        change = f" {entry['tier_before']} → {entry['tier_after']}" if entry["tier_after"] else ""
        on = f" {entry['on']}" if entry["on"] else ""
        print(
            f"  {local_time(entry['at'], config)}  {entry['kind']}{on}{change} ({entry['actor']})"
        )
    return EX_OK


# ------------------------------------------------------------------ parser


def register(commands: Any, merchant_verbs: Any) -> None:
    """Add the seal commands to the `siegel` sub-command parser `commands`, and the
    seal's verbs to ``siegel merchant`` (`merchant_verbs`, from the case commands)."""

    def command(name: str, handler: Any, help_text: str, parent: Any = commands) -> Any:
        return add_command(parent, name, handler, help_text)

    score = command("score", cmd_score, "seal tiers with figures and explanations")
    score.add_argument("--merchant", help="only this merchant (slug)")
    score.add_argument("--at", help="ISO time to score as of (local time when no offset)")
    score.add_argument("--json", action="store_true", help="print JSON")
    score.add_argument(
        "--apply", action="store_true", help="store changed tiers and mail the merchants"
    )

    barometer = command("barometer", cmd_barometer, "a merchant's public figures")
    barometer.add_argument("slug")
    barometer.add_argument("--at", help="ISO time (local time when no offset)")
    barometer.add_argument("--json", action="store_true", help="print JSON")

    listing = command("ratings", cmd_ratings, "a merchant's current ratings, newest first")
    listing.add_argument("slug")
    add_paging(listing)

    entries = command("feedback", cmd_feedback, "Lob & Tadel outside cases, newest first")
    entries.add_argument("--merchant", help="only this merchant (slug)")
    add_paging(entries)

    verbs = merchant_verbs
    precheck = command("precheck", cmd_precheck, "record a pre-check or re-check", verbs)
    precheck.add_argument("slug")
    outcome = precheck.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--passed", action="store_true")
    outcome.add_argument("--failed", action="store_true", help="the seal lapses")
    precheck.add_argument("--on", help="ISO date of the check (default today)")
    about_trial = "record the start of the trial ([scoring] trial_months, default 2)"
    trial = command("trial", cmd_trial, about_trial, verbs)
    trial.add_argument("slug")
    trial.add_argument("--start", help="ISO date (default today)")
    certify = command("certify", cmd_certify, "record a certification date", verbs)
    certify.add_argument("slug")
    certify.add_argument("--on", help="ISO date (default today)")
    for sub in (precheck, trial, certify):
        sub.add_argument("--by", help="who recorded it (default: the operator's login)")
    shown = command("seal", cmd_seal, "a merchant's seal records, tier and history", verbs)
    shown.add_argument("slug")
    shown.add_argument("--json", action="store_true", help="print JSON")
