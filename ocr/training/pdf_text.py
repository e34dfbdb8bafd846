"""Labelled pages from born-digital PDFs: the page rendered at a chosen resolution, with its
words and lines from the PDF's own text layer (pypdfium2 character boxes).

Words are the runs of characters between white space; lines are the runs of words of one
text-layer line, cut where the gap between two words exceeds ``LINE_GAP`` times the line
height (columns and table cells become separate lines, as the detector sees them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium

from ocr.datasets import Region

LINE_GAP = 1.5
_BREAKS = {"\r", "\n"}


@dataclass(frozen=True)
class PdfPage:
    """A rendered grayscale page and its ground-truth words and lines in its pixels."""

    image: np.ndarray
    words: tuple[Region, ...]
    lines: tuple[Region, ...]


def _box(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _words(page: pdfium.PdfPage, scale: float) -> list[list[tuple[str, tuple[float, float, float, float]]]]:
    """The page's words (text, pixel box) grouped by text-layer line."""
    textpage = page.get_textpage()
    height = page.get_height()
    lines: list[list[tuple[str, tuple[float, float, float, float]]]] = [[]]
    chars: list[str] = []
    box = [np.inf, np.inf, -np.inf, -np.inf]

    def close_word() -> None:
        if chars:
            lines[-1].append(("".join(chars), (box[0], box[1], box[2], box[3])))
        chars.clear()
        box[:] = [np.inf, np.inf, -np.inf, -np.inf]

    for i in range(textpage.count_chars()):
        char = textpage.get_text_range(i, 1)
        if not char or char.isspace():
            close_word()
            if char in _BREAKS and lines[-1]:
                lines.append([])
            continue
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        chars.append(char)
        box[0], box[2] = min(box[0], left * scale), max(box[2], right * scale)
        box[1], box[3] = min(box[1], (height - top) * scale), max(box[3], (height - bottom) * scale)
    close_word()
    return [line for line in lines if line]


def render_page(document: pdfium.PdfDocument, index: int, dpi: float) -> PdfPage:
    """Page ``index`` of ``document`` rendered at ``dpi`` (grayscale) with its words and lines."""
    page = document[index]
    scale = dpi / 72.0
    image = page.render(scale=scale, grayscale=True).to_numpy()
    if image.ndim == 3:
        image = image[..., 0]
    words: list[Region] = []
    lines: list[Region] = []
    for line in _words(page, scale):
        words.extend(Region(text, _box(*b)) for text, b in line)
        run = [line[0]]
        for word in line[1:]:
            previous = run[-1][1]
            height = previous[3] - previous[1]
            if word[1][0] - previous[2] > LINE_GAP * height or word[1][0] < previous[0]:
                lines.append(_joined(run))
                run = []
            run.append(word)
        lines.append(_joined(run))
    return PdfPage(np.ascontiguousarray(image), tuple(words), tuple(lines))


def _joined(run: list[tuple[str, tuple[float, float, float, float]]]) -> Region:
    boxes = np.array([b for _, b in run])
    return Region(" ".join(t for t, _ in run), _box(boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()))
