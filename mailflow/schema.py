"""Opening a database for use: its schema brought up to `SCHEMA_VERSION` first.

Only a database behind that version loads `mailflow.migrations`, which imports every
table's module (a third of a second) to create and alter tables; a command against a
current database, above all `siegel ingest` started by the MTA once per mail, does not.
"""

from __future__ import annotations

from sqlalchemy import Engine

from mailflow.db import make_engine, reading, schema_version

SCHEMA_VERSION = 19
"""How many steps `mailflow.migrations.MIGRATIONS` has (a test holds the two equal)."""


def open_database(url: str) -> Engine:
    """Engine for `url` with the schema upgraded: what every command starts with."""
    engine = make_engine(url)
    with reading(engine).begin() as connection:
        current = schema_version(connection)
    if current < SCHEMA_VERSION:
        from mailflow import migrations

        migrations.upgrade(engine)
    return engine
