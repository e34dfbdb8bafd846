"""Inputs to page images: format detection, decoding, size limits and PDF rasterization.

The one place that turns inputs (paths, bytes, binary files, PIL images, numpy arrays)
into H×W×3 uint8 RGB arrays. Every problem with an input raises
:class:`~ocr.errors.InputError` with one line naming the input; an object of a kind that
is no input at all raises :class:`TypeError`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
from PIL import Image

from ..config import DEFAULT_DPI, DEFAULT_MAX_PIXELS
from ..errors import InputError, InputTooLarge, UnsupportedFormat
from . import images, pdf
from .formats import SUPPORTED_FORMATS, sniff

__all__ = ["SUPPORTED_FORMATS", "Source", "iter_pages", "label", "load_pages", "open_pages", "read_bytes", "read_stream"]

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO | Image.Image | np.ndarray
"""What can be read: a file path, a file's bytes, a binary file object, a PIL image or a numpy image."""

SOURCE_KINDS = "a path, bytes, a binary file, a PIL image or a numpy array"


def label(source: Source) -> str:
    """How ``source`` is named in messages: its path, a file object's name, or ``<bytes>``, ``<file>``,
    ``<image>``, ``<array>``."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, np.ndarray):
        return "<array>"
    if isinstance(source, Image.Image):
        return "<image>"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<file>"


def load_pages(
    source: Source,
    *,
    dpi: int = DEFAULT_DPI,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    max_pages: int | None = None,
) -> list[np.ndarray]:
    """Every page of ``source`` (see :data:`Source`) as an H×W×3 uint8 RGB array.

    The format of a file or bytes is detected from the content; a numpy array is one page
    (see :func:`ocr.io.images.from_array`), a PIL image too (its current frame). PDF pages are rendered at ``dpi``; a page
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
    return open_pages(source, dpi=dpi, max_pixels=max_pixels, name=name, max_pages=max_pages)[1]


def open_pages(
    source: Source,
    *,
    dpi: int = DEFAULT_DPI,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    max_pages: int | None = None,
) -> tuple[str, Iterator[np.ndarray]]:
    """The input's format (one of :data:`SUPPORTED_FORMATS`, ``array`` or ``image`` for PIL) and its
    pages, as :func:`iter_pages` gives them."""
    if dpi <= 0 or max_pixels <= 0 or (max_pages is not None and max_pages <= 0):
        raise ValueError(f"dpi, max_pixels and max_pages must be positive, got {dpi}, {max_pixels}, {max_pages}")
    what = name if name is not None else label(source)
    if isinstance(source, np.ndarray):
        return "array", iter([images.from_array(source, what, max_pixels)])
    if isinstance(source, Image.Image):
        images.check_pixels(*source.size, max_pixels, what)
        return "image", iter([images.to_rgb(source)])
    data = _read(source, what)
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedFormat(f"{what}: unsupported format (supported: {', '.join(SUPPORTED_FORMATS)})")
    if fmt == "PDF":
        return fmt, pdf.rasterize(data, what, dpi, max_pixels, max_pages)
    return fmt, images.decode(data, fmt, what, max_pixels, max_pages)


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


def _read(source: str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO, what: str) -> bytes:
    """The bytes of a path (a regular file only), a bytes-like object or a binary file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            # Opened without blocking (a FIFO with no writer would wait forever), then checked:
            # only a regular file has an end to read up to.
            fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise InputError(f"{what}: no such file") from None
        except OSError as exc:
            raise InputError(f"{what}: cannot read ({exc.strerror or exc})") from None
        kind = os.fstat(fd).st_mode
        if not stat.S_ISREG(kind):
            os.close(fd)
            if stat.S_ISDIR(kind):
                raise InputError(f"{what}: is a directory, not a file")
            raise InputError(f"{what}: not a regular file (a FIFO, socket or device cannot be read)")
        with open(fd, "rb") as stream:
            try:
                data = stream.read()
            except OSError as exc:
                raise InputError(f"{what}: cannot read ({exc.strerror or exc})") from None
    elif callable(getattr(source, "read", None)):
        try:
            data = source.read()
        except OSError as exc:
            raise InputError(f"{what}: cannot read ({exc.strerror or exc})") from None
        if not isinstance(data, bytes):
            raise TypeError(f"{what}: the file is open in text mode; open it with 'rb'")
    else:
        raise TypeError(f"cannot read a {type(source).__name__}: give {SOURCE_KINDS}")
    if not data:
        raise InputError(f"{what}: empty {'file' if isinstance(source, (str, os.PathLike)) else 'input'}")
    return data
