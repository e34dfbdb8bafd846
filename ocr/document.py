"""The document tree every engine produces and every exporter consumes.

Document → Page → Block → Line → Word. Geometry is in pixel coordinates of the page
image as given (x to the right, y down), also when the page was read turned upright; a
polygon is a list of at least four (x, y) points, clockwise from its text's top-left.
Text and confidence of lines are derived from their words, so the tree cannot contradict
itself.

The JSON form (``to_dict``/``from_dict``) is a public contract described by
``ocr/schema/document.schema.json``; ``from_dict(to_dict(d)) == d`` holds exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

SCHEMA_ID = "ocr.document/1"
POINTS_PER_INCH = 72
"""A PDF point is 1/72 inch."""

Point = tuple[float, float]
Polygon = tuple[Point, ...]


def as_polygon(points: Sequence[Sequence[float]]) -> Polygon:
    """Normalize a sequence of [x, y] pairs to an immutable polygon."""
    polygon = tuple((p[0], p[1]) for p in points)
    if len(polygon) < 4:
        raise ValueError(f"a polygon needs at least 4 points, got {len(polygon)}")
    return polygon


def box_polygon(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """The axis-aligned rectangle (x0, y0)–(x1, y1) as a clockwise polygon."""
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def bounding_box(polygons: Sequence[Polygon]) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) enclosing all points of ``polygons``."""
    xs = [x for poly in polygons for x, _ in poly]
    ys = [y for poly in polygons for _, y in poly]
    return min(xs), min(ys), max(xs), max(ys)


def share_row(a: Sequence[Any], b: Sequence[Any]) -> Any:
    """Whether boxes (x0, y0, x1, y1) overlap vertically by half the lower one's height; of arrays of
    coordinates (``a[1]`` all the tops, ...), for every pair they broadcast to."""
    return np.minimum(a[3], b[3]) - np.maximum(a[1], b[1]) >= 0.5 * np.minimum(a[3] - a[1], b[3] - b[1])


def reading_frame(polygon: Polygon) -> Polygon:
    """``polygon`` turned by the quarter turn that makes its text run left to right (its first two
    points, its text's top-left and top-right corners, give the direction): on a page read turned,
    the rows of its text are rows again."""
    (x0, y0), (x1, y1) = polygon[0], polygon[1]
    quarter = round(math.degrees(math.atan2(y1 - y0, x1 - x0)) / 90) % 4
    turn = ((1, 0, 0, 1), (0, 1, -1, 0), (-1, 0, 0, -1), (0, -1, 1, 0))[quarter]
    return tuple((turn[0] * x + turn[1] * y, turn[2] * x + turn[3] * y) for x, y in polygon)


def enclosing_polygon(polygons: Sequence[Polygon]) -> Polygon:
    """The axis-aligned rectangle around ``polygons``."""
    return box_polygon(*bounding_box(polygons))


def _points(polygon: Polygon) -> list[list[float]]:
    return [[x, y] for x, y in polygon]


@dataclass(frozen=True)
class Alternative:
    """A reading of a word by one engine, kept when another engine's reading won."""

    text: str
    confidence: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": self.confidence, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alternative:
        return cls(data["text"], data["confidence"], data["source"])


@dataclass(frozen=True)
class Word:
    """One word: its text, outline, confidence in [0, 1] and the engine that read it."""

    text: str
    polygon: Polygon
    confidence: float
    source: str
    alternatives: tuple[Alternative, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} outside [0, 1]")
        if len(self.polygon) < 4:
            raise ValueError("a word polygon needs at least 4 points")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "polygon": _points(self.polygon),
            "confidence": self.confidence,
            "source": self.source,
        }
        if self.alternatives:
            data["alternatives"] = [a.to_dict() for a in self.alternatives]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Word:
        return cls(
            text=data["text"],
            polygon=as_polygon(data["polygon"]),
            confidence=data["confidence"],
            source=data["source"],
            alternatives=tuple(Alternative.from_dict(a) for a in data.get("alternatives", ())),
        )


@dataclass(frozen=True)
class Line:
    """Words on one baseline, in reading order."""

    words: tuple[Word, ...]
    polygon: Polygon

    @classmethod
    def of(cls, words: Sequence[Word]) -> Line:
        """A line around ``words`` (its polygon is their bounding rectangle)."""
        return cls(tuple(words), enclosing_polygon([w.polygon for w in words]))

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def confidence(self) -> float:
        """Mean word confidence weighted by word length (0 for an empty line)."""
        weights = [max(len(w.text), 1) for w in self.words]
        if not weights:
            return 0.0
        return sum(w.confidence * k for w, k in zip(self.words, weights)) / sum(weights)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "polygon": _points(self.polygon),
            "confidence": self.confidence,
            "words": [w.to_dict() for w in self.words],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Line:
        return cls(tuple(Word.from_dict(w) for w in data["words"]), as_polygon(data["polygon"]))


