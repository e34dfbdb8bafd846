"""Paper, screens and photographs told apart, and the ``auto`` detector reading each with its own model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ocr.detection import Detector, is_photograph
from ocr.detection.page_kind import flat_share, is_paper
from ocr.runtime import RuntimeConfig

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _sample(name: str) -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / name).convert("RGB"))


def _street(seed: int = 0) -> np.ndarray:
    """A rough, many-toned picture like a camera's: blotches of colour under sensor noise, with a sign on it."""
    rng = np.random.default_rng(seed)
    blotches = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (640, 480), interpolation=cv2.INTER_CUBIC)
    picture = np.clip(blotches + rng.normal(0, 6, blotches.shape), 0, 255).astype(np.uint8)
    cv2.putText(picture, "OPEN 24 HOURS", (140, 250), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (250, 250, 250), 4)
    return picture


def _screen() -> np.ndarray:
    """A drawn screen: a smooth dark gradient, a flat panel and large light type (no noise)."""
    ramp = np.linspace(20, 90, 480, dtype=np.float32)[:, None, None] * np.array([0.3, 0.4, 1.0], dtype=np.float32)
    screen = np.broadcast_to(ramp, (480, 640, 3)).astype(np.uint8).copy()
    cv2.rectangle(screen, (60, 60), (580, 200), (30, 110, 60), -1)
    cv2.putText(screen, "LEVEL 3 - 1", (110, 160), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 255), 5)
    return screen


@pytest.mark.parametrize("name", ["clean_page.png", "receipt.png", "rotated_page.png", "scoreboard.png"])
def test_pages_and_screens_are_not_photographs(name: str) -> None:
    assert not is_photograph(_sample(name))


def test_a_screen_is_flat_not_paper_and_a_camera_picture_is_neither() -> None:
    screen, street = _screen(), _street()
    gray_screen = cv2.cvtColor(screen, cv2.COLOR_RGB2GRAY)
    assert not is_paper(gray_screen) and flat_share(gray_screen) > 0.9 and not is_photograph(screen)
    gray_street = cv2.cvtColor(street, cv2.COLOR_RGB2GRAY)
    assert not is_paper(gray_street) and flat_share(gray_street) < 0.3 and is_photograph(street)
    assert is_photograph(gray_street)  # gray input as well


def test_tiny_images_do_not_break_the_measures() -> None:
    assert flat_share(np.zeros((1, 1), np.uint8)) == 1.0
    assert not is_photograph(np.zeros((1, 3, 3), np.uint8))


class _Recorder:
    """A score model that notes each call and returns empty maps of the right shape."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, tensor: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.zeros((1, 2, tensor.shape[2] // 2, tensor.shape[3] // 2), np.float32)


def test_a_routed_detector_sends_photographs_to_its_photo_model_only() -> None:
    pages, photos = _Recorder(), _Recorder()
    detector = Detector(pages, photo_model=photos)
    assert detector.detect(_sample("clean_page.png")) == [] and (pages.calls, photos.calls) == (1, 0)
    detector.detect(_street())
    detector.detect(_screen())
    assert (pages.calls, photos.calls) == (2, 1)
    alone = Detector(pages)  # without a photo model every page goes to the one model
    alone.detect(_street())
    assert pages.calls == 3


def test_the_auto_detector_reads_with_the_shipped_students() -> None:
    runtime = RuntimeConfig(intra_op_threads=1)
    auto = Detector.named("auto", runtime=runtime)
    student, photo = Detector.named("student-int8", runtime=runtime), Detector.named("photo-int8", runtime=runtime)
    for image, expected in ((_sample("scoreboard.png"), student), (_street(), photo)):
        got, _ = auto.score_maps(image)
        want, _ = expected.score_maps(image)
        np.testing.assert_array_equal(got, want)
    street = _street()
    assert not np.array_equal(student.score_maps(street)[0], photo.score_maps(street)[0])
