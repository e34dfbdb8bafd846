"""Evaluation and training sets in the shared manifest format.

A set is a folder with ``images/`` and ``manifest.jsonl``: one JSON object per image
with ``image`` (relative path), ``text``, and for page sets ``words`` and/or ``lines``
as ``[{"text", "box": [[x, y] * 4], "ignore"?}]``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import InputError


@dataclass(frozen=True)
class Region:
    """A ground-truth word or line: text, quadrilateral, and whether it is do-not-care."""

    text: str
    box: tuple[tuple[float, float], ...]
    ignore: bool = False


@dataclass(frozen=True)
class Sample:
    """One image of a set with its ground truth."""

    image: Path
    text: str
    words: tuple[Region, ...] = field(default=())
    lines: tuple[Region, ...] = field(default=())


def _regions(items: list[dict] | None) -> tuple[Region, ...]:
    return tuple(
        Region(r.get("text", ""), tuple((float(x), float(y)) for x, y in r["box"]), bool(r.get("ignore", False)))
        for r in items or ()
    )


def load(folder: str | Path, limit: int | None = None) -> list[Sample]:
    """The samples of the set in ``folder``, in manifest order (first ``limit`` if given)."""
    return list(iter_samples(folder, limit))


def iter_samples(folder: str | Path, limit: int | None = None) -> Iterator[Sample]:
    folder = Path(folder)
    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        raise InputError(f"{folder} has no manifest.jsonl")
    with manifest.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh):
            if limit is not None and n >= limit:
                return
            row = json.loads(raw)
            yield Sample(
                image=folder / row["image"],
                text=row.get("text", ""),
                words=_regions(row.get("words")),
                lines=_regions(row.get("lines")),
            )


def data_dir() -> Path:
    """Root of the shared data: ``$OCR_DATA_DIR`` or ``../shared/data`` beside the project."""
    configured = os.environ.get("OCR_DATA_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def resolve(name: str | Path) -> Path:
    """A set folder given as a path or as a name under ``data_dir()/eval`` (or ``/train``)."""
    for candidate in (Path(name), data_dir() / "eval" / name, data_dir() / "train" / name):
        if (candidate / "manifest.jsonl").is_file():
            return candidate
    raise InputError(f"no set {str(name)!r}: not a folder with manifest.jsonl, nor a set in {data_dir()}")
