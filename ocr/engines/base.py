"""The one interface every OCR engine implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from ..config import Mode, ScanOptions
from ..document import Page

__all__ = ["Engine", "Mode"]


class Engine(ABC):
    """Reads a page image (H×W×3 uint8 RGB) into a :class:`~ocr.document.Page`.

    Implementations load their models once in ``__init__`` and are reused for many
    calls. Words they produce carry ``source == self.name`` and confidences in [0, 1].
    Failures raise :class:`~ocr.errors.EngineError`.
    """

    name: str

    @abstractmethod
    def read(self, image: np.ndarray, mode: Mode = "page", index: int = 0) -> Page:
        """Read ``image``; ``index`` is the page's position in its input."""

    @classmethod
    def from_options(cls, options: ScanOptions) -> Engine:
        """The engine configured from ``options`` (each engine takes the fields it uses)."""
        return cls()

    @classmethod
    def model_files(cls, options: ScanOptions) -> dict[str, Path]:
        """The files (models, word lists, language data) this engine's readings depend on, by role."""
        return {}

    @classmethod
    def availability(cls) -> str | None:
        """``None`` when the engine can run here, otherwise why it cannot."""
        return None
