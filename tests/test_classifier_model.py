"""The model: training on small in-test records, skops round trip, refusal of tampered,
foreign-version or unsafe files, and agreement of the fast path with scikit-learn."""

from __future__ import annotations

import json
import operator
from datetime import UTC, datetime

import numpy as np
import pytest
import skops.io

import classifier
from classifier import model as model_module
from classifier import records as rec
from classifier.features import NgramConfig, ngram_counts

TRAINED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SMALL = NgramConfig(word_columns=2**10, char_columns=2**11)

_COMPLAINTS = {
    "delivery": [
        "Mein Paket ist nie angekommen, Sendung hängt seit Tagen",
        "Lieferung fehlt, DHL sagt zugestellt aber nichts da",
        "Wo bleibt meine Bestellung? Tracking zeigt nichts",
        "My parcel never arrived, tracking stuck for a week",
        "Package not delivered, courier says delivered",
        "Still waiting for my order to be shipped",
    ],
    "return_refund": [
        "Rücksendung vor 5 Wochen, Erstattung fehlt",
        "Retoure angekommen, Geld nicht zurück",
        "Rueckerstattung immer noch nicht erhalten",
        "I returned the item weeks ago and got no refund",
        "Refund for my return is late",
        "Return label used, money never refunded",
    ],
    "praise": [
        "Ganz toller Service, vielen Dank an das Team",
        "Super schnelle Lieferung, sehr freundlich, gerne wieder",
        "Lob an den Kundenservice, alles perfekt",
        "Great service, thank you so much",
        "Fantastic shop, friendly and fast",
        "Just wanted to praise your support team",
    ],
}
_INTENTS = {
    ("solved_question", "resolved"): [
        "Ja, erledigt, danke",
        "Yes solved thanks",
        "Geld ist da",
        "Ja passt alles",
        "All good now",
        "Problem gelöst, danke",
    ],
    ("solved_question", "not_resolved"): [
        "Nein, immer noch nichts",
        "No, still nothing",
        "leider nicht",
        "Nein, kein Geld",
        "Not solved at all",
        "Nichts ist gelöst",
    ],
    ("proposal", "accept"): [
        "Einverstanden",
        "I accept",
        "Ja, angenommen",
        "Ich nehme an",
        "Agreed, fine",
        "Einverstanden, danke",
    ],
    ("proposal", "reject"): [
        "Ich lehne ab",
        "I reject this",
        "Nein, zu wenig",
        "Abgelehnt",
        "Not acceptable",
        "Das lehne ich ab",
    ],
}
_AUTO = {
    "out_of_office": ["Ich bin bis Montag nicht im Büro", "I am out of the office until Monday"],
    "ticket_ack": ["Ihr Ticket #123 wurde erstellt", "Your ticket #9 has been created"],
    "human": ["Wir haben die Erstattung heute veranlasst", "We sent the replacement today"],
}


def small_records() -> list[dict]:
    records = []
    for category, bodies in _COMPLAINTS.items():
        for number, body in enumerate(bodies):
            language = "de" if number < 3 else "en"
            records.append(
                {
                    "id": f"c{category}{number}",
                    "language": language,
                    "category": category,
                    "subject": "Beschwerde",
                    "body": body,
                }
            )
    for (context, intent), bodies in _INTENTS.items():
        for number, body in enumerate(bodies):
            records.append(
                {
                    "id": f"i{context}{intent}{number}",
                    "language": "de",
                    "context": context,
                    "intent": intent,
                    "subject": "Re: Frage",
                    "body": body,
                }
            )
    for kind, bodies in _AUTO.items():
        for number, body in enumerate(bodies * 2):
            records.append(
                {
                    "id": f"a{kind}{number}",
                    "language": "de",
                    "auto_reply": kind != "human",
                    "kind": kind,
                    "subject": "Re: Fall",
                    "body": f"{body} ({number})",
                }
            )
    return records


@pytest.fixture(scope="module")
def small_model() -> classifier.Model:
    return classifier.train(small_records(), trained_at=TRAINED_AT, config=SMALL)


