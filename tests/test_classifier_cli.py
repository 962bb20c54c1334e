"""`siegel classify` and `siegel classifier train`, run as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from classifier import DEFAULT_TRIAGE_THRESHOLD
from mailflow import casework
from mailflow.config import load
from tests.conftest import TEST_DOMAIN, TEST_SECRET

pytestmark = pytest.mark.slow


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[siegel]\ndomain = "{TEST_DOMAIN}"\nsecret = "{TEST_SECRET}"\ndata_dir = "data"\n',
        encoding="utf-8",
    )
    casework.model(load(path))  # trained once per test process, saved into data_dir
    return path


def siegel(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailflow.cli", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_jsonl_gives_one_line_per_input_in_order(config_path: Path, tmp_path: Path) -> None:
    """Each input line gets one output line with the documented keys; a bad line an error."""
    lines = [
        {
            "id": "a",
            "subject": "Paket fehlt",
            "body": "Wo bleibt meine Bestellung 4711? DHL "
            "zeigt seit zehn Tagen 'in Zustellung', angekommen ist nichts.",
        },
        {
            "id": 7,
            "subject": "Refund",
            "body": "I returned the jacket three weeks ago and "
            "still have not received my money back.",
        },
        "this is not json",
        {
            "id": "c",
            "subject": "Abwesenheitsnotiz",
            "body": "Vielen Dank für Ihre Nachricht. "
            "Ich bin bis einschließlich 14.08. nicht im Büro und habe keinen Zugriff auf E-Mails.",
        },
    ]
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    done = siegel(config_path, "classify", "--jsonl", str(source))
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 65  # one line could not be read (EX_DATAERR)
    assert [o.get("id") for o in out] == ["a", 7, None, "c"]
    assert "error" in out[2]
    for result in (out[0], out[1], out[3]):
        assert set(result) == {
            "id", "category", "confidence", "needs_triage", "language", "auto_reply",
            "auto_reply_kind", "intent",
        }  # fmt: skip
        assert 0 <= result["confidence"] <= 1
        assert result["needs_triage"] == (result["confidence"] < DEFAULT_TRIAGE_THRESHOLD)
    assert (out[0]["category"], out[0]["language"], out[0]["auto_reply"]) == (
        "delivery",
        "de",
        False,
    )
    assert (out[1]["category"], out[1]["language"]) == ("return_refund", "en")
    assert (out[3]["auto_reply"], out[3]["auto_reply_kind"]) == (True, "out_of_office")
    assert out[0]["auto_reply_kind"] == "human"


def test_classify_a_mail_file_explains_itself(config_path: Path, tmp_path: Path) -> None:
    """One mail: category, language, machine-mail verdict and the rules that fired."""
    eml = tmp_path / "m.eml"
    eml.write_bytes(
        b"From: kunde@example.org\nTo: beschwerde@siegel.test\nSubject: Doppelt abgebucht\n"
        b"Content-Type: text/plain; charset=utf-8\n\n"
        b"Guten Tag, Sie haben meine Rechnung 2026-118 zweimal von meinem Konto abgebucht.\n"
        b"Bitte erstatten Sie den doppelten Betrag.\n\n"
        b"Am 02.03.2026 um 10:12 schrieb Shop <info@shop.example>:\n> Ihre Bestellung ist "
        b"versandt.\n"
    )
    done = siegel(config_path, "classify", "--json", str(eml))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["category"] == "payment_billing"
    assert result["language"] == "de"
    assert result["machine_mail"] is None
    assert "versandt" not in result["new_text"]
    assert result["rules"]
    text = siegel(config_path, "classify", str(eml))
    assert "rules fired:" in text.stdout and "payment_billing" in text.stdout


def test_train_uses_operator_corrections(config_path: Path) -> None:
    """`siegel classifier train` counts the stored corrections and replaces the model."""
    from mailflow.db import session_scope, utcnow
    from mailflow.schema import open_database
    from mediation.storage import Case, CategoryCorrection, Customer

    config = load(config_path)
    engine = open_database(config.database_url)
    with session_scope(engine) as session:
        customer = Customer(address="k@example.org", name="", language="de", created_at=utcnow())
        session.add(customer)
        session.flush()
        case = Case(
            ref="SSG-2026-000001",
            state="awaiting_merchant",
            customer_id=customer.id,
            language="de",
            subject="x",
            opened_at=utcnow(),
            updated_at=utcnow(),
        )
        session.add(case)
        session.flush()
        session.add(
            CategoryCorrection(
                case_id=case.id,
                subject="Gutschein",
                body="Mein Gutschein wird nicht angenommen.",
                language="de",
                category="payment_billing",
                corrected_at=utcnow(),
            )
        )
    engine.dispose()
    model_file = config.data_dir / casework.MODEL_FILE
    before = model_file.stat().st_mtime_ns
    done = siegel(config_path, "classifier", "train")
    assert done.returncode == 0, done.stderr
    assert "and 1 operator corrections" in done.stdout
    assert model_file.stat().st_mtime_ns > before
