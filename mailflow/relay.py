"""The relay worker: the only code that speaks SMTP outwards.

It claims due outbox rows a few at a time (a conditional UPDATE to `claimed`, so two
relays never hold the same row), renders the row's message (`outbox.message`: the same
bytes each time it is rendered), hands it with the row's VERP envelope sender to the
configured relay, and records every answer as an `OutboxAttempt`:

- 2xx: `sent`.
- 5xx to MAIL, RCPT or DATA: `failed`, never retried (RFC 5321 §4.2.1). A case's mail
  whose recipient is refused for good (5.1.x, 5.2.x: `Answer.recipient_refused`) is
  `bounced` instead and told to its case as a bounce is (`delivery_reports.tell_the_case`:
  the timeline, the operator, the merchant's clock); a failure of ours (a relay that
  refuses us, retries used up, a message we cannot send) tells no case.
- A message the relay cannot take as it is: `failed` at once, with the reason, and
  the pass goes on with the next row. That is a recipient with a non-ASCII local part
  (rendered with UTF-8 headers, `mailflow.outbox`) when the relay does not offer
  SMTPUTF8 (RFC 6531), a message that cannot be signed, or a row whose stored mail
  cannot be rendered (damaged).
- 4xx, no connection, or a relay that refuses us (greeting, STARTTLS, AUTH): tried
  again after `retry_base_seconds * 2**(attempts-1)`, capped at
  `max_backoff_seconds`, up to 10 % later at random so that rows deferred together
  spread out; `failed` after `max_attempts`.

Delivery is at-least-once. A worker that dies after the SMTP relay accepted a
message but before it committed `sent` leaves the row `sending`; `recover()` queues it
again and it is sent a second time, with the same Message-ID, Date and MIME boundary:
rendering a row is deterministic. Receivers can recognise the duplicate by it. A claim
names its holder (`claimed_by`, the mail queue's `queue.worker_id()`), so `recover()`
(at start and every minute, `mailflow.service`) requeues at once the rows of a holder
that provably died (`queue.holder_is_gone`: this host, pid gone); those of a live holder,
of another host or of none wait for the lease (`[queue] lease_seconds`). (A send that
outlasts the lease can be recovered by another process too: keep the lease well above
the relay's `timeout_seconds`.) Rows are claimed `CLAIM_SIZE` at a time and rendered
after the claim's commit. Only the row about to be sent is `sending`: the claim marks the
first, and the transaction that records a row's answer marks the next, so a relay killed
mid-batch leaves one row that may have gone out (requeued as interrupted) and the rest
`claimed`, requeued without an attempt. A claimed row is not tried once half the lease
has passed since its claim, and rows not tried go back to the queue as they were.

With `[relay] maildir` (the demo configuration) each message is written into the
recipient's local Maildir instead (`mailflow.maildir`), with the same claim, signature,
attempt record and status: 250 when the file is in `new/`, deferred when it cannot be
written.

With a `[dkim]` key the message is signed just before it is sent (`mailflow.signing`),
every attempt afresh.
"""

from __future__ import annotations

import logging
import random
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, or_, select, update

from mailflow import delivery_reports, outbox, queue
from mailflow.config import Config, ConfigError, RelaySection
from mailflow.db import is_postgres, read_scope, session_scope, utcnow
from mailflow.maildir import MaildirDelivery
from mailflow.models import OutboxAttempt, OutboxMail, OutboxStatus
from mailflow.outbox import Answer, AttemptOutcome
from mailflow.signing import KeyFileError, Signer, load_key
from mediation.addresses import redact

log = logging.getLogger("mailflow.relay")

BATCH_SIZE = 50
# Rows claimed in one transaction: at most this many wait as `claimed` behind the one in
# flight; a relay killed meanwhile leaves them to be requeued after the lease.
CLAIM_SIZE = 10
JITTER = 0.1
_RESPONSE_LIMIT = 2000
_MAX_EXPONENT = 40  # 2**40 base intervals is far past any cap; avoids float overflow


