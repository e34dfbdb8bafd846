"""Batch jobs: many inputs read in parallel worker processes into a mirrored tree of outputs, resumably.

The output folder OUT holds, for inputs named relative to their common folder:

- ``OUT/NAME.EXT`` for every input and output format (``scans/a/b.png`` → ``OUT/a/b.png.json``);
- ``index.jsonl``: one line per input read (name, path, SHA-256 of its content, settings
  key, pages, outputs, seconds, run id), appended as inputs finish;
- ``errors.jsonl``: one line per input that failed in the latest run, with the reason;
- ``summary.json``: the latest run's counts, with the inputs and pages read on each node.

An input is skipped when the index holds an entry with its name, content hash and
settings key whose outputs all exist; ``force`` reads everything again. Outputs go to a
temporary file in their final folder, renamed over the final name once complete, and an
input enters the index only after all its outputs are in place: a job killed at any
moment, even with SIGKILL, keeps every input it finished and leaves no partial file under
a final name (the next run removes leftover temporary files). One job at a time may use
an output folder.

Inputs are read where an executor's engines live, in local worker processes
(:class:`~ocr.workers.WorkerPool`) or in the actors of a Ray cluster
(:class:`~ocr.ray_pool.RayPool`): the job sends an input's bytes and gets back its
renderings, and this process alone writes the output folder. A bounded number of inputs
is in flight at a time.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import platform
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence, TextIO, TypeVar

from . import __version__
from .config import ScanOptions
from .engines import engine_class, model_digests
from .errors import EXIT_INPUT, EXIT_OK, EXIT_OUTPUT, OcrError, OutputError, UsageError
from .export import EXTENSIONS, FORMATS, render_file
from .io import read_bytes
from .io.files import TEMP_SUFFIX, write_atomic
from .models import file_digest
from .pipeline import read_document
from .workers import EngineFor, Task, WorkerPool

INPUT_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".pdf"})
"""Files of a directory that are read (by name; explicitly named files are read whatever their name)."""

INDEX = "index.jsonl"
ERRORS = "errors.jsonl"
SUMMARY = "summary.json"
LOCK = ".lock"
JOB_FILES = frozenset({INDEX, ERRORS, SUMMARY, LOCK})
_GLOB_CHARS = frozenset("*?[")
IN_FLIGHT_PER_WORKER = 2
"""Inputs handed out per worker at a time (the others wait in the input list, unread)."""
T = TypeVar("T")


@dataclass(frozen=True)
class BatchInput:
    """An input file and its name: its path relative to the inputs' common folder (POSIX style).

    The name places its outputs under OUT and becomes ``Document.source``.
    """

    path: Path
    name: str


@dataclass(frozen=True)
class Failure:
    """An input, or an input argument, that could not be read."""

    input: str
    error: str
    exit_code: int


@dataclass(frozen=True)
class BatchSettings:
    """What the outputs depend on besides the input: read options and output formats."""

    options: ScanOptions = field(default_factory=ScanOptions)
    formats: tuple[str, ...] = ("json",)

    def __post_init__(self) -> None:
        unknown = [fmt for fmt in self.formats if fmt not in FORMATS]
        if unknown or not self.formats:
            raise UsageError(f"output formats must be among {', '.join(FORMATS)}, got {', '.join(self.formats)}")
        object.__setattr__(self, "formats", tuple(dict.fromkeys(self.formats)))

    def as_dict(self) -> dict[str, Any]:
        return {"options": asdict(self.options), "formats": sorted(self.formats), "version": __version__,
                "models": model_digests(engine_class(self.options.engine), self.options)}

    def key(self) -> str:
        """A short digest of these settings, the package version and the model files' contents: equal keys,
        equal outputs."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class BatchSummary:
    """The counts of one run."""

    run: str
    inputs: int = 0
    read: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    pages: int = 0
    seconds: float = 0.0
    nodes: dict[str, dict[str, int]] = field(default_factory=dict)
    """Inputs and pages read on each node (one node, this host, for local jobs)."""

    def count(self, node: str, pages: int) -> None:
        """Count an input of ``pages`` pages read on ``node``."""
        counts = self.nodes.setdefault(node, {"read": 0, "pages": 0})
        counts["read"] += 1
        counts["pages"] += pages
        self.read += 1
        self.pages += pages

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, else the highest exit code met (see :mod:`ocr.errors`)."""
        return max((f.exit_code for f in self.failures), default=EXIT_OK)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "inputs": self.inputs,
            "read": self.read,
            "skipped": self.skipped,
            "failed": len(self.failures),
            "pages": self.pages,
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
            "nodes": dict(sorted(self.nodes.items())),
        }


def output_name(name: str, fmt: str) -> str:
    """Where input ``name``'s output in format ``fmt`` goes, relative to OUT."""
    return f"{name}.{EXTENSIONS[fmt]}"


