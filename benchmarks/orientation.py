"""Orientation and skew on the eval page sets: how often the rotation is found, the default engine's
bag-of-words F1 on turned and skewed pages against upright ones, and the time the stage adds.

Every page is read upright with ``--rotate off`` (timed) and ``auto``, turned clockwise by 90, 180 and 270
degrees, and skewed by ±5 and ±10 degrees (counter-clockwise positive, white corners), each with
``--rotate auto``, through the pipeline as ``ocr scan`` reads it; the orientation stage is timed
on its own on the upright page, against the upright read. A few pages of tesseract_testing
come turned already (``INTRINSIC``): their expected rotation adds that turn.

    python benchmarks/orientation.py [SET ...] [--limit N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace

import numpy as np
from PIL import Image

from ocr import datasets
from ocr.config import ScanOptions
from ocr.engines import create_engine
from ocr.eval.metrics import BagCounts, bag_counts
from ocr.orientation import Orientation, find_orienter, osd_rotation, transform
from ocr.pipeline import read_pages

SETS = ("tesseract_testing", "funsd_test", "sroie_eval")
TURNS = (90, 180, 270)
SKEWS = (-10.0, -5.0, 5.0, 10.0)
INTRINSIC = {"phototest-rotated-L.png": 270, "phototest-rotated-R.png": 90, "phototest-rotated-180.png": 180}
"""Pages of tesseract_testing stored turned clockwise by this many degrees (their text is read upright)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=SETS)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N pages of each set.")
    parser.add_argument("--json", dest="json_path", default=None, help="Write every number here.")
    parser.add_argument("--skew-only", action="store_true", help="Leave out the turned pages (and the rotation score).")
    args = parser.parse_args()
    auto = ScanOptions()
    off = replace(auto, rotate="off")
    engine = create_engine(auto.engine, auto)
    orienter = find_orienter()
    orienter.find(np.full((64, 64, 3), 255, np.uint8))  # its models loaded before anything is timed,
    osd_rotation(np.full((64, 64), 255, np.uint8))  # as the engine's are
    rows = []
    for name in args.sets:
        bags: dict[str, BagCounts] = {}
        seconds: dict[str, list[float]] = {"off": [], "orientation": []}
        right, total, skew_errors = 0, 0, []
        for sample in datasets.load(datasets.resolve(name), args.limit):
            with Image.open(sample.image) as image:
                upright = np.asarray(image.convert("RGB"))
            intrinsic = INTRINSIC.get(sample.image.name, 0)

            def read(image: np.ndarray, options: ScanOptions, key: str) -> Orientation:
                page = read_pages([image], options, engine, sample.image.name).pages[0]
                bags[key] = bags.get(key, BagCounts()) + bag_counts(page.text, sample.text)
                return Orientation(page.rotation, page.skew)

            started = time.perf_counter()
            read(upright, off, "off")
            seconds["off"].append(time.perf_counter() - started)
            started = time.perf_counter()  # the stage alone, timed apart: under a shared CPU's noise
            transform(upright, orienter.find(upright))  # the difference of two whole reads says little
            seconds["orientation"].append(time.perf_counter() - started)
            found = read(upright, auto, "auto")
            right += found.rotation == intrinsic
            total += 1
            for turn in () if args.skew_only else TURNS:
                found = read(np.ascontiguousarray(np.rot90(upright, -turn // 90)), auto, f"turned {turn}")
                right += found.rotation == (intrinsic + turn) % 360
                total += 1
            for skew in SKEWS:
                found = read(transform(upright, Orientation(0, -skew)), auto, f"skewed {skew:+g}")
                if intrinsic == 0:
                    skew_errors.append(abs(found.skew - skew))
        row = {
            "set": name,
            "pages": len(seconds["off"]),
            "turns": total,
            "rotation_right": right / total,
            "bow_f1": {key: counts.f1 for key, counts in bags.items()},
            "seconds_per_page": {key: statistics.median(values) for key, values in seconds.items()},
            "added_time": sum(seconds["orientation"]) / sum(seconds["off"]),
            "skew_error_median": statistics.median(skew_errors) if skew_errors else None,
        }
        rows.append(row)
        print(format_row(row), flush=True)
    turns = sum(r["turns"] for r in rows)
    print(f"all: rotation right on {100 * sum(r['rotation_right'] * r['turns'] for r in rows) / turns:.1f} % "
          f"of {turns} pages as read")
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as stream:
            json.dump(rows, stream, indent=2)


def format_row(row: dict) -> str:
    """One set's numbers on a few lines."""
    f1 = row["bow_f1"]
    upright = f1["off"]
    others = ", ".join(f"{key} {100 * value:.1f} ({100 * (value - upright):+.1f})" for key, value in f1.items()
                       if key != "off")
    times = row["seconds_per_page"]
    return (f"{row['set']} ({row['pages']} pages): rotation right {100 * row['rotation_right']:.1f} %; "
            f"BoW F1 upright (rotate off) {100 * upright:.1f}, {others}; median s/page: read {times['off']:.3f}, "
            f"orientation {times['orientation']:.3f}, added time {100 * row['added_time']:+.1f} % (sum over sum); "
            f"median skew error {row['skew_error_median']}°")


if __name__ == "__main__":
    main()
