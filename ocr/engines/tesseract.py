"""Tesseract 5 through tesserocr's in-process API.

Why tesserocr and not the ``tesseract`` command: measured on this machine, one API
call takes 0.14 s on phototest.png against 0.28 s for pytesseract (a process and
two temporary files per call), and 5 ms against 124 ms on a word crop, which matters
for a fallback chain that sends Tesseract many small regions.

Segmentation: ``page`` mode uses automatic page segmentation (PSM 3); ``line`` mode
uses PSM 13, "raw line": the single-line segmentation without Tesseract's
layout heuristics. On 300 IIIT5K crops PSM 7 returned empty text on 39 clean words
(the command line: 27) and read 69.7 % of them; PSM 13 returned empty text on none
and read 77.7 % (SVT: 58.7 → 69.7 %; UW3 text lines: identical CER). Line images
shorter than 32 px are scaled up first (+1.1 % accuracy on 1,174 crops ≤ 20 px tall);
flat line images are answered without Tesseract, which invents a letter on them.
Padding crops lowered accuracy (PSM 8: 77.3 → 68.7 %).

Pixels go in as raw RGB bytes (``SetImageBytes``; tesserocr's ``SetImage`` of a PIL
image passes a resolution of its own, which emptied the text of photos). The
resolution is left unset, which Tesseract treats as 70 dpi (same output as passing
70): passing 300 cost 10 points of bag-of-words F1 on ~100 dpi FUNSD scans and
changed nothing on clean pages.

Threads: the API object is not thread-safe, so each engine serializes its calls with
a lock; create one engine per thread to read in parallel. ``OMP_THREAD_LIMIT`` is set
to 1 (unless already set) before Tesseract loads, so that parallel engines do not
oversubscribe the CPU with OpenMP threads.
"""

from __future__ import annotations

import os
import threading
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..config import Mode, ScanOptions
from ..document import Block, Line, Page, Word, box_polygon
from ..errors import EngineError, EngineUnavailable
from .base import Engine

TESSDATA_DIRS: tuple[str, ...] = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)
"""Where distributions install traineddata files; ``TESSDATA_PREFIX`` is tried first."""

PAGE_PSM = 3  # fully automatic page segmentation, no orientation detection
LINE_PSM = 13  # raw line: one text line, bypassing Tesseract-specific heuristics
MIN_LINE_HEIGHT = 32  # line images shorter than this are scaled up to it
MIN_CONTRAST = 8  # a line image whose channels all vary less than this holds no text


def _languages(lang: str) -> list[str]:
    return lang.split("+")


def tessdata_candidates() -> list[Path]:
    """Folders searched for traineddata, in order."""
    prefix = os.environ.get("TESSDATA_PREFIX")
    folders = [Path(prefix), Path(prefix) / "tessdata"] if prefix else []
    return folders + [Path(folder) for folder in TESSDATA_DIRS]


def find_tessdata(lang: str = "eng") -> Path | None:
    """The first folder holding a traineddata file for every language of ``lang``."""
    for folder in tessdata_candidates():
        if all((folder / f"{code}.traineddata").is_file() for code in _languages(lang)):
            return folder
    return None


def _missing_data(lang: str) -> str:
    looked = ", ".join(str(p) for p in tessdata_candidates())
    package = " ".join(f"tesseract-ocr-{code}" for code in _languages(lang))
    return f"no Tesseract data for language '{lang}' (looked in {looked}): install {package} or set TESSDATA_PREFIX"


