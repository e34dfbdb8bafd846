"""Documents to output formats (text, JSON, hOCR, ALTO, TSV, searchable PDF), the JSON Schema, and drawing."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Callable

from ..document import Document
from . import alto, hocr, tsv
from .draw import draw_words

__all__ = ["EXTENSIONS", "FORMATS", "MEDIA_TYPES", "draw_words", "render", "render_file", "schema"]

FORMATS: tuple[str, ...] = ("text", "json", "hocr", "alto", "tsv", "pdf")

EXTENSIONS: dict[str, str] = {"text": "txt", "json": "json", "hocr": "hocr", "alto": "xml", "tsv": "tsv", "pdf": "pdf"}
"""File name extension of each output format."""

MEDIA_TYPES: dict[str, str] = {
    "text": "text/plain; charset=utf-8",
    "json": "application/json",
    "hocr": "application/xhtml+xml; charset=utf-8",
    "alto": "application/xml; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "pdf": "application/pdf",
}
"""Media type (with charset) of each output format."""


def _json(document: Document) -> str:
    return json.dumps(document.to_dict(), ensure_ascii=False)


_RENDERERS: dict[str, Callable[[Document], str]] = {
    "text": lambda document: document.text,
    "json": _json,
    "hocr": hocr.render,
    "alto": alto.render,
    "tsv": tsv.render,
}


def render(document: Document, fmt: str) -> str:
    """``document`` in text output format ``fmt`` (one of :data:`FORMATS` but ``pdf``).

    ``text``: lines in reading order, a blank line between blocks, a form feed between
    pages. ``json``: the ``ocr.document/1`` contract on one line. ``hocr``, ``alto``,
    ``tsv``: complete files in those formats.
    """
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        if fmt == "pdf":
            raise ValueError("the pdf format needs the input: use render_file") from None
        raise ValueError(f"unknown output format {fmt!r} (choose from {', '.join(FORMATS)})") from None
    return renderer(document)


def render_file(document: Document, fmt: str, original: bytes, dpi: int) -> bytes:
    """The content of ``document``'s output file in format ``fmt``: a searchable PDF over ``original``, the
    input read at ``dpi`` (:func:`ocr.export.pdf.render_pdf`), or the UTF-8 text of :func:`render`
    ending with a newline."""
    if fmt == "pdf":
        from .pdf import render_pdf

        return render_pdf(document, original, dpi)
    text = render(document, fmt)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the ``json`` output, ``ocr/schema/document.schema.json``."""
    text = resources.files("ocr").joinpath("schema/document.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
