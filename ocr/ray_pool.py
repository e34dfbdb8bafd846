"""Batch workers on a Ray cluster: one actor per worker slot, each loading its engines once.

The driver (the process that runs the job) sends an actor a task and its arguments, an
input's bytes among them, and gets back the task's result, so worker nodes need neither
the inputs nor the output folder. Tasks follow :mod:`ocr.workers`: a module-level function
``task(engine_for, *args)``; an :class:`~ocr.errors.OcrError` it raises reaches the caller
as it is, any other exception becomes a one-line ``OcrError``.

An actor that dies under a task (its node went away, or its process crashed) is replaced
by a fresh one, which joins as soon as the cluster has room for it, and the task is tried
on another actor, :data:`ATTEMPTS` times in all. Actors that die while building their engine
are replaced too, until :data:`ATTEMPTS` times as many as the pool holds have died.
Importing this module without Ray installed raises a :class:`~ocr.errors.UsageError`
naming the ``ray`` extra.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
import warnings
from typing import Any, TypeVar

from .config import ScanOptions
from .errors import EngineError, EngineTimeout, OcrError, UsageError
from .workers import DEFAULT_START_TIMEOUT, ENGINES_PER_WORKER, EngineCache, Task, portable_error

try:
    import ray
    from ray.actor import ActorHandle
    from ray.exceptions import GetTimeoutError, RayActorError
except ImportError:
    raise UsageError("--ray needs Ray, which is not installed: pip install 'ocr[ray]' (the ray extra)") from None

T = TypeVar("T")

ATTEMPTS = 3
"""Actors a task is given to when they keep dying under it, before it fails."""

LOCAL = "local"
"""The address that starts a Ray cluster on this machine for the job (and stops it after)."""

START_GRACE = 10.0
"""Seconds the job waits for the other actors once one has built its engine; those still starting join later."""

_WATCH_SECONDS = 0.2

logger = logging.getLogger(__name__)


@ray.remote(num_cpus=1, max_restarts=0)
class _Worker:
    """An actor holding one worker's engines; it runs its tasks one at a time."""

    def __init__(self, options: ScanOptions) -> None:
        self._node = f"{ray.util.get_node_ip_address()}/{ray.get_runtime_context().get_node_id()[:8]}"
        self._engines = EngineCache(ENGINES_PER_WORKER)
        self._failure: OcrError | None = None
        try:
            self._engines.get(options)
        except Exception as exc:
            self._failure = portable_error(exc)

    def start(self) -> tuple[str, Any]:
        """``("ready", node)`` once its engine is built, else ``("failed", error)``."""
        return ("failed", self._failure) if self._failure is not None else ("ready", self._node)

    def run(self, task: Task[T], args: tuple[Any, ...]) -> tuple[str, Any]:
        """``("ok", result)`` of ``task(engine_for, *args)``, or ``("error", error)``."""
        try:
            return "ok", task(self._engines.get, *args)
        except Exception as exc:
            return "error", portable_error(exc)


def connect(address: str) -> None:
    """Join the Ray cluster at ``address`` (``auto``, ``HOST:PORT``, ``ray://HOST:10001``) or start one (``local``)."""
    try:
        with warnings.catch_warnings():  # Ray warns, on stderr, before it raises
            warnings.simplefilter("ignore")
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                     **({"include_dashboard": False} if address == LOCAL else {}))
    except (ConnectionError, ValueError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())
        raise UsageError(f"--ray {address}: cannot connect to a Ray cluster: {reason}") from None


def disconnect() -> None:
    """Leave the cluster ``connect`` joined, stopping it if ``connect`` started it."""
    ray.shutdown()


