"""What defines a detector training run, without torch: the CLI takes its option defaults from here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    """Everything that defines a run (saved in every checkpoint and in the manifest)."""

    steps: int = 3200
    minutes: float | None = None
    batch: int = 8
    crop: int = 384
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    seed: int = 0
    init: str | None = None
    teacher_dirs: list[str] = field(default_factory=list)
    box_sets: list[str] = field(default_factory=list)
    """Real page sets whose word or line boxes are the targets (see :mod:`.detector_boxes`)."""
    synthetic_fraction: float = 0.5
    turn_fraction: float = 0.1
    """Share of crops turned a quarter either way, so that vertical text (margin stamps, document
    numbers) is seen as often as the teacher finds it."""
    pool: int = 48
    refresh: int = 1
    scale_range: tuple[float, float] = (0.6, 1.5)
    checkpoint_minutes: float = 5.0
    threads: int = 1
    log_every: int = 20
    freeze_bn: bool = False
    """Keep batch-norm statistics fixed (needed when starting from an export, whose norms are folded)."""
