"""Helpers shared by the exporters: integer page boxes and XML-safe text."""

from __future__ import annotations

import math
import re

from ..document import Page, Polygon, bounding_box

# Characters XML 1.0 cannot carry at all (C0 controls other than tab, LF and CR; lone surrogates; U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def pixel_box(polygon: Polygon, page: Page) -> tuple[int, int, int, int]:
    """Integer (left, top, right, bottom) enclosing ``polygon``, clamped to ``page``.

    ``right`` and ``bottom`` are exclusive, as in hOCR ``bbox`` and Tesseract's TSV.
    """
    x0, y0, x1, y1 = bounding_box([polygon])
    left = min(max(math.floor(x0), 0), page.width)
    top = min(max(math.floor(y0), 0), page.height)
    right = min(max(math.ceil(x1), left), page.width)
    bottom = min(max(math.ceil(y1), top), page.height)
    return left, top, right, bottom


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (escaping is left to the serializer)."""
    return _NOT_XML.sub("", text)


def percent(confidence: float) -> int:
    """A [0, 1] confidence as a whole percentage."""
    return round(confidence * 100)
