"""Shared fixtures: databases (SQLite always, PostgreSQL when its server can be started)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mailflow import db

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPORA = SHARED / "corpora"


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.open_database(f"sqlite:///{tmp_path / 'siegel.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    """The database under test; see tests/servers.py for PostgreSQL."""
    return sqlite_engine
