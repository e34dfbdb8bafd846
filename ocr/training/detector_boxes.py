"""Training pages for the detector from real word and line boxes (no teacher needed).

Each labelled word box is split evenly into its characters and drawn as CRAFT targets: a
Gaussian per character, an affinity between neighbours of one word. A labelled line is first cut
into its words at its widest blank gaps (the ink of the page), since words are rarely evenly spaced.
Even splitting fits print and receipts' monospaced type well. Boxes that cannot be described so
(do-not-care regions, empty labels, lines without as many gaps as word breaks, characters of an
implausible shape) are masked out of the loss instead. Pages come at the scale the
detector reads them (canvas 1280, magnification 1.5). The last pages of each set (by name; whole
PDFs for born-digital sets) are held out for validation, as the recognizer's packs do.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ocr import datasets
from ocr.detection.preprocess import target_scale
from ocr.datasets import Region

from .detector_data import MapSample, read_rgb, to_canvas
from .packs import DPIS, SETS, pdf_files
from .synth_pages import render_targets

CANVAS_SIZE = 1280
MAG_RATIO = 1.5
WIDE = 1.25
"""A box whose characters would be wider than this many box heights is masked out."""
NARROW = 0.12
"""A box whose characters would be narrower than this fraction of its height is masked out."""
MIN_SPACE = 0.15
"""The narrowest blank run, in box heights, that may separate two words of a labelled line."""


def char_quads(box: np.ndarray, text: str) -> list[list[np.ndarray]]:
    """The box (4×2, clockwise from top-left) cut into ``len(text)`` equal cells; the cells of each
    run of non-space characters, as one word's character quads."""
    top_left, top_right, bottom_right, bottom_left = box.astype(np.float32)
    n = len(text)
    words: list[list[np.ndarray]] = [[]]
    for i, char in enumerate(text):
        if char.isspace():
            words.append([])
            continue
        a, b = i / n, (i + 1) / n
        words[-1].append(np.stack([
            top_left + (top_right - top_left) * a, top_left + (top_right - top_left) * b,
            bottom_left + (bottom_right - bottom_left) * b, bottom_left + (bottom_right - bottom_left) * a,
        ]))
    return [w for w in words if w]


def _cell_fits(width: float, height: float, text: str) -> bool:
    """Whether ``text`` evenly spread over ``width`` gives character cells of a plausible shape."""
    cell = width / max(len(text), 1) / max(height, 1.0)
    return NARROW <= cell and (cell <= WIDE or len(text) == 1)


