"""The service's settings: its engine and its limits, with safe defaults (no web framework imported)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ocr.config import DEFAULT_ENGINE, PipelineConfig, Rotate, ScanOptions
from ocr.errors import UsageError


@dataclass(frozen=True)
class ServiceSettings:
    """The service's engine and limits (the flags of ``ocr serve``).

    ``engine``, ``lang``, ``rotate``: what requests use unless they say otherwise (every worker
    loads the engine as it starts); ``workers``: worker processes, i.e. requests read at once;
    ``max_queue``: requests that may wait beyond those (more get 503); ``timeout``:
    seconds a request may take in all, waiting included (then 503 if it was still
    waiting, 504 if it was being read); ``max_upload_bytes``, ``max_pixels`` per page,
    ``max_pages`` per PDF or TIFF: larger inputs get 413; ``max_dpi``: the highest
    ``dpi`` a request may ask for; ``pipeline``: the models and thresholds of the neural
    and hybrid engines; ``engines``: those requests may ask for (empty: only ``engine``), as each
    one a worker builds stays in its memory.
    """

    engine: str = DEFAULT_ENGINE
    lang: str = "eng"
    rotate: Rotate = "auto"
    workers: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))
    max_queue: int = 32
    timeout: float = 60.0
    max_upload_bytes: int = 20 * 2**20
    max_pixels: int = 40_000_000
    max_pages: int = 20
    max_dpi: int = 600
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    engines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "engines", tuple(dict.fromkeys((self.engine, *self.engines))))
        for name in ("workers", "max_upload_bytes", "max_pixels", "max_pages", "max_dpi"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_queue < 0 or self.timeout <= 0:
            raise UsageError(f"max_queue must be >= 0 and timeout > 0, got {self.max_queue} and {self.timeout}")

    def options(self, **overrides: Any) -> ScanOptions:
        """Read options under these limits."""
        values = {"engine": self.engine, "lang": self.lang, "pipeline": self.pipeline, "rotate": self.rotate,
                  **overrides}
        return ScanOptions(max_pixels=self.max_pixels, max_pages=self.max_pages, **values)