# --- inputs --------------------------------------------------------------------------


def _walk(folder: Path, exclude: Path | None) -> Iterator[Path]:
    """Files of ``folder`` and its subfolders with an input suffix, sorted, skipping hidden ones and ``exclude``."""
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (exclude is None or here / d != exclude))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in INPUT_SUFFIXES:
                yield here / name


def collect_inputs(specs: Sequence[str], exclude: Path | None = None) -> tuple[list[BatchInput], list[Failure]]:
    """The input files named by ``specs`` (files, folders read recursively, glob patterns), in order.

    Inputs are named relative to the common folder of the given folders and of the
    given files' folders. A missing file, a pattern matching nothing or a folder
    without inputs is a :class:`Failure`. ``exclude`` (the output folder) is never searched.
    """
    skip = Path(os.path.abspath(exclude)) if exclude is not None else None
    found: dict[Path, None] = {}
    roots: list[str] = []
    failures: list[Failure] = []

    def add(path: Path, spec: str) -> None:
        path = Path(os.path.abspath(path))
        if path.is_dir():
            files = list(_walk(path, skip))
            if not files:
                failures.append(Failure(spec, f"{spec}: no {'/'.join(sorted(INPUT_SUFFIXES))} files in folder", EXIT_INPUT))
            roots.append(str(path))
            found.update(dict.fromkeys(files))
        elif not os.path.lexists(path):
            failures.append(Failure(spec, f"{spec}: no such file", EXIT_INPUT))
        else:
            roots.append(str(path.parent))
            found[path] = None

    for spec in specs:
        if _GLOB_CHARS & set(spec) and not os.path.lexists(spec):
            matches = sorted(glob.glob(spec, recursive=True))
            if not matches:
                failures.append(Failure(spec, f"{spec}: no file matches", EXIT_INPUT))
            for match in matches:
                if skip is None or not Path(os.path.abspath(match)).is_relative_to(skip):
                    add(Path(match), match)
        else:
            add(Path(spec), spec)
    if not found:
        return [], failures
    base = os.path.commonpath(roots)
    inputs = [BatchInput(path, Path(os.path.relpath(path, base)).as_posix()) for path in found]
    return inputs, failures


# --- writing ---------------------------------------------------------------------------


def _render_input(engine_for: EngineFor, data: bytes, name: str, settings: BatchSettings) -> tuple[int, list[bytes]]:
    """The worker's task: an input's pages and its renderings in ``settings.formats``."""
    document = read_document(data, settings.options, engine_for(settings.options), name=name)
    return len(document.pages), [render_file(document, fmt, data, settings.options.dpi) for fmt in settings.formats]


class Executor(Protocol):
    """Where inputs are read: ``size`` workers running tasks as :mod:`ocr.workers` describes."""

    size: int

    def wait_ready(self) -> None:
        """Block until the workers have built their engines; raise the reason if they could not."""

    def run(self, task: Task[T], *args: Any, timeout: float | None = None) -> tuple[T, str]:
        """``task(engine_for, *args)`` on a free worker (blocking): its result and the node it ran on."""

    def close(self) -> None:
        """Stop the workers."""


class LocalExecutor:
    """Worker processes on this host (:class:`~ocr.workers.WorkerPool`)."""

    def __init__(self, size: int, options: ScanOptions) -> None:
        self.size = size
        self.node = platform.node()
        self._pool = WorkerPool(size, options)

    def wait_ready(self) -> None:
        self._pool.wait_ready()

    def run(self, task: Task[T], *args: Any, timeout: float | None = None) -> tuple[T, str]:
        return self._pool.run(task, *args, timeout=timeout), self.node

    def close(self) -> None:
        self._pool.close()


def _read_input(executor: Executor, item: BatchInput, out: Path, settings: BatchSettings,
                timeout: float | None) -> tuple[dict[str, Any], str]:
    """Read one input on ``executor`` and write its outputs: what the index records of it, and its node."""
    started = time.perf_counter()
    data = read_bytes(str(item.path), item.name)
    (pages, renderings), node = executor.run(_render_input, data, item.name, settings, timeout=timeout)
    outputs = [output_name(item.name, fmt) for fmt in settings.formats]
    for relative, rendering in zip(outputs, renderings):
        try:
            write_atomic(out / relative, rendering)
        except OSError as exc:
            raise OutputError(f"{item.name}: cannot write {relative}: {exc.strerror or exc}") from None
    entry = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "pages": pages,
        "outputs": outputs,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return entry, node


def _file_sha256(path: Path) -> str | None:
    try:
        return file_digest(path)
    except OSError:
        return None


