"""Inputs to Documents: decode the pages, let the engine read each one.

The faces (CLI, HTTP service, batch jobs) build one engine from :class:`ScanOptions`
and call :func:`read_document` for every input, so models load once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterable

import numpy as np

from . import __version__
from .config import ScanOptions
from .document import POINTS_PER_INCH, Document, Page
from .engines import Engine, model_digests
from .io import Source, label, open_pages
from .orientation import Orientation, find_orienter, to_input_frame, transform
from .profile import stage, timed

STDIN = "-"
"""The conventional input name of standard input."""

PageCallback = Callable[[np.ndarray, Page], None]


def source_name(source: Source, name: str | None = None) -> str:
    """What ``Document.source`` says for ``source``: ``name`` if given, ``-`` for bytes, else its
    :func:`~ocr.io.label` (the path, a file's name, ``<image>``, ``<array>``)."""
    if name is not None:
        return name
    return STDIN if isinstance(source, bytes) else label(source)


def read_pages(
    pages: Iterable[np.ndarray],
    options: ScanOptions,
    engine: Engine,
    source: str,
    on_page: PageCallback | None = None,
    input_format: str | None = None,
) -> Document:
    """A Document named ``source`` from page images read one by one by ``engine``.

    With ``options.rotate == "auto"`` (page mode) each page is first set upright
    (:mod:`ocr.orientation`); its words are still given on the image as it came.
    ``on_page(image, page)`` is called after each page is read (e.g. to draw it). Pages of
    a PDF (``input_format``) record their size in points, from the dpi they were rendered at.
    """
    read: list[Page] = []
    orienter = find_orienter() if options.rotate == "auto" and options.mode == "page" else None
    for index, image in enumerate(timed(pages, "decode input")):
        upright, found = image, Orientation()
        if orienter is not None:
            with stage("orientation and skew", 1):
                found = orienter.find(image)
                upright = transform(image, found)
        with stage(f"{engine.name} engine", 1):
            page = engine.read(upright, options.mode, index)
        page = to_input_frame(page, found, image.shape[1], image.shape[0])
        if input_format == "PDF":
            scale = POINTS_PER_INCH / options.dpi
            page = replace(page, points=(round(page.width * scale, 2), round(page.height * scale, 2)))
        if on_page is not None:
            on_page(image, page)
        read.append(page)
    return Document(source=source, pages=tuple(read), metadata=reading_metadata(options, engine, input_format))


def reading_metadata(options: ScanOptions, engine: Engine, input_format: str | None) -> dict[str, Any]:
    """What ``Document.metadata`` records: the engine, its model files' digests, the package version, the
    dpi, language and mode, and the input's format."""
    return {"engine": engine.name, "models": model_digests(type(engine), options), "version": __version__,
            "dpi": options.dpi, "language": options.lang, "mode": options.mode, "format": input_format}


def read_document(
    source: Source,
    options: ScanOptions,
    engine: Engine,
    *,
    name: str | None = None,
    on_page: PageCallback | None = None,
) -> Document:
    """Read every page of ``source`` (see :data:`ocr.io.Source`) with ``engine``.

    Pages are decoded one at a time, so long PDFs do not fill memory. Problems with the
    input raise :class:`~ocr.errors.InputError`, engine failures
    :class:`~ocr.errors.EngineError`. ``name`` becomes ``Document.source`` (see
    :func:`source_name`).
    """
    shown = source_name(source, name)
    input_format, pages = open_pages(
        source,
        dpi=options.dpi,
        max_pixels=options.max_pixels,
        max_pages=options.max_pages,
        name="<stdin>" if shown == STDIN else shown,
    )
    return read_pages(pages, options, engine, shown, on_page, input_format)