def test_training_records_metadata(small_model):
    """Metadata names the model and scikit-learn versions, the training data's sha256 and
    the training date passed in."""
    metadata = small_model.metadata
    assert metadata["model_version"] == model_module.MODEL_VERSION
    assert metadata["sklearn_version"] == model_module.sklearn.__version__
    assert metadata["training_sha256"] == rec.records_sha256(small_records())
    assert metadata["trained_at"] == "2026-03-01T12:00:00+00:00"
    assert metadata["counts"] == {"complaint": 18, "intent": 24, "auto_reply": 12}


def test_records_digest_ignores_order():
    """The training-data digest does not depend on record or key order."""
    records = small_records()
    shuffled = [dict(reversed(list(r.items()))) for r in reversed(records)]
    assert rec.records_sha256(records) == rec.records_sha256(shuffled)
    assert rec.records_sha256(records[1:]) != rec.records_sha256(records)


def test_classify_with_small_model(small_model):
    """A trained model labels clear cases of each task."""
    result = classifier.classify(
        "Paket", "Wo bleibt mein Paket? Sendung nie angekommen", model=small_model
    )
    assert result.category == "delivery"
    assert 0.0 <= result.confidence <= 1.0
    accept = classifier.classify(
        "Re: Vorschlag", "Einverstanden, danke!", context="proposal", model=small_model
    )
    assert accept.intent == "accept"
    assert classifier.classify("x", "y", model=small_model).intent is None


def test_corrections_override_training_labels():
    """A correction of a training text replaces its label; the next model learns it."""
    records = small_records()
    target = next(r for r in records if r.get("category") == "praise")
    corrected = dict(target, category="delivery")
    merged = rec.merge_corrections(records, [corrected])
    assert len(merged) == len(records)
    assert next(r for r in merged if r["body"] == target["body"])["category"] == "delivery"
    new = {"subject": "S", "body": "ganz neuer Text", "category": "other", "language": "de"}
    assert len(rec.merge_corrections(records, [new])) == len(records) + 1
    model = classifier.train(records, [corrected], trained_at=TRAINED_AT, config=SMALL)
    assert model.metadata["corrections"] == 1
    assert model.metadata["corrections_sha256"] == rec.records_sha256([corrected])


def test_save_load_round_trip_gives_same_answers(small_model, tmp_path):
    """A saved and loaded model answers exactly as the original, with the same metadata."""
    path = tmp_path / "model.skops"
    classifier.save(small_model, path)
    loaded = classifier.load(path)
    assert loaded.metadata == small_model.metadata
    mails = [
        {"subject": "Paket", "body": "Paket nie angekommen", "context": "proposal"},
        {"subject": "Lob", "body": "Toller Service, danke", "context": "solved_question"},
    ]
    before = classifier.classify_many(mails, model=small_model)
    after = classifier.classify_many(mails, model=loaded)
    assert before == after
    assert skops.io.get_untrusted_types(file=path)  # the types the allowlist has to cover


