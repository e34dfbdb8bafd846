"""Inputs to page images: format detection, decoding, size limits and PDF rasterization.

The one place that turns files or bytes into H×W×3 uint8 RGB arrays. Every problem
with an input raises :class:`~ocr.errors.InputError` with one line naming the input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..config import DEFAULT_DPI, DEFAULT_MAX_PIXELS
from ..errors import InputError
from . import images, pdf
from .formats import SUPPORTED_FORMATS, sniff

__all__ = ["SUPPORTED_FORMATS", "iter_pages", "load_pages"]

Source = str | Path | bytes


def load_pages(
    source: Source,
    *,
    dpi: int = DEFAULT_DPI,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> list[np.ndarray]:
    """Every page of ``source`` (a path or the file's bytes) as an H×W×3 uint8 RGB array.

    The format is detected from the content. PDF pages are rendered at ``dpi``; a page
    with more than ``max_pixels`` pixels is refused before it is decoded. ``name`` labels
    the input in error messages (default: the path, or ``<bytes>``).
    """
    return list(iter_pages(source, dpi=dpi, max_pixels=max_pixels, name=name))


def iter_pages(
    source: Source,
    *,
    dpi: int = DEFAULT_DPI,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> Iterator[np.ndarray]:
    """Like :func:`load_pages`, one page at a time (for long PDFs and TIFFs).

    Problems with the input as a whole (missing, empty, unsupported, encrypted, corrupt
    header) raise at once; problems with one page raise when that page is reached.
    """
    if dpi <= 0 or max_pixels <= 0:
        raise ValueError(f"dpi and max_pixels must be positive, got dpi={dpi}, max_pixels={max_pixels}")
    label = name if name is not None else ("<bytes>" if isinstance(source, bytes) else str(source))
    data = _read(source, label)
    fmt = sniff(data)
    if fmt is None:
        raise InputError(f"{label}: unsupported format (supported: {', '.join(SUPPORTED_FORMATS)})")
    if fmt == "PDF":
        return pdf.rasterize(data, label, dpi, max_pixels)
    return images.decode(data, fmt, label, max_pixels)


def _read(source: Source, label: str) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if path.is_dir():
            raise InputError(f"{label}: is a directory, not a file")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"{label}: no such file") from None
        except OSError as exc:
            raise InputError(f"{label}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise InputError(f"{label}: empty {'input' if isinstance(source, bytes) else 'file'}")
    return data
