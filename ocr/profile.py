"""Where a run's time goes: wall time and counts per pipeline stage, for ``ocr scan --profile``.

Stages mark themselves with :func:`stage`; nothing is recorded unless a caller opened
:func:`profiling` in the same context (thread), so the marks cost a context-variable look-up
otherwise. Stages may nest: each is timed on its own, so a parent's time includes its children's.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Profile:
    """Seconds, calls and items (words, crops, regions ...) per stage, in the order stages first started."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)

    def start(self, name: str) -> None:
        """Give stage ``name`` its place in the table when it first starts (a parent before its parts)."""
        self.seconds.setdefault(name, 0.0)

    def add(self, name: str, seconds: float, items: int) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + 1
        self.items[name] = self.items.get(name, 0) + items

    def table(self, total: float) -> str:
        """One line per stage: calls, items, seconds and share of ``total`` seconds."""
        width = max([len(name) for name in self.seconds] + [5])
        lines = [f"{'stage':<{width}} {'calls':>6} {'items':>7} {'seconds':>8} {'share':>6}"]
        for name, seconds in self.seconds.items():
            items = str(self.items[name]) if self.items[name] else "-"
            lines.append(f"{name:<{width}} {self.calls[name]:>6} {items:>7} {seconds:>8.3f} {100 * seconds / max(total, 1e-9):>5.1f}%")
        lines.append(f"{'total':<{width}} {'':>6} {'':>7} {total:>8.3f} {100.0:>5.1f}%")
        return "\n".join(lines)


_current: ContextVar[Profile | None] = ContextVar("ocr_profile", default=None)


@contextmanager
def profiling() -> Iterator[Profile]:
    """Record every :func:`stage` run inside this block (in this context) into the yielded profile."""
    profile = Profile()
    token = _current.set(profile)
    try:
        yield profile
    finally:
        _current.reset(token)


def _record(name: str, seconds: float, items: int) -> None:
    profile = _current.get()
    if profile is not None:
        profile.add(name, seconds, items)


@contextmanager
def stage(name: str, items: int = 0) -> Iterator[None]:
    """Time the block as stage ``name`` handling ``items`` things, when a profile is being recorded."""
    profile = _current.get()
    if profile is None:
        yield
        return
    profile.start(name)
    started = time.perf_counter()
    try:
        yield
    finally:
        profile.add(name, time.perf_counter() - started, items)


def timed(values: Iterable[T], name: str) -> Iterator[T]:
    """``values`` with the time taken to produce each one recorded as stage ``name`` (lazy decoders)."""
    iterator = iter(values)
    while True:
        started = time.perf_counter()
        try:
            value = next(iterator)
        except StopIteration:
            return
        _record(name, time.perf_counter() - started, 1)
        yield value
