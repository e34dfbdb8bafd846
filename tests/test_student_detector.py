"""The shipped Lite-CRAFT students (pages, photographs): each int8 variant reads the samples like its fp32 model,
and a large page keeps its resolution."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ocr.detection import Detector, DetectorConfig
from ocr.runtime import RuntimeConfig

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module", params=["student", "photo"])
def detectors(request: pytest.FixtureRequest) -> tuple[Detector, Detector]:
    runtime = RuntimeConfig(intra_op_threads=1)
    return Detector.named(request.param, runtime=runtime), Detector.named(f"{request.param}-int8", runtime=runtime)


@pytest.mark.parametrize("sample", ["noisy_scan.jpg", "receipt.png", "clean_page.png", "scoreboard.png"])
def test_int8_maps_and_words_match_fp32(detectors, sample: str) -> None:
    fp32, int8 = detectors
    image = np.asarray(Image.open(SAMPLES / sample).convert("RGB"))
    expected, _ = fp32.score_maps(image)
    got, _ = int8.score_maps(image)
    # Saturating int8 kernels (full-range weights without VNNI) gave RMS 0.02-0.05 and lost words.
    assert float(np.sqrt(np.mean((got - expected) ** 2))) < 0.012
    assert float(np.abs(got - expected).max()) < 0.25
    assert abs(len(int8.detect(image)) - len(fp32.detect(image))) <= 1


def test_large_page_keeps_its_resolution_and_maps_words_back() -> None:
    """A 300 dpi-sized page grows the canvas past 1280 (its memory given back after the run), and its words land
    where the same page's words land at the usual size."""
    page = np.asarray(Image.open(SAMPLES / "clean_page.png").convert("RGB"))
    factor = 4.5  # 773 -> 3478 pixels: a 300 dpi scan's size
    large = cv2.resize(page, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    runtime = RuntimeConfig(intra_op_threads=1)
    grown = Detector.named("student-int8", DetectorConfig(max_canvas_size=2048), runtime)
    _, prepared = grown.score_maps(large)
    assert max(prepared.resized) == 2048
    assert prepared.tensor.shape[2] * prepared.tensor.shape[3] > grown.model.release_above  # memory given back
    expected = [np.mean(w.polygon, axis=0) for w in Detector.named("student-int8", runtime=runtime).detect(page)]
    found = [np.mean(w.polygon, axis=0) / factor for w in grown.detect(large)]
    assert len(expected) >= 20
    matched = sum(min(np.hypot(*(f - e)) for f in found) < 4 for e in expected)
    assert matched >= 0.9 * len(expected)
