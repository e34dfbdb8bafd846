"""The shipped Lite-CRAFT students (pages, photographs): each int8 variant reads the samples like its fp32 model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocr.detection import Detector
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