def test_tampered_file_is_refused(small_model, tmp_path):
    """Changing one byte of the saved model makes load refuse it."""
    path = tmp_path / "model.skops"
    classifier.save(small_model, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(classifier.ModelError, match="sha256"):
        classifier.load(path)


def test_version_mismatch_is_refused(small_model, tmp_path):
    """A model recorded as made by another scikit-learn or model version is refused."""
    path = tmp_path / "model.skops"
    classifier.save(small_model, path)
    sidecar_path = model_module.metadata_path(path)
    original = json.loads(sidecar_path.read_text())
    for key, value in (("sklearn_version", "0.24.2"), ("model_version", "siegel-classifier-0")):
        sidecar_path.write_text(json.dumps(dict(original, **{key: value})))
        with pytest.raises(classifier.ModelError, match="version"):
            classifier.load(path)


def test_missing_metadata_is_refused(small_model, tmp_path):
    """A model file without its metadata beside it is refused."""
    path = tmp_path / "model.skops"
    classifier.save(small_model, path)
    model_module.metadata_path(path).unlink()
    with pytest.raises(classifier.ModelError, match="metadata"):
        classifier.load(path)


def test_file_with_types_outside_the_allowlist_is_refused(tmp_path):
    """A skops file holding a type outside the allowlist is refused, even with matching
    digest and versions."""
    path = tmp_path / "model.skops"
    # A function reference: loading it would let a file make the loader call anything.
    skops.io.dump({"payload": operator.add}, path)
    metadata = {
        "model_version": model_module.MODEL_VERSION,
        "sklearn_version": model_module.sklearn.__version__,
        "file_sha256": model_module._file_sha256(path),
    }
    model_module.metadata_path(path).write_text(json.dumps(metadata))
    with pytest.raises(classifier.ModelError, match="allowlist"):
        classifier.load(path)


def test_fast_path_equals_scikit_learn(small_model):
    """The fast features and probabilities equal scikit-learn's TfidfTransformer and
    CalibratedClassifierCV.predict_proba on the same inputs."""
    texts = [rec.normalise(t) for t in ("Paket fehlt", "refund late", "Toller Service!", "")]
    words, chars = ngram_counts(texts, SMALL)
    expected = np.hstack(
        [
            small_model.word_tfidf.transform(words).toarray(),
            small_model.char_tfidf.transform(chars).toarray(),
        ]
    )
    features = small_model.featuriser.transform(texts)
    assert np.allclose(features.toarray(), expected)
    for slow, fast in (
        (small_model.category, small_model.fast_category),
        (small_model.auto_reply, small_model.fast_auto_reply),
        (small_model.intent["proposal"], small_model.fast_intent["proposal"]),
    ):
        assert np.allclose(fast.predict_proba(features), slow.predict_proba(features))


def test_char_ngrams_stay_inside_padded_words():
    """char_wb n-grams: " ab " gives " a", "ab", "b ", " ab", "ab ", " ab "; nothing spans
    two words or two texts, and the counts are the same in every call."""
    config = NgramConfig(word_columns=2**20, char_columns=2**20, char_min=2, char_max=4)
    _, one = ngram_counts(["ab"], config)
    assert one.nnz == 6  # 3 bigrams, 2 trigrams, 1 four-gram
    _, two = ngram_counts(["ab cd"], config)
    assert two.nnz == 12
    _, batch = ngram_counts(["ab", "cd"], config)
    assert (batch[0] != one[0]).nnz == 0
    assert batch[1].nnz == 6
    words, _ = ngram_counts(["ab cd", "ab cd"], config)
    assert words[0].nnz == 3 and (words[0] != words[1]).nnz == 0  # ab, cd, "ab cd"
    again_words, again_chars = ngram_counts(["ab cd"], config)
    assert (again_chars != two).nnz == 0 and (again_words[0] != words[0]).nnz == 0


def test_classification_reports_rules_in_chain_order(small_model):
    """The rules of a classification name quote stripping, language, auto-reply rules and
    models in chain order, and a low confidence marks the mail for triage."""
    result = classifier.classify(
        "Abwesenheitsnotiz",
        "Ich bin bis 14.08. nicht im Büro.\n\n> Am 1.3.2026 schrieb X <x@y.example>:\n> Frage",
        model=small_model,
        triage_threshold=1.01,
    )
    rules = [rule["rule"] for rule in result.rules]
    assert rules.index("quote-marks") < rules.index("language") < rules.index("ooo-subject")
    assert rules.index("ooo-subject") < rules.index("category-model")
    assert result.auto_reply and result.auto_reply_kind == "out_of_office"
    assert result.needs_triage and "low-confidence" in rules
    assert result.new_text == "Ich bin bis 14.08. nicht im Büro."
    assert result.language == "de"


def test_batch_equals_single(small_model):
    """classify_many gives the same answers as classify, one mail at a time."""
    mails = [
        {"subject": "Paket", "body": f"Paket Nummer {n} fehlt", "context": None} for n in range(300)
    ]
    mails[5]["context"] = "proposal"
    batch = classifier.classify_many(mails, model=small_model)
    for mail, result in zip(mails[:10], batch[:10], strict=True):
        single = classifier.classify(
            mail["subject"], mail["body"], context=mail["context"], model=small_model
        )
        assert single == result
    assert len(batch) == 300
