"""Word crops (and text lines) read per second by recognizer models on onnxruntime.

The whole predictor is timed: pre-processing, batching, the model, decoding and the second
reading (inverted or stretched) of unsure crops, on 1,000 rendered word crops (3–12 characters, 20–40 px
high) handed over in calls of 250, about a dense page. Reports wall-clock crops/s and crops
per CPU-second (on a shared machine the latter is what an idle core would do with one
thread). With ``--lexicon`` each model is also timed with word-list correction (the crops
are random strings, so every word is looked up: the worst case).
Usage: python benchmarks/recognizer_speed.py [--models english_g2 weights/x.onnx] [--threads 1 2] [--lines] [--lexicon]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.errors import EngineError
from ocr.models import weights_dir
from ocr.recognition import Recognizer
from ocr.recognition.lexicon import Lexicon
from ocr.recognition.predictor import load_config
from ocr.runtime import RuntimeConfig

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf",
]
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,-"
CALL = 250


def render(text: str, font: ImageFont.FreeTypeFont) -> np.ndarray:
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 8, bottom - top + 8), 255)
    ImageDraw.Draw(image).text((4 - left, 4 - top), text, font=font, fill=0)
    return np.asarray(image)


def crops(count: int, lines: bool, seed: int = 0) -> list[np.ndarray]:
    """``count`` rendered words (or lines of 4–10 words) in assorted fonts and sizes."""
    rng = np.random.default_rng(seed)
    fonts = [ImageFont.truetype(f, size) for f in FONTS if os.path.isfile(f) for size in (16, 22, 30)]
    out = []
    for _ in range(count):
        words = ["".join(rng.choice(list(LETTERS), rng.integers(3, 13))) for _ in range(rng.integers(4, 11) if lines else 1)]
        out.append(render(" ".join(words), fonts[rng.integers(len(fonts))]))
    return out


def rate(recognizer: Recognizer, images: list[np.ndarray]) -> tuple[float, float]:
    """(crops per wall second, crops per CPU second) over ``images``, after one warm-up call."""
    recognizer.read(images[:CALL])
    started, started_cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(images), CALL):
        recognizer.read(images[start : start + CALL])
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return len(images) / wall, len(images) / cpu


def installed_recognizers() -> list[str]:
    """Names of the recognizers in the weights folder (an ``.onnx`` with a recognizer ``.json``)."""
    names = []
    for config in sorted(weights_dir().glob("*.json")):
        try:
            load_config(config)
        except EngineError:
            continue
        if config.with_suffix(".onnx").is_file():
            names.append(config.stem)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None, help="names in weights/ or .onnx paths [every recognizer there]")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--lines", action="store_true", help="text lines of 4–10 words instead of single words")
    parser.add_argument("--lexicon", action="store_true", help="also time each model with the word list lexicon_en")
    args = parser.parse_args()
    models = args.models or installed_recognizers()
    images = crops(args.count, args.lines)
    kind = "lines" if args.lines else "word crops"
    print(f"{len(images)} rendered {kind}, calls of {CALL}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'model':<32} {'threads':>7} {'crops/s':>9} {'crops/CPU-s':>12}")
    lexicons = [None, Lexicon.load()] if args.lexicon else [None]
    for name in models:
        for threads in args.threads:
            for lexicon in lexicons:
                recognizer = Recognizer(name, RuntimeConfig(intra_op_threads=threads), lexicon)
                wall, cpu = rate(recognizer, images)
                label = name + ("+lexicon" if lexicon else "")
                print(f"{label:<32} {threads:>7} {wall:>9.0f} {cpu:>12.0f}")


if __name__ == "__main__":
    main()
