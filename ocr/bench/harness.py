"""Run engines over datasets, each (engine, set) in its own process, and score what they read.

Fair conditions: every engine reads the same decoded images, with the same thread
count (``OMP_NUM_THREADS``, ``OMP_THREAD_LIMIT`` — which Tesseract reads — MKL and
OpenBLAS variables, and the engines' own intra-op settings), models loaded once per
process and a warm-up read that is not timed.

A set is a page set when its manifest has word or line boxes or multi-line texts (read in
``page`` mode), otherwise a crop set (one word or line per image, read in ``line`` mode).
Page sets: CER and WER (order-sensitive, case-sensitive, whitespace collapsed, summed
over the set), bag-of-words F1 (order-free, case- and punctuation-free), detection
P/R/H-mean at IoU ≥ 0.5 on word boxes (else line boxes) and end-to-end F1 (box and text)
on word boxes, both over the pages that have boxes. Crop sets: the metrics of
:mod:`ocr.eval.recognition`. Every engine: median wall-clock and CPU seconds per image (CPU time is the fairer one on a busy
machine: with one thread it is what an idle core would take) and peak RSS; engines whose words carry several ``source``
values (``hybrid``): the share of words from each.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import datasets
from ..errors import UsageError
from .adapters import PEERS, Reading

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
VENVS_ENV = "OCR_BENCH_VENVS"
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


def default_venvs() -> Path:
    """Where peer venvs live: ``$OCR_BENCH_VENVS`` or ``~/.cache/ocr-bench/venvs``."""
    return Path(os.environ.get(VENVS_ENV) or Path.home() / ".cache" / "ocr-bench" / "venvs")


@dataclass(frozen=True)
class BenchSet:
    """A dataset as the benchmark uses it."""

    name: str
    folder: Path
    kind: str  # "pages" or "crops"
    samples: tuple[datasets.Sample, ...]
    total: int  # images in the set's manifest, read or not

    @property
    def mode(self) -> str:
        return "page" if self.kind == "pages" else "line"


def load_set(spec: str, limit: int | None) -> BenchSet:
    """The set named by ``spec``: a folder or a name under the shared data, its first ``limit``
    images, or ``SET:N`` for the first N images of that one set."""
    name, _, count = spec.rpartition(":")
    if name and count.isdigit() and not Path(spec).exists():
        if int(count) < 1:
            raise UsageError(f"{spec}: the number of images after ':' must be at least 1")
        spec, limit = name, int(count)
    folder = datasets.resolve(spec)
    every = tuple(datasets.iter_samples(folder))
    samples = every[:limit]
    is_pages = any(s.words or s.lines or "\n" in s.text.strip() for s in samples)
    return BenchSet(folder.name, folder, "pages" if is_pages else "crops", samples, len(every))


def interpreter(engine: str, venvs: Path) -> Path:
    """The Python that runs ``engine``: a peer's own venv, or this one."""
    peer = PEERS.get(engine)
    if peer is None or peer.venv is None:
        return Path(sys.executable)
    return venvs / peer.venv / "bin" / "python"


def unavailable(engine: str, venvs: Path) -> str | None:
    """Why ``engine`` cannot run here (``None``: it can)."""
    peer = PEERS.get(engine)
    if peer is None:
        from ..engines import engine_class

        try:
            return engine_class(engine).availability()
        except UsageError as exc:
            return str(exc)
    python = interpreter(engine, venvs)
    if not python.is_file():
        return f"not installed: no environment at {python.parent.parent} ({peer.install})"
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({peer.module!r}) is None)"
    if subprocess.run([str(python), "-c", probe], capture_output=True).returncode != 0:
        return f"not installed: module {peer.module} not found by {python} ({peer.install})"
    return None


def thread_environment(threads: int) -> dict[str, str]:
    """This process's environment with every thread variable set to ``threads``."""
    env = dict(os.environ, **{name: str(threads) for name in THREAD_VARIABLES})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass
