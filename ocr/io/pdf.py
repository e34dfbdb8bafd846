"""Rasterizing PDF pages with PDFium (pypdfium2) into RGB arrays.

Each page is rendered in a forked child process under a memory ceiling
(:data:`~ocr.config.PDF_RENDER_MEMORY` beyond its bitmap): PDFium inflates a page's content
streams whole and aborts when memory runs out, so a small PDF whose streams inflate to
gigabytes (a "bomb") is refused as too large instead of filling the memory of the reader.
"""

from __future__ import annotations

import ctypes
import math
import mmap
import os
import resource
import signal
import threading
import warnings
from typing import Iterator

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..config import PDF_RENDER_MEMORY
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


_HEADER = np.dtype([("height", "<u4"), ("width", "<u4")])
_RENDERED, _BROKEN_PAGE, _NO_AREA, _TOO_MANY_PIXELS, _UNRENDERABLE, _NO_MEMORY = range(6)


def _render(document: pdfium.PdfDocument, index: int, what: str, dpi: int, max_pixels: int) -> np.ndarray:
    """Page ``index`` loaded and rendered in a forked child under a memory ceiling (PDFium parses the
    page's content when it loads it); the pixels come back through shared memory."""
    scale = dpi / _POINTS_PER_INCH * _SCALE_SLACK
    capacity = _HEADER.itemsize + max_pixels * 3  # reserved, not touched: only the rendered rows take memory
    with mmap.mmap(-1, capacity) as shared:
        with warnings.catch_warnings():  # the child only renders and exits: it needs no other thread's lock
            warnings.simplefilter("ignore", DeprecationWarning)
            child = os.fork()
        if child == 0:
            os._exit(_render_into(shared, document, index, scale, max_pixels))
        try:
            _, status = os.waitpid(child, 0)
        except BaseException:  # interrupted (a time limit): the child must not outlive the reading
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            raise
        code = os.waitstatus_to_exitcode(status)
        rows, columns = (int(v) for v in np.frombuffer(shared, _HEADER, 1)[0])
        if code == _RENDERED:
            return np.frombuffer(shared, np.uint8, rows * columns * 3, _HEADER.itemsize).reshape(rows, columns, 3).copy()
    if code == _BROKEN_PAGE:
        raise InputError(f"{what}: broken PDF page")
    if code == _NO_AREA:
        raise InputError(f"{what}: PDF page has no area")
    if code == _TOO_MANY_PIXELS:
        raise InputTooLarge(
            f"{what}: at {dpi} dpi the page is {columns}x{rows} = {columns * rows:,} pixels, "
            f"over the limit of {max_pixels:,} pixels (use a lower dpi)"
        )
    if code in (_NO_MEMORY, -signal.SIGABRT):
        raise InputTooLarge(f"{what}: the page needs more than {PDF_RENDER_MEMORY / 2**20:g} MiB of memory to render")
    raise InputError(f"{what}: cannot render PDF page (the renderer stopped with status {code})")


def _render_into(shared: mmap.mmap, document: pdfium.PdfDocument, index: int, scale: float, max_pixels: int) -> int:
    """In the child: load and render page ``index`` into ``shared`` (its size, then RGB rows); the exit status."""
    header = np.frombuffer(shared, _HEADER, 1)
    try:
        _end_with_parent()
        with open("/proc/self/statm") as statm:
            mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _limit_memory(mapped + PDF_RENDER_MEMORY)
        try:
            page = document[index]
        except pdfium.PdfiumError:
            return _BROKEN_PAGE
        columns, rows = (math.ceil(side * scale) for side in page.get_size())
        header[0] = (max(rows, 0), max(columns, 0))
        if columns < 1 or rows < 1:
            return _NO_AREA
        if columns * rows > max_pixels:
            return _TOO_MANY_PIXELS
        _limit_memory(mapped + PDF_RENDER_MEMORY + 2 * columns * rows * 4)  # the bitmap and its RGB copy
        try:
            pixels = page.render(scale=scale, rev_byteorder=True).to_numpy()[:, :, :3]
        except (pdfium.PdfiumError, ValueError):
            return _UNRENDERABLE
        rows, columns = pixels.shape[:2]
        if rows * columns > max_pixels:
            return _TOO_MANY_PIXELS
        header[0] = (rows, columns)
        np.frombuffer(shared, np.uint8, rows * columns * 3, _HEADER.itemsize).reshape(rows, columns, 3)[:] = pixels
        return _RENDERED
    except MemoryError:
        return _NO_MEMORY
    except BaseException:  # the child must never return into the caller's code
        return _UNRENDERABLE


def _limit_memory(size: int) -> None:
    """Let this process map at most ``size`` bytes (allocations past it fail)."""
    resource.setrlimit(resource.RLIMIT_AS, (size, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _end_with_parent() -> None:
    """Have the kernel kill this process when its parent dies (Linux; elsewhere nothing)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


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
