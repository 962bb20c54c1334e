"""The shell side of the case domain: settings from config, the call from processing, the sweep.

- `model(config)`: the classifier model, loaded from the data directory (trained and
  saved there at first start); `Reader` is the one place through which cases call
  the classifier.

- `handle(session, mail, parsed, verdict, config, now)`: a processed mail into
  `mediation.case_service.handle_mail`, with the case references of our own mails its
  threading headers name (looked up in the outbox) and the classifier (`Reader`), and
  the returned mails enqueued in the caller's session, so the case change and its
  mails commit together. The reading the case used is kept as the mail's
  classification unless one was stored before.
- `sweep(engine, config, now)`: fires every due deadline, oldest first, each in its own
  transaction (a failing one is logged and skipped, not retried in a loop); safe when
  two processes sweep at once, and after downtime it catches up.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from mailflow import authentication, outbox
from mailflow.config import Config
from mailflow.db import PRIVATE_DIRECTORY_MODE, reading, session_scope
from mailflow.models import OutboxMail, StoredMail
from mediation import case_service, routing, storage
from mediation.incoming import Attachment, RepliedTo
from mediation.outgoing import AttachmentPolicy

if TYPE_CHECKING:
    from classifier import Classification, Model
    from classifier.machine import MachineVerdict
    from mailflow.parsing import ParsedMail

log = logging.getLogger("mailflow.casework")

MODEL_FILE = "classifier.skops"
MAX_FIRED_PER_SWEEP = 10_000
"""A bound on one sweep's work; the next sweep continues where it stopped."""


@cache
def settings(config: Config) -> case_service.Settings:
    """The case service's settings from the (already checked) configuration; made once
    per configuration (the business calendar behind them is costly to build)."""
    return case_service.Settings(
        domain=config.siegel.domain,
        secret=config.secret_bytes,
        policy=config.deadlines.policy(config.calendar),
        calendar=config.calendar.business_calendar(),
        mediators=tuple(address.lower() for address in config.mediation.mediators),
        operator_address=config.mediation.operator or None,
        default_language=config.siegel.default_language,
        timezone=config.siegel.timezone,
        authserv_id=authentication.trusted_authserv_id(config.authentication),
        web_url=config.web.public_url,
        rating_link_days=config.web.rating_link_days,
        settlement_reply_days=config.mediation.settlement_reply_days,
        praise_threshold=config.classifier.praise_threshold,
        max_cases_per_mail=config.mediation.max_cases_per_mail,
        max_messages_per_day=config.mediation.max_messages_per_day,
        attachments=AttachmentPolicy(
            max_count=config.outbox.max_attachments,
            max_bytes=config.outbox.max_attachment_bytes,
            withheld_extensions=config.outbox.withheld_extensions,
        ),
    )


# ------------------------------------------------------------------ classifier


def model(config: Config) -> Model:
    """The classifier model the cases use: ``<data_dir>/classifier.skops``, trained on the
    shipped data and saved there when missing or unusable (once per process)."""
    path = config.data_dir / MODEL_FILE
    if path not in _models:
        _models[path] = _load_or_train(path)
    return _models[path]


def adopt_model(config: Config, loaded: Model) -> None:
    """Use `loaded` as `model(config)` in this process: the worker's analysis process
    reads with the worker's model, not with a file retrained since."""
    _models[config.data_dir / MODEL_FILE] = loaded


_models: dict[Path, Model] = {}


def preload(config: Config) -> bool:
    """Load a saved model and read one mail with it, before the intakes open: a few
    tenths of a second, which would otherwise stall the intake's threads (the GIL) in
    the first seconds of service. False, doing nothing, when the model has yet to be
    trained (first start: the worker trains it while mail is accepted)."""
    if not (config.data_dir / MODEL_FILE).exists():
        return False
    import classifier

    try:
        classifier.classify("warm-up", "warm-up", model=model(config))
    except Exception:
        log.exception("classifier model not preloaded; the worker will retry")
        return False
    return True


def preload_merchants(engine: Engine) -> None:
    """Make the routing index of the registered merchants (`storage.merchant_index`)
    before the first complaint, outside any transaction: for thousands of merchants it
    takes a second or more, for which the first unit of work would hold the writer."""
    with Session(reading(engine)) as session:
        storage.merchant_index(session)


def _load_or_train(path: Path) -> Model:
    import classifier  # scikit-learn loads only when a mail is first read

    if path.exists():
        try:
            return classifier.load(path)
        except classifier.ModelError as error:
            log.warning("classifier model %s unusable, training a new one: %s", path, error)
    trained = classifier.default_model()
    save_model(trained, path)
    log.info("classifier model trained and saved to %s", path)
    return trained


