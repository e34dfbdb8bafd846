"""Median seconds per page for the CRAFT teacher and the Lite-CRAFT student on a 1000×1400 document page.

Full detection (pre-processing, onnxruntime, post-processing) at the default canvas (1280, mag 1.5),
and the median of each stage.
Usage: python benchmarks/detector_speed.py [--models teacher student student-int8] [--threads 1 2] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.detection.postprocess import find_words
from ocr.detection.predictor import DETECTOR_MODELS, Detector, OnnxScoreModel, model_paths
from ocr.detection.preprocess import prepare
from ocr.runtime import RuntimeConfig

WIDTH, HEIGHT = 1000, 1400
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
WORDS = "the invoice total amount of this page is printed in a plain serif font with numbers 12.50 and dates 2024-01-31".split()


def document_page() -> np.ndarray:
    """A white page with 60 lines of 11–13 pt text (about 600 words)."""
    page = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(FONT, 17)
    rng = np.random.default_rng(0)
    for row in range(60):
        line = " ".join(rng.choice(WORDS, 10))
        draw.text((70, 60 + row * 21), line, font=font, fill="black")
    return np.asarray(page)


def median_seconds(detector: Detector, page: np.ndarray, runs: int) -> tuple[float, float, int, dict[str, float]]:
    """Median wall and CPU seconds per page, the words found, and the median wall seconds of each stage.

    On a shared machine the wall time includes waiting for the CPU; with one thread the CPU time is
    what the page would take on an idle core.
    """
    config = detector.config
    detector.detect(page)
    wall, cpu, stages = [], [], {"pre": [], "model": [], "post": []}
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        words = detector.detect(page)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        marks = [time.perf_counter()]
        prepared = prepare(page, config.canvas_size, config.mag_ratio)
        marks.append(time.perf_counter())
        maps = detector.model(prepared.tensor)[0]
        marks.append(time.perf_counter())
        find_words(maps[0], maps[1], config.thresholds)
        marks.append(time.perf_counter())
        for name, begin, end in zip(stages, marks, marks[1:]):
            stages[name].append(end - begin)
    medians = {name: statistics.median(values) for name, values in stages.items()}
    return statistics.median(wall), statistics.median(cpu), len(words), medians


def matmul_gflops(side: int = 1024, runs: int = 7) -> float:
    """This CPU's fp32 matrix-multiply rate right now (best of ``runs``): a VM's speed drifts over the day,
    so the page times are printed beside it."""
    a = np.random.default_rng(0).random((side, side), dtype=np.float32)
    a @ a
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - started)
    return 2 * side**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(DETECTOR_MODELS),
                        default=["teacher", "student", "student-int8"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    page = document_page()
    print(f"page {WIDTH}x{HEIGHT}, canvas 1280, mag 1.5, median of {args.runs} runs; load average {os.getloadavg()[0]:.1f}; "
          f"fp32 matrix multiply {matmul_gflops():.0f} GFLOP/s")
    for name in args.models:
        (path,) = model_paths(name)
        if not path.is_file():
            print(f"{name:>13}: {path} missing")
            continue
        for threads in args.threads:
            detector = Detector(OnnxScoreModel(path, RuntimeConfig(intra_op_threads=threads)))
            wall, cpu, found, stages = median_seconds(detector, page, args.runs)
            split = ", ".join(f"{stage} {seconds:.3f}" for stage, seconds in stages.items())
            print(f"{name:>13}: {threads} thread(s) {wall:.3f} s/page wall, {cpu:.3f} s CPU ({found} words; {split})")


if __name__ == "__main__":
    main()
