"""Detection quality: precision, recall and H-mean at IoU ≥ 0.5, and time per page.

Protocol (ICDAR 2015 style): a detection covering a do-not-care ground-truth region by
more than half of its own area is ignored; do-not-care regions are not counted; the
remaining pairs are matched one-to-one, greedily by decreasing polygon IoU, and a
match needs IoU ≥ 0.5. Counts are summed over the set before the ratios are taken.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
import shapely
from PIL import Image
from shapely.geometry import Polygon as ShapelyPolygon

from .. import datasets
from ..detection import Detector, DetectorConfig
from ..document import Polygon, Word
from ..layout import build_blocks
from ..runtime import RuntimeConfig

Level = Literal["words", "lines"]

IOU_THRESHOLD = 0.5
DO_NOT_CARE_COVER = 0.5


@dataclass(frozen=True)
class Counts:
    """Matched pairs, counted ground-truth regions and counted detections."""

    matched: int = 0
    truths: int = 0
    detections: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.matched + other.matched, self.truths + other.truths, self.detections + other.detections)

    @property
    def precision(self) -> float:
        return self.matched / self.detections if self.detections else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.truths if self.truths else 0.0

    @property
    def hmean(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _shape(points: Sequence[Sequence[float]]) -> ShapelyPolygon:
    shape = ShapelyPolygon(points)
    return shape if shape.is_valid else shapely.make_valid(shape)


def match(
    detections: Sequence[Polygon], truths: Sequence[Polygon], ignore: Sequence[bool], iou_threshold: float = IOU_THRESHOLD
) -> Counts:
    """Score one image's detections against its ground truth (``ignore[i]``: truth ``i`` is do-not-care)."""
    det_shapes = [_shape(p) for p in detections]
    care = [_shape(p) for p, skip in zip(truths, ignore) if not skip]
    dont_care = [_shape(p) for p, skip in zip(truths, ignore) if skip]
    kept = [d for d in det_shapes if not _mostly_inside(d, dont_care)]
    matched = 0
    if kept and care:
        det_index, gt_index, ious = _pair_ious(kept, care)
        used_det, used_gt = set(), set()
        for k in np.argsort(-ious, kind="stable"):
            if ious[k] < iou_threshold:
                break
            d, g = det_index[k], gt_index[k]
            if d not in used_det and g not in used_gt:
                used_det.add(d)
                used_gt.add(g)
                matched += 1
    return Counts(matched, len(care), len(kept))


def match_end_to_end(
    detections: Sequence[tuple[Polygon, str]],
    truths: Sequence[tuple[Polygon, str]],
    ignore: Sequence[bool],
    iou_threshold: float = IOU_THRESHOLD,
) -> Counts:
    """End-to-end score of one image: as :func:`match`, but a pair also needs the same text
    (case-insensitive, whitespace collapsed). Detections without text are not counted."""
    detections = [(p, t) for p, t in detections if t.strip()]
    det_shapes = [_shape(p) for p, _ in detections]
    care = [(_shape(p), _caseless(t)) for (p, t), skip in zip(truths, ignore) if not skip]
    dont_care = [_shape(p) for (p, _), skip in zip(truths, ignore) if skip]
    kept = [(s, _caseless(t)) for s, (_, t) in zip(det_shapes, detections) if not _mostly_inside(s, dont_care)]
    matched = 0
    if kept and care:
        det_index, gt_index, ious = _pair_ious([s for s, _ in kept], [s for s, _ in care])
        used_det, used_gt = set(), set()
        for k in np.argsort(-ious, kind="stable"):
            if ious[k] < iou_threshold:
                break
            d, g = det_index[k], gt_index[k]
            if d not in used_det and g not in used_gt and kept[d][1] == care[g][1]:
                used_det.add(d)
                used_gt.add(g)
                matched += 1
    return Counts(matched, len(care), len(kept))


def _caseless(text: str) -> str:
    return " ".join(text.lower().split())


def _mostly_inside(shape: ShapelyPolygon, regions: Sequence[ShapelyPolygon]) -> bool:
    area = shape.area
    return area > 0 and any(shape.intersection(r).area > DO_NOT_CARE_COVER * area for r in regions)


