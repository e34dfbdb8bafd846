"""One engine in one process: ``python -m ocr.bench.runner JOB.json OUT.jsonl``.

The job names the engine, its threads, and the images with their mode. The runner loads
the engine once, reads the first image once untimed (warm-up), then reads every image
and writes one JSON line per image: ``{"index", "seconds", "cpu_seconds", "reading"}``
(wall-clock and CPU time of this process, all its threads) or
``{"index", "error"}``. The last line is ``{"summary": {...}}`` with the load time, the
peak resident memory of the process (``ru_maxrss``: loading, warm-up and reading) and
the versions. Image decoding is not timed. Thread variables must be set by the caller
before this process starts (they are read when the libraries load).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .adapters import load


def _image(path: str) -> np.ndarray:
    """The image as H×W×3 uint8 RGB; gray and 1-bit scans through 8-bit gray (PIL's own RGB copy of a
    3600×4800 scan takes 69 MB, which would count against every engine's peak memory)."""
    with Image.open(path) as image:
        if image.mode in ("1", "L"):
            return np.repeat(np.asarray(image.convert("L"))[:, :, None], 3, axis=2)
        return np.asarray(image.convert("RGB"))


def run(job: dict[str, Any], out: Path) -> None:
    """Read every image of ``job`` with its engine, writing results to ``out`` as they come."""
    started = time.perf_counter()
    reader, versions = load(job["engine"], job["threads"])
    load_seconds = time.perf_counter() - started
    items = job["items"]
    with out.open("w", encoding="utf-8") as sink:
        if items:
            first = items[0]
            try:
                reader(_image(first["image"]), first["mode"])
            except Exception as exc:  # reported with the timed read of the same image below
                print(f"warm-up failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        for index, item in enumerate(items):
            image = None  # the previous page goes before the next is decoded
            try:
                image = _image(item["image"])
                begin, begin_cpu = time.perf_counter(), time.process_time()
                reading = reader(image, item["mode"])
                seconds, cpu_seconds = time.perf_counter() - begin, time.process_time() - begin_cpu
                row: dict[str, Any] = {"index": index, "seconds": seconds, "cpu_seconds": cpu_seconds,
                                       "reading": reading.to_dict()}
            except Exception as exc:  # one bad image must not end the run
                row = {"index": index, "error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        summary = {"load_seconds": load_seconds, "peak_rss_mb": peak_mb, "versions": versions,
                   "python": sys.version.split()[0]}
        sink.write(json.dumps({"summary": summary}) + "\n")


def main(argv: list[str]) -> int:
    """Entry point: ``JOB.json OUT.jsonl``."""
    if len(argv) != 2:
        print("usage: python -m ocr.bench.runner JOB.json OUT.jsonl", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        run(job, Path(argv[1]))
    except Exception as exc:  # loading failed: one line for the harness to show
        print(f"{job['engine']}: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
