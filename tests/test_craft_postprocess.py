"""CRAFT post-processing on synthetic score maps with known words."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from shapely.geometry import Point, Polygon

from craft_fakes import clockwise_on_screen
from ocr.detection import Thresholds, find_faint_characters, find_words


def blob(maps: np.ndarray, x: float, y: float, sx: float, sy: float, peak: float = 1.0) -> None:
    """Add a Gaussian heat (max-combined) centred on (x, y) to a 2-D map."""
    h, w = maps.shape
    yy, xx = np.mgrid[0:h, 0:w]
    maps[:] = np.maximum(maps, peak * np.exp(-(((xx - x) / sx) ** 2 + ((yy - y) / sy) ** 2) / 2))


def word(region: np.ndarray, affinity: np.ndarray, centres: list[tuple[float, float]], size: float = 3.0) -> None:
    """Characters at ``centres`` and affinities between consecutive ones."""
    for x, y in centres:
        blob(region, x, y, size, size * 1.4)
    for (x0, y0), (x1, y1) in zip(centres, centres[1:]):
        blob(affinity, (x0 + x1) / 2, (y0 + y1) / 2, size * 0.8, size * 1.2)


def empty(h: int = 120, w: int = 240) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)


def centre(polygon: np.ndarray) -> np.ndarray:
    return np.asarray(Polygon(polygon).centroid.coords[0])


def test_three_words_found_where_they_are() -> None:
    region, affinity = empty()
    words = {
        (40.0, 30.0): [(30.0 + 10 * k, 30.0) for k in range(3)],
        (145.0, 30.0): [(130.0 + 10 * k, 30.0) for k in range(4)],
        (80.0, 90.0): [(50.0 + 10 * k, 90.0) for k in range(7)],
    }
    for centres in words.values():
        word(region, affinity, centres)
    found = find_words(region, affinity)
    assert len(found) == 3
    for expected_centre, centres in words.items():
        match = [f for f in found if np.linalg.norm(centre(f.polygon) - expected_centre) < 1.5]
        assert len(match) == 1
        polygon = match[0].polygon
        assert polygon.shape == (4, 2)
        outline = Polygon(polygon)
        assert all(outline.contains(Point(x, y)) for x, y in centres)
        width = polygon[:, 0].max() - polygon[:, 0].min()
        assert len(centres) * 10 - 4 <= width <= len(centres) * 10 + 10
        assert 0.95 <= match[0].confidence <= 1.0


def test_a_square_blob_gives_an_axis_aligned_float_box() -> None:
    region, affinity = empty()
    blob(region, 60, 50, 4, 4)
    (found,) = find_words(region, affinity)
    assert found.polygon.dtype == np.float64
    x, y = found.polygon[:, 0], found.polygon[:, 1]
    assert x[0] == x[3] < x[1] == x[2] and y[0] == y[1] < y[2] == y[3]  # clockwise from the top-left, no angle
    assert abs(x.mean() - 60) < 1 and abs(y.mean() - 50) < 1


def test_faint_characters_are_isolated_components_under_the_word_threshold() -> None:
    region, affinity = empty()
    word(region, affinity, [(30, 40), (40, 40), (50, 40)])
    blob(region, 64, 40, 1.5, 3, peak=0.45)  # a lone narrow "1" right of the word, as CRAFT scores it
    blob(region, 56, 41, 1.5, 3, peak=0.45)  # faint, but touching the word: part of it, not a character
    blob(region, 150, 90, 0.4, 0.4, peak=0.5)  # a speck
    blob(region, 200, 30, 2, 3, peak=0.15)  # under the faint threshold
    thresholds = Thresholds(faint_text=0.25)
    words = find_words(region, affinity, thresholds)
    assert len(words) == 1 and not words[0].faint
    (faint,) = find_faint_characters(region, words, thresholds)
    assert faint.faint and 0.4 < faint.confidence < 0.5
    x, y = faint.polygon[:, 0], faint.polygon[:, 1]
    assert x.min() < 62 < 66 < x.max() < 70 and y.min() < 35 < 45 < y.max()
    assert not Polygon(faint.polygon).intersects(Polygon(words[0].polygon))
    assert find_faint_characters(region, words, Thresholds()) == []  # off by default


def test_words_without_affinity_between_them_stay_apart() -> None:
    region, affinity = empty()
    word(region, affinity, [(30, 40), (40, 40), (50, 40)])
    word(region, affinity, [(66, 40), (76, 40), (86, 40)])  # close, but no affinity across the gap
    assert len(find_words(region, affinity)) == 2
    blob(affinity, 58, 40, 2.4, 3.6)  # now linked
    assert len(find_words(region, affinity)) == 1


def test_weak_and_tiny_components_are_dropped() -> None:
    region, affinity = empty()
    word(region, affinity, [(30, 30), (40, 30), (50, 30)])
    blob(region, 150, 30, 3, 4, peak=0.6)  # below text_threshold 0.7
    region[100, 200] = 1.0  # one strong pixel: below min_area
    found = find_words(region, affinity)
    assert len(found) == 1
    assert len(find_words(region, affinity, Thresholds(text_threshold=0.5))) == 2


def test_rotated_word_gives_rotated_rectangle() -> None:
    region, affinity = empty(200, 200)
    angle = math.radians(30)
    centres = [(60 + 12 * k * math.cos(angle), 60 + 12 * k * math.sin(angle)) for k in range(6)]
    word(region, affinity, centres)
    (found,) = find_words(region, affinity)
    assert found.polygon.shape == (4, 2)
    long_edge = max(
        (found.polygon[(k + 1) % 4] - found.polygon[k] for k in range(4)), key=lambda e: float(np.hypot(*e))
    )
    direction = math.degrees(math.atan2(long_edge[1], long_edge[0])) % 180
    assert abs(direction - 30) < 3
    assert Polygon(found.polygon).contains(Polygon(centres).convex_hull.buffer(1))


def test_curved_word_gives_following_polygon() -> None:
    region, affinity = empty(200, 260)
    centres = [(130 + 90 * math.cos(t), 170 - 90 * math.sin(t)) for t in np.linspace(math.radians(150), math.radians(30), 18)]
    word(region, affinity, centres)
    (found,) = find_words(region, affinity)
    assert len(found.polygon) > 4
    outline = Polygon(found.polygon)
    assert outline.is_valid
    assert all(outline.contains(Point(x, y)) for x, y in centres)
    rect = cv2.minAreaRect(found.polygon.astype(np.float32))
    assert outline.area < 0.7 * rect[1][0] * rect[1][1]
    assert clockwise_on_screen(found.polygon)


@pytest.mark.parametrize("degrees", [-70, -30, -8, 8, 30, 70, 110])
def test_rotated_rectangle_corners_run_clockwise_from_the_top_left(degrees: float) -> None:
    region, affinity = empty(200, 200)
    angle = math.radians(degrees)
    centres = [(100 + 12 * k * math.cos(angle), 100 + 12 * k * math.sin(angle)) for k in range(-3, 4)]
    word(region, affinity, centres)
    (found,) = find_words(region, affinity)
    corners = found.polygon
    assert clockwise_on_screen(corners)
    assert int(np.argmin(corners.sum(axis=1))) == 0
    pixels = np.argwhere(region > Thresholds().low_text)[:, ::-1].astype(np.float32)
    expected = cv2.boxPoints(cv2.minAreaRect(pixels))  # the same rectangle, up to the dilation margin
    assert Polygon(corners).contains(Polygon(expected).buffer(-0.5))