class RayPool:
    """``size`` actors on the Ray cluster :func:`connect` joined, by default one per CPU of the
    cluster, and never more than ``at_most``.

    The same interface as :class:`~ocr.workers.WorkerPool`, except that :meth:`run` also
    says on which node the task ran.
    """

    def __init__(self, size: int | None, options: ScanOptions, *, at_most: int | None = None,
                 start_timeout: float = DEFAULT_START_TIMEOUT) -> None:
        self.size = min(size or max(int(ray.cluster_resources().get("CPU", 0)), 1), at_most or sys.maxsize)
        self.options = options
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._idle: queue.Queue[tuple[ActorHandle, str]] = queue.Queue()
        self._starting: dict[ray.ObjectRef, ActorHandle] = {}
        self._actors: list[ActorHandle] = []
        self._live = 0
        self._start_deaths = 0
        self._failure: OcrError | None = None
        self._closed = threading.Event()
        with self._lock:
            for _ in range(self.size):
                self._spawn()
        self._watcher = threading.Thread(target=self._watch_starts, name="ray-starts", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        """Start one more actor (the caller holds the lock)."""
        actor = _Worker.options(scheduling_strategy="SPREAD").remote(self.options)  # type: ignore[attr-defined]
        self._actors.append(actor)
        self._starting[actor.start.remote()] = actor

    def _watch_starts(self) -> None:
        """Move actors that have built their engine to the idle queue (and note those that could not)."""
        while not self._closed.is_set():
            with self._lock:
                starting = list(self._starting)
            if not starting:
                self._closed.wait(_WATCH_SECONDS)
                continue
            done, _ = ray.wait(starting, num_returns=1, timeout=_WATCH_SECONDS)
            for reference in done:
                try:
                    kind, value = ray.get(reference)
                except RayActorError as exc:  # its process or its node died while it started
                    kind, value = "died", exc
                with self._lock:
                    actor = self._starting.pop(reference)
                    if kind == "ready":
                        self._live += 1
                        self._idle.put((actor, value))
                    elif kind == "failed" and self._failure is None:
                        self._failure = value
                    elif kind == "died":
                        logger.info("a Ray worker died while loading its engine: %s", " ".join(str(value).split()))
                        self._actors.remove(actor)
                        self._start_deaths += 1
                        if self._start_deaths <= (ATTEMPTS - 1) * self.size and not self._closed.is_set():
                            self._spawn()

    def wait_ready(self) -> None:
        """Block until every actor has built its engine, or one has and :data:`START_GRACE` seconds passed.

        Raises the reason of the first actor that could not build its engine, and
        :class:`~ocr.errors.EngineError` if none started within ``start_timeout`` seconds.
        """
        deadline = time.monotonic() + self.start_timeout
        first: float | None = None
        while True:
            with self._lock:
                live, starting, failure = self._live, len(self._starting), self._failure
            if failure is not None:
                raise failure
            if live:
                first = first or time.monotonic()
                if not starting or time.monotonic() - first > START_GRACE:
                    return
            elif not starting:
                raise EngineError(f"no Ray worker could start: {self._start_deaths} died while loading the engine")
            elif time.monotonic() > deadline:
                raise EngineError(f"no Ray worker started in {self.start_timeout:g} s (is a CPU free in the cluster?)")
            time.sleep(_WATCH_SECONDS / 4)

    def _take(self) -> tuple[ActorHandle, str]:
        """An idle actor, waiting for one; raises when none is alive or starting."""
        waited = time.monotonic()
        while not self._closed.is_set():
            try:
                return self._idle.get(timeout=_WATCH_SECONDS)
            except queue.Empty:
                pass
            with self._lock:
                live, starting, failure = self._live, len(self._starting), self._failure
            if not live and failure is not None:
                raise failure
            if not live and (not starting or time.monotonic() - waited > self.start_timeout):
                raise EngineError("no Ray worker is left (every node that could hold one is gone)")
        raise EngineError("the Ray pool is closed")

    def _lose(self, actor: ActorHandle) -> None:
        """Kill ``actor`` (dead or stuck) and start a fresh one in its place."""
        ray.kill(actor, no_restart=True)
        with self._lock:
            self._actors.remove(actor)
            self._live -= 1
            if not self._closed.is_set():
                self._spawn()

    def run(self, task: Task[T], *args: Any, timeout: float | None = None) -> tuple[T, str]:
        """``task(engine_for, *args)`` on a free actor: its result and the node it ran on.

        Past ``timeout`` seconds :class:`EngineTimeout` is raised and the actor replaced.
        """
        for _ in range(ATTEMPTS):
            actor, node = self._take()
            try:
                kind, value = ray.get(actor.run.remote(task, args), timeout=timeout)
            except GetTimeoutError:
                self._lose(actor)
                raise EngineTimeout(f"reading timed out after {timeout:g} s") from None
            except RayActorError:
                self._lose(actor)
                continue
            self._idle.put((actor, node))
            if kind == "error":
                raise value
            return value, node
        raise EngineError(f"the Ray worker reading it died, {ATTEMPTS} times")

    def close(self) -> None:
        """Stop every actor."""
        self._closed.set()
        self._watcher.join()
        for actor in self._actors:
            ray.kill(actor, no_restart=True)

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