def save_model(trained: Model, path: Path) -> None:
    """Write the model file and its metadata beside it, replacing any earlier ones."""
    import classifier

    path.parent.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)  # the data dir
    # Written under temporary names and renamed, so a reader never sees half a file;
    # a reader that finds the two files from different writers refuses them (sha256).
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    classifier.save(trained, temporary)
    os.replace(classifier.model.metadata_path(temporary), classifier.model.metadata_path(path))
    os.replace(temporary, path)


def reply_parts(parsed: ParsedMail) -> tuple[str, str | None]:
    """The text and HTML parts as the reply reader takes them: as the client sent them.
    Without a text part the text is empty (parsing's text is then its own rendering of
    the HTML, whose line breaks the sender never wrote). A message forwarded as an
    attachment is someone else's mail: read as a quote, never as new text."""
    text, html = parsed.text, parsed.html_source
    if parsed.body_forwarded:
        return "".join(f"> {line}\n" for line in text.splitlines()), None
    if html is not None and not any(
        part.get_content_type() == "text/plain" and part.get_content_disposition() != "attachment"
        for part in parsed.message.walk()
    ):
        return "", html
    return text, html


class Reader:
    """The classifier for one mail, in whichever reply context the case asks for; each
    context is classified once and kept in `readings`."""

    def __init__(
        self,
        parsed: ParsedMail,
        config: Config,
        readings: dict[str | None, Classification] | None = None,
    ) -> None:
        self.parsed = parsed
        self.config = config
        self.readings: dict[str | None, Classification] = readings or {}

    def __call__(self, context: str | None) -> Classification:
        import classifier

        if context not in self.readings:
            text, html = reply_parts(self.parsed)
            self.readings[context] = classifier.classify(
                routing.sender_subject(self.parsed.subject),
                text,
                html,
                context=context,
                model=model(self.config),
                proposal_threshold=self.config.classifier.proposal_threshold,
                solved_threshold=self.config.classifier.solved_threshold,
            )
        return self.readings[context]

    @staticmethod
    def read_together(readers: Sequence[Reader]) -> None:
        """Make the first reading (no reply context) of every reader in one classifier
        batch: the texts of many mails are featurised at once."""
        import classifier

        unread = [reader for reader in readers if None not in reader.readings]
        if not unread:
            return
        mails = []
        for reader in unread:
            text, html = reply_parts(reader.parsed)
            subject = routing.sender_subject(reader.parsed.subject)
            mails.append({"subject": subject, "body": text, "html": html})
        readings = classifier.classify_many(mails, model=model(unread[0].config))
        for reader, first in zip(unread, readings, strict=True):
            reader.readings[None] = first

    def record(self) -> dict[str, Any] | None:
        """The last reading as JSON (for `mail.classification`), or None if none was made."""
        if not self.readings:
            return None
        context, reading = list(self.readings.items())[-1]
        return {
            "context": context,
            "category": reading.category,
            "confidence": reading.confidence,
            "language": reading.language,
            "intent": reading.intent,
            "auto_reply": reading.auto_reply,
            "auto_reply_kind": reading.auto_reply_kind,
            "needs_triage": reading.needs_triage,
            "rules": [dict(rule) for rule in reading.rules],
        }


# ------------------------------------------------------------------ mails


@dataclass(frozen=True)
class Answered:
    """What a received mail answers of ours, read in one query of the outbox."""

    thread_refs: tuple[str, ...]
    """Case references of our mails it names, the direct parent's first."""
    kinds: tuple[str, ...]
    """The templates of our mails it names."""
    parent: RepliedTo | None
    """Our mail its In-Reply-To names, with what we wrote after it; None: not ours."""


def answered(session: Session, parsed: ParsedMail) -> Answered:
    """Our own outgoing mails among those `parsed` names (References, In-Reply-To)."""
    parent = parsed.in_reply_to
    # In-Reply-To names the direct parent: its case is the strongest evidence.
    newest_first = list(dict.fromkeys([*filter(None, [parent]), *reversed(parsed.references)]))
    if not newest_first:
        return Answered((), (), None)
    rows = session.execute(
        select(OutboxMail.message_id, OutboxMail.id, OutboxMail.kind, OutboxMail.case_ref,
               OutboxMail.recipient)
        .where(OutboxMail.message_id.in_(newest_first))  # type: ignore[attr-defined]
        .order_by(OutboxMail.id)  # type: ignore[arg-type]
    ).all()  # fmt: skip
    by_id = {row.message_id: row for row in rows}
    refs = (by_id[m].case_ref for m in newest_first if m in by_id)
    thread = tuple(dict.fromkeys(ref for ref in refs if ref is not None))
    kinds = tuple(sorted({row.kind for row in rows}))
    own = by_id.get(parent or "")
    if own is None:
        return Answered(thread, kinds, None)
    later: tuple[str, ...] = ()
    if own.case_ref is not None:
        later = tuple(
            session.scalars(
                select(OutboxMail.kind)
                .where(
                    OutboxMail.case_ref == own.case_ref,
                    OutboxMail.recipient == own.recipient,
                    OutboxMail.id > own.id,  # type: ignore[operator]
                )
                .order_by(OutboxMail.id)  # type: ignore[arg-type]
            )
        )
    return Answered(thread, kinds, RepliedTo(own.kind, later))


