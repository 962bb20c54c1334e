"""Every real mail of the corpora through the whole pipeline: stored, then processed or quarantined.

The files go in through the spool exactly as an intake stores them and the real worker
processes them (parsing, machine-mail rules, case routing, outbox). Nothing may crash
the worker or vanish: each mail ends `done`, or `quarantined` with a reason; the raw
bytes read back identical; every bounce is recognised as machine mail.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from mailflow.models import StoredMail
from mailflow.schema import open_database
from mailflow.spool import Arrival, store
from mailflow.worker import Worker
from tests.conftest import CORPORA, TEST_DOMAIN, make_config
from tests.corpora import NOT_BOUNCES, bounce_files, corpus_files, label

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CORPORA.is_dir(), reason=f"corpora folder {CORPORA} is absent"),
]


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, dict[Path, int]]:
    """All corpus files stored and processed once for this module."""
    tmp_path = tmp_path_factory.mktemp("corpora")
    config = make_config(tmp_path)
    engine = open_database(f"sqlite:///{tmp_path / 'siegel.db'}")
    files = corpus_files()
    stored = store(
        engine,
        [
            Arrival(
                path.read_bytes(),
                "sender@example.org",
                (f"beschwerde@{TEST_DOMAIN}",),
                f"file {label(path)}",
            )
            for path in files
        ],
    )
    Worker(engine, config).drain()
    return engine, {path: result.mail_id for path, result in zip(files, stored, strict=True)}


def test_every_corpus_mail_is_processed_or_quarantined_with_a_reason(
    processed: tuple[Engine, dict[Path, int]],
) -> None:
    """No mail is left new or processing; a quarantined one always says why."""
    engine, mail_ids = processed
    assert len(mail_ids) > 200
    with Session(engine) as session:
        mails = [session.get(StoredMail, mail_id) for mail_id in set(mail_ids.values())]
    statuses = Counter(mail.status for mail in mails if mail)
    assert set(statuses) <= {"done", "quarantined"}, statuses
    for mail in mails:
        assert mail is not None
        if mail.status == "quarantined":
            assert mail.quarantine_reason, mail.id
        else:
            assert mail.parsed is not None and mail.processed_at is not None
    print(f"corpus pipeline: {dict(statuses)}")


def test_raw_bytes_read_back_identical(processed: tuple[Engine, dict[Path, int]]) -> None:
    """What was stored is byte for byte what arrived first.

    Files that are the same mail (same Message-ID and body, headers reordered) are
    stored once, as the first of them.
    """
    engine, mail_ids = processed
    first: dict[int, Path] = {}
    for path, mail_id in mail_ids.items():
        first.setdefault(mail_id, path)
    assert len(first) > 0.9 * len(mail_ids)
    with Session(engine) as session:
        for mail_id, path in first.items():
            mail = session.get(StoredMail, mail_id)
            assert mail is not None
            assert mail.raw == path.read_bytes(), label(path)


def test_bounces_are_machine_mail(processed: tuple[Engine, dict[Path, int]]) -> None:
    """Every flufl.bounce and flanker bounce is recorded as a bounce or a delay."""
    engine, mail_ids = processed
    bounces = bounce_files()
    assert bounces
    with Session(engine) as session:
        for path in bounces:
            mail = session.get(StoredMail, mail_ids[path])
            assert mail is not None
            if path.name in NOT_BOUNCES:
                assert mail.machine == NOT_BOUNCES[path.name], label(path)
                continue
            assert mail.machine in {"bounce", "delay"}, (label(path), mail.machine)
            assert mail.machine_rule
