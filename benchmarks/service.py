"""Latency and throughput of ``ocr serve`` under 1, 4 and 16 concurrent clients, and its memory over time.

    python benchmarks/service.py [--workers N] [--requests 24] [--rss-requests 500]

Starts ``ocr serve`` on a free port of 127.0.0.1, waits until it is ready, then for each
concurrency level sends ``--requests`` uploads of the sample pages (samples/*.png,
*.jpg, cycling) from that many client threads and prints p50 and p95 latency and pages
per second. Then it sends ``--rss-requests`` sequential uploads of samples/receipt.png
and prints the resident memory of the server and its workers after the first 50 and
after the last. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
MEDIA = {".png": "image/png", ".jpg": "image/jpeg"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workers: int, engine: str) -> tuple[subprocess.Popen[bytes], str]:
    script = Path(sys.executable).with_name("ocr")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ocr.cli"]
    port = free_port()
    server = subprocess.Popen(command + ["serve", "--port", str(port), "--workers", str(workers), "--engine", engine,
                                         "--max-queue", "64", "--timeout", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        if server.poll() is not None:
            raise SystemExit("the server stopped while starting")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server was not ready after 300 s")
        time.sleep(0.2)


def upload(client: httpx.Client, url: str, path: Path) -> tuple[float, int]:
    """Seconds to read ``path`` through the service, and its page count."""
    started = time.perf_counter()
    response = client.post(f"{url}/v1/ocr", content=path.read_bytes(), headers={"Content-Type": MEDIA[path.suffix]},
                           params={"format": "json"}, timeout=600)
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return seconds, int(response.headers["x-ocr-pages"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def load(url: str, pages: list[Path], clients: int, requests: int) -> tuple[float, float, float]:
    """(p50 s, p95 s, pages/s) of ``requests`` uploads sent by ``clients`` threads."""
    jobs = list(itertools.islice(itertools.cycle(pages), requests))
    with httpx.Client() as client, ThreadPoolExecutor(clients) as pool:
        upload(client, url, pages[0])  # warm: connection and engine
        started = time.perf_counter()
        results = list(pool.map(lambda path: upload(client, url, path), jobs))
        wall = time.perf_counter() - started
    latencies = [seconds for seconds, _ in results]
    return percentile(latencies, 0.5), percentile(latencies, 0.95), sum(n for _, n in results) / wall


def rss(server: subprocess.Popen[bytes]) -> int:
    """Resident bytes of the server process and all its workers."""
    process = psutil.Process(server.pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--requests", type=int, default=24, help="uploads per concurrency level")
    parser.add_argument("--rss-requests", type=int, default=500)
    parser.add_argument("--engine", default="tesseract", help="engine of the service (default: tesseract, the "
                        "fastest: the service's own costs show best)")
    args = parser.parse_args()
    pages = sorted(p for p in SAMPLES.iterdir() if p.suffix in MEDIA)
    server, url = start_server(args.workers, args.engine)
    try:
        print(f"ocr serve --workers {args.workers} --engine {args.engine}; {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f} at start; {args.requests} uploads per level of "
              f"{', '.join(p.name for p in pages)}\n")
        print("| concurrent clients | p50 latency | p95 latency | pages/s |")
        print("|---|---|---|---|")
        for clients in (1, 4, 16):
            p50, p95, rate = load(url, pages, clients, max(args.requests, clients))
            print(f"| {clients} | {p50:.2f} s | {p95:.2f} s | {rate:.2f} |", flush=True)

        receipt = SAMPLES / "receipt.png"
        with httpx.Client() as client:
            for count in range(1, args.rss_requests + 1):
                upload(client, url, receipt)
                if count == 50:
                    after_50 = rss(server)
            after_all = rss(server)
        change = (after_all - after_50) / after_50 * 100
        print(f"\n| resident memory (server + {args.workers} workers) | MiB |")
        print("|---|---|")
        print(f"| after 50 sequential requests | {after_50 / 2**20:.1f} |")
        print(f"| after {args.rss_requests} sequential requests | {after_all / 2**20:.1f} ({change:+.1f} %) |")
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
