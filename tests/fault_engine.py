"""A test-only engine that misbehaves on demand, plugged in with ``OCR_ENGINE_PLUGINS=fault_engine``.

Engine ``fault`` reads like Tesseract, after sleeping ``OCR_FAULT_DELAY`` seconds (default
0). A page whose top-left pixel is ``text_images.HANG`` never finishes; one whose top-left
pixel is ``text_images.CRASH`` kills its process, as a segfault in native code would. Building
the engine kills its process too while the folder ``OCR_FAULT_START_CRASHES`` names holds a
file: each build that removes one of them dies, as a crash while loading models would.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ocr.config import Mode, ScanOptions
from ocr.document import Page
from ocr.engines import Engine, register
from ocr.engines.tesseract import TesseractEngine
from text_images import CRASH, HANG



@register
class FaultEngine(Engine):
    """Tesseract that can be slow, hang or crash (tests only)."""

    name = "fault"

    def __init__(self, lang: str = "eng") -> None:
        tokens = os.environ.get("OCR_FAULT_START_CRASHES")
        for token in sorted(Path(tokens).iterdir()) if tokens else []:
            try:
                token.unlink()
            except FileNotFoundError:  # another process took it
                continue
            os._exit(70)
        self._tesseract = TesseractEngine(lang)

    @classmethod
    def from_options(cls, options: ScanOptions) -> FaultEngine:
        return cls(options.lang)

    def read(self, image: np.ndarray, mode: Mode = "page", index: int = 0) -> Page:
        corner = tuple(int(v) for v in image[0, 0])
        if corner == HANG:
            time.sleep(3600)
        if corner == CRASH:
            os._exit(70)
        time.sleep(float(os.environ.get("OCR_FAULT_DELAY", "0")))
        return self._tesseract.read(image, mode, index)
