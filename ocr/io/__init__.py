"""Inputs to page images: format detection, decoding, size limits and PDF rasterization.

The one place that turns files or bytes into H×W×3 uint8 RGB arrays. Every problem
with an input raises :class:`~ocr.errors.InputError` with one line naming the input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import os
import stat
from typing import BinaryIO

import numpy as np

from ..config import DEFAULT_DPI, DEFAULT_MAX_PIXELS
from ..errors import InputError, InputTooLarge, UnsupportedFormat
from . import images, pdf
from .formats import SUPPORTED_FORMATS, sniff

__all__ = ["SUPPORTED_FORMATS", "iter_pages", "load_pages", "read_bytes", "read_stream"]

Source = str | Path | bytes


def load_pages(
    source: Source,
    *,
    dpi: int = DEFAULT_DPI,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    max_pages: int | None = None,
) -> list[np.ndarray]:
    """Every page of ``source`` (a path or the file's bytes) as an H×W×3 uint8 RGB array.

    The format is detected from the content. PDF pages are rendered at ``dpi``; a page
    with more than ``max_pixels`` pixels, or a PDF or TIFF of more than ``max_pages``
    pages, is refused before it is decoded. ``name`` labels the input in error messages
    (default: the path, or ``<bytes>``). Limits raise :class:`~ocr.errors.InputTooLarge`,
    an unknown format :class:`~ocr.errors.UnsupportedFormat`.
    """
    return list(iter_pages(source, dpi=dpi, max_pixels=max_pixels, name=name, max_pages=max_pages))


def iter_pages(
    source: Source,
    *,
    dpi: int = DEFAULT_DPI,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    max_pages: int | None = None,
) -> Iterator[np.ndarray]:
    """Like :func:`load_pages`, one page at a time (for long PDFs and TIFFs).

    Problems with the input as a whole (missing, empty, unsupported, encrypted, corrupt
    header) raise at once; problems with one page raise when that page is reached.
    """
    if dpi <= 0 or max_pixels <= 0 or (max_pages is not None and max_pages <= 0):
        raise ValueError(f"dpi, max_pixels and max_pages must be positive, got {dpi}, {max_pixels}, {max_pages}")
    label = name if name is not None else ("<bytes>" if isinstance(source, bytes) else str(source))
    data = _read(source, label)
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedFormat(f"{label}: unsupported format (supported: {', '.join(SUPPORTED_FORMATS)})")
    if fmt == "PDF":
        return pdf.rasterize(data, label, dpi, max_pixels, max_pages)
    return images.decode(data, fmt, label, max_pixels, max_pages)


def read_bytes(path: str | Path, name: str | None = None) -> bytes:
    """The content of regular file ``path``; missing, unreadable, empty or not a regular file (a folder, a
    FIFO, a device) raise :class:`InputError`."""
    return _read(path, name if name is not None else str(path))


def read_stream(stream: BinaryIO, limit: int, name: str) -> bytes:
    """All of ``stream`` (e.g. standard input); :class:`InputTooLarge` as soon as it holds more than ``limit`` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(f"{name}: input exceeds the limit of {limit / 2**20:g} MiB")
    return data


def _read(source: Source, label: str) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        try:
            # Opened without blocking (a FIFO with no writer would wait forever), then checked:
            # only a regular file has an end to read up to.
            fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise InputError(f"{label}: no such file") from None
        except OSError as exc:
            raise InputError(f"{label}: cannot read ({exc.strerror or exc})") from None
        kind = os.fstat(fd).st_mode
        if not stat.S_ISREG(kind):
            os.close(fd)
            if stat.S_ISDIR(kind):
                raise InputError(f"{label}: is a directory, not a file")
            raise InputError(f"{label}: not a regular file (a FIFO, socket or device cannot be read)")
        with open(fd, "rb") as stream:
            try:
                data = stream.read()
            except OSError as exc:
                raise InputError(f"{label}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise InputError(f"{label}: empty {'input' if isinstance(source, bytes) else 'file'}")
    return data
