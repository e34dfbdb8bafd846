"""How far a training run is, by steps or by a training-time budget (shared by the detector and the recognizer)."""

from __future__ import annotations


def progress(step: int, seconds: float, steps: int, minutes: float | None) -> float:
    """How far the run is (0-1): ``step`` of ``steps``, or ``seconds`` of a ``minutes`` budget when
    one is set and nearer its end. The run is over at 1."""
    done = step / max(1, steps)
    if minutes:
        done = max(done, seconds / (60 * minutes))
    return min(1.0, done)
