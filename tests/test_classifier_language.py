"""Language detection without a model: German, English, other, down to three words."""

from __future__ import annotations

import pytest

from classifier import records as rec
from classifier.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Wo bleibt mein Paket??? Bestellung 55102", "de"),
        ("Paket nie angekommen", "de"),
        ("leider nicht", "de"),
        ("Einverstanden.", "de"),
        ("Rueckerstattung fehlt immer noch", "de"),
        ("hey, hab da ein problem", "de"),
        ("Ich bin bis einschließlich 14.08. nicht im Büro", "de"),
        ("refund still missing", "en"),
        ("Thanks, solved.", "en"),
        ("Accepted.", "en"),
        ("My order from Müller GmbH never arrived", "en"),
        ("I am currently out of the office", "en"),
        ("Bonjour, mon colis n'est pas arrivé", "other"),
        ("Hola, mi pedido no ha llegado", "other"),
        ("Mijn bestelling is niet aangekomen", "other"),
        ("ok", "other"),
        ("", "other"),
    ],
)
def test_short_mails(text, language):
    """Short German, English and other-language mails get their language; a text with no
    evidence at all ("ok") is 'other'."""
    assert detect_language(text) == language


def test_shipped_training_mails_are_recognised():
    """On the shipped training data, at least 97 % of mails get their labelled language."""
    records = rec.read_records(rec.TRAIN_DIR)
    if not records:
        pytest.skip("no training data under classifier/data/train yet")
    correct = sum(
        detect_language(f"{r.get('subject', '')}\n{r['body']}") == r["language"] for r in records
    )
    print(f"language: {correct}/{len(records)}")
    assert correct / len(records) >= 0.97
