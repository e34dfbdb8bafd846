"""The one interface every OCR engine implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import numpy as np

from ..document import Page

Mode = Literal["page", "line"]
"""``page``: find and read all text; ``line``: the whole image is one line or word (no detection)."""


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
    def availability(cls) -> str | None:
        """``None`` when the engine can run here, otherwise why it cannot."""
        return None
