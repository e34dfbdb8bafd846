"""The Tesseract engine's accuracy and speed on samples/, Tesseract's test pages and word crops.

Pages: CER (whitespace collapsed, case-sensitive; pages of a PDF joined by form feeds,
which count as whitespace) and median seconds per page over ``--runs`` reads, through
the same pipeline as ``ocr scan``. Crops (``--mode line``): word accuracy with the
word-benchmark normalization (case-insensitive letters and digits), empty readings and
milliseconds per crop.

Usage: python benchmarks/tesseract_engine.py [--data ../shared/data] [--crops 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from ocr import datasets
from ocr.config import ScanOptions
from ocr.engines import create_engine
from ocr.eval.metrics import alnum_caseless, cer
from ocr.io import load_pages
from ocr.pipeline import read_document

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CROP_SETS = ("iiit5k_test", "svt_test_words", "icdar2015_test_wordcrops")


def pages(data: Path | None, runs: int) -> None:
    """CER and seconds per page of every sample and of phototest.png."""
    options = ScanOptions()
    engine = create_engine("tesseract", options)
    items = [(p, p.with_name(f"{p.stem}.gt.txt").read_text(encoding="utf-8")) for p in sorted(SAMPLES.iterdir())
             if p.suffix in (".png", ".jpg", ".pdf")]
    if data is not None:
        phototest = next(s for s in datasets.load(data / "eval/tesseract_testing") if s.image.name == "phototest.png")
        items.append((phototest.image, phototest.text))
    print(f"{'page':<22} {'CER %':>7} {'s/page':>7}")
    for path, truth in items:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            document = read_document(path, options, engine)
            times.append((time.perf_counter() - start) / len(document.pages))
        print(f"{path.name:<22} {100 * cer(document.text, truth):7.2f} {statistics.median(times):7.3f}")


def crops(data: Path, limit: int) -> None:
    """Line-mode word accuracy on the first ``limit`` crops of each crop set."""
    engine = create_engine("tesseract", ScanOptions(mode="line"))
    print(f"\n{'crop set':<26} {'crops':>5} {'acc %':>6} {'empty':>5} {'ms/crop':>7}")
    for name in CROP_SETS:
        samples = datasets.load(data / "eval" / name, limit)
        images = [load_pages(s.image)[0] for s in samples]
        start = time.perf_counter()
        texts = [engine.read(image, "line").text for image in images]
        elapsed = time.perf_counter() - start
        right = sum(alnum_caseless(t) == alnum_caseless(s.text) for t, s in zip(texts, samples))
        empty = sum(not t.strip() for t in texts)
        print(f"{name:<26} {len(samples):5d} {100 * right / len(samples):6.1f} {empty:5d} {1000 * elapsed / len(samples):7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data",
                        help="the shared data folder (skipped when missing)")
    parser.add_argument("--crops", type=int, default=300, help="crops per crop set")
    parser.add_argument("--runs", type=int, default=3, help="reads per page for the timing")
    args = parser.parse_args()
    data = args.data if (args.data / "eval").is_dir() else None
    pages(data, args.runs)
    if data is not None:
        crops(data, args.crops)


if __name__ == "__main__":
    main()
