"""The model: training on small in-test records, skops round trip, refusal of tampered,
foreign-version or unsafe files, agreement of the numpy path with scikit-learn, and a
loading process that never imports scikit-learn or skops."""

from __future__ import annotations

import json
import operator
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sklearn
import skops.io
from sklearn.feature_extraction.text import TfidfTransformer

import classifier
from classifier import model as model_module
from classifier import records as rec
from classifier import skops_format, training
from classifier.features import NgramConfig, count_ngrams
from classifier.inference import Featuriser, row_sums

TRAINED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SMALL = NgramConfig(word_columns=2**10, char_columns=2**11, cue_columns=2**8)
ROOT = Path(__file__).resolve().parents[1]

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
    assert metadata["sklearn_version"] == sklearn.__version__
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


@pytest.mark.parametrize("body", ["Einverstanden, danke!", "> nur ein Zitat"])
def test_an_unknown_context_is_an_error_naming_it(small_model, body):
    """A reply context other than "proposal" and "solved_question" is a ValueError that
    names it, whatever the mail says, in a batch too, not a KeyError or no answer."""
    message = "unknown reply context 'solved'"
    with pytest.raises(ValueError, match=message):
        classifier.classify("Re: Fall", body, context="solved", model=small_model)
    mails = [{"subject": "Re: Fall", "body": body, "context": c} for c in ("proposal", "solved")]
    with pytest.raises(ValueError, match=message):
        classifier.classify_many(mails, model=small_model)


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


def test_saved_file_is_plain_skops_that_skops_reads_alike(small_model, tmp_path):
    """The saved file holds only types skops trusts by default, and skops.io.load gives
    the same content as the reader the service uses."""
    path = tmp_path / "model.skops"
    classifier.save(small_model, path)
    assert skops.io.get_untrusted_types(file=path) == []
    ours, theirs = skops_format.read(path), skops.io.load(path)
    assert _same_content(ours, theirs)
    assert set(ours["heads"]) == {"category", "auto_reply", "intent"}


def _same_content(left, right) -> bool:
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(_same_content(left[key], right[key]) for key in left)
        )
    if isinstance(left, list):
        return (
            isinstance(right, list)
            and len(left) == len(right)
            and all(_same_content(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, np.ndarray):
        return left.dtype == right.dtype and np.array_equal(left, right)
    return type(left) is type(right) and left == right


@pytest.mark.parametrize(
    "payload",
    [
        {"object array": np.array(["a", None], dtype=object)},
        {1: "key that is not a string"},
        {"set": {1, 2}},
        {"function": operator.add},
    ],
    ids=["object-array", "int-key", "set", "function"],
)
def test_reader_refuses_everything_outside_its_types(tmp_path, payload):
    """The reader refuses object arrays, non-string keys, sets and functions: whatever a
    file holds besides dicts, lists, strings, numbers and numeric arrays."""
    path = tmp_path / "other.skops"
    skops.io.dump(payload, path)
    with pytest.raises(skops_format.UnsupportedContent):
        skops_format.read(path)


def test_loading_and_classifying_imports_neither_sklearn_nor_skops(small_model, tmp_path):
    """A process that loads a saved model and classifies never imports scikit-learn or
    skops (their import alone costs over 100 MB of memory)."""
    path = tmp_path / "model.skops"
    classifier.save(small_model, path)
    script = (
        "import sys, classifier\n"
        f"model = classifier.load({str(path)!r})\n"
        "result = classifier.classify('Paket', 'Wo ist mein Paket?', context='proposal',"
        " model=model)\n"
        "print(result.category, result.intent)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'skops', 'scipy')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    labels, modules = done.stdout.strip().splitlines()
    assert labels.split()[0] in {"delivery", "return_refund", "praise"}
    assert modules == "[]"


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
        "sklearn_version": sklearn.__version__,
        "file_sha256": model_module._file_sha256(path),
    }
    model_module.metadata_path(path).write_text(json.dumps(metadata))
    with pytest.raises(classifier.ModelError, match="allowlist"):
        classifier.load(path)


def test_numpy_path_equals_scikit_learn():
    """idf weights, tf-idf features and calibrated probabilities computed with numpy equal
    scikit-learn's TfidfTransformer and CalibratedClassifierCV.predict_proba."""
    texts = [rec.normalise(r["body"]) for r in small_records()]
    labels = [r.get("category") or r.get("kind") or r["intent"] for r in small_records()]
    counts = count_ngrams(texts, SMALL)
    idf = training.fit_idf(counts, (len(texts), len(texts), 0), SMALL)
    weights = Featuriser(SMALL, idf, (1.0, 1.0, 0.4)).weights(counts)
    features = training.to_matrix(weights, SMALL.columns)
    raw = training.to_matrix(
        type(weights)(counts.texts, counts.rows, counts.columns, counts.counts), SMALL.columns
    )
    expected = []
    for start, end in zip(SMALL.block_starts[:2], SMALL.block_starts[1:3], strict=True):
        transformer = TfidfTransformer(sublinear_tf=True).fit(raw[:, start:end])
        assert np.allclose(idf[start:end], transformer.idf_)
        expected.append(transformer.transform(raw[:, start:end]).toarray())
    assert np.allclose(features.toarray()[:, : SMALL.block_starts[2]], np.hstack(expected))
    calibrated = training.calibrated_svm(labels).fit(features, labels)
    head = training.head_of(calibrated)
    probabilities = head.probabilities(row_sums(weights, head.coef))
    assert np.allclose(probabilities, calibrated.predict_proba(features), atol=1e-5)


def _char_entries(counts, row: int, config: NgramConfig) -> int:
    start, end = config.block_starts[1], config.block_starts[2]
    return int(((counts.rows == row) & (counts.columns >= start) & (counts.columns < end)).sum())


def _word_entries(counts, row: int, config: NgramConfig) -> set[int]:
    chosen = (counts.rows == row) & (counts.columns < config.block_starts[1])
    return set(counts.columns[chosen].tolist())


def test_char_ngrams_stay_inside_padded_words():
    """char_wb n-grams: " ab " gives " a", "ab", "b ", " ab", "ab ", " ab "; nothing spans
    two words or two texts, and the counts are the same in every call."""
    config = NgramConfig(word_columns=2**20, char_columns=2**20, char_min=2, char_max=4)
    one = count_ngrams(["ab"], config)
    assert _char_entries(one, 0, config) == 6  # 3 bigrams, 2 trigrams, 1 four-gram
    two = count_ngrams(["ab cd"], config)
    assert _char_entries(two, 0, config) == 12
    batch = count_ngrams(["ab", "cd"], config)
    assert _char_entries(batch, 0, config) == 6 and _char_entries(batch, 1, config) == 6
    words = count_ngrams(["ab cd", "ab cd"], config)
    assert len(_word_entries(words, 0, config)) == 3  # ab, cd, "ab cd"
    assert _word_entries(words, 0, config) == _word_entries(words, 1, config)
    again = count_ngrams(["ab cd"], config)
    assert np.array_equal(again.columns, two.columns)
    assert np.array_equal(again.counts, two.counts)


def test_cue_words_fill_only_their_block():
    """Cue words are hashed into the cue block, one column per distinct cue word, and
    texts without cues have none there."""
    counts = count_ngrams(["ja", "nein"], SMALL, cue_texts=["first:ja len:1", ""])
    cue_start = SMALL.block_starts[2]
    in_cues = counts.columns >= cue_start
    assert set(counts.rows[in_cues].tolist()) == {0}
    assert in_cues.sum() == 2


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