def _pair_ious(
    detections: Sequence[ShapelyPolygon], truths: Sequence[ShapelyPolygon]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of every intersecting (detection, truth) pair, found through a spatial index."""
    det_index, gt_index = shapely.STRtree(truths).query(np.array(detections, dtype=object), predicate="intersects")
    dets = np.array(detections, dtype=object)[det_index]
    gts = np.array(truths, dtype=object)[gt_index]
    inter = shapely.area(shapely.intersection(dets, gts))
    union = shapely.area(dets) + shapely.area(gts) - inter
    ious = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return det_index, gt_index, ious


def line_polygons(polygons: Sequence[Polygon]) -> list[Polygon]:
    """Group detected word outlines into text lines (through :mod:`ocr.layout`) and return the line outlines."""
    words = [Word("", polygon, 1.0, "detector") for polygon in polygons]
    return [line.polygon for block in build_blocks(words) for line in block.lines]


@dataclass(frozen=True)
class SetResult:
    """One detector on one set."""

    set_name: str
    detector: str
    level: Level
    pages: int
    counts: Counts
    ms_per_page: float
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        counts = self.counts
        data = asdict(self)
        data.update(precision=counts.precision, recall=counts.recall, hmean=counts.hmean)
        return data


def level_of(sample: datasets.Sample) -> Level:
    """Words when the set has word boxes, lines otherwise."""
    return "words" if sample.words else "lines"


def evaluate_set(
    detector: Detector,
    detector_name: str,
    folder: Path,
    limit: int | None = None,
    progress: Callable[[int, Counts], None] | None = None,
) -> SetResult:
    """Run ``detector`` over the set in ``folder`` and score it at the set's level."""
    total = Counts()
    times: list[float] = []
    level: Level = "words"
    for n, sample in enumerate(datasets.iter_samples(folder, limit), start=1):
        level = level_of(sample)
        regions = sample.words if level == "words" else sample.lines
        image = np.asarray(Image.open(sample.image).convert("RGB"))
        started = time.perf_counter()
        polygons = [word.polygon for word in detector.detect(image)]
        times.append(time.perf_counter() - started)
        if level == "lines":
            polygons = line_polygons(polygons)
        total += match(polygons, [r.box for r in regions], [r.ignore for r in regions])
        if progress is not None:
            progress(n, total)
    return SetResult(
        set_name=folder.name,
        detector=detector_name,
        level=level,
        pages=len(times),
        counts=total,
        ms_per_page=1000 * statistics.median(times) if times else 0.0,
        config=asdict(detector.config),
    )


def format_table(results: Sequence[SetResult]) -> str:
    """Sets as rows, detectors side by side as column groups."""
    detectors = list(dict.fromkeys(r.detector for r in results))
    sets = list(dict.fromkeys(r.set_name for r in results))
    by_key = {(r.set_name, r.detector): r for r in results}
    header = f"{'set':<20} {'level':<6} {'pages':>5}" + "".join(
        f" | {name + ' P':>12} {'R':>6} {'H':>6} {'ms/page':>8}" for name in detectors
    )
    rows = [header, "-" * len(header)]
    for set_name in sets:
        first = next(by_key[(set_name, d)] for d in detectors if (set_name, d) in by_key)
        row = f"{set_name:<20} {first.level:<6} {first.pages:>5}"
        for name in detectors:
            result = by_key.get((set_name, name))
            if result is None:
                row += f" | {'-':>12} {'-':>6} {'-':>6} {'-':>8}"
                continue
            c = result.counts
            row += f" | {100 * c.precision:>12.1f} {100 * c.recall:>6.1f} {100 * c.hmean:>6.1f} {result.ms_per_page:>8.0f}"
        rows.append(row)
    return "\n".join(rows)


def run(
    sets: Sequence[str],
    detectors: Sequence[str],
    limit: int | None,
    json_path: str | None,
    threads: int,
    overrides: dict[str, float | None],
    echo: Callable[[str], None],
) -> list[SetResult]:
    """The ``ocr eval detect`` command: evaluate, print the table to stdout, optionally write JSON."""
    folders = [datasets.resolve(name) for name in sets]
    config = replace(DetectorConfig(), **{k: v for k, v in overrides.items() if v is not None})
    results = []
    for name in detectors:
        detector = Detector.named(name, config, RuntimeConfig(intra_op_threads=threads))
        for folder in folders:

            def progress(n: int, counts: Counts) -> None:
                if n % 25 == 0:
                    echo(f"{name} {folder.name}: {n} pages, H-mean so far {100 * counts.hmean:.1f}")

            results.append(evaluate_set(detector, name, folder, limit, progress))
    print(format_table(results))
    if json_path:
        Path(json_path).write_text(json.dumps([r.to_dict() for r in results], indent=2) + "\n", encoding="utf-8")
    return results
