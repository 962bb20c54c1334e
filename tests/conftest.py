"""Shared fixtures: databases (SQLite always, PostgreSQL when its server can be started)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mailflow import db
from mailflow.config import Config, parse

TEST_DOMAIN = "siegel.test"
TEST_SECRET = "test-secret-0123456789abcdef"

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


def make_config(tmp_path: Path, **sections: dict) -> Config:
    """A checked Config for tests: test domain and secret, data in tmp_path."""
    raw: dict = {"siegel": {"domain": TEST_DOMAIN, "secret": TEST_SECRET, "data_dir": "data"}}
    for name, values in sections.items():
        raw[name] = raw.get(name, {}) | values if isinstance(values, dict) else values
    return parse(raw, tmp_path, {})


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)