def _word_spans(ink: np.ndarray, tokens: list[str], height: float) -> list[tuple[int, int]] | None:
    """Where each of ``tokens`` lies along a line whose inked columns are ``ink`` (bool per column):
    the line is cut at its ``len(tokens) - 1`` widest blank runs, each at least ``MIN_SPACE`` heights
    wide. ``None`` when there are not that many such gaps."""
    columns = np.flatnonzero(ink)
    if len(columns) == 0:
        return None
    first, last = int(columns[0]), int(columns[-1]) + 1
    blank = np.concatenate([[False], ~ink[first:last], [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(blank))
    gaps = [(int(b - a), first + int(a), first + int(b)) for a, b in zip(edges[::2], edges[1::2])]
    gaps = sorted(g for g in gaps if g[0] >= MIN_SPACE * height)[::-1][: len(tokens) - 1]
    if len(gaps) < len(tokens) - 1:
        return None
    cuts = sorted((start, end) for _, start, end in gaps)
    starts = [first] + [end for _, end in cuts]
    ends = [start for start, _ in cuts] + [last]
    return list(zip(starts, ends))


def _region_words(canvas: np.ndarray, box: np.ndarray, text: str) -> list[list[np.ndarray]] | None:
    """Character quads of a labelled box on ``canvas`` (``None``: it cannot be described, mask it).

    One token is spread over its box; several are first placed on the inked stretches between
    the line's widest gaps (an axis-aligned box), since a line's words are rarely evenly spaced."""
    tokens = text.split()
    height = float(np.linalg.norm(box[3] - box[0]) + np.linalg.norm(box[2] - box[1])) / 2
    if len(tokens) == 1:
        width = float(np.linalg.norm(box[1] - box[0]) + np.linalg.norm(box[2] - box[3])) / 2
        return char_quads(box, tokens[0]) if _cell_fits(width, height, tokens[0]) else None
    x0, y0 = np.floor(box.min(axis=0)).astype(int)
    x1, y1 = np.ceil(box.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, canvas.shape[1]), min(y1, canvas.shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2 or not np.allclose(box[:, 1], [y0, y0, y1, y1], atol=0.1 * height + 1):
        return None
    grey = cv2.cvtColor(canvas[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    _, ink = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    if 2 * cv2.countNonZero(ink) > ink.size:
        ink = 1 - ink
    spans = _word_spans(ink.sum(axis=0) > 0, tokens, y1 - y0)
    if spans is None or not all(_cell_fits(b - a, y1 - y0, t) for (a, b), t in zip(spans, tokens)):
        return None
    words: list[list[np.ndarray]] = []
    for (a, b), token in zip(spans, tokens):
        quad = np.array([[x0 + a, y0], [x0 + b, y0], [x0 + b, y1], [x0 + a, y1]], dtype=np.float32)
        words += char_quads(quad, token)
    return words


def box_targets(image: np.ndarray, regions: Sequence[Region], ratio: float) -> MapSample:
    """The page resized by ``ratio`` onto the detector's canvas, with targets and a loss mask (half size)."""
    canvas = to_canvas(image, ratio)
    words: list[list[np.ndarray]] = []
    mask = np.ones((canvas.shape[0] // 2, canvas.shape[1] // 2), dtype=np.float32)
    for region in regions:
        box = np.asarray(region.box, dtype=np.float32).reshape(4, 2) * ratio
        found = None if region.ignore or not region.text.strip() else _region_words(canvas, box, region.text)
        if found is None:
            centre = box.mean(axis=0)
            grown = (centre + (box - centre) * 1.2) / 2  # a margin around it, at half resolution
            cv2.fillPoly(mask, [np.round(grown).astype(np.int32)], 0.0)
            continue
        words += found
    region_map, affinity = render_targets(canvas.shape[:2], words)
    return MapSample(canvas, region_map, affinity, mask)


@dataclass(frozen=True)
class _Page:
    """A training page: an image of a set, or page ``index`` of a PDF."""

    path: Path
    index: int = -1
    regions: tuple[Region, ...] = ()


def _set_pages(folder: Path, holdout: int, pdf: bool) -> tuple[list[_Page], list[_Page]]:
    """(train, held-out) pages of a set; the last ``holdout`` images (or PDFs) by name are held out."""
    if pdf:
        import pypdfium2 as pdfium

        documents = []
        for path in sorted(pdf_files(folder)):
            document = pdfium.PdfDocument(str(path))
            documents.append([_Page(path, i) for i in range(len(document))])
            document.close()
        cut = len(documents) - holdout
        return [p for doc in documents[:cut] for p in doc], [p for doc in documents[cut:] for p in doc]
    samples = sorted(datasets.iter_samples(folder), key=lambda s: s.image.name)
    pages = [_Page(s.image, -1, s.words or s.lines) for s in samples]
    return pages[: len(pages) - holdout], pages[len(pages) - holdout:]


def held_out_pages(folder: Path) -> list[Path]:
    """The images a box-trained detector never saw in set ``folder`` (its validation pages)."""
    spec = SETS[folder.name]
    return [p.path for p in _set_pages(folder, spec.holdout, spec.pdf)[1]]


class BoxPages:
    """Random training pages of the given sets (each set drawn equally often) with their box targets."""

    def __init__(self, sets: Sequence[str | Path], rng: random.Random) -> None:
        self.rng = rng
        self.sets: list[list[_Page]] = []
        for folder in map(Path, sets):
            spec = SETS.get(folder.name)
            if spec is None:
                raise ValueError(f"no holdout rule for set {folder.name!r} (known: {', '.join(SETS)})")
            train, _ = _set_pages(folder, spec.holdout, spec.pdf)
            if not train:
                raise ValueError(f"set {folder} has no training pages")
            self.sets.append(train)

    def __call__(self) -> MapSample:
        page = self.rng.choice(self.rng.choice(self.sets))
        if page.index < 0:
            image, regions = read_rgb(page.path), page.regions
        else:
            import pypdfium2 as pdfium

            from .pdf_text import render_page

            document = pdfium.PdfDocument(str(page.path))
            try:
                rendered = render_page(document, page.index, self.rng.choice(DPIS))
            finally:
                document.close()
            image, regions = np.repeat(rendered.image[:, :, None], 3, axis=2), rendered.words
        ratio = target_scale(*image.shape[:2], CANVAS_SIZE, MAG_RATIO)
        return box_targets(image, regions, ratio)
