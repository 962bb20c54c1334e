"""The nightly run: the seal recompute with its lifecycle mails, then last month's
reports, at `[scoring] recompute_at` in the operator's time zone.

Each part is sent once however often it runs (the tiers mail only changes, lifecycle
mails and reports are recorded as sent), so a run that the service missed (stopped or
crashed across that minute) or that failed is caught up (`missed`: at a worker's start
and by the maintenance every minute) rather than a day later. The run's end is recorded
in `scheduled_run`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from mailflow import monthly_reports, sealwork
from mailflow.config import Config
from mailflow.db import read_scope, session_scope
from mailflow.models import ScheduledRun

log = logging.getLogger("mailflow.nightly")

JOB = "nightly"


def run(engine: Engine, config: Config, now: datetime) -> int:
    """Recompute the seal and send what is due; how many mails were queued. The run is
    recorded unless another process held the recompute (it records its own)."""
    done = sealwork.recompute(engine, config, now, wait=False)
    if done.skipped:
        log.debug("seal recompute skipped: another process is running it")
        return 0
    reports = monthly_reports.send(engine, config, now)
    _record(engine, now)
    return done.mails + done.lifecycle_mails + reports


def last_due(config: Config, now: datetime) -> datetime:
    """The latest moment at or before `now` at which the nightly run was due."""
    zone = ZoneInfo(config.siegel.timezone)
    today = now.astimezone(zone).date()
    for day in (today, today - timedelta(days=1)):
        due = datetime.combine(day, config.scoring.recompute_time, zone)
        if due <= now:
            return due
    raise AssertionError("unreachable")  # pragma: no cover


def missed(engine: Engine, config: Config, now: datetime) -> datetime | None:
    """When the nightly run was due and has not run since, or None. A database that
    never recorded one (a new installation) has missed nothing: its first start is
    recorded instead."""
    with read_scope(engine) as session:
        last = session.get(ScheduledRun, JOB)
        ran_at = last.ran_at if last is not None else None
    if ran_at is None:
        _record(engine, now)
        return None
    due = last_due(config, now)
    return due if ran_at < due else None


def _record(engine: Engine, at: datetime) -> None:
    """Record a run at `at`; of two processes recording the first run at once, the
    second's insert is refused and the first's stands."""
    try:
        with session_scope(engine) as session:
            last = session.get(ScheduledRun, JOB)
            if last is None:
                session.add(ScheduledRun(job=JOB, ran_at=at))
            elif last.ran_at < at:
                last.ran_at = at
    except IntegrityError:
        log.debug("nightly run recorded by another process")
