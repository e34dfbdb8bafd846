"""A bounded pool of worker processes, each loading its engines once, for the batch runner and the service.

Each worker is a separate process (``spawn``), so a slow or crashing page never blocks
or takes down the caller, and a task that runs past its timeout is really stopped: its
worker is killed and a fresh one takes its place. Workers build the engine of the
pool's :class:`~ocr.config.ScanOptions` as they start (``ready()`` tells when every
one has) and keep a few more, built on first use, for tasks that ask for other options.

A task is a module-level function ``task(engine_for, *args)``, where
``engine_for(options)`` returns that worker's engine for ``options``; it runs in the
worker and its arguments and result travel pickled. :class:`~ocr.errors.OcrError` raised
by a task reaches the caller as it is; any other exception becomes a one-line ``OcrError``.
:meth:`WorkerPool.run` blocks until a worker is free, so call it from as many threads as
tasks should run at once.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any, Callable, TypeVar

from .config import DEFAULT_DPI, DEFAULT_MAX_PIXELS, ScanOptions
from .engines import Engine, create_engine
from .errors import EngineError, EngineTimeout, OcrError
from .export import render, render_file
from .export.draw import preview_url
from .pipeline import read_document

T = TypeVar("T")
EngineFor = Callable[[ScanOptions], Engine]
Task = Callable[..., T]

DEFAULT_START_TIMEOUT = 300.0
"""Seconds a worker may take to start and load its engine."""

ENGINES_PER_WORKER = 3
"""Engines a worker keeps built (least recently used ones are dropped)."""

_PARENT_CHECK_SECONDS = 0.5
_WATCH_SECONDS = 0.5
"""How often the pool looks for idle workers that died."""


class EngineCache:
    """A worker's engines by the options they were built from, least recently used dropped first.

    Options that only decoding reads (``dpi``, ``max_pixels``, ``max_pages``) do not tell
    engines apart.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._engines: OrderedDict[ScanOptions, Engine] = OrderedDict()

    def get(self, options: ScanOptions) -> Engine:
        key = replace(options, dpi=DEFAULT_DPI, max_pixels=DEFAULT_MAX_PIXELS, max_pages=None)
        engine = self._engines.pop(key, None)
        if engine is None:
            engine = create_engine(options.engine, options)
        self._engines[key] = engine
        while len(self._engines) > self._size:
            self._engines.popitem(last=False)
        return engine


def portable_error(exc: BaseException) -> OcrError:
    """``exc`` as an error that survives pickling and reads as one line."""
    if isinstance(exc, OcrError):
        return exc
    return OcrError(f"internal error: {type(exc).__name__}: {exc} (please report this bug)")


def _exit_with_parent(parent: int) -> None:
    """End this worker as soon as the process that started it is gone (even if it was SIGKILLed)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _serve(conn: Connection, options: ScanOptions, parent: int) -> None:
    """A worker's life: build the engine, say ready, then run tasks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _exit_with_parent(parent)
    engines = EngineCache(ENGINES_PER_WORKER)
    try:
        engines.get(options)
    except BaseException as exc:
        conn.send(("failed", portable_error(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        task, args = message
        try:
            reply = ("ok", task(engines.get, *args))
        except Exception as exc:
            reply = ("error", portable_error(exc))
        conn.send(reply)


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, context: Any, options: ScanOptions) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, options, os.getpid()), name="ocr-worker", daemon=True)
        self.process.start()
        child.close()
        self.busy = threading.Lock()  # held by whoever talks to the worker
        self.started = False
        self.failure: OcrError | None = None
        self.retired = False  # replaced by the pool's watch after dying idle

    def _receive(self, timeout: float | None, what: str) -> tuple[str, Any]:
        events = multiprocessing.connection.wait([self.conn, self.process.sentinel], timeout)
        if not events:
            raise EngineTimeout(f"{what} timed out after {_seconds(timeout)}")
        if self.conn in events:
            try:
                return self.conn.recv()
            except (EOFError, OSError):
                pass
        self.process.join(1.0)
        raise EngineError(f"{what}: worker process died ({_exit_reason(self.process.exitcode)})")

    def _started(self, kind: str, value: Any) -> None:
        if kind == "failed":
            self.failure = value
            raise value
        self.started = True

    def start(self, timeout: float) -> None:
        """Wait until the worker has built its engine; raise its reason if it could not."""
        if self.failure is not None:
            raise self.failure
        if not self.started:
            self._started(*self._receive(timeout, "worker start"))

    def poll_started(self) -> bool:
        """Whether the worker has built its engine, without waiting."""
        if not self.started and self.failure is None and self.conn.poll(0):
            try:
                self._started(*self._receive(0, "worker start"))
            except OcrError:
                pass
        return self.started

    def run(self, task: Task[T], args: tuple[Any, ...], timeout: float | None) -> T:
        try:
            self.conn.send((task, args))
        except (BrokenPipeError, OSError):
            self.process.join(1.0)
            raise EngineError(f"worker process died ({_exit_reason(self.process.exitcode)})") from None
        kind, value = self._receive(timeout, "reading")
        if kind == "error":
            raise value
        return value

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()

    def stop(self, grace: float) -> None:
        """Ask the worker to finish, kill it if it has not after ``grace`` seconds."""
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(grace)
        self.kill()


