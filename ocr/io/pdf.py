"""Rasterizing PDF pages with PDFium (pypdfium2) into RGB arrays."""

from __future__ import annotations

import math
import threading
from typing import Iterator

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..errors import InputError, InputTooLarge

_POINTS_PER_INCH = 72
# PDFium stores page sizes as float32 and sizes bitmaps with ceil(size * scale), so an exact
# product such as 792 pt * 300/72 = 3300 can come out a hair above and gain a pixel row.
_SCALE_SLACK = 1.0 - 1e-6

# PDFium is not thread-safe: every call into it, on any document, holds this lock.
_PDFIUM_LOCK = threading.Lock()


def rasterize(data: bytes, name: str, dpi: int, max_pixels: int, max_pages: int | None = None) -> Iterator[np.ndarray]:
    """Every page of PDF ``data`` rendered at ``dpi`` on white.

    The document is opened (encryption and structure checks, page count against
    ``max_pages``) at once; pages are rendered as they are consumed, and the pixel limit
    is checked before each render.
    """
    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise InputError(f"{name}: {_open_problem(exc)}") from None
        count = len(document)  # PDFium refuses to load a document without pages
        if max_pages is not None and count > max_pages:
            document.close()
            raise InputTooLarge(f"{name}: {count} pages exceeds the limit of {max_pages} pages")
    return _pages(document, count, name, dpi, max_pixels)


def _open_problem(exc: pdfium.PdfiumError) -> str:
    if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
        return "PDF is encrypted (password protected)"
    if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
        return "PDF uses an unsupported security handler"
    return "broken or unreadable PDF"


def _pages(document: pdfium.PdfDocument, count: int, name: str, dpi: int, max_pixels: int) -> Iterator[np.ndarray]:
    try:
        for index in range(count):
            with _PDFIUM_LOCK:
                page = _render(document, index, f"{name}: page {index + 1}", dpi, max_pixels)
            yield page
    finally:
        with _PDFIUM_LOCK:
            document.close()


def _render(document: pdfium.PdfDocument, index: int, what: str, dpi: int, max_pixels: int) -> np.ndarray:
    scale = dpi / _POINTS_PER_INCH * _SCALE_SLACK
    try:
        page = document[index]
    except pdfium.PdfiumError:
        raise InputError(f"{what}: broken PDF page") from None
    try:
        width, height = (math.ceil(side * scale) for side in page.get_size())
        if width < 1 or height < 1:
            raise InputError(f"{what}: PDF page has no area")
        if width * height > max_pixels:
            raise InputTooLarge(
                f"{what}: at {dpi} dpi the page is {width}x{height} = {width * height:,} pixels, "
                f"over the limit of {max_pixels:,} pixels (use a lower dpi)"
            )
        try:
            bitmap = page.render(scale=scale, rev_byteorder=True)
        except (pdfium.PdfiumError, ValueError) as exc:
            raise InputError(f"{what}: cannot render PDF page ({exc})") from None
        return np.array(bitmap.to_numpy()[:, :, :3])
    finally:
        page.close()


def pages_with_text(data: bytes) -> list[bool]:
    """For each page of PDF ``data``, whether it already holds text (born digital, or OCRed before)."""
    with _PDFIUM_LOCK:
        document = pdfium.PdfDocument(data)
        try:
            found = []
            for index in range(len(document)):
                page = document[index]
                text = page.get_textpage()
                found.append(text.count_chars() > 0)
                text.close()
                page.close()
            return found
        finally:
            document.close()
