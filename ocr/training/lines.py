"""Real text crops (lines or words) cut from a labelled set, with the margins a page gives.

Each crop keeps a margin of page around its box (a fraction of the box height), with
whatever neighbouring ink lies there, so that training can jitter the crop tight or loose
as the pipeline's own crops are; the box inside the crop is stored beside the pixels.
Word-crop sets (one word per image, no boxes) give the whole image as the box.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from ocr.datasets import Region, iter_samples
from ocr.io.files import write_atomic

MARGIN = 0.35
Level = Literal["lines", "words"]


@dataclass(frozen=True)
class LineCrop:
    """A grayscale crop with margin, the text box inside it (x0, y0, x1, y1), its label and source page."""

    pixels: np.ndarray
    box: tuple[int, int, int, int]
    text: str
    page: str


def cut_page(page: np.ndarray, regions: Iterable[Region], name: str, min_height: int = 6) -> list[LineCrop]:
    """The non-empty, non-ignored ``regions`` of the grayscale ``page`` as margin crops."""
    crops: list[LineCrop] = []
    height, width = page.shape
    for region in regions:
        text = " ".join(region.text.split())
        if region.ignore or not text:
            continue
        xs = [p[0] for p in region.box]
        ys = [p[1] for p in region.box]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        if y1 - y0 < min_height or x1 - x0 < min_height:
            continue
        pad = MARGIN * (y1 - y0)
        cx0, cy0 = max(0, int(x0 - pad)), max(0, int(y0 - pad))
        cx1, cy1 = min(width, int(np.ceil(x1 + pad))), min(height, int(np.ceil(y1 + pad)))
        crop = page[cy0:cy1, cx0:cx1]
        box = (int(x0) - cx0, int(y0) - cy0, int(np.ceil(x1)) - cx0, int(np.ceil(y1)) - cy0)
        crops.append(LineCrop(np.ascontiguousarray(crop), box, text, name))
    return crops


def cut_set(folder: str | Path, level: Level = "lines", min_height: int = 6) -> list[LineCrop]:
    """All ``level`` regions of the set in ``folder`` (a word-crop set gives its whole images)."""
    crops: list[LineCrop] = []
    for sample in iter_samples(folder):
        page = cv2.imread(str(sample.image), cv2.IMREAD_GRAYSCALE)
        if page is None:
            continue
        if not sample.words and not sample.lines:
            text = " ".join(sample.text.split())
            if text:
                h, w = page.shape
                crops.append(LineCrop(page, (0, 0, w, h), text, sample.image.name))
            continue
        crops.extend(cut_page(page, sample.lines if level == "lines" else sample.words, sample.image.name, min_height))
    return crops


def cut_lines(folder: str | Path, min_height: int = 6) -> list[LineCrop]:
    """All line regions of the set in ``folder`` as margin crops."""
    return cut_set(folder, "lines", min_height)


def cached_lines(folder: str | Path, cache: str | Path) -> list[LineCrop]:
    """``cut_lines(folder)``, read from or written to the pickle ``cache``."""
    cache = Path(cache)
    if cache.is_file():
        with cache.open("rb") as fh:
            return pickle.load(fh)
    crops = cut_lines(folder)
    write_atomic(cache, pickle.dumps(crops, protocol=pickle.HIGHEST_PROTOCOL))
    return crops


def split_by_page(crops: Sequence[LineCrop], holdout_pages: int,
                  key: Callable[[LineCrop], str] = lambda crop: crop.page) -> tuple[list[LineCrop], list[LineCrop]]:
    """(train, held-out) with the last ``holdout_pages`` pages (sorted by name) held out; ``key``
    names a crop's page (or its document, to hold out whole documents)."""
    pages = sorted({key(c) for c in crops})
    held = set(pages[len(pages) - holdout_pages :]) if holdout_pages > 0 else set()
    return [c for c in crops if key(c) not in held], [c for c in crops if key(c) in held]
