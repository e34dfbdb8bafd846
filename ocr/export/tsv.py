"""Tesseract's TSV: one row per page, block, paragraph, line and word, with their boxes."""

from __future__ import annotations

from ..document import Document, Page, Polygon
from .common import pixel_box

COLUMNS = (
    "level", "page_num", "block_num", "par_num", "line_num", "word_num",
    "left", "top", "width", "height", "conf", "text",
)  # fmt: skip
PAGE, BLOCK, PARAGRAPH, LINE, WORD = 1, 2, 3, 4, 5


def render(document: Document) -> str:
    """``document`` as TSV with a header row; ``conf`` is -1 except on words (0–100)."""
    rows = ["\t".join(COLUMNS)]
    for page in document.pages:
        rows.extend(_page_rows(page))
    return "\n".join(rows) + "\n"


def _page_rows(page: Page) -> list[str]:
    page_num = page.index + 1
    rows = [_row(PAGE, (page_num, 0, 0, 0, 0), (0, 0, page.width, page.height))]
    for block_num, block in enumerate(page.blocks, start=1):
        box = _box(block.polygon, page)
        rows.append(_row(BLOCK, (page_num, block_num, 0, 0, 0), box))
        rows.append(_row(PARAGRAPH, (page_num, block_num, 1, 0, 0), box))  # one paragraph per block
        for line_num, line in enumerate(block.lines, start=1):
            rows.append(_row(LINE, (page_num, block_num, 1, line_num, 0), _box(line.polygon, page)))
            for word_num, word in enumerate(line.words, start=1):
                numbers = (page_num, block_num, 1, line_num, word_num)
                text = " ".join(word.text.split())  # tabs and newlines would break the columns
                rows.append(_row(WORD, numbers, _box(word.polygon, page), f"{word.confidence * 100:.6f}", text))
    return rows


def _box(polygon: Polygon, page: Page) -> tuple[int, int, int, int]:
    left, top, right, bottom = pixel_box(polygon, page)
    return left, top, right - left, bottom - top


def _row(level: int, numbers: tuple[int, ...], box: tuple[int, ...], conf: str = "-1", text: str = "") -> str:
    return "\t".join(map(str, (level, *numbers, *box, conf, text)))
