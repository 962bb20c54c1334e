"""Language detection without a model: German, English, other, down to three words."""

from __future__ import annotations

import pytest

from classifier import records as rec
from classifier.language import detect_language, language_scores_many


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


def test_batch_scores_equal_single_scores():
    """Scoring many texts at once gives each text the scores it gets alone."""
    texts = ["Paket nie angekommen", "", "I don't accept", "Müller GmbH never arrived", "ok"]
    assert language_scores_many(texts) == [language_scores_many([text])[0] for text in texts]
    assert [detect_language(text) for text in texts] == ["de", "other", "en", "en", "other"]


def test_dotless_i_is_other_evidence_but_a_plain_i_is_not():
    """Only letters other languages use count as their evidence: "ı" does, "I" does not."""
    assert language_scores_many(["I I I"])[0]["other"] == 0.0
    assert language_scores_many(["ıı"])[0]["other"] == 1.0
