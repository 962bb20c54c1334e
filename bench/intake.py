"""Intake benchmark: SMTP to committed and to processed, next to a do-nothing aiosmtpd handler.

The servers run in this process on loopback; the clients run in separate processes (so
that their Python does not compete for this one's GIL), each holding one SMTP connection
and sending mails back to back. Runs of the same burst:

- a do-nothing aiosmtpd handler and the store-first intake with the worker paused, in
  `--rounds` interleaved pairs (the machine's speed drifts; the ratio is each pair's,
  the median printed and judged); after the first such run the worker drains the burst;
- the intake with the worker processing alongside in this process, as `siegel serve`
  runs it: processing competes for the GIL and SQLite's single writer;
- the intake with the worker in a process of its own, as `siegel intake` next to
  `siegel worker`: only the writer is shared (SQLite's writers take turns).

Printed: mails per second to the 250 and p50/p99 time from the end of DATA to the 250
for each, this process's CPU time per mail (the servers'; the clients run apart), the
ratios, and mails per second until every mail is processed.

Targets (issue 11): store-first at least 70 % of the do-nothing handler's throughput,
p99 under 50 ms. The exit status judges the intake with the worker paused; the runs
with a worker are printed.

    .venv/bin/python bench/intake.py [--clients 8] [--mails 250] [--rounds 3]
        [--database-url URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailflow import casework
from mailflow.config import Config, parse
from mailflow.models import StoredMail
from mailflow.schema import open_database
from mailflow.smtp import make_controller
from mailflow.spool import Spool
from mailflow.worker import Worker

DOMAIN = "bench.test"
TARGET_RATIO = 0.70
TARGET_P99_MS = 50.0
PAUSED, ALONG, APART = "paused", "alongside", "apart"


def mail_bytes(client: int, n: int) -> bytes:
    return (
        f"From: Kunde {client} <kunde{client}@example.org>\r\n"
        f"To: beschwerde@{DOMAIN}\r\n"
        f"Subject: Paket {n} nicht angekommen\r\n"
        f"Message-ID: <bench-{client}-{n}-{time.time_ns()}@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + "Guten Tag, meine Bestellung 4711 ist seit zwei Wochen nicht da.\r\n"
        * 20
    ).encode()


def client_run(port: int, client: int, count: int, results: multiprocessing.Queue) -> None:
    latencies = []
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        for n in range(count):
            body = mail_bytes(client, n)
            smtp.mail(f"kunde{client}@example.org")
            smtp.rcpt(f"beschwerde@{DOMAIN}")
            # Time from the end of DATA (the client's last byte) to the 250.
            smtp.putcmd("data")
            code, _ = smtp.getreply()
            if code != 354:
                raise RuntimeError(f"DATA refused: {code}")
            smtp.send(body + b".\r\n")  # the body ends in CRLF and has no leading dots
            started = time.perf_counter()
            code, _ = smtp.getreply()
            latencies.append(time.perf_counter() - started)
            if code != 250:
                raise RuntimeError(f"mail refused: {code}")
    results.put(latencies)


def server_cpu_seconds() -> float:
    """CPU time of this process (the servers' threads; the clients run in their own)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def drive(port: int, clients: int, per_client: int) -> tuple[float, list[float], float]:
    """Seconds for the burst, each mail's time to its 250, and this process's CPU seconds."""
    results: multiprocessing.Queue = multiprocessing.Queue()
    cpu_before = server_cpu_seconds()
    processes = [
        multiprocessing.Process(target=client_run, args=(port, c, per_client, results))
        for c in range(clients)
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    latencies = []
    for _ in processes:
        latencies.extend(results.get(timeout=600))
    elapsed = time.perf_counter() - started
    cpu = server_cpu_seconds() - cpu_before
    for process in processes:
        process.join()
    return elapsed, latencies, cpu


class DoNothing:
    async def handle_DATA(self, server, session, envelope) -> str:
        return "250 2.0.0 OK"


def count_done(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(StoredMail).where(StoredMail.status == "done")
        ).scalar_one()


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--mails", type=int, default=250, help="mails per client")
    parser.add_argument("--rounds", type=int, default=3, help="do-nothing/store-first pairs")
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    args = parser.parse_args()
    total = args.clients * args.mails

    with tempfile.TemporaryDirectory() as tmp:
        config = parse(
            {"siegel": {"domain": DOMAIN, "secret": "bench-secret-0123456789abcdef-0123456789"}},
            Path(tmp),
            {},
        )
        casework.model(config)  # as the service does before its worker starts
        pairs: list[tuple[Figures, Figures]] = []
        for round_number in range(max(args.rounds, 1)):
            base = do_nothing(args)
            url = args.database_url or f"sqlite:///{tmp}/burst{round_number}.db"
            burst = run_intake(config, url, args, PAUSED, drain=round_number == 0)
            pairs.append((base, burst))
        mixed = run_intake(config, args.database_url or f"sqlite:///{tmp}/mixed.db", args, ALONG)
        apart = run_intake(config, args.database_url or f"sqlite:///{tmp}/apart.db", args, APART)

    ratios = sorted(burst.rate / base.rate for base, burst in pairs)
    ratio = statistics.median(ratios)
    p99 = statistics.median(b.p99 for _, b in pairs)
    backend = pairs[0][1].backend
    print(f"mails: {total} per run ({args.clients} clients x {args.mails}), {backend}")
    for number, (base, burst) in enumerate(pairs, start=1):
        print(f"round {number} do-nothing handler:            {base.line()}")
        print(f"round {number} store-first, worker paused:    {burst.line()}")
    print(f"store-first, worker alongside (serve):     {mixed.line()}")
    print(f"store-first, worker in its own process:    {apart.line()}")
    print(
        f"ratio to the do-nothing handler, worker paused: {ratio:.2f} (median of "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; target >= {TARGET_RATIO:.2f}); "
        f"p99 {p99:.1f} ms (median; target < {TARGET_P99_MS:.0f} ms)"
    )
    cpu_ratios = sorted(burst.cpu_per_mail / base.cpu_per_mail for base, burst in pairs)
    print(
        f"server CPU per mail, store-first / do-nothing: {statistics.median(cpu_ratios):.2f}"
        f" (median of {', '.join(f'{r:.2f}' for r in cpu_ratios)}; printed, not judged:"
        " the figure that load on the machine moves least)"
    )
    base = pairs[-1][0]
    print(
        f"with a worker, to the last do-nothing run: {mixed.rate / base.rate:.2f} alongside, "
        f"{apart.rate / base.rate:.2f} in its own process"
    )
    print(
        f"processed: {pairs[0][1].processed_rate:.1f} mails/s draining the burst afterwards,"
        f" {mixed.processed_rate:.1f} mails/s from SMTP to processed alongside,"
        f" {apart.processed_rate:.1f} with the worker in its own process"
    )
    ok = ratio >= TARGET_RATIO and p99 < TARGET_P99_MS
    print("intake targets met (worker paused)" if ok else "INTAKE TARGETS MISSED (worker paused)")
    return 0 if ok else 1


def do_nothing(args: argparse.Namespace) -> Figures:
    from tests.net import free_port

    port = free_port()
    baseline = Controller(DoNothing(), hostname="127.0.0.1", port=port)
    baseline.start()
    elapsed, latencies, cpu = drive(port, args.clients, args.mails)
    baseline.stop()
    total = args.clients * args.mails
    return Figures(total / elapsed, latencies, total / elapsed, cpu / total)


@dataclass(frozen=True)
class Figures:
    rate: float
    latencies: list[float]
    processed_rate: float
    cpu_per_mail: float  # seconds of this process's CPU per mail during the burst
    backend: str = "none"

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99) * 1000

    def line(self) -> str:
        return (
            f"{self.rate:7.1f} mails/s to 250, p50 {self.p50:6.2f} ms, p99 {self.p99:7.2f} ms,"
            f" server CPU {self.cpu_per_mail * 1000:.2f} ms/mail"
        )


