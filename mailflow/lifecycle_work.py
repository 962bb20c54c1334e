"""The seal's lifecycle mails, sent from the nightly recompute (`sealwork.recompute`):
each merchant's seal status on the operator's day, the notices due
(`mediation.lifecycle_notices.due`: trial ends in `[web] trial_notice_days`, certification
expires in `expiry_notice_days`, re-check due), each sent once (recorded with its mail,
in the caller's unit of work) through the outbox.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlmodel import Session

from mailflow import outbox
from mailflow.config import Config
from mediation import lifecycle_notices, seal, storage
from scoring import seal_status

log = logging.getLogger("mailflow.seal")


def certificate_url(config: Config, slug: str) -> str:
    return f"{config.web.public_url}/siegel/{slug}"


def send_due(
    session: Session, config: Config, now: datetime, on: date, slug: str | None = None
) -> int:
    """Enqueue every lifecycle mail due on the operator's day `on` (at `now`) and not
    sent before (of every merchant, or only `slug`'s); how many were enqueued."""
    records, _ = seal.records(session)
    web, policy = config.web, config.scoring.policy
    count = 0
    for merchant in storage.merchants(session):
        record = records.get(merchant.slug)
        if record is None or (slug is not None and merchant.slug != slug):
            continue
        status = seal_status(record, on, policy)
        for notice in lifecycle_notices.due(
            status, on, web.trial_notice_days, web.expiry_notice_days
        ):
            assert merchant.id is not None
            if lifecycle_notices.sent(session, merchant.id, notice):
                continue
            mail = lifecycle_notices.mail(
                merchant, notice, on, certificate_url(config, merchant.slug)
            )
            lifecycle_notices.record(session, merchant.id, notice, now)
            if mail is not None:
                outbox.enqueue(session, mail, config, now)
                count += 1
            log.info("lifecycle mail %s for %s (%s)", notice.kind, merchant.slug, notice.about)
    return count
