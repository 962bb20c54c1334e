"""`siegel classify` and `siegel classifier train|evaluate`: the classifier from the command line.

`classify FILE.eml` explains one mail (the header rules and every classifier rule that
fired); `classify --jsonl IN.jsonl` classifies many texts in one batch, one JSON line
out per line in; a line that cannot be classified (not JSON, a key other than id,
subject and body, nothing to classify) gets an `error` line, and the command exits 65
with one line on stderr naming the first such line. `classifier train` trains on the
shipped data plus the operators' category corrections and replaces the model in the
data directory (a running `siegel serve` keeps its model until it is restarted);
`classifier evaluate` prints the figures on the held-out evaluation set and by
cross-validation on the training data.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlmodel import Session

from mailflow import casework, parsing
from mailflow.command_support import EX_DATAERR, EX_NOINPUT, EX_OK, EX_USAGE
from mailflow.config import Config
from mailflow.db import utcnow
from mailflow.schema import open_database

INTENT_CONTEXT = "solved_question"
"""`--jsonl` reads each text as a customer's answer to "is your problem solved?"."""
MAX_JSONL_LINE = 1024 * 1024
JSONL_KEYS = ("id", "subject", "body")
"""The keys of a `--jsonl` line; any other is an error (a misspelt "text" would
otherwise be classified as an empty mail)."""
BATCH = 256


def cmd_classify(args: argparse.Namespace, config: Config) -> int:
    if args.jsonl:
        return _classify_jsonl(args.jsonl, config)
    if not args.file:
        print("siegel classify: give a mail file or --jsonl FILE", file=sys.stderr)
        return EX_USAGE
    return _explain_file(args.file, config, args.json)


def _explain_file(name: str, config: Config, as_json: bool) -> int:
    from classifier import machine

    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as error:
        print(f"siegel classify: {name}: cannot read: {error.strerror}", file=sys.stderr)
        return EX_NOINPUT
    parsed = parsing.parse(raw)
    verdict = machine.detect(parsed.message, None, config.siegel.domain)
    reader = casework.Reader(parsed, config)  # read exactly as the cases read it
    reading, intent = reader(None), reader(INTENT_CONTEXT)
    result = {
        "subject": parsed.subject,
        "from": parsed.from_address,
        "machine_mail": verdict.to_json() if verdict else None,
        "category": reading.category,
        "confidence": round(reading.confidence, 3),
        "needs_triage": reading.needs_triage,
        "language": reading.language,
        "auto_reply": reading.auto_reply,
        "auto_reply_kind": reading.auto_reply_kind,
        "intent_as_customer_answer": intent.intent,
        "rules": [dict(rule) for rule in reading.rules],
        "new_text": reading.new_text,
        "own_text": reading.own_text,
    }
    if as_json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
        return EX_OK
    machine_line = (
        f"{verdict.kind} (rule {verdict.rule}; fired: {', '.join(verdict.rules_fired)})"
        if verdict
        else "no (no header rule fired)"
    )
    triage = (
        "  -> below the confidence threshold: marked for triage" if reading.needs_triage else ""
    )
    auto = f"yes ({reading.auto_reply_kind})" if reading.auto_reply else "no"
    print(f"subject:       {parsed.subject}")
    print(f"from:          {parsed.from_address}")
    print(f"machine mail:  {machine_line}")
    print(f"category:      {reading.category} (confidence {reading.confidence:.2f}){triage}")
    print(f"language:      {reading.language}")
    print(f"auto-reply:    {auto}")
    print(f"intent:        {intent.intent} (read as a customer's answer to 'is it solved?')")
    print("rules fired:")
    for rule in reading.rules:
        print(f"  - {rule.get('rule')}: {rule.get('detail', '')}")
    print("new text (the reply; an interleaved one with the quotes it answers):")
    for line in (reading.new_text or "").splitlines()[:30]:
        print(f"  | {line}")
    print("own text (what the sender wrote; the only text that acts):")
    for line in (reading.own_text or "").splitlines()[:30]:
        print(f"  | {line}")
    return EX_OK


def _jsonl_input(name: str) -> Iterator[tuple[int, str]]:
    stream = sys.stdin if name == "-" else Path(name).open(encoding="utf-8")  # noqa: SIM115
    with stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line