def run_intake(
    config: Config, url: str, args: argparse.Namespace, worker_mode: str, drain: bool = True
) -> Figures:
    """One burst through the real intake; the worker runs during it (in this process or
    its own), only after it, or (`drain` false) not at all."""
    from tests.net import free_port

    total = args.clients * args.mails
    apart = None
    if worker_mode == APART:  # forked before this process opens the database or a thread
        stop_apart, ready = multiprocessing.Event(), multiprocessing.Event()
        apart = multiprocessing.Process(target=worker_apart, args=(config, url, ready, stop_apart))
        apart.start()
        if not ready.wait(120):
            raise RuntimeError("the worker process did not start")
    engine = open_database(url)
    done_before = count_done(engine)
    worker = Worker(engine, config)
    if worker.analyst and worker_mode == ALONG:
        worker.analyst.start()  # as in a `siegel serve` that has had a backlog before
    spool = Spool(engine, on_stored=worker.wake.set).start()
    port = free_port()
    controller = make_controller(spool, config, port=port)
    controller.start()
    stop = threading.Event()
    worker_thread = threading.Thread(target=worker.run, args=(stop,))
    started = time.perf_counter()
    if worker_mode == ALONG:
        worker_thread.start()
    elapsed, latencies, cpu = drive(port, args.clients, args.mails)
    controller.stop()
    spool.stop()
    processed_rate = 0.0
    if worker_mode == PAUSED and drain:
        started = time.perf_counter()
        worker_thread.start()
    if worker_mode != PAUSED or drain:
        while count_done(engine) < done_before + total:
            time.sleep(0.05)
        processed_rate = total / (time.perf_counter() - started)
    stop.set()
    worker.wake.set()
    if worker_thread.is_alive():
        worker_thread.join()
    worker.close()
    if apart is not None:
        stop_apart.set()
        apart.join(60)
    engine.dispose()
    backend = engine.url.get_backend_name()
    return Figures(total / elapsed, latencies, processed_rate, cpu / total, backend)


def worker_apart(config: Config, url: str, ready: Any, stop: Any) -> None:
    """`siegel worker` in its own process: polls the queue, as separate processes do."""
    engine = open_database(url)
    casework.model(config)
    worker = Worker(engine, replace(config, queue=replace(config.queue, poll_seconds=0.05)))
    if worker.analyst:
        worker.analyst.start()
    stopping = threading.Event()
    ready.set()
    thread = threading.Thread(target=worker.run, args=(stopping,))
    thread.start()
    stop.wait()
    stopping.set()
    worker.wake.set()
    thread.join()
    worker.close()
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
