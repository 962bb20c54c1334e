"""Benchmark of the classifier as the service runs it: batch throughput on one core,
single-mail latency, model load time and resident memory.

    .venv/bin/python bench/classify.py [--model PATH] [--mails N]

Without --model (or when PATH does not exist) a model is trained on the shipped data and
saved first (to PATH, or a temporary directory). The measurements run in a fresh process
that only loads the model and classifies, so training does not inflate its memory.
Mails are the shipped training and evaluation texts, repeated up to N.

Targets are judged on wall-clock time, as a user waits for it. On a shared machine other
processes take turns on the cores, so the CPU time this process used is printed beside
it (the cost of the code itself), with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memory import peak_rss_mb  # bench/memory.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {
    "batch_mails_per_second": (">=", 2000.0),
    "single_p99_ms": ("<", 5.0),
    "load_seconds": ("<", 1.0),
    "max_rss_mb": ("<", 150.0),
}


def sample_mails(count: int) -> list[dict[str, str]]:
    from classifier import records as rec

    records = rec.read_records(rec.TRAIN_DIR) + rec.read_records(rec.EVAL_DIR)
    mails = [{"subject": r.get("subject") or "", "body": r.get("body") or ""} for r in records]
    if not mails:
        raise SystemExit("no shipped records under classifier/data to benchmark with")
    return [mails[i % len(mails)] for i in range(count)]


def measure(model_path: Path, count: int) -> dict[str, float]:
    """Runs in the fresh process: load, then time batch and single classification."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    import classifier

    imported = time.perf_counter()
    model = classifier.load(model_path)
    loaded = time.perf_counter()
    mails = sample_mails(count)
    classifier.classify_many(mails[:50], model=model)  # first-call costs out of the timing
    batch_started, batch_cpu = time.perf_counter(), time.process_time()
    classifier.classify_many(mails, model=model)
    batch_seconds = time.perf_counter() - batch_started
    batch_cpu_seconds = time.process_time() - batch_cpu
    latencies, cpu_latencies = [], []
    for mail in mails[: min(count, 2000)]:
        single_started, single_cpu = time.perf_counter(), time.process_time()
        classifier.classify(mail["subject"], mail["body"], model=model)
        latencies.append((time.perf_counter() - single_started) * 1000)
        cpu_latencies.append((time.process_time() - single_cpu) * 1000)
    latencies.sort()
    cpu_latencies.sort()
    p99 = int(0.99 * (len(latencies) - 1))
    return {
        "mails": float(count),
        "batch_mails_per_second": count / batch_seconds,
        "batch_mails_per_cpu_second": count / batch_cpu_seconds,
        "single_p50_ms": statistics.median(latencies),
        "single_p99_ms": latencies[p99],
        "single_cpu_p50_ms": statistics.median(cpu_latencies),
        "single_cpu_p99_ms": cpu_latencies[p99],
        "import_seconds": imported - started,
        "load_seconds": loaded - imported,
        "max_rss_mb": peak_rss_mb(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
    }


def prepare_model(path: Path | None, workdir: Path) -> Path:
    if path is not None and path.exists():
        return path
    import classifier
    from classifier import records as rec

    target = path or workdir / "classifier.skops"
    started = time.perf_counter()
    model = classifier.train(rec.read_records(rec.TRAIN_DIR))
    print(f"trained in {time.perf_counter() - started:.1f} s: {model.metadata['counts']}")
    classifier.save(model, target)
    return target


def report(figures: dict[str, float]) -> bool:
    print(
        f"machine:                 {os.cpu_count()} cores, load average "
        f"{figures['load_average_before']:.2f} before, {figures['load_average_after']:.2f} after"
    )
    print(f"mails classified:        {int(figures['mails'])}")
    print(
        f"batch throughput:        {figures['batch_mails_per_second']:.0f} mails/s (one core), "
        f"{figures['batch_mails_per_cpu_second']:.0f} mails per CPU second"
    )
    print(
        f"single mail latency:     p50 {figures['single_p50_ms']:.2f} ms, "
        f"p99 {figures['single_p99_ms']:.2f} ms "
        f"(CPU time p50 {figures['single_cpu_p50_ms']:.2f} ms, "
        f"p99 {figures['single_cpu_p99_ms']:.2f} ms)"
    )
    print(f"import of the package:   {figures['import_seconds']:.2f} s")
    print(f"model load:              {figures['load_seconds']:.3f} s")
    print(f"resident memory (max):   {figures['max_rss_mb']:.0f} MB")
    all_met = True
    for name, (relation, limit) in TARGETS.items():
        value = figures[name]
        met = value >= limit if relation == ">=" else value < limit
        all_met &= met
        print(f"target {name} {relation} {limit:g}: {'met' if met else 'MISSED'} ({value:.3f})")
    return all_met


def main() -> int:
    # One core: numerical libraries must not start thread pools. Set before numpy loads
    # (it loads with `classifier`, imported only below) and inherited by the child.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model file to load (trained if missing)")
    parser.add_argument("--mails", type=int, default=5000, help="mails in the batch")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    arguments = parser.parse_args()
    if arguments.measure:
        print(json.dumps(measure(arguments.measure, arguments.mails)))
        return 0
    with tempfile.TemporaryDirectory() as workdir:
        model_path = prepare_model(arguments.model, Path(workdir))
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                str(model_path),
                "--mails",
                str(arguments.mails),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    return 0 if report(figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