def _classify_jsonl(name: str, config: Config) -> int:
    """One output line per input line, in order; a bad line gets an `error` line."""
    import classifier

    pending: list[tuple[Any, dict[str, Any]]] = []
    failed = 0

    def flush() -> None:
        if not pending:
            return
        model = casework.model(config)  # loaded at the first line that can be classified
        readings = classifier.classify_many(
            [mail for _, mail in pending],
            model=model,
            solved_threshold=config.classifier.solved_threshold,  # as the cases read them
        )
        for (record_id, _), reading in zip(pending, readings, strict=True):
            print(
                json.dumps(
                    {
                        "id": record_id,
                        "category": reading.category,
                        "confidence": round(reading.confidence, 4),
                        "needs_triage": reading.needs_triage,
                        "language": reading.language,
                        "auto_reply": reading.auto_reply,
                        "auto_reply_kind": reading.auto_reply_kind,
                        "intent": reading.intent,
                    },
                    ensure_ascii=False,
                )
            )
        pending.clear()

    first_problem = None
    try:
        for number, line in _jsonl_input(name):
            record, problem = _read_line(line)
            if problem:
                flush()  # keep the output in input order
                failed += 1
                first_problem = first_problem or f"line {number}: {problem}"
                print(json.dumps({"id": record.get("id"), "error": f"line {number}: {problem}"}))
                continue
            mail = {
                "subject": record.get("subject") or "",
                "body": record.get("body") or "",
                "html": None,
                "context": INTENT_CONTEXT,
            }
            pending.append((record.get("id"), mail))
            if len(pending) >= BATCH:
                flush()
        flush()
    except BrokenPipeError:
        raise  # our reader left (`| head`): `main` ends quietly with 141
    except OSError as error:
        print(f"siegel classify: {name}: cannot read: {error.strerror}", file=sys.stderr)
        return EX_NOINPUT
    except UnicodeDecodeError as error:
        flush()
        print(f"siegel classify: {name}: not UTF-8 text: {error.reason}", file=sys.stderr)
        return EX_DATAERR
    if failed:
        print(
            f"siegel classify: {name}: {failed} lines not classified, the first at "
            f"{first_problem} (each line: {{{', '.join(JSONL_KEYS)}}})",
            file=sys.stderr,
        )
        return EX_DATAERR
    return EX_OK


def _read_line(line: str) -> tuple[dict[str, Any], str | None]:
    """The line's object, and what is wrong with it (None when it can be classified)."""
    if len(line) > MAX_JSONL_LINE:
        return {}, f"longer than {MAX_JSONL_LINE} characters"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return {}, f"not JSON: {error.msg}"
    if not isinstance(record, dict):
        return {}, "not a JSON object"
    unknown = [key for key in record if key not in JSONL_KEYS]
    if unknown:
        return record, f"unknown key {unknown[0]!r}, expected {', '.join(JSONL_KEYS)}"
    for key in ("subject", "body"):
        if not isinstance(record.get(key) or "", str):
            return record, f"{key} must be a string"
    if not (record.get("subject") or record.get("body") or "").strip():
        return record, "neither subject nor body: nothing to classify"
    return record, None


def corrections(config: Config) -> list[dict[str, Any]]:
    """The operators' category corrections as training records."""
    from mediation import storage

    engine = open_database(config.database_url)
    with Session(engine) as session:
        found = storage.corrections(session)
    engine.dispose()
    return found


def cmd_train(args: argparse.Namespace, config: Config) -> int:
    import classifier
    from classifier import records

    training = records.read_records(records.TRAIN_DIR)
    corrected = corrections(config)
    model = classifier.train(training, corrected, trained_at=utcnow())
    path = config.data_dir / casework.MODEL_FILE
    casework.save_model(model, path)
    print(
        f"trained on {len(training)} shipped records and {len(corrected)} operator "
        f"corrections; saved to {path} (restart `siegel serve` to use it)"
    )
    return EX_OK


def cmd_evaluate(args: argparse.Namespace, config: Config) -> int:
    from classifier import evaluation, records

    model = casework.model(config)
    held_out = evaluation.evaluate(model, records.read_records(records.EVAL_DIR))
    print("# held-out evaluation set (classifier/data/eval, never trained on)\n")
    print(held_out.to_text())
    if args.folds:
        print(f"\n# {args.folds}-fold cross-validation on the training data\n")
        training = records.read_records(records.TRAIN_DIR)
        print(evaluation.cross_validate(training, folds=args.folds).to_text())
    return EX_OK


def register(commands: argparse._SubParsersAction) -> None:
    classify = commands.add_parser(
        "classify", help="classify a mail file, or texts in JSON Lines", description=__doc__
    )
    classify.add_argument("file", nargs="?", help="a mail file (.eml); - for stdin")
    classify.add_argument("--jsonl", metavar="IN", help='lines {"id", "subject", "body"}; - stdin')
    classify.add_argument("--json", action="store_true", help="print one mail's result as JSON")
    classify.set_defaults(handler=cmd_classify)

    group = commands.add_parser("classifier", help="train or evaluate the classifier model")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser("train", help="train on shipped data and operator corrections")
    train.set_defaults(handler=cmd_train)
    evaluate = actions.add_parser("evaluate", help="figures on the evaluation set and by CV")
    evaluate.add_argument(
        "--folds", type=int, default=5, help="cross-validation folds (0: skip; default 5)"
    )
    evaluate.set_defaults(handler=cmd_evaluate)