def backoff_seconds(attempts: int, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait after the `attempts`-th failed attempt; `jitter` is in [0, 1)."""
    delay = min(base * 2.0 ** min(attempts - 1, _MAX_EXPONENT), cap)
    return delay * (1 + JITTER * jitter)


@dataclass(frozen=True)
class Claimed:
    """What the relay needs of a claimed row, read in the claiming transaction."""

    id: int
    recipient: str
    envelope_from: str
    raw: bytes
    claimed_at: datetime  # the claim's time, as stored: what every later update compares
    problem: str | None = None  # why the message could not be rendered


class RelayConnection:
    """One SMTP session to the relay, reused for the messages of one pass."""

    def __init__(self, settings: RelaySection, helo_name: str) -> None:
        self.settings = settings
        self.helo_name = helo_name
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> RelayConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _open(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                self._smtp.rset()  # still alive after the last message?
                return self._smtp
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
                self._smtp = None
        s = self.settings
        # An explicit HELO name: the default, socket.getfqdn(), can stall on DNS.
        smtp = smtplib.SMTP(
            s.host, s.port, local_hostname=self.helo_name, timeout=s.timeout_seconds
        )
        try:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def deliver(self, envelope_from: str, recipient: str, raw: bytes) -> Answer:
        """Send one message to one recipient; never raises."""
        try:
            smtp = self._open()
        except smtplib.SMTPResponseException as error:
            # A refusal of our session (greeting, STARTTLS, AUTH) is about the relay
            # and our settings, not this message: retry, whatever the code.
            return Answer(error.smtp_code, _text(error.smtp_error), relay_problem=True)
        except (smtplib.SMTPException, OSError) as error:
            return Answer(None, f"relay unreachable: {error!r}", relay_problem=True)
        options: list[str] = []
        if not (envelope_from.isascii() and recipient.isascii() and raw.isascii()):
            # RFC 6531: a non-ASCII address, or UTF-8 in the headers, needs SMTPUTF8
            # end to end; no later attempt through this relay can do without it.
            if not smtp.has_extn("smtputf8"):
                return Answer(None, SMTPUTF8_MISSING, unsendable=True)
            options = ["SMTPUTF8"]
            if smtp.has_extn("8bitmime"):  # RFC 6531 §3.1: the body may be 8-bit too
                options.append("BODY=8BITMIME")
        try:
            code, response = smtp.mail(envelope_from, options)
            if 200 <= code < 300:
                code, response = smtp.rcpt(recipient)
            if 200 <= code < 300:
                code, response = smtp.data(raw)
        except smtplib.SMTPResponseException as error:  # DATA refused before the content
            code, response = error.smtp_code, error.smtp_error
        except UnicodeError as error:
            # Not sent at all: smtplib encodes a command before it writes it. The open
            # transaction is reset before the next message (`_open`).
            return Answer(None, f"cannot be written as SMTP: {error}", unsendable=True)
        except Exception as error:
            # A broken connection mid-message; anything else must not stop the relay.
            self._drop()
            return Answer(None, f"delivery interrupted: {error!r}", relay_problem=True)
        if code == 421:  # RFC 5321 §3.8: the server is closing the channel
            self._drop()
        return Answer(code, _text(response))

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


SMTPUTF8_MISSING = (
    "relay does not support SMTPUTF8, needed for a recipient address with a non-ASCII "
    "local part (RFC 6531)"
)


def _text(response: bytes | str) -> str:
    text = response.decode("utf-8", "replace") if isinstance(response, bytes) else response
    return " ".join(text.split())[:_RESPONSE_LIMIT]


def signer(config: Config) -> Signer | None:
    """The DKIM signer of `[dkim]`, or None when no key is configured.

    Raises `ConfigError` when the key file cannot be used (`mailflow.signing.load_key`:
    readable by group or others, missing, not a PEM RSA or ed25519 key).
    """
    section = config.dkim
    if not section.enabled:
        return None
    try:
        key = load_key(config.dkim_key_path)
    except KeyFileError as error:
        raise ConfigError("[dkim] private_key_file", str(error)) from None
    return Signer(section.selector, section.domain or config.siegel.domain, key)


class Relay:
    """Delivers outbox rows through the configured SMTP relay; safe to run twice."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self._random = rng or random.Random()
        self._wake = threading.Event()
        self.lease = timedelta(seconds=config.queue.lease_seconds)
        self.signer = signer(config)

    def wake(self) -> None:
        """Look for due rows now rather than after the next pause (call after enqueueing)."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; call `wake()` after setting it to stop at once.

        Run `recover()` before (and now and then beside) it: the service does both.
        """
        while not stop.is_set():
            self._wake.clear()  # before the pass, so that a wake() during it counts
            attempted = 0
            try:
                attempted = self.run_once()
            except Exception:
                # The database may be away for a moment; the relay must outlive that.
                log.exception("relay pass failed; trying again shortly")
            if attempted < BATCH_SIZE and not stop.is_set():
                self._wake.wait(self.config.queue.poll_seconds)

    def run_once(self) -> int:
        """One pass over the due rows; returns how many delivery attempts it made.

        Rows are claimed a few at a time (`CLAIM_SIZE`, one transaction) and each is
        recorded in its own transaction right after its attempt. The pass ends early when
        the relay itself is the problem (unreachable, or refusing our session): the next
        row would only meet the same answer, so the rows claimed and not tried go back
        to the queue untouched, as they do when anything else stops the pass.
        """
        attempted = 0
        with self._connection() as connection:
            while attempted < BATCH_SIZE:
                batch = self._claim(self.clock(), min(CLAIM_SIZE, BATCH_SIZE - attempted))
                if not batch:
                    break
                tried, relay_down = 0, False
                try:
                    sending: Claimed | None = batch[0]  # marked `sending` by the claim
                    while sending is not None:
                        answer = self._deliver(connection, sending)
                        tried += 1
                        relay_down = answer.relay_problem
                        # A later row may have waited so long that `recover` could hand
                        # it to another relay: it is given back instead (the rows of a
                        # batch share one claim and its time).
                        fresh = self.clock() - sending.claimed_at <= self.lease / 2
                        following = batch[tried] if tried < len(batch) else None
                        if relay_down or not fresh:
                            following = None
                        sending = self._record(sending, answer, self.clock(), following)
                finally:
                    attempted += tried
                    self._give_back(batch[tried:])
                if relay_down:
                    break
        return attempted

    def _deliver(self, connection: RelayConnection | MaildirDelivery, claimed: Claimed) -> Answer:
        if claimed.problem:
            return Answer(None, claimed.problem, unsendable=True)
        try:
            raw = self.signer.sign(claimed.raw) if self.signer else claimed.raw
        except Exception as error:
            # This message only (the key was checked at start): fail it, go on.
            log.exception("outbox %s cannot be DKIM-signed", claimed.id)
            return Answer(None, f"DKIM signing failed: {error}", unsendable=True)
        return connection.deliver(claimed.envelope_from, claimed.recipient, raw)

    def _connection(self) -> RelayConnection | MaildirDelivery:
        """The SMTP relay of `[relay]`, or its local Maildir (`[relay] maildir`, the demo)."""
        if self.config.maildir_path is not None:
            return MaildirDelivery(self.config.maildir_path)
        return RelayConnection(self.config.relay, self.config.siegel.domain)

    def recover(self, now: datetime) -> int:
        """Queue again the rows a relay left `sending` or `claimed`: at once when their
        holder provably died (`queue.holder_is_gone`), else once the lease has run out.
        Only a `sending` row may have gone out, and gets an interrupted attempt."""
        recovered = 0
        table = OutboxMail.__table__  # type: ignore[attr-defined]
        held = [OutboxStatus.CLAIMED, OutboxStatus.SENDING]
        with session_scope(self.engine) as session:
            holders = session.scalars(
                select(table.c.claimed_by)
                .where(table.c.status.in_(held), table.c.claimed_by.is_not(None))
                .distinct()
            )
            this_host = socket.gethostname()
            dead = [holder for holder in holders if queue.holder_is_gone(holder, this_host)]
            # A dead holder claims nothing new: the condition keeps any newer claim.
            left = or_(table.c.claimed_at < now - self.lease, table.c.claimed_by.in_(dead))
            untried = session.execute(
                update(table)
                .where(table.c.status == OutboxStatus.CLAIMED, left)
                .values(status=OutboxStatus.QUEUED, claimed_at=None, claimed_by=None)
            ).rowcount
            stuck = session.scalars(
                select(OutboxMail)
                .where(OutboxMail.status == OutboxStatus.SENDING, left)
                .with_for_update()
            ).all()
            for row in stuck:
                session.add(
                    OutboxAttempt(
                        outbox_id=row.id,  # type: ignore[arg-type]
                        at=now,
                        response=(
                            f"interrupted: left sending since {row.claimed_at:%Y-%m-%d %H:%M:%S}"
                            " UTC; it may have been delivered, and is sent again with the"
                            " same Message-ID"
                        ),
                        outcome=AttemptOutcome.INTERRUPTED,
                    )
                )
                row.status = OutboxStatus.QUEUED
                row.claimed_at = row.claimed_by = None
                row.next_attempt_at = now
                session.add(row)
                recovered += 1
        if untried:
            log.info("requeued %d outbox rows a stopped relay had claimed, not tried", untried)
        if recovered:
            log.warning("requeued %d outbox rows left sending by a stopped relay", recovered)
        return recovered + untried

    def _claim(self, now: datetime, limit: int) -> list[Claimed]:
        """Up to `limit` due rows, marked `claimed` (the first `sending`) in one
        transaction and rendered after it (rendering holds no lock). A row that cannot be
        rendered is claimed all the same, with its problem, so that it fails alone."""
        table = OutboxMail.__table__  # type: ignore[attr-defined]
        holder = queue.worker_id()
        with session_scope(self.engine) as session:
            while True:
                query = (
                    select(table.c.id)
                    .where(table.c.status == OutboxStatus.QUEUED, table.c.next_attempt_at <= now)
                    .order_by(
                        case((table.c.kind.in_(outbox.BULK_KINDS), 1), else_=0),
                        table.c.next_attempt_at,
                        table.c.id,
                    )
                    .limit(limit)
                )
                if is_postgres(self.engine):
                    query = query.with_for_update(skip_locked=True)
                due = list(session.scalars(query))
                if not due:
                    return []
                claimed = set(
                    session.scalars(
                        update(table)
                        .where(table.c.id.in_(due), table.c.status == OutboxStatus.QUEUED)
                        .values(status=OutboxStatus.CLAIMED, claimed_at=now, claimed_by=holder)
                        .returning(table.c.id)
                    )
                )
                if claimed:
                    due = [row_id for row_id in due if row_id in claimed]
                    session.execute(
                        update(table)
                        .where(table.c.id == due[0])
                        .values(status=OutboxStatus.SENDING)
                    )
                    rows = session.scalars(
                        select(OutboxMail).where(OutboxMail.id.in_(claimed))  # type: ignore[union-attr]
                    )
                    by_id = {row.id: row for row in rows}
                    break
                # Others claimed them between our SELECT and UPDATE: the next ones.
        return [self._rendered(by_id[row_id]) for row_id in due]

    def _rendered(self, row: OutboxMail) -> Claimed:
        assert row.id is not None
        assert row.claimed_at is not None
        envelope_from = outbox.envelope_sender(row, self.config)
        try:
            # Reads the stored mail whose attachments a forward carries; takes no lock.
            with read_scope(self.engine) as session:
                raw = outbox.message(row, self.config, session)
        except Exception as error:  # a row that can never be sent: fail it alone
            log.exception("outbox %s cannot be rendered", row.id)
            problem = f"cannot be rendered: {type(error).__name__}: {error}"
            return Claimed(row.id, row.recipient, envelope_from, b"", row.claimed_at, problem)
        return Claimed(row.id, row.recipient, envelope_from, raw, row.claimed_at)

    def _give_back(self, rows: list[Claimed]) -> None:
        """Rows of one claim not tried: queued again as they were (no attempt counted); a
        row recovered and claimed by another relay meanwhile (at another time) is not this
        relay's to give back."""
        if not rows:
            return
        table = OutboxMail.__table__  # type: ignore[attr-defined]
        with session_scope(self.engine) as session:
            session.execute(
                update(table)
                .where(
                    table.c.id.in_([row.id for row in rows]),
                    table.c.status.in_([OutboxStatus.CLAIMED, OutboxStatus.SENDING]),
                    table.c.claimed_at == rows[0].claimed_at,
                )
                .values(status=OutboxStatus.QUEUED, claimed_at=None, claimed_by=None)
            )

    def _record(
        self, claimed: Claimed, answer: Answer, now: datetime, following: Claimed | None
    ) -> Claimed | None:
        """Record `claimed`'s answer and, in the same transaction, mark `following`
        `sending`; returns it when it is still this relay's to send (a bounce or a
        recovery meanwhile leaves it alone), else None."""
        settings = self.config.relay
        table = OutboxMail.__table__  # type: ignore[attr-defined]
        with session_scope(self.engine) as session:
            row = session.get(OutboxMail, claimed.id, with_for_update=True)
            assert row is not None
            row.attempts += 1
            outcome = answer.outcome
            if outcome is AttemptOutcome.DEFERRED and row.attempts >= settings.max_attempts:
                outcome = AttemptOutcome.FAILED
            session.add(
                OutboxAttempt(
                    outbox_id=claimed.id,
                    at=now,
                    code=answer.code,
                    response=answer.response,
                    outcome=outcome,
                )
            )
            # A bounce recorded meanwhile (or a recovery by another relay after our
            # lease ran out) has the last word on the status; the attempt is kept.
            if row.status == OutboxStatus.SENDING:
                row.claimed_at = row.claimed_by = None
                if outcome is AttemptOutcome.SENT:
                    row.status = OutboxStatus.SENT
                    row.sent_at = now
                    row.last_error = None
                elif outcome is AttemptOutcome.FAILED:
                    row.status = OutboxStatus.FAILED
                    row.last_error = _error(answer)
                    if row.case_ref and answer.recipient_refused:
                        # The receiving side refused the recipient: a bounce in all but
                        # name, and the case hears of it as of one.
                        row.status = OutboxStatus.BOUNCED
                        why = " ".join(row.last_error.split())
                        delivery_reports.tell_the_case(session, row, why, now, self.config, now)
                else:
                    row.status = OutboxStatus.QUEUED
                    row.last_error = _error(answer)
                    delay = backoff_seconds(
                        row.attempts,
                        settings.retry_base_seconds,
                        settings.max_backoff_seconds,
                        self._random.random(),
                    )
                    row.next_attempt_at = now + timedelta(seconds=delay)
            session.add(row)
            if following is not None:
                marked = session.execute(
                    update(table)
                    .where(
                        table.c.id == following.id,
                        table.c.status == OutboxStatus.CLAIMED,
                        table.c.claimed_at == following.claimed_at,
                    )
                    .values(status=OutboxStatus.SENDING)
                ).rowcount
                following = following if marked == 1 else None
        recipient = redact(claimed.recipient)
        if outcome is AttemptOutcome.SENT:
            log.info("outbox %s sent to %s: %s", claimed.id, recipient, redact(answer.response))
        else:
            log.warning(
                "outbox %s to %s %s (attempt %s): %s",
                claimed.id,
                recipient,
                outcome,
                row.attempts,
                redact(_error(answer)),
            )
        return following


def _error(answer: Answer) -> str:
    return f"{answer.code} {answer.response}" if answer.code is not None else answer.response
