"""What happens to one stored mail: parse, recognise machine mail, route.

Two steps. `analyse()` derives everything that depends on the raw bytes alone (the
parsed form, the machine verdict, the classifier's reading); it is pure CPU and runs
outside any transaction,
because on SQLite an open write transaction blocks the intake's commits. Then
`process_mail()` runs inside one unit of work opened by the worker: everything it
decides (outbox rows, case changes) commits together with the mail's `done` status,
or not at all. Work from the stored raw bytes only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from classifier import machine
from mailflow import authentication, casework, delivery_reports, outbox, parsing
from mailflow.config import Config
from mailflow.models import MailStatus, StoredMail
from mediation import case_service, storage

log = logging.getLogger("mailflow.processing")


@dataclass(frozen=True)
class Analysis:
    """What the raw bytes say, before any case is looked at."""

    parsed: parsing.ParsedMail
    verdict: machine.MachineVerdict | None
    bounced: tuple[int, ...]  # outbox rows named by VERP addresses (delivery_reports)
    reader: casework.Reader | None  # the classifier, its first reading already made
    authentication_results: tuple[str, ...] = ()  # what the case service may trust
    returned: str | None = None  # our Message-ID a report returns (delivery_reports)


@dataclass(frozen=True)
class Context:
    config: Config
    now: datetime
    analysis: Analysis | None = None


@dataclass(frozen=True)
class RawMail:
    """What analysis reads of a stored mail: its bytes and envelope (and all that is sent
    to the analysis process)."""

    raw: bytes
    envelope_from: str | None
    envelope_to: Sequence[str]
    source: str

    @classmethod
    def of(cls, mail: StoredMail) -> RawMail:
        return cls(mail.raw, mail.envelope_from, tuple(mail.envelope_to), mail.source)


def analyse(mail: StoredMail | RawMail, config: Config) -> Analysis:
    [analysis] = analyse_batch([mail], config)
    if isinstance(analysis, Exception):
        raise analysis
    return analysis


def analyse_batch(
    mails: Sequence[StoredMail | RawMail], config: Config
) -> list[Analysis | Exception]:
    """Each mail's analysis, or the exception that stopped it (that mail fails alone).
    The classifier reads the batch's mails together, in one pass."""
    analyses: list[Analysis | Exception] = []
    for mail in mails:
        try:
            analyses.append(_analyse_alone(mail, config))
        except Exception as error:
            analyses.append(error)
    readers = [a.reader for a in analyses if isinstance(a, Analysis) and a.reader is not None]
    # Category, language, automatic reply: what every case asks first.
    try:
        casework.Reader.read_together(readers)
    except Exception:
        # One mail the classifier cannot read: each is read alone, so that it fails alone.
        for index, analysis in enumerate(analyses):
            if isinstance(analysis, Analysis) and analysis.reader is not None:
                try:
                    analysis.reader(None)
                except Exception as error:
                    analyses[index] = error
    return analyses


def _analyse_alone(mail: StoredMail | RawMail, config: Config) -> Analysis:
    parsed = parsing.parse(mail.raw)
    verdict = machine.detect(parsed.message, mail.envelope_from, config.siegel.domain)
    bounced = tuple(delivery_reports.rows_named(mail.envelope_to, parsed, verdict, config))
    reader, results = None, ()
    if not bounced:
        reader = casework.Reader(parsed, config)
        results = authentication.results_for(
            mail.raw, parsed.headers, config.authentication, mail.source
        )
    returned = None if bounced else delivery_reports.returned_message_id(verdict, config)
    return Analysis(parsed, verdict, bounced, reader, results, returned)


def process_mail(session: Session, mail: StoredMail, context: Context) -> str:
    """Apply one mail in the caller's unit of work; returns what it did, in a few words
    (the worker logs it once the unit of work is committed)."""
    analysis = context.analysis or analyse(mail, context.config)
    parsed, verdict = analysis.parsed, analysis.verdict
    reported = delivery_reports.record(
        session, mail, verdict, analysis.bounced, analysis.returned, context.config, context.now
    )
    done = f"delivery report for outbox {', '.join(map(str, reported or analysis.bounced))}"
    if analysis.reader is not None and not reported:
        # Route to a case and decide; the case change and its outgoing mails are part
        # of this unit of work.
        outcome = casework.handle(
            session, mail, parsed, verdict, context.config, context.now, analysis.reader,
            analysis.authentication_results,
        )  # fmt: skip
        done = _summary(outcome)
    # The mail's row is written once, with all it learnt (one UPDATE, after the case's).
    mail.parsed = parsed.to_json()
    mail.subject = parsed.subject
    mail.from_address = parsed.from_address
    mail.machine = verdict.kind if verdict else None
    mail.machine_rule = verdict.rule if verdict else None
    mail.status = MailStatus.DONE
    mail.processed_at = context.now
    mail.claimed_by = mail.claimed_at = None
    session.add(mail)
    return done


def _summary(outcome: case_service.Outcome) -> str:
    """What the mail did, in each case it reached (one mail may go to several)."""
    return "; ".join(_one_case(part) for part in outcome.each)


def _one_case(outcome: case_service.Outcome) -> str:
    case = f"case {outcome.case_ref}" if outcome.case_ref else "no case"
    mails = f"{len(outcome.outgoing)} mail(s) queued"
    if outcome.held:
        return f"held ({outcome.held}), {case}, {mails}"
    return f"{case}, {mails}"


def prepare(session: Session, analyses: Sequence[Analysis], now: datetime) -> None:
    """Read for a batch of mails at once what each would read alone: their senders'
    customer records and automatic-reply counts (a query each instead of one per mail)."""
    senders = [a.parsed.from_address for a in analyses if a.reader and a.parsed.from_address]
    storage.preload_customers(session, senders)
    outbox.prefetch_autoreply_counts(session, senders, now)