class _Journal:
    """An append-only JSON Lines file; each line is written with one call, so it is whole or absent."""

    def __init__(self, path: Path, truncate: bool = False) -> None:
        if path.exists() and not truncate:
            _cut_partial_line(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
        self._fd = os.open(path, flags, 0o666)
        self.name = path.name

    def append(self, entry: dict[str, Any]) -> None:
        """Write ``entry`` as one line; :class:`OutputError` if it cannot be (disk full)."""
        try:
            os.write(self._fd, (json.dumps(entry, ensure_ascii=False) + "\n").encode())
        except OSError as exc:
            raise OutputError(f"cannot write {self.name}: {exc.strerror or exc}") from None

    def close(self) -> None:
        os.close(self._fd)


def _cut_partial_line(path: Path) -> None:
    """Drop a last line cut short by a kill, so that the next entry starts on a line of its own."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as stream:
            stream.truncate(data.rfind(b"\n") + 1)


def read_index(out: Path) -> dict[str, dict[str, Any]]:
    """The latest index entry of every input name in output folder ``out``."""
    entries: dict[str, dict[str, Any]] = {}
    path = out / INDEX
    if not path.exists():
        return entries
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        entries[entry["input"]] = entry
    return entries


def _is_done(item: BatchInput, entry: dict[str, Any] | None, key: str, out: Path) -> bool:
    return (
        entry is not None
        and entry.get("settings") == key
        and all((out / name).is_file() for name in entry.get("outputs", ()))
        and entry.get("sha256") == _file_sha256(item.path)
    )


def _remove_partials(out: Path) -> None:
    for root, _, files in os.walk(out):
        for name in files:
            if name.endswith(TEMP_SUFFIX):
                (Path(root) / name).unlink(missing_ok=True)


class _JobLock:
    """An exclusive lock on the output folder for the job's duration (released by the OS even on SIGKILL)."""

    def __init__(self, out: Path) -> None:
        self._fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise UsageError(f"{out}: another batch job is writing to this folder") from None

    def release(self) -> None:
        os.close(self._fd)


# --- progress --------------------------------------------------------------------------


class Progress:
    """A one-line progress bar redrawn in place on a terminal: files, pages, pages/s, ETA, errors."""

    def __init__(self, stream: TextIO, total: int, interval: float = 0.2) -> None:
        self.stream = stream
        self.total = total
        self.interval = interval
        self.started = time.monotonic()
        self._drawn = 0.0
        self._shown = False

    def line(self, files: int, pages: int, errors: int) -> str:
        """The bar's text for ``files`` of :attr:`total` done, ``pages`` read, ``errors`` met so far."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = pages / elapsed
        eta = "--:--" if files == 0 else _clock(elapsed / files * (self.total - files))
        text = f" {files}/{self.total} files  {pages} pages  {rate:.2f} pages/s  ETA {eta}  {errors} errors"
        room = self._columns() - len(text) - 3
        if room < 10:
            return text.strip()
        filled = round(room * files / max(self.total, 1))
        return f"[{'#' * filled}{'.' * (room - filled)}]{text}"

    def _columns(self) -> int:
        """The terminal's width (80 when it does not say)."""
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return 80

    def update(self, files: int, pages: int, errors: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._drawn < self.interval:
            return
        self._drawn = now
        self.stream.write("\r\x1b[2K" + self.line(files, pages, errors) + ("\n" if final else ""))
        self.stream.flush()
        self._shown = not final

    def message(self, text: str) -> None:
        """Print ``text`` on its own line above the bar."""
        self.stream.write(("\r\x1b[2K" if self._shown else "") + text + "\n")
        self.stream.flush()
        self._drawn = 0.0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# --- the job ---------------------------------------------------------------------------


def run_batch(
    inputs: Sequence[BatchInput],
    out: Path,
    settings: BatchSettings,
    *,
    workers: int | None = None,
    ray: str | None = None,
    force: bool = False,
    timeout: float | None = None,
    failures: Sequence[Failure] = (),
    progress: Progress | None = None,
    report: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Read ``inputs`` into output folder ``out``; see the module doc.

    Inputs are read by ``workers`` processes on this host (default: one per CPU core) or,
    given ``ray`` (a cluster address, ``auto``, or ``local`` to start one for the job), by
    ``workers`` actors on that Ray cluster (default: one per CPU of the cluster).

    ``failures`` (from :func:`collect_inputs`) go into the errors report too. ``timeout``
    bounds the seconds spent on one input. ``report`` receives a line per failure;
    ``progress`` counts the inputs to read (not those skipped) and is redrawn as they
    finish. Raises :class:`~ocr.errors.EngineError` at
    once if the engine cannot be built, :class:`UsageError` if another job holds ``out``, if Ray is
    asked for but not installed, or if its cluster cannot be reached, and :class:`OutputError` if
    ``out`` cannot be written at all. Outputs, index lines or the summary that cannot be written
    (disk full) are failures with exit code 5, in the errors report as long as it can still be written.
    """
    if workers is not None and workers < 1:
        raise UsageError(f"workers must be at least 1, got {workers}")

    def executor(at_most: int) -> Executor:
        if ray is None:
            return LocalExecutor(min(workers or len(os.sched_getaffinity(0)), at_most), settings.options)
        return RayPool(workers, settings.options, at_most=at_most)

    if ray is not None:
        from .ray_pool import RayPool, connect, disconnect  # a UsageError naming the extra when Ray is missing
    started = time.monotonic()
    summary = BatchSummary(run=f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}", inputs=len(inputs))
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = _JobLock(out)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write to the output folder: {exc.strerror or exc}") from None
    try:
        if ray is not None:
            connect(ray)
        key = settings.key()
        try:
            _remove_partials(out)
            previous = read_index(out)
            errors = _Journal(out / ERRORS, truncate=True)
            index = _Journal(out / INDEX)
        except OSError as exc:
            raise OutputError(f"{out}: cannot write to the output folder: {exc.strerror or exc}") from None
        todo = [item for item in inputs if force or not _is_done(item, previous.get(item.name), key, out)]
        summary.skipped = len(inputs) - len(todo)

        def fail(failure: Failure) -> None:
            summary.failures.append(failure)
            try:
                errors.append({**asdict(failure), "run": summary.run})
            except OutputError as exc:  # the disk is full: the failure is still counted and reported
                failure = Failure(failure.input, f"{failure.error} ({exc})", EXIT_OUTPUT)
                summary.failures[-1] = failure
            if report is not None:
                report(failure.error)

        try:
            for failure in failures:
                fail(failure)
            for item in inputs:
                if any(output_name(item.name, fmt) in JOB_FILES for fmt in settings.formats):
                    fail(Failure(item.name, f"{item.name}: its output would overwrite the job's own files", EXIT_INPUT))
            refused = {failure.input for failure in summary.failures}
            todo = [item for item in todo if item.name not in refused]
            if todo:
                _read_all(todo, out, settings, key, executor, timeout, summary, index, fail, progress)
        finally:
            index.close()
            errors.close()
        summary.seconds = time.monotonic() - started
        try:
            write_atomic(out / SUMMARY, json.dumps({**summary.as_dict(), "settings": settings.as_dict()}, indent=2)
                         + "\n")
        except OSError as exc:
            summary.failures.append(Failure(SUMMARY, f"cannot write {SUMMARY}: {exc.strerror or exc}", EXIT_OUTPUT))
            if report is not None:
                report(summary.failures[-1].error)
    finally:
        lock.release()
        if ray is not None:
            disconnect()
    return summary


def _read_all(
    todo: Sequence[BatchInput],
    out: Path,
    settings: BatchSettings,
    key: str,
    executor: Callable[[int], Executor],
    timeout: float | None,
    summary: BatchSummary,
    index: _Journal,
    fail: Callable[[Failure], None],
    progress: Progress | None,
) -> None:
    """Read ``todo`` on the workers of ``executor(len(todo))``, a few inputs per worker at a time,
    recording each input as it finishes."""
    if progress is not None:
        progress.total = len(todo)
        progress.started = time.monotonic()
    pool = executor(len(todo))
    waiting = iter(todo)
    running: dict[Future[tuple[dict[str, Any], str]], BatchInput] = {}

    def hand_out(threads: ThreadPoolExecutor) -> None:
        while len(running) < pool.size * IN_FLIGHT_PER_WORKER and (item := next(waiting, None)) is not None:
            running[threads.submit(_read_input, pool, item, out, settings, timeout)] = item

    done = 0
    try:
        pool.wait_ready()
        with ThreadPoolExecutor(pool.size, thread_name_prefix="batch") as threads:
            try:
                hand_out(threads)
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        item = running.pop(future)
                        done += 1
                        try:
                            entry, node = future.result()
                        except OcrError as exc:
                            reason = str(exc) if str(exc).startswith(item.name) else f"{item.name}: {exc}"
                            fail(Failure(item.name, reason, exc.exit_code))
                        else:
                            try:
                                index.append({"input": item.name, "path": str(item.path), **entry, "settings": key,
                                              "run": summary.run})
                            except OutputError as exc:  # read and written, but not recorded: read again next run
                                fail(Failure(item.name, f"{item.name}: {exc}", exc.exit_code))
                            else:
                                summary.count(node, entry["pages"])
                        if progress is not None:
                            progress.update(done, summary.pages, len(summary.failures), final=done == len(todo))
                    hand_out(threads)
            finally:
                threads.shutdown(cancel_futures=True)
    finally:
        pool.close()
