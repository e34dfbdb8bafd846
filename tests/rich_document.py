"""A Document exercising every part of the contract, shared by the document and export tests."""

from __future__ import annotations

from ocr.document import Alternative, Block, Document, Line, Page, Word, box_polygon


def _word(text: str, x: float, y: float, confidence: float, source: str = "neural", **kwargs: object) -> Word:
    return Word(text, box_polygon(x, y, x + 10.0 * max(len(text), 1), y + 20.0), confidence, source, **kwargs)


def rich_document() -> Document:
    """Two pages plus an empty one: several blocks, escaping hazards, alternatives, odd geometry."""
    tilted = Word(
        "tilted",
        ((300.5, 40.25), (360.0, 35.0), (362.0, 55.0), (331.0, 58.0), (302.0, 60.75)),  # 5 points, not a box
        0.42,
        "tesseract",
    )
    first = Line.of([
        _word("Hello,", 20, 40, 0.98),
        _word("wörld", 90, 40, 0.5, alternatives=(Alternative("world", 0.49, "tesseract"),)),
        tilted,
    ])
    second = Line.of([_word('<a & "b">', 20, 70, 0.0, "tesseract"), _word("it's", 130, 70, 1.0)])
    edge = Line.of([Word("edge", box_polygon(-5.0, 190.0, 60.0, 215.0), 0.77, "neural")])  # spills off the page
    page_one = Page(0, 400, 200, (Block.of([first, second]), Block.of([edge])))
    cjk = Line.of([_word("中文", 10, 10, 0.9), _word("x\ty", 50, 10, 0.3)])
    page_two = Page(1, 320, 240, (Block.of([cjk]),))
    blank = Page(2, 100, 100, ())
    return Document("scans/in put \"1\".pdf", (page_one, page_two, blank))