class EngineRun:
    """What one runner process returned: one row per image, and its summary."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    error: str | None = None


def run_engine(engine: str, bench_set: BenchSet, threads: int, venvs: Path, raw_dir: Path,
               timeout: float | None = None) -> EngineRun:
    """Read every image of ``bench_set`` with ``engine`` in a process of its own."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    out = raw_dir / f"{engine}__{bench_set.name}.jsonl"
    job = {"engine": engine, "threads": threads,
           "items": [{"image": str(s.image), "mode": bench_set.mode} for s in bench_set.samples]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(job, fh)
    try:
        done = subprocess.run([str(interpreter(engine, venvs)), "-m", "ocr.bench.runner", fh.name, str(out)],
                              env=thread_environment(threads), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return EngineRun([], {}, f"timed out after {timeout:.0f} s")
    finally:
        os.unlink(fh.name)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.is_file() else []
    summary = next((line["summary"] for line in lines if "summary" in line), {})
    rows = [line for line in lines if "index" in line]
    error = None
    if done.returncode != 0 or not summary:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        error = tail[0]
    return EngineRun(rows, summary, error)


def readings(run: EngineRun, count: int) -> list[Reading]:
    """One reading per image; an image the engine failed on reads as nothing."""
    found = {row["index"]: Reading.from_dict(row["reading"]) for row in run.rows if "reading" in row}
    return [found.get(i, Reading("")) for i in range(count)]


def score_pages(bench_set: BenchSet, reads: Sequence[Reading]) -> dict[str, Any]:
    """Text, bag-of-words, detection and end-to-end metrics of a page set."""
    from ..eval.detection import Counts, match, match_end_to_end
    from ..eval.metrics import BagCounts, bag_counts, collapse_spaces, set_cer, word_edit_distance

    words = word_errors = 0
    bag = BagCounts()
    det, e2e = Counts(), Counts()
    has_words = any(s.words for s in bench_set.samples)
    has_lines = any(s.lines for s in bench_set.samples)
    boxed = [bool(s.words) if has_words else bool(s.lines) for s in bench_set.samples]
    for sample, read, scored in zip(bench_set.samples, reads, boxed):
        truth = collapse_spaces(sample.text)
        words += len(truth.split())
        word_errors += word_edit_distance(collapse_spaces(read.text), truth)
        bag += bag_counts(read.text, sample.text)
        if not scored:  # a page without boxes is left out of the box metrics
            continue
        if has_words:
            ignore = [w.ignore for w in sample.words]
            det += match([w.polygon for w in read.words], [w.box for w in sample.words], ignore)
            e2e += match_end_to_end([(w.polygon, w.text) for w in read.words],
                                    [(w.box, w.text) for w in sample.words], ignore)
        elif has_lines:
            det += match([ln.polygon for ln in read.lines], [ln.box for ln in sample.lines],
                         [ln.ignore for ln in sample.lines])
    scores: dict[str, Any] = {
        "cer": set_cer((read.text, sample.text) for sample, read in zip(bench_set.samples, reads)),
        "wer": word_errors / max(1, words),
        "bow_precision": bag.precision, "bow_recall": bag.recall, "bow_f1": bag.f1,
    }
    if has_words or has_lines:
        scores.update(det_level="words" if has_words else "lines", det_pages=sum(boxed),
                      det_precision=det.precision, det_recall=det.recall, det_hmean=det.hmean)
    if has_words:
        scores.update(e2e_precision=e2e.precision, e2e_recall=e2e.recall, e2e_f1=e2e.hmean)
    return scores


def score_crops(bench_set: BenchSet, reads: Sequence[Reading]) -> dict[str, Any]:
    """Word accuracies and CER of a crop set (the protocols of :mod:`ocr.eval.recognition`)."""
    from ..eval.recognition import score
    from ..recognition.predictor import Reading as CropReading

    crop_reads = [CropReading(r.text, statistics.fmean([w.confidence for w in r.words]) if r.words else 0.0, ())
                  for r in reads]
    result = score(bench_set.name, "", [s.text for s in bench_set.samples], crop_reads, seconds=0.0)
    return {"acc_alnum": result.acc_alnum, "acc": result.acc, "acc_ci": result.acc_ci, "cer": result.cer,
            "cer_ci": result.cer_ci, "errors": result.errors[:10]}


def word_sources(reads: Sequence[Reading]) -> dict[str, float]:
    """Share of words per engine of origin."""
    counts = Counter(w.source for r in reads for w in r.words)
    total = sum(counts.values())
    return {source: n / total for source, n in counts.most_common()} if total else {}


def evaluate(engine: str, bench_set: BenchSet, run: EngineRun) -> dict[str, Any]:
    """Every number of ``engine`` on ``bench_set``."""
    reads = readings(run, len(bench_set.samples))
    seconds = [row["seconds"] for row in run.rows if "seconds" in row]
    cpu_seconds = [row["cpu_seconds"] for row in run.rows if "cpu_seconds" in row]
    result: dict[str, Any] = {
        "set": bench_set.name, "kind": bench_set.kind, "engine": engine, "images": len(bench_set.samples),
        "failed_images": sum("error" in row for row in run.rows),
        "median_s_per_image": statistics.median(seconds) if seconds else None,
        "mean_s_per_image": statistics.fmean(seconds) if seconds else None,
        "median_cpu_s_per_image": statistics.median(cpu_seconds) if cpu_seconds else None,
        "peak_rss_mb": run.summary.get("peak_rss_mb"), "load_seconds": run.summary.get("load_seconds"),
        "versions": run.summary.get("versions", {}),
    }
    result.update(score_pages(bench_set, reads) if bench_set.kind == "pages" else score_crops(bench_set, reads))
    sources = word_sources(reads)
    if len(sources) > 1:
        result["word_sources"] = sources
    return result


@dataclass
class BenchReport:
    """Everything a benchmark run measured, with the conditions it ran under."""

    settings: dict[str, Any]
    machine: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings, "machine": self.machine, "results": self.results,
                "skipped": self.skipped, "failures": self.failures}


def machine() -> dict[str, Any]:
    """CPU model, cores, OS and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "os": platform.platform(),
            "python": platform.python_version()}


def run_bench(sets: Sequence[str], engines: Sequence[str], threads: int = 1, limit: int | None = None,
              venvs: Path | None = None, out: Path | None = None, timeout: float | None = None, jobs: int = 1,
              notify: Callable[[str], None] = lambda message: None) -> BenchReport:
    """Benchmark ``engines`` on ``sets``, ``jobs`` (engine, set) processes at a time; engines
    that cannot run here are skipped with a notice."""
    if threads < 1 or jobs < 1:
        raise UsageError(f"--threads and --jobs must be at least 1, got {threads} and {jobs}")
    venvs = venvs or default_venvs()
    bench_sets = [load_set(name, limit) for name in sets]
    report = BenchReport(
        settings={"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "sets": list(sets),
                  "engines": list(engines), "threads": threads, "jobs": jobs, "limit": limit,
                  "images": {s.name: [len(s.samples), s.total] for s in bench_sets},
                  "thread_variables": {name: str(threads) for name in THREAD_VARIABLES}},
        machine=machine(),
    )
    raw_dir = (out or Path(tempfile.mkdtemp(prefix="ocr-bench-"))) / "raw"
    tasks = []
    for engine in engines:
        reason = unavailable(engine, venvs)
        if reason is not None:
            report.skipped[engine] = reason
            notify(f"bench: skipping {engine}: {reason}")
        else:
            tasks += [(engine, bench_set) for bench_set in bench_sets]

    def task(engine: str, bench_set: BenchSet) -> EngineRun:
        notify(f"bench: {engine} on {bench_set.name} ({len(bench_set.samples)} images, {threads} thread(s))")
        return run_engine(engine, bench_set, threads, venvs, raw_dir, timeout)

    with ThreadPoolExecutor(max_workers=jobs) as pool:  # each task waits on its own runner process
        runs = list(pool.map(lambda t: task(*t), tasks))
    for (engine, bench_set), run in zip(tasks, runs):
        if run.error is not None:
            report.failures.append({"engine": engine, "set": bench_set.name, "error": run.error})
            notify(f"bench: {engine} on {bench_set.name} failed: {run.error}")
            if not run.rows:
                continue
        report.results.append(evaluate(engine, bench_set, run))
    return report