def incoming(
    session: Session,
    mail: StoredMail,
    parsed: ParsedMail,
    verdict: MachineVerdict | None,
    authentication_results: tuple[str, ...] = (),
) -> case_service.IncomingMail:
    """What the case service reads of a stored, parsed mail."""
    assert mail.id is not None
    references = list(dict.fromkeys([*parsed.references, *filter(None, [parsed.in_reply_to])]))
    ours = answered(session, parsed)
    return case_service.IncomingMail(
        id=mail.id,
        received_at=mail.received_at,
        envelope_to=tuple(mail.envelope_to),
        sender=parsed.from_address.lower() if parsed.from_address else None,
        sender_name=parsed.from_name or "",
        subject=parsed.subject or "",
        text=parsed.text or "",
        message_id=parsed.message_id,
        references=tuple(references),
        thread_refs=ours.thread_refs,
        answered_kinds=ours.kinds,
        replied_to=ours.parent,
        machine=verdict.kind if verdict else None,
        machine_rule=verdict.rule if verdict else None,
        authentication_results=authentication_results,
        attachments=attachments(parsed),
    )


def attachments(parsed: ParsedMail) -> tuple[Attachment, ...]:
    """The parser's attachment list as the case service reads it, with each part's
    Content-Disposition (an unnamed inline part is body, not an attachment)."""
    return tuple(
        Attachment(
            index=index,
            filename=entry.get("filename"),
            content_type=str(entry.get("content_type") or "application/octet-stream"),
            size=int(entry.get("size") or 0),
            disposition=part.get_content_disposition(),
        )
        for index, (entry, part) in enumerate(
            zip(parsed.attachments, parsed.attachment_parts, strict=False)
        )
    )


def handle(
    session: Session,
    mail: StoredMail,
    parsed: ParsedMail,
    verdict: MachineVerdict | None,
    config: Config,
    now: datetime,
    reader: Reader | None = None,
    authentication_results: tuple[str, ...] = (),
) -> case_service.Outcome:
    """Apply one processed mail to its case; its mails go into the outbox in `session`.

    Pass the `reader` made before the transaction (`processing.analyse`), so that the
    classifier's work does not hold the database's write lock.
    """
    reader = reader or Reader(parsed, config)
    outcome = case_service.handle_mail(
        session,
        incoming(session, mail, parsed, verdict, authentication_results),
        reader,
        settings(config),
    )
    if mail.classification is None:
        mail.classification = reader.record()
    for outgoing in outcome.outgoing:
        outbox.enqueue(session, outgoing, config, now)
    return outcome


# ------------------------------------------------------------------ deadlines


@dataclass
class SweepReport:
    """What one sweep did."""

    fired: list[case_service.Fired] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    @property
    def mails(self) -> int:
        return sum(len(fired.outgoing) for fired in self.fired)


def sweep(
    engine: Engine, config: Config, now: datetime, send_at: datetime | None = None
) -> SweepReport:
    """Fire every deadline due at `now`, oldest first; each in its own transaction.
    Their mails are due at `send_at` (default `now`): `siegel sweep --at` a later time
    sends them at once."""
    case_settings = settings(config)
    report = SweepReport()
    while len(report.fired) + len(report.failed) < MAX_FIRED_PER_SWEEP:
        with session_scope(engine) as session:
            due = storage.due_deadline_ids(session, now, exclude=report.failed)
        if not due:
            break
        for deadline_id in due:
            try:
                with session_scope(engine) as session:
                    fired = case_service.fire_deadline(session, deadline_id, now, case_settings)
                    for outgoing in fired.outgoing if fired else ():
                        outbox.enqueue(session, outgoing, config, now, send_at=send_at)
            except Exception:
                log.exception("firing deadline %s failed; skipped in this sweep", deadline_id)
                report.failed.append(deadline_id)
                continue
            if fired is not None:
                report.fired.append(fired)
                log.info(
                    "deadline %s of %s fired%s",
                    fired.kind,
                    fired.case_ref,
                    f" but held: {fired.held}" if fired.held else "",
                )
    return report
