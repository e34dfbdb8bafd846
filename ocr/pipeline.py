"""Inputs to Documents: decode the pages, let the engine read each one.

The faces (CLI, HTTP service, batch jobs) build one engine from :class:`ScanOptions`
and call :func:`read_document` for every input, so models load once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .config import ScanOptions
from .document import Document, Page
from .engines import Engine
from .io import iter_pages
from .orientation import Orientation, find_orienter, to_input_frame, transform
from .profile import stage, timed

STDIN = "-"
"""The conventional input name of standard input."""

PageCallback = Callable[[np.ndarray, Page], None]


def source_name(source: str | Path | bytes, name: str | None = None) -> str:
    """What ``Document.source`` says for ``source``: ``name`` if given, else the path, or ``-`` for bytes."""
    if name is not None:
        return name
    return STDIN if isinstance(source, bytes) else str(source)


def read_pages(
    pages: Iterable[np.ndarray],
    options: ScanOptions,
    engine: Engine,
    source: str,
    on_page: PageCallback | None = None,
) -> Document:
    """A Document named ``source`` from page images read one by one by ``engine``.

    With ``options.rotate == "auto"`` (page mode) each page is first set upright
    (:mod:`ocr.orientation`); its words are still given on the image as it came.
    ``on_page(image, page)`` is called after each page is read (e.g. to draw it).
    """
    read: list[Page] = []
    orienter = find_orienter(options.pipeline.threads) if options.rotate == "auto" and options.mode == "page" else None
    for index, image in enumerate(timed(pages, "decode input")):
        upright, found = image, Orientation()
        if orienter is not None:
            with stage("orientation and skew", 1):
                found = orienter.find(image)
                upright = transform(image, found)
        with stage(f"{engine.name} engine", 1):
            page = engine.read(upright, options.mode, index)
        page = to_input_frame(page, found, image.shape[1], image.shape[0])
        if on_page is not None:
            on_page(image, page)
        read.append(page)
    return Document(source=source, pages=tuple(read))


def read_document(
    source: str | Path | bytes,
    options: ScanOptions,
    engine: Engine,
    *,
    name: str | None = None,
    on_page: PageCallback | None = None,
) -> Document:
    """Read every page of ``source`` (a path or a file's bytes) with ``engine``.

    Pages are decoded one at a time, so long PDFs do not fill memory. Problems with the
    input raise :class:`~ocr.errors.InputError`, engine failures
    :class:`~ocr.errors.EngineError`. ``name`` becomes ``Document.source`` (see
    :func:`source_name`).
    """
    label = source_name(source, name)
    pages = iter_pages(
        source,
        dpi=options.dpi,
        max_pixels=options.max_pixels,
        max_pages=options.max_pages,
        name="<stdin>" if label == STDIN else label,
    )
    return read_pages(pages, options, engine, label, on_page)
