"""Detector stages: pre-processing and the mapping of word outlines back to original pixels.

A stand-in score model (:func:`craft_fakes.ink_model`) makes the maps from the image itself,
so every resize, pad and rotation is checked against shapes drawn at known places.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from shapely.geometry import Polygon

from craft_fakes import ink_model, page
from ocr.detection import Detector, DetectorConfig, prepare
from ocr.detection.preprocess import IMAGENET_MEAN, IMAGENET_STD
from ocr.errors import InputError


def iou(a: Polygon, b: Polygon) -> float:
    return a.intersection(b).area / a.union(b).area


RECTANGLES = [
    np.array([[40, 30], [200, 30], [200, 62], [40, 62]], float),
    np.array([[300, 150], [480, 150], [480, 190], [300, 190]], float),
    np.array([[60, 300], [150, 300], [150, 324], [60, 324]], float),
]


@pytest.mark.parametrize(
    ("canvas_size", "mag_ratio"),
    [(1280, 1.0), (1280, 1.5), (2560, 2.5), (320, 1.5), (200, 1.0)],
    ids=["as-is", "magnified", "large-canvas", "shrunk", "shrunk-more"],
)
def test_words_map_back_to_original_pixels(canvas_size: int, mag_ratio: float) -> None:
    image = page(347, 517, RECTANGLES)  # odd sizes: padding on both axes
    detector = Detector(ink_model, DetectorConfig(canvas_size=canvas_size, mag_ratio=mag_ratio))
    found = detector.detect(image)
    assert len(found) == len(RECTANGLES)
    for drawn in RECTANGLES:
        best = max(found, key=lambda w: iou(Polygon(w.polygon), Polygon(drawn)))
        outline = Polygon(best.polygon)
        assert iou(outline, Polygon(drawn)) > 0.75
        assert np.allclose(outline.centroid.coords[0], drawn.mean(axis=0), atol=3 * max(1, 517 / canvas_size))
        assert outline.within(Polygon([(0, 0), (517, 0), (517, 347), (0, 347)]).buffer(1e-6))


def test_rotated_word_keeps_its_angle_in_original_pixels() -> None:
    centre, size, angle = (260.0, 180.0), (240.0, 36.0), 25.0
    drawn = cv2.boxPoints((centre, size, angle))
    image = page(360, 520, [drawn])
    (word,) = Detector(ink_model, DetectorConfig(canvas_size=400, mag_ratio=1.0)).detect(image)
    assert len(word.polygon) == 4
    assert iou(Polygon(word.polygon), Polygon(drawn)) > 0.72
    _, _, found_angle = cv2.minAreaRect(np.array(word.polygon, np.float32))
    assert min(abs(found_angle - angle), abs(found_angle - angle + 90), abs(found_angle - angle - 90)) < 2


def test_detections_follow_a_quarter_turn_of_the_page() -> None:
    image = page(347, 517, RECTANGLES)
    detector = Detector(ink_model, DetectorConfig(canvas_size=640, mag_ratio=1.0))
    turned = np.ascontiguousarray(np.rot90(image))  # counter-clockwise: (x, y) → (y, W - x)
    found = detector.detect(turned)
    assert len(found) == len(RECTANGLES)
    for drawn in RECTANGLES:
        expected = Polygon([(y, 517 - x) for x, y in drawn])
        assert max(iou(Polygon(w.polygon), expected) for w in found) > 0.75


def test_prepare_pads_to_multiples_of_32_and_keeps_the_mapping() -> None:
    image = np.full((101, 203, 3), 255, np.uint8)
    prepared = prepare(image, canvas_size=1280, mag_ratio=1.5)
    _, channels, height, width = prepared.tensor.shape
    assert channels == 3 and height % 32 == 0 and width % 32 == 0
    assert prepared.resized == (151, 304)
    white = (1 - IMAGENET_MEAN) / IMAGENET_STD
    black = -IMAGENET_MEAN / IMAGENET_STD
    assert np.allclose(prepared.tensor[0, :, 150, 303], white, atol=1e-5)
    assert np.allclose(prepared.tensor[0, :, 151, 0], black, atol=1e-5)  # padding
    corner = prepared.to_original(np.array([[152.0, 75.5]]), stride=2)
    assert np.allclose(corner, [[203, 101]], atol=0.5)


def test_long_side_capped_by_canvas() -> None:
    prepared = prepare(np.zeros((1000, 3000, 3), np.uint8), canvas_size=1280, mag_ratio=1.5)
    assert prepared.resized == (426, 1280)


@pytest.mark.parametrize(
    ("shape", "long_side"),
    [((1000, 762), 1280), ((2000, 1500), 1280), ((3300, 2550), 1980), ((6600, 5100), 2048)],
    ids=["form", "medium", "300-dpi-scan", "600-dpi-scan"],
)
def test_large_pages_keep_part_of_their_resolution(shape: tuple[int, int], long_side: int) -> None:
    prepared = prepare(np.zeros((*shape, 3), np.uint8), canvas_size=1280, mag_ratio=1.5, max_canvas_size=2048)
    assert max(prepared.resized) == long_side
    assert max(prepare(np.zeros((*shape, 3), np.uint8), canvas_size=1280, mag_ratio=1.5).resized) == 1280


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 5, 3), np.uint8)],
    ids=["gray", "rgba", "float", "empty"],
)
def test_bad_images_raise_one_line_input_errors(bad: np.ndarray) -> None:
    with pytest.raises(InputError):
        Detector(ink_model).detect(bad)


def test_blank_page_has_no_words() -> None:
    assert Detector(ink_model).detect(np.zeros((64, 64, 3), np.uint8)) == []


def _printed(size: int, px: int) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", px)
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for row in range(0, size - 2 * px, 2 * px):
        draw.text((10, 10 + row), "the quick brown fox jumps over", font=font, fill="black")
    return np.asarray(image)


def test_large_print_is_not_magnified_beyond_what_its_text_needs() -> None:
    from ocr.detection.preprocess import estimate_text_height

    large, small = _printed(600, 48), _printed(600, 12)
    assert 20 < (estimate_text_height(large) or 0) < 48 and 5 < (estimate_text_height(small) or 0) < 12
    assert estimate_text_height(np.full((200, 200, 3), 255, np.uint8)) is None  # no text: the canvas rule alone
    plain = prepare(large, 1280, 1.5)
    sized = prepare(large, 1280, 1.5, text_height=16)
    assert plain.resized == (900, 900) and sized.resized[0] < 450
    assert prepare(small, 1280, 1.5, text_height=16).resized == (900, 900)  # small print keeps its magnification
