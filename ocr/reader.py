"""The Python API in one call, :func:`read`, and one reusable object, :class:`Reader`.

    >>> import ocr
    >>> ocr.read("samples/clean_page.png").text          # doctest: +SKIP
    >>> reader = ocr.Reader(engine="neural", threads=2)  # models load once
    >>> [doc.text for doc in reader.read([image_array, "scan.pdf"])]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Sequence, overload

from .config import DEFAULT_ENGINE, PipelineConfig, ScanOptions
from .document import Document
from .engines import Engine, create_engine
from .io import Source, label
from .pipeline import read_document

_SCAN_FIELDS = frozenset(f.name for f in fields(ScanOptions)) - {"engine", "pipeline"}
_PIPELINE_FIELDS = frozenset(f.name for f in fields(PipelineConfig))


def scan_options(engine: str = DEFAULT_ENGINE, **options: Any) -> ScanOptions:
    """:class:`ScanOptions` from keywords: its own fields (``mode``, ``lang``, ``dpi``, ...) and those of
    :class:`PipelineConfig` (``detector``, ``recognizer``, ``threads``, ...); others raise :class:`TypeError`."""
    unknown = sorted(set(options) - _SCAN_FIELDS - _PIPELINE_FIELDS)
    if unknown:
        known = ", ".join(sorted(_SCAN_FIELDS | _PIPELINE_FIELDS))
        raise TypeError(f"unknown option {unknown[0]!r} (known: {known})")
    pipeline = PipelineConfig(**{name: value for name, value in options.items() if name in _PIPELINE_FIELDS})
    scan = {name: value for name, value in options.items() if name in _SCAN_FIELDS}
    return ScanOptions(engine=engine, pipeline=pipeline, **scan)


class Reader:
    """An engine loaded once (at construction) and the options it reads every input with.

    ``engine`` is a name from ``ocr engines``; ``options`` are those of :func:`scan_options`.
    A reader may be shared by threads (see the engines' notes on thread-safety).
    """

    def __init__(self, engine: str = DEFAULT_ENGINE, **options: Any) -> None:
        self.options = scan_options(engine, **options)
        self.engine: Engine = create_engine(engine, self.options)

    @overload
    def read(self, source: Source) -> Document: ...

    @overload
    def read(self, source: list[Source] | tuple[Source, ...]) -> list[Document]: ...

    def read(self, source: Source | Sequence[Source]) -> Document | list[Document]:
        """The Document of ``source``, or one per item of a list or tuple of sources.

        A source is a path, a file's bytes, a binary file object, a PIL image or a numpy
        image (H×W gray, H×W×3 RGB or H×W×4 RGBA; uint8, other integers or floats in [0, 1]).
        An input that cannot be read raises :class:`~ocr.errors.InputError`, an object that
        is no input :class:`TypeError`, an engine failure :class:`~ocr.errors.EngineError`.
        """
        if isinstance(source, (list, tuple)):
            return [self._read_one(item) for item in source]
        return self._read_one(source)  # type: ignore[arg-type]

    def _read_one(self, source: Source) -> Document:
        if isinstance(source, (list, tuple)):
            raise TypeError("a list of sources may not hold lists: give one flat list")
        return read_document(source, self.options, self.engine, name=label(source))


@overload
def read(source: Source, engine: str = DEFAULT_ENGINE, **options: Any) -> Document: ...


@overload
def read(source: list[Source] | tuple[Source, ...], engine: str = DEFAULT_ENGINE, **options: Any) -> list[Document]: ...


def read(source: Source | Sequence[Source], engine: str = DEFAULT_ENGINE, **options: Any) -> Document | list[Document]:
    """Read ``source`` (or a list of sources) with ``engine``: ``Reader(engine, **options).read(source)``.

    Each call loads the engine's models; to read many inputs, keep a :class:`Reader`.
    """
    return Reader(engine, **options).read(source)  # type: ignore[arg-type]
