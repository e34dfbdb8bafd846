"""Detection H-mean of one detector over a grid of post-processing thresholds, on page sets.

Each page's score maps are computed once; only the post-processing runs per threshold triple, so a
grid of dozens costs about one pass of the model. Meant for the held-out pages of the training sets
(never ``eval/``): pick a detector's thresholds here, then measure them once on the eval sets with
``ocr eval detect``.

    python benchmarks/detector_thresholds.py SET [SET ...] [--detector student-int8] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
from PIL import Image

from ocr import datasets
from ocr.detection.postprocess import Thresholds
from ocr.detection.predictor import Detector, DetectorConfig, words_of
from ocr.eval.detection import Counts, level_of, line_polygons, match
from ocr.runtime import RuntimeConfig

TEXT = (0.6, 0.7, 0.75, 0.8)
LOW = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55)
LINK = (0.2, 0.3, 0.4, 0.5, 0.6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--detector", default="student-int8")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", dest="json_path", default=None, help="Write every triple's numbers here.")
    args = parser.parse_args()
    detector = Detector.named(args.detector, DetectorConfig(), RuntimeConfig(intra_op_threads=args.threads))
    pages = []  # (set, level, maps, prepared, regions)
    for name in args.sets:
        folder = datasets.resolve(name)
        for sample in datasets.iter_samples(folder):
            level = level_of(sample)
            image = np.asarray(Image.open(sample.image).convert("RGB"))
            maps, prepared = detector.score_maps(image)
            pages.append((folder.name, level, maps, prepared, sample.words if level == "words" else sample.lines))
    sets = list(dict.fromkeys(p[0] for p in pages))
    rows = []
    for text, low, link in itertools.product(TEXT, LOW, LINK):
        if low > text:
            continue
        counts = {name: Counts() for name in sets}
        for name, level, maps, prepared, regions in pages:
            polygons = [word.polygon for word in words_of(maps, prepared, Thresholds(text, link, low))]
            if level == "lines":
                polygons = line_polygons(polygons)
            counts[name] += match(polygons, [r.box for r in regions], [r.ignore for r in regions])
        hmeans = {name: 100 * c.hmean for name, c in counts.items()}
        rows.append({"text_threshold": text, "low_text": low, "link_threshold": link, "hmean": hmeans,
                     "mean": float(np.mean(list(hmeans.values())))})
    rows.sort(key=lambda r: -r["mean"])
    default = next(r for r in rows if (r["text_threshold"], r["low_text"], r["link_threshold"]) == (0.7, 0.4, 0.4))
    for row in [default] + rows[:10]:
        cells = "  ".join(f"{name} {value:5.1f}" for name, value in row["hmean"].items())
        print(f"text {row['text_threshold']:.2f} low {row['low_text']:.2f} link {row['link_threshold']:.2f}: "
              f"{cells}  mean {row['mean']:5.1f}" + ("  (default)" if row is default else ""))
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as stream:
            json.dump(rows, stream, indent=2)


if __name__ == "__main__":
    main()