@dataclass(frozen=True)
class Block:
    """A paragraph or column fragment: lines in reading order."""

    lines: tuple[Line, ...]
    polygon: Polygon

    @classmethod
    def of(cls, lines: Sequence[Line]) -> Block:
        """A block around ``lines`` (its polygon is their bounding rectangle)."""
        return cls(tuple(lines), enclosing_polygon([ln.polygon for ln in lines]))

    @property
    def rows(self) -> tuple[tuple[int, ...], ...]:
        """The lines (their indices) grouped into rows: a line continuing the previous one's row to its
        right (a table's next cell: a receipt's price after its item) joins that row."""
        rows: list[list[int]] = []
        previous: tuple[float, float, float, float] | None = None
        for index, line in enumerate(self.lines):
            box = bounding_box([reading_frame(line.polygon)])
            if previous is not None and box[0] >= previous[2] and share_row(previous, box):
                rows[-1].append(index)
            else:
                rows.append([index])
            previous = box
        return tuple(tuple(row) for row in rows)

    @property
    def text(self) -> str:
        """One text line per row (see :attr:`rows`), its lines joined by spaces."""
        return "\n".join(" ".join(self.lines[i].text for i in row) for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"polygon": _points(self.polygon), "lines": [ln.to_dict() for ln in self.lines],
                "rows": [list(row) for row in self.rows]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Block:
        return cls(tuple(Line.from_dict(ln) for ln in data["lines"]), as_polygon(data["polygon"]))


@dataclass(frozen=True)
class Page:
    """One page image's reading: its size in pixels, its index in the input, its blocks, how it lay:
    ``rotation`` degrees clockwise from upright and then ``skew`` degrees counter-clockwise (undone
    before reading; outlines are still on the image as given), and for a PDF page ``points``, its
    pixel size in PDF points (pixel coordinates × ``points[0] / width`` are points: 72 / the dpi it
    was rendered at)."""

    index: int
    width: int
    height: int
    blocks: tuple[Block, ...] = ()
    points: tuple[float, float] | None = None
    rotation: int = 0
    skew: float = 0.0

    @property
    def text(self) -> str:
        """Lines in reading order, a blank line between blocks."""
        return "\n\n".join(b.text for b in self.blocks if b.lines)

    @property
    def lines(self) -> Iterator[Line]:
        return (line for block in self.blocks for line in block.lines)

    @property
    def words(self) -> Iterator[Word]:
        return (word for line in self.lines for word in line.words)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "width": self.width,
            "height": self.height,
            "rotation": self.rotation,
            "skew": self.skew,
            "blocks": [b.to_dict() for b in self.blocks],
        }
        if self.points is not None:
            data["points"] = list(self.points)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Page:
        points = data.get("points")
        return cls(
            index=data["index"],
            width=data["width"],
            height=data["height"],
            blocks=tuple(Block.from_dict(b) for b in data["blocks"]),
            points=(points[0], points[1]) if points is not None else None,
            rotation=data.get("rotation", 0),
            skew=data.get("skew", 0.0),
        )


@dataclass(frozen=True)
class Document:
    """The reading of one input (an image file, every page of a PDF or TIFF, or bytes).

    ``metadata``: how it was read (engine, models and their SHA-256, package version, dpi,
    language, mode, input format), as :func:`ocr.pipeline.read_pages` records it; it takes
    no part in comparing documents, which compares readings.
    """

    source: str
    pages: tuple[Page, ...] = field(default_factory=tuple)
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def text(self) -> str:
        """Page texts separated by form feeds, as Tesseract does."""
        return "\n\f".join(p.text for p in self.pages)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema": SCHEMA_ID, "source": self.source}
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        data["pages"] = [p.to_dict() for p in self.pages]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        if data.get("schema") != SCHEMA_ID:
            raise ValueError(f"not an {SCHEMA_ID} document: schema={data.get('schema')!r}")
        return cls(source=data["source"], pages=tuple(Page.from_dict(p) for p in data["pages"]),
                   metadata=data.get("metadata", {}))
