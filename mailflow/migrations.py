"""The schema's history: numbered, idempotent upgrade steps recorded in `schema_version`.

Importing this module imports every table's module, to have all tables in the shared
metadata; `mailflow.schema.open_database` imports it only for a database behind
`mailflow.schema.SCHEMA_VERSION`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.schema import CreateIndex
from sqlmodel import SQLModel

from mailflow import models
from mailflow.db import is_postgres, schema_version, utcnow
from mediation import feedback_store as feedback_storage
from mediation import form_store as form_storage
from mediation import lifecycle_notices as lifecycle_storage
from mediation import mediator_store, merchant_changes, report_store
from mediation import rating_store as rating_storage
from mediation import seal as seal_storage
from mediation import storage as case_storage

log = logging.getLogger("mailflow.db")


def _create_tables(*names: str) -> Callable[[Connection], None]:
    def step(connection: Connection) -> None:
        tables = [SQLModel.metadata.tables[name] for name in names]
        SQLModel.metadata.create_all(connection, tables=tables, checkfirst=True)

    return step


def _create_indexes(*names: str) -> Callable[[Connection], None]:
    """A step that creates the named indexes of the metadata unless they exist."""

    def step(connection: Connection) -> None:
        for table in SQLModel.metadata.tables.values():
            for index in table.indexes:
                if index.name in names:
                    # IF NOT EXISTS: reflection cannot see an index on an expression.
                    connection.execute(CreateIndex(index, if_not_exists=True))

    return step


def add_column(table: str, column: str, ddl_type: str) -> Callable[[Connection], None]:
    """A step that adds a column unless the table already has it."""

    def step(connection: Connection) -> None:
        existing = {c["name"] for c in inspect(connection).get_columns(table)}
        if column not in existing:
            connection.execute(text(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {ddl_type}'))

    return step


# Append only, and `mailflow.schema.SCHEMA_VERSION` raised with each step. Each step must be
# safe on a database that already has its effect, because a fresh database gets today's
# tables from the first step.
def _envelope_sender_nullable(connection: Connection) -> None:
    # Fresh databases get the nullable column from the first step. SQLite cannot drop
    # NOT NULL in place; no SQLite database older than this step was ever deployed.
    if connection.dialect.name == "postgresql":
        connection.execute(text('ALTER TABLE "mail" ALTER COLUMN "envelope_from" DROP NOT NULL'))


def _mediation_started(connection: Connection) -> None:
    # Scoring counts a case as mediated once it entered mediation, however it ended;
    # older cases get the time from their event log.
    postgres = connection.dialect.name == "postgresql"
    add_column("cases", "mediation_started_at", "TIMESTAMPTZ" if postgres else "DATETIME")(
        connection
    )
    connection.execute(
        text(
            "UPDATE cases SET mediation_started_at = (SELECT min(e.at) FROM case_event e"
            " WHERE e.case_id = cases.id"
            " AND e.state_after IN ('in_mediation', 'proposal_pending'))"
            " WHERE mediation_started_at IS NULL"
        )
    )


def _scoring_indexes(connection: Connection) -> None:
    add_column("cases", "first_reply_business_seconds", "INTEGER")(connection)
    connection.execute(
        text(
            "UPDATE cases SET first_reply_business_seconds ="
            " CAST(round(first_reply_business_hours * 3600) AS INTEGER)"
            " WHERE first_reply_business_hours IS NOT NULL"
            " AND first_reply_business_seconds IS NULL"
        )
    )
    _create_indexes("ix_cases_scoring", "ix_rating_scoring")(connection)


def _case_number_sequence(connection: Connection) -> None:
    # PostgreSQL: case numbers from a sequence, so that opening a case holds no row lock
    # until commit (`mediation.storage.next_ref`). It starts after the highest number
    # used in any year, by a `case_sequence` row or a case's reference.
    if connection.dialect.name != "postgresql":
        return
    assert case_storage.CASE_NUMBER_SEQUENCE == "case_number_seq"
    connection.execute(text("CREATE SEQUENCE IF NOT EXISTS case_number_seq AS BIGINT MINVALUE 1"))
    connection.execute(
        text(
            "SELECT setval('case_number_seq', GREATEST(1, used), used > 0) FROM (SELECT GREATEST("
            " (SELECT coalesce(max(last_number), 0) FROM case_sequence),"
            " (SELECT coalesce(max(CAST(substring(ref FROM '[0-9]+$') AS BIGINT)), 0)"
            "  FROM cases)) AS used) AS highest"
        )
    )


def _feedback_publication(connection: Connection) -> None:
    # The certificate page shows a Lob & Tadel text only with both (mediation.feedback_store).
    postgres = connection.dialect.name == "postgresql"
    add_column("feedback", "publish_consent", "BOOLEAN NOT NULL DEFAULT FALSE")(connection)
    add_column("feedback", "released_at", "TIMESTAMPTZ" if postgres else "DATETIME")(connection)
    add_column("feedback", "released_by", "VARCHAR(200)")(connection)


def _web_forms(connection: Connection) -> None:
    # The rating form asks for consent to publish; the operator may refuse an entry.
    postgres = connection.dialect.name == "postgresql"
    stamp = "TIMESTAMPTZ" if postgres else "DATETIME"
    add_column("rating", "publish_consent", "BOOLEAN NOT NULL DEFAULT FALSE")(connection)
    add_column("rating_history", "publish_consent", "BOOLEAN NOT NULL DEFAULT FALSE")(connection)
    add_column("feedback", "rejected_at", stamp)(connection)
    add_column("feedback", "rejected_by", "VARCHAR(200)")(connection)
    _create_tables(*form_storage.TABLES, *lifecycle_storage.TABLES)(connection)


def _rating_publication(connection: Connection) -> None:
    # A rating's Lob & Tadel, given with consent, wait for the operator's release like
    # the Lob & Tadel entries (mediation.rating_store.waiting, published).
    stamp = "TIMESTAMPTZ" if connection.dialect.name == "postgresql" else "DATETIME"
    add_column("rating", "released_at", stamp)(connection)
    add_column("rating", "released_by", "VARCHAR(200)")(connection)
    add_column("rating", "rejected_at", stamp)(connection)
    add_column("rating", "rejected_by", "VARCHAR(200)")(connection)


def _outbox_recipient_index(connection: Connection) -> None:
    # The daily cap of automatic replies counts a recipient's rows case-insensitively
    # (`outbox._AutoReplyCounts`); without this index each count read the whole outbox.
    connection.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_outbox_recipient_lower"
            " ON outbox (lower(recipient), created_at)"
        )
    )


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    (
        "mail path: mail, outbox, attempts, IMAP checkpoints",
        _create_tables("mail", "outbox", "outbox_attempt", "imap_checkpoint"),
    ),
    (
        "outbox: why a row was suppressed",
        add_column("outbox", "suppressed_reason", "VARCHAR(400)"),
    ),
    (
        "cases: merchants, customers, cases, deadlines, event log, held mails, corrections",
        _create_tables(*case_storage.TABLES),
    ),
    ("mail: an unknown envelope sender is NULL, the null sender ''", _envelope_sender_nullable),
    ("cases: when a case entered mediation", _mediation_started),
    (
        "seal: ratings and their history, seal records and tier history",
        _create_tables(*rating_storage.TABLES, *seal_storage.TABLES),
    ),
    (
        "scoring: first-reply business seconds, covering indexes of cases and ratings",
        _scoring_indexes,
    ),
    ("Lob & Tadel outside cases", _create_tables(*feedback_storage.TABLES)),
    ("cases: PostgreSQL numbers cases from a sequence", _case_number_sequence),
    (
        "Lob & Tadel: the author's consent to publish, the operator's release",
        _feedback_publication,
    ),
    (
        "web forms: used rating links, Lob & Tadel requests, refusals, consent; lifecycle mails",
        _web_forms,
    ),
    ("outbox: the mail as written, rendered when sent", add_column("outbox", "payload", "JSON")),
    ("outbox: automatic replies per recipient, by index", _outbox_recipient_index),
    (
        "operator's desk: mediators as records, merchant change history, monthly reports",
        _create_tables(*mediator_store.TABLES, *merchant_changes.TABLES, *report_store.TABLES),
    ),
    ("ratings: the operator's release of consented Lob & Tadel", _rating_publication),
    (
        "merchants: other names customers use (name aliases)",
        add_column("merchant", "name_aliases", "JSON NOT NULL DEFAULT '[]'"),
    ),
    (
        "mediators: the language of their mails (none: the operator's default)",
        add_column("mediator", "language", "VARCHAR(5)"),
    ),
    (
        "outbox: which relay holds a claimed row",
        add_column("outbox", "claimed_by", "VARCHAR(200)"),
    ),
    (
        "scheduler: when the nightly run last ran, to catch up a missed one",
        _create_tables("scheduled_run"),
    ),
]


def upgrade(engine: Engine) -> int:
    """Bring the schema to the newest version; returns the version reached."""
    # Importing the models registers their tables in the shared metadata.
    assert models.StoredMail.__tablename__ and case_storage.Case.__tablename__
    with engine.begin() as connection:
        if is_postgres(engine):
            # Two processes starting at once must not both run the same step.
            connection.execute(text("SELECT pg_advisory_xact_lock(7420001)"))
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
                " applied_at VARCHAR(40) NOT NULL)"
            )
        )
        current = schema_version(connection)
        for number, (description, step) in enumerate(MIGRATIONS, start=1):
            if number <= current:
                continue
            log.info("schema upgrade %d: %s", number, description)
            step(connection)
            connection.execute(
                text("INSERT INTO schema_version VALUES (:v, :d, :t)"),
                {"v": number, "d": description, "t": utcnow().isoformat()},
            )
        return max(current, len(MIGRATIONS))