def _seconds(value: float | None) -> str:
    """``value`` seconds for a message, to a tenth (``3.99952`` is ``4 s``)."""
    return f"{round(value or 0.0, 1):g} s"


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class WorkerPool:
    """``size`` worker processes reading with engines built from ``options``."""

    def __init__(self, size: int, options: ScanOptions, *, start_timeout: float = DEFAULT_START_TIMEOUT) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, got {size}")
        self.size = size
        self.options = options
        self.start_timeout = start_timeout
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._closed = False
        self._workers: set[_Worker] = set()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        for _ in range(size):
            self._idle.put(self._spawn())
        self._stopped = threading.Event()
        threading.Thread(target=self._watch, name="worker-watch", daemon=True).start()

    def _watch(self) -> None:
        """Replace, as soon as it is seen, any idle worker that died (killed, out of memory)."""
        while not self._stopped.wait(_WATCH_SECONDS):
            with self._lock:
                workers = list(self._workers)
            for worker in workers:
                if worker.process.is_alive() or not worker.busy.acquire(blocking=False):
                    continue
                try:
                    if worker.retired or self._closed:
                        continue
                    worker.retired = True
                    fresh = self._replace(worker)
                finally:
                    worker.busy.release()
                if fresh is not worker:
                    self._idle.put(fresh)

    def _take(self) -> _Worker:
        """An idle worker, held (its ``busy`` lock acquired); workers retired meanwhile are passed over."""
        while True:
            worker = self._idle.get()
            worker.busy.acquire()
            if not worker.retired and worker.process.is_alive():
                return worker
            if not worker.retired:  # died before the watch saw it
                worker.retired = True
                fresh = self._replace(worker)
                if fresh is not worker:
                    self._idle.put(fresh)
            worker.busy.release()

    def _spawn(self) -> _Worker:
        worker = _Worker(self._context, self.options)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        with self._lock:
            self._workers.discard(worker)
            if self._closed:
                return worker
        return self._spawn()

    def run(self, task: Task[T], *args: Any, timeout: float | None = None) -> T:
        """``task(engine_for, *args)`` in a free worker (waiting for one to be free, not counted).

        ``timeout`` bounds the seconds from getting a worker to the answer, including the
        wait for a fresh worker to load its engine. Past it :class:`EngineTimeout` is
        raised, and a worker still busy with the task is killed and replaced; a worker
        that dies or cannot build its engine raises :class:`EngineError` and is replaced.
        """
        if self._closed:
            raise EngineError("the worker pool is closed")
        worker = self._take()
        replace = False
        try:
            started = time.monotonic()
            budget = self.start_timeout if timeout is None else min(timeout, self.start_timeout)
            try:
                worker.start(budget)
            except EngineTimeout:
                replace = budget >= self.start_timeout  # stuck while starting, not merely slow for this request
                if replace:
                    raise
                raise EngineTimeout(f"timed out after {_seconds(timeout)} waiting for a worker to start") from None
            except OcrError:
                replace = True
                raise
            left = None if timeout is None else max(timeout - (time.monotonic() - started), 0.001)
            try:
                return worker.run(task, args, left)
            except EngineTimeout:
                replace = True
                raise EngineTimeout(f"reading timed out after {_seconds(timeout)}") from None
            except OcrError:
                replace = not worker.process.is_alive()
                raise
        finally:
            worker.retired = replace  # so that the watch does not replace it a second time
            worker.busy.release()
            self._idle.put(self._replace(worker) if replace else worker)

    def wait_ready(self) -> None:
        """Block until every worker has built its engine; raise the first one's reason if it could not."""
        workers = [self._take() for _ in range(self.size)]
        try:
            for index, worker in enumerate(workers):
                try:
                    worker.start(self.start_timeout)
                except OcrError:
                    worker.retired = True
                    workers[index] = self._replace(worker)
                    workers[index].busy.acquire()
                    worker.busy.release()
                    raise
        finally:
            for worker in workers:
                worker.busy.release()
                self._idle.put(worker)

    def ready(self) -> bool:
        """True when every worker is alive with its engine built (never waits)."""
        with self._lock:
            workers = list(self._workers)
        if len(workers) != self.size:
            return False
        for worker in workers:
            if not worker.started and worker.busy.acquire(blocking=False):
                try:
                    worker.poll_started()
                finally:
                    worker.busy.release()
            if not worker.started or not worker.process.is_alive():
                return False
        return True

    def close(self, grace: float = 2.0) -> None:
        """Stop every worker (those busy are killed after ``grace`` seconds)."""
        self._stopped.set()
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.stop(grace)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_task(engine_for: EngineFor, data: bytes, name: str, options: ScanOptions, fmt: str,
              previews: bool = False) -> tuple[int, str | bytes]:
    """A task: ``data`` (an input's bytes) read with ``options`` and rendered in ``fmt``; (pages, rendering:
    text, or the bytes of a PDF). With ``previews`` and the json format, each page also carries ``image``,
    its picture as read (:func:`ocr.export.draw.preview_url`), for a viewer."""
    previews = previews and fmt == "json"
    images: list[str] = []
    document = read_document(data, options, engine_for(options), name=name,
                             on_page=(lambda image, page: images.append(preview_url(image))) if previews else None)
    if fmt == "pdf":
        return len(document.pages), render_file(document, fmt, data, options.dpi)
    if not previews:
        return len(document.pages), render(document, fmt)
    tree = document.to_dict()
    for page, image in zip(tree["pages"], images, strict=True):
        page["image"] = image
    return len(document.pages), json.dumps(tree, ensure_ascii=False)