def import_tesserocr() -> Any:
    """The tesserocr module, loaded with one OpenMP thread and Leptonica's messages off."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # read once, when Tesseract's libraries load
    try:
        import tesserocr
    except ImportError as exc:
        raise EngineError(f"tesserocr is not installed or cannot load ({exc}): pip install tesserocr") from None
    # Leptonica reports recoverable problems on stderr; they are not the user's business.
    tesserocr.set_leptonica_log_level(tesserocr.LeptLogLevel.NONE)
    return tesserocr


def open_api(lang: str, psm: int, tessdata: str | Path | None = None) -> tuple[Any, Path]:
    """A tesserocr API reading ``lang`` with page segmentation mode ``psm``, and the folder its data
    came from (``tessdata``, default: searched)."""
    tesserocr = import_tesserocr()
    folder = Path(tessdata) if tessdata is not None else find_tessdata(lang)
    if folder is None or not all((folder / f"{c}.traineddata").is_file() for c in _languages(lang)):
        raise EngineUnavailable(_missing_data(lang), f"no Tesseract data for language '{lang}'")
    try:
        return tesserocr.PyTessBaseAPI(path=str(folder), lang=lang, psm=psm), folder
    except RuntimeError as exc:
        raise EngineError(f"Tesseract could not load '{lang}' from {folder}: {exc}") from None


class TesseractEngine(Engine):
    """Tesseract 5 LSTM, in-process through tesserocr (Debian's traineddata)."""

    name = "tesseract"

    def __init__(self, lang: str = "eng", tessdata: str | Path | None = None) -> None:
        """Load ``lang`` (e.g. ``eng`` or ``eng+deu``) from ``tessdata`` (default: searched)."""
        tesserocr = import_tesserocr()
        self._api, folder = open_api(lang, PAGE_PSM, tessdata)
        self._ril = tesserocr.RIL
        pt = tesserocr.PT
        self._non_text = frozenset(
            {pt.FLOWING_IMAGE, pt.HEADING_IMAGE, pt.PULLOUT_IMAGE, pt.HORZ_LINE, pt.VERT_LINE, pt.NOISE}
        )
        self._lock = threading.Lock()
        self.lang = lang
        self.tessdata = folder

    @classmethod
    def from_options(cls, options: ScanOptions) -> TesseractEngine:
        return cls(lang=options.lang)

    @classmethod
    def model_files(cls, options: ScanOptions) -> dict[str, Path]:
        """The traineddata file of each language (none when they are not all installed)."""
        folder = find_tessdata(options.lang)
        codes = _languages(options.lang)
        return {} if folder is None else {f"tesseract {code}": folder / f"{code}.traineddata" for code in codes}

    @classmethod
    def availability(cls) -> str | None:
        try:
            import_tesserocr()
        except EngineError as exc:
            return str(exc)
        return None if find_tessdata("eng") else _missing_data("eng")

    def read(self, image: np.ndarray, mode: Mode = "page", index: int = 0) -> Page:
        """Read ``image``: its words with polygons and confidences, grouped as Tesseract found them.

        A :class:`~ocr.document.Block` is one Tesseract paragraph (so ``Page.text``
        matches Tesseract's own text output); image and rule regions are left out.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise EngineError(f"tesseract: expected an H×W×3 uint8 image, got {image.shape} {image.dtype}")
        height, width = image.shape[:2]
        if height == 0 or width == 0 or (mode == "line" and _is_flat(image)):
            return Page(index, width, height)
        scale = 1.0
        if mode == "line" and height < MIN_LINE_HEIGHT:
            scale = MIN_LINE_HEIGHT / height
            image = np.asarray(Image.fromarray(image).resize((round(width * scale), MIN_LINE_HEIGHT), Image.BICUBIC))
        pixels = np.ascontiguousarray(image)
        with self._lock:
            try:
                self._api.SetPageSegMode(LINE_PSM if mode == "line" else PAGE_PSM)
                self._api.SetImageBytes(pixels.tobytes(), pixels.shape[1], pixels.shape[0], 3, 3 * pixels.shape[1])
                self._api.Recognize()  # False also when the image holds no text: the iterator tells
                words = self._words(self._api.GetIterator(), scale, width, height)
            except RuntimeError as exc:
                raise EngineError(f"tesseract failed on page {index + 1}: {exc}") from None
            finally:
                self._api.Clear()
        blocks = tuple(
            Block.of([Line.of([w for _, _, w in line]) for _, line in groupby(para, key=lambda e: e[1])])
            for _, para in groupby(words, key=lambda e: e[0])
        )
        return Page(index, width, height, blocks)

    def _words(self, it: Any, scale: float, width: int, height: int) -> list[tuple[int, int, Word]]:
        """(paragraph number, line number, word) for every non-empty word, in reading order."""
        words: list[tuple[int, int, Word]] = []
        if it is None:
            return words
        ril = self._ril
        paragraph = line = -1
        while True:
            if it.IsAtBeginningOf(ril.PARA):
                paragraph += 1
            if it.IsAtBeginningOf(ril.TEXTLINE):
                line += 1
            text = "" if it.Empty(ril.WORD) else it.GetUTF8Text(ril.WORD).strip()
            box = it.BoundingBox(ril.WORD)
            if text and box is not None and it.BlockType() not in self._non_text:
                x0, y0, x1, y1 = (v / scale for v in box)
                polygon = box_polygon(max(x0, 0.0), max(y0, 0.0), min(x1, width), min(y1, height))
                confidence = min(max(it.Confidence(ril.WORD) / 100.0, 0.0), 1.0)
                words.append((paragraph, line, Word(text, polygon, confidence, self.name)))
            if not it.Next(ril.WORD):
                return words


def _is_flat(image: np.ndarray) -> bool:
    """True for an image of (almost) one colour: in raw-line mode Tesseract would invent a letter."""
    return int(np.ptp(image.reshape(-1, 3), axis=0).max()) < MIN_CONTRAST
