"""A soak of ``ocr serve`` with its default engine: concurrent clients sending good and bad uploads for
minutes while a worker is killed now and then; statuses, latency percentiles and memory over time.

    python benchmarks/soak.py [--minutes 10] [--clients 16] [--workers 2] [--kill-every 90] [--json soak.json]

Starts ``ocr serve`` (default engine, ``--timeout`` 60 s, the default limits) on a free port of
127.0.0.1. Each client sends, until the time is up, one upload after another: 70 % good (the
sample pages and the two-page PDF), 30 % bad in turn (a mutated image or PDF, an empty body,
plain text, 21 MiB, a page over the pixel limit, a PDF bomb, dpi=5000, lang=deu, an engine
not offered). Every ``--kill-every`` seconds a worker is killed with SIGKILL.

Prints the statuses per kind of upload, p50/p95/p99 and the slowest latency, the resident
memory of the server and its workers each minute, and its growth from minute 2 to the end. A
response is a failure if its status is not documented (README: 200, 400, 408, 413, 415, 422,
500, 503, 504), if it is a 500 other than for a killed worker, or if it took longer than the
service's timeout (plus one second for the connection); exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hostile_inputs import mutate, pdf_bomb, seed_files  # noqa: E402
from service_process import running_service  # noqa: E402

DOCUMENTED = {200, 400, 408, 413, 415, 422, 500, 503, 504}
GOOD = [(path.read_bytes(), "image/png" if path.suffix == ".png" else "image/jpeg" if path.suffix == ".jpg"
         else "application/pdf") for path in sorted((REPO / "samples").glob("*")) if path.suffix in (".png", ".jpg", ".pdf")]


@dataclass(frozen=True)
class Result:
    kind: str
    status: int
    seconds: float
    detail: str
    finished: float


def _huge_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (8000, 6000), 1).save(buffer, format="PNG")  # 48 Mpx, over the default 40 Mpx
    return buffer.getvalue()


def bad_uploads() -> list[tuple[str, bytes, str, dict[str, str]]]:
    """(kind, body, media type, query) of the bad uploads, in the order clients send them."""
    seeds = list(seed_files().values())
    rng = random.Random(7)
    mutated = [mutate(seeds[i % len(seeds)], rng) for i in range(60)]
    page = GOOD[0][0]
    return [
        *[("mutated", data, "application/octet-stream", {}) for data in mutated[:6]],
        ("empty", b"", "image/png", {}),
        ("text", b"hello, not an image", "text/plain", {}),
        ("21 MiB", b"\0" * (21 * 2**20), "application/octet-stream", {}),
        ("huge page", _huge_png(), "image/png", {}),
        ("pdf bomb", pdf_bomb(768), "application/pdf", {}),
        ("dpi=5000", page, "image/png", {"dpi": "5000"}),
        ("lang=deu", page, "image/png", {"lang": "deu"}),
        ("engine=cloud", page, "image/png", {"engine": "cloud"}),
        *[("mutated", data, "application/octet-stream", {}) for data in mutated[6:]],
    ]


def memory_mib(server: psutil.Process) -> float:
    """Resident memory of the server and its children, MiB."""
    total = 0
    for process in [server, *server.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def workers_of(server: psutil.Process) -> list[psutil.Process]:
    return [child for child in server.children() if "spawn_main" in " ".join(child.cmdline())]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--timeout", type=float, default=60.0, help="The service's --timeout.")
    parser.add_argument("--kill-every", type=float, default=90.0, help="Seconds between worker kills (0: none).")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    bad = bad_uploads()
    results: list[Result] = []
    lock = threading.Lock()
    kills: list[float] = []
    memory: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as folder, running_service(
            Path(folder), "--workers", str(args.workers), "--timeout", str(args.timeout), ready_timeout=600) as service:
        server = psutil.Process(service.process.pid)
        started = time.monotonic()
        end = started + args.minutes * 60
        counter = iter(range(10**9))

        def client(number: int) -> None:
            rng = random.Random(number)
            with httpx.Client(timeout=args.timeout + 60) as http:
                while time.monotonic() < end:
                    if rng.random() < 0.7:
                        body, media = rng.choice(GOOD)
                        kind, query = "good", {}
                    else:
                        kind, body, media, query = bad[next(counter) % len(bad)]
                    sent = time.monotonic()
                    try:
                        response = http.post(f"{service.url}/v1/ocr", content=body, params=query,
                                             headers={"Content-Type": media})
                        status = response.status_code
                        detail = response.json().get("detail", "") if status != 200 else ""
                    except httpx.HTTPError as exc:
                        status, detail = 0, f"{type(exc).__name__}: {exc}"
                    now = time.monotonic()
                    with lock:
                        results.append(Result(kind, status, now - sent, detail, now - started))

        def watch() -> None:
            next_kill = started + args.kill_every if args.kill_every else float("inf")
            next_sample = started
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_sample:
                    memory.append((now - started, memory_mib(server)))
                    next_sample += 10
                if now >= next_kill:
                    victims = workers_of(server)
                    if victims:
                        os.kill(random.choice(victims).pid, signal.SIGKILL)
                        kills.append(now - started)
                    next_kill += args.kill_every
                time.sleep(0.5)
            memory.append((time.monotonic() - started, memory_mib(server)))

        with ThreadPoolExecutor(args.clients + 1) as pool:
            pool.submit(watch)
            for future in [pool.submit(client, number) for number in range(args.clients)]:
                future.result()
        log = service.log_text()

    failures = []
    for result in results:
        if result.status not in DOCUMENTED:
            failures.append(f"{result.kind}: status {result.status} {result.detail}")
        elif result.status == 500 and "worker process died" not in result.detail:
            failures.append(f"{result.kind}: 500 {result.detail}")
        if result.seconds > args.timeout + 1:
            failures.append(f"{result.kind}: {result.seconds:.1f} s, over the timeout")
    if "Traceback" in log:
        failures.append("the service logged a traceback")
    by_kind: dict[str, Counter[int]] = {}
    for result in results:
        by_kind.setdefault(result.kind, Counter())[result.status] += 1
    latencies = [r.seconds for r in results]
    good = [r.seconds for r in results if r.kind == "good" and r.status == 200]

    def at_minute(minute: float) -> float:
        return min(memory, key=lambda sample: abs(sample[0] - minute * 60))[1]

    minutes = int(args.minutes)
    growth_from = min(2, minutes)
    report: dict[str, Any] = {
        "minutes": args.minutes, "clients": args.clients, "workers": args.workers, "timeout": args.timeout,
        "requests": len(results), "kills": [round(k) for k in kills],
        "statuses": {kind: {str(s): n for s, n in sorted(c.items())} for kind, c in sorted(by_kind.items())},
        "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95), "p99": percentile(latencies, 0.99),
        "max": max(latencies, default=0.0),
        "good_p50": percentile(good, 0.5), "good_p95": percentile(good, 0.95), "good_p99": percentile(good, 0.99),
        "memory_mib_by_minute": {m: round(at_minute(m), 1) for m in range(minutes + 1)},
        "memory_growth_percent": round(100 * (at_minute(minutes) / at_minute(growth_from) - 1), 1),
        "failures": failures,
    }
    print(f"{len(results)} requests from {args.clients} clients in {args.minutes:g} min, "
          f"{args.workers} workers, {len(kills)} workers killed (at {', '.join(f'{k:.0f}' for k in kills)} s)")
    for kind, statuses in report["statuses"].items():
        print(f"  {kind:<13} " + ", ".join(f"{status}: {count}" for status, count in statuses.items()))
    print(f"latency, all: p50 {report['p50']:.2f} s, p95 {report['p95']:.2f} s, p99 {report['p99']:.2f} s, "
          f"max {report['max']:.2f} s; good pages read: p50 {report['good_p50']:.2f} s, p95 {report['good_p95']:.2f} s, "
          f"p99 {report['good_p99']:.2f} s")
    print("memory (server + workers), MiB by minute: "
          + ", ".join(f"{m}: {v}" for m, v in report["memory_mib_by_minute"].items()))
    print(f"memory growth, minute {growth_from} to {minutes}: {report['memory_growth_percent']:+.1f} %")
    print(f"failures: {len(failures)}")
    for failure in failures[:20]:
        print(f"  {failure}")
    print(f"mean requests/s: {len(results) / (args.minutes * 60):.2f}; "
          f"good pages/s: {len(good) / (args.minutes * 60):.2f}; median good latency {statistics.median(good or [0]):.2f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
