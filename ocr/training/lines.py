"""Real text-line crops cut from a page set's ``lines`` boxes, cached once on disk.

Each crop keeps a margin around its box (a fraction of the box height) so that training can
jitter the crop tight or loose; the box inside the crop is stored beside the pixels.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ocr.datasets import iter_samples
from ocr.io.files import write_atomic

MARGIN = 0.35


@dataclass(frozen=True)
class LineCrop:
    """A grayscale crop with margin, the text box inside it (x0, y0, x1, y1), its label and source page."""

    pixels: np.ndarray
    box: tuple[int, int, int, int]
    text: str
    page: str


def cut_lines(folder: str | Path, min_height: int = 6) -> list[LineCrop]:
    """All non-empty, non-ignored line regions of the set in ``folder`` as margin crops."""
    crops: list[LineCrop] = []
    for sample in iter_samples(folder):
        page = cv2.imread(str(sample.image), cv2.IMREAD_GRAYSCALE)
        if page is None:
            continue
        height, width = page.shape
        for region in sample.lines:
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
            crop = np.ascontiguousarray(page[cy0:cy1, cx0:cx1])
            box = (int(x0) - cx0, int(y0) - cy0, int(np.ceil(x1)) - cx0, int(np.ceil(y1)) - cy0)
            crops.append(LineCrop(crop, box, text, sample.image.name))
    return crops


def cached_lines(folder: str | Path, cache: str | Path) -> list[LineCrop]:
    """``cut_lines(folder)``, read from or written to the pickle ``cache``."""
    cache = Path(cache)
    if cache.is_file():
        with cache.open("rb") as fh:
            return pickle.load(fh)
    crops = cut_lines(folder)
    write_atomic(cache, pickle.dumps(crops, protocol=pickle.HIGHEST_PROTOCOL))
    return crops


def split_by_page(crops: list[LineCrop], holdout_pages: int) -> tuple[list[LineCrop], list[LineCrop]]:
    """(train, held-out) with the last ``holdout_pages`` pages (sorted by name) held out."""
    pages = sorted({c.page for c in crops})
    held = set(pages[len(pages) - holdout_pages :]) if holdout_pages > 0 else set()
    return [c for c in crops if c.page not in held], [c for c in crops if c.page in held]
