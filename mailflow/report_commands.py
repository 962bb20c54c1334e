"""``siegel report --month YYYY-MM [--merchant SLUG] [--json]``: the monthly report.

The same figures the monthly mails carry (`mailflow.monthly_reports`): per merchant
and the operator's totals, reply times, time to resolution and tier movement, as of the
month's end (as of now for the current month).
"""

from __future__ import annotations

import argparse
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from mailflow import monthly_reports
from mailflow.case_commands import check_merchant
from mailflow.command_support import EX_OK, UsageError, add_command, print_json
from mailflow.config import Config
from mailflow.db import utcnow
from mailflow.schema import open_database


def cmd_report(args: argparse.Namespace, config: Config) -> int:
    try:
        month = monthly_reports.parse_month(args.month)
    except ValueError as error:
        raise UsageError(f"--month {error}") from None
    this_month = utcnow().astimezone(ZoneInfo(config.siegel.timezone)).date().replace(day=1)
    if month > this_month:
        raise UsageError(f"--month {args.month}: a month that has not begun")
    with Session(open_database(config.database_url)) as session:
        check_merchant(session, "--merchant", args.merchant)
        report = monthly_reports.reports(session, config, month, args.merchant, now=utcnow())
    if args.json:
        print_json(report)
        return EX_OK
    language = config.siegel.default_language
    span = f"{report['from']} – {report['until']}, as of {report['as_of']}"
    print(f"report {report['month']} ({span})")
    if not args.merchant:
        print(f"\nall merchants ({report['operator']['merchants']}):")
        print(_indent(monthly_reports.figure_lines(report["operator"]["figures"], language)))
    for entry in report["merchants"]:
        print(f"\n{entry['merchant']} ({entry['name']}):")
        print(_indent(monthly_reports.figure_lines(entry["figures"], language)))
        print(_indent(monthly_reports.moves_text(entry["tier_changes"], language)))
    return EX_OK


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def register(commands: Any) -> None:
    report = add_command(
        commands, "report", cmd_report, "monthly report: per merchant and for the operator"
    )
    report.add_argument("--month", required=True, help="the month, YYYY-MM")
    report.add_argument("--merchant", help="only this merchant's (slug)")
    report.add_argument("--json", action="store_true", help="print JSON")
