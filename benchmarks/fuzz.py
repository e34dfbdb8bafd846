"""The long fuzz run: mutated PNG, JPEG, TIFF, GIF, WebP and PDF files through the decoders, the upload
parser and a real ``ocr serve``; counts crashes, hangs, tracebacks and peak memory.

    python benchmarks/fuzz.py [--inputs 10000] [--workers 2] [--service-every 20] [--json fuzz.json]

Input i is seed file i mod 6 (tests/hostile_inputs.py: a small page per format, two pages for
TIFF and PDF) after 1 to 8 random edits (seeded: a run is reproducible). Every input is

- decoded in a worker process (``ocr.workers.WorkerPool``, ``--timeout`` seconds each):
  pages, or one :class:`InputError` line; a worker that dies is a crash, one past the timeout a
  hang, any other exception a traceback, a message with a Python repr a bad message;
- parsed as the file of a multipart form by the service's upload reader: a file or a 400/413;
- every ``--service-every``-th one also posted to ``ocr serve -e tesseract`` (raw or as a form):
  any status outside the documented ones, or 500, is a failure.

Peak RSS: the largest resident size any decoding worker (or its PDF renderer) reached, and the
largest of the service's workers. Prints one line per figure; exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hostile_inputs import FUZZ_FORMATS, multipart, mutate, seed_files  # noqa: E402
from service_process import running_service  # noqa: E402

from ocr.config import ScanOptions  # noqa: E402
from ocr.errors import EngineTimeout, InputError, OcrError  # noqa: E402
from ocr.io import load_pages  # noqa: E402
from ocr.workers import EngineFor, WorkerPool  # noqa: E402
from ocr.server.uploads import UploadProblem, read_upload  # noqa: E402

MAX_PIXELS = 20_000_000
MAX_PAGES = 5
DOCUMENTED = {200, 400, 408, 413, 415, 422, 503, 504}


def decode_task(engine_for: EngineFor, data: bytes) -> tuple[str, int]:
    """In a worker: the outcome of decoding ``data`` (``read``, ``refused``, ``bad message: ...`` or
    ``traceback: ...``) and the worker's peak RSS so far in KiB (its PDF renderers included)."""
    try:
        load_pages(data, dpi=150, max_pixels=MAX_PIXELS, max_pages=MAX_PAGES)
        outcome = "read"
    except InputError as exc:
        message = str(exc)
        clean = "\n" not in message and " at 0x" not in message and message.startswith("<bytes>: ")
        outcome = "refused" if clean else f"bad message: {message!r}"
    except Exception as exc:  # what the fuzzing looks for
        outcome = f"traceback: {type(exc).__name__}: {exc}"
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return outcome, peak


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 8192):
        yield body[start:start + 8192]


def parse_upload(data: bytes, name: str) -> str:
    """``data`` as the file of a multipart form named ``name``, through the service's reader: an outcome."""
    body, media = multipart(data, name)
    try:
        asyncio.run(read_upload(media, _chunks(body), 20 * 2**20))
        return "taken"
    except UploadProblem as exc:
        return f"refused {exc.status}"
    except Exception as exc:
        return f"traceback: {type(exc).__name__}: {exc}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="Seconds one input may take to decode.")
    parser.add_argument("--service-every", type=int, default=20, help="Post every Nth input to the service (0: none).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    seeds = seed_files()
    rng = random.Random(args.seed)
    inputs = [(FUZZ_FORMATS[i % len(FUZZ_FORMATS)], mutate(seeds[FUZZ_FORMATS[i % len(FUZZ_FORMATS)]], rng))
              for i in range(args.inputs)]
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    peak_kib = 0

    def decode(index: int) -> None:
        nonlocal peak_kib
        fmt, data = inputs[index]
        try:
            outcome, peak = pool.run(decode_task, data, timeout=args.timeout)
            peak_kib = max(peak_kib, peak)
        except EngineTimeout:
            outcome = "hang"
        except OcrError as exc:  # the worker died
            outcome = f"crash: {exc}"
        kind = outcome.split(":")[0]
        outcomes[f"decode {fmt} {kind}"] += 1
        if kind not in ("read", "refused"):
            failures.append(f"input {index} ({fmt}): {outcome}")
        upload = parse_upload(data, f"fuzz-{index}.{fmt.lower()}")
        outcomes[f"upload {upload.split(':')[0]}"] += 1
        if upload.startswith("traceback"):
            failures.append(f"input {index} ({fmt}) upload: {upload}")

    with WorkerPool(args.workers, ScanOptions(engine="tesseract")) as pool:
        pool.wait_ready()
        with ThreadPoolExecutor(args.workers) as threads:
            for done, _ in enumerate(threads.map(decode, range(len(inputs))), 1):
                if done % 1000 == 0:
                    print(f"  {done} inputs decoded, {len(failures)} failures, {time.monotonic() - started:.0f} s",
                          file=sys.stderr)
    decode_seconds = time.monotonic() - started

    service_statuses: Counter[int] = Counter()
    service_peak_kib = 0
    if args.service_every:
        with tempfile.TemporaryDirectory() as folder, running_service(
                Path(folder), "--workers", str(args.workers), "--engine", "tesseract", "--max-pixels",
                str(MAX_PIXELS), "--max-pages", str(MAX_PAGES), "--timeout", str(args.timeout)) as service:
            for index in range(0, len(inputs), args.service_every):
                fmt, data = inputs[index]
                as_form = index // args.service_every % 2 == 1
                body, media = multipart(data, f"fuzz.{fmt.lower()}") if as_form else (data, "application/octet-stream")
                response = httpx.post(f"{service.url}/v1/ocr", content=body, headers={"Content-Type": media},
                                      timeout=args.timeout + 30)
                service_statuses[response.status_code] += 1
                if response.status_code not in DOCUMENTED or response.status_code == 500:
                    failures.append(f"input {index} ({fmt}) service: {response.status_code} {response.text[:200]}")
            for worker in psutil.Process(service.process.pid).children():
                status = Path(f"/proc/{worker.pid}/status").read_text().splitlines()
                hwm = [int(line.split()[1]) for line in status if line.startswith("VmHWM:")]
                service_peak_kib = max([service_peak_kib, *hwm])
            if "Traceback" in service.log_text():
                failures.append("the service logged a traceback")

    report: dict[str, Any] = {
        "inputs": len(inputs),
        "crashes": sum(1 for f in failures if ": crash" in f),
        "hangs": sum(1 for f in failures if ": hang" in f),
        "tracebacks": sum(1 for f in failures if "traceback" in f),
        "failures": failures,
        "outcomes": dict(sorted(outcomes.items())),
        "service_statuses": {str(k): v for k, v in sorted(service_statuses.items())},
        "decode_peak_rss_mib": round(peak_kib / 1024),
        "service_worker_peak_rss_mib": round(service_peak_kib / 1024),
        "decode_seconds": round(decode_seconds, 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    for key in ("inputs", "crashes", "hangs", "tracebacks", "decode_peak_rss_mib", "service_worker_peak_rss_mib",
                "decode_seconds", "seconds"):
        print(f"{key}: {report[key]}")
    print(f"failures: {len(failures)}")
    for failure in failures[:20]:
        print(f"  {failure}")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in report["outcomes"].items()))
    print("service statuses: " + ", ".join(f"{k}: {v}" for k, v in report["service_statuses"].items()))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
