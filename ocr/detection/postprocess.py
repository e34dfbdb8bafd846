"""Detector post-processing: region and affinity maps → word outlines in map coordinates.

Characters are the pixels whose region score exceeds ``low_text``; the affinity above
``link_threshold`` links neighbouring characters; each connected component of the union
whose strongest region score reaches ``text_threshold`` is one word. Its outline is the
minimum-area rotated rectangle of its (dilated) character pixels, or, when that rectangle
is a poor fit because the word bends, a polygon following the word along its long axis.

CRAFT scores an isolated narrow character (a receipt's quantity ``1``, a tax code) far under
``text_threshold`` (0.3–0.45 where words reach 0.9). :func:`find_faint_characters` proposes
such components, away from every word, for a recognizer to confirm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from shapely.geometry import Polygon as ShapelyPolygon


@dataclass(frozen=True)
class Thresholds:
    """The paper's knobs on score maps (``min_area`` in map pixels)."""

    text_threshold: float = 0.7
    link_threshold: float = 0.4
    low_text: float = 0.4
    min_area: int = 10
    faint_text: float = 0.0
    """Components of region score above this (0: none) that reach no word are faint characters."""


@dataclass(frozen=True)
class MapWord:
    """A word in score-map coordinates: a K×2 float polygon (clockwise from top-left) and a confidence."""

    polygon: np.ndarray
    confidence: float
    faint: bool = False
    """A faint character (:func:`find_faint_characters`), not a word: a recognizer must confirm it."""


FAINT_MIN_AREA = 3
"""Faint components smaller than this many map pixels are specks."""

FAINT_PAD = 0.5
"""A faint character's box is its component's padded by this share of its longer side (the score
above ``faint_text`` covers only a character's core)."""


# A component whose following polygon covers less than this share of its rotated
# rectangle is treated as curved text.
CURVED_FILL = 0.7


def _rectangle(points: np.ndarray) -> tuple[list[list[float]], tuple[float, float]]:
    """Rotated bounding rectangle of pixel points (corners clockwise from the top-left-most) and its size.

    Nearly square rectangles are axis-aligned instead: their angle is arbitrary. Plain floats: this
    runs once per word.
    """
    (cx, cy), (width, height), angle = cv2.minAreaRect(points)
    if max(width, height) <= 1.1 * min(width, height):
        x, y, w, h = cv2.boundingRect(points)
        x1, y1 = x + w - 1, y + h - 1
        return [[x, y], [x1, y], [x1, y1], [x, y1]], (float(w - 1), float(h - 1))
    # The corners as cv2.boxPoints orders them (bottom-left, top-left, top-right, bottom-right: clockwise).
    half_cos, half_sin = math.cos(math.radians(angle)) / 2, math.sin(math.radians(angle)) / 2
    ax, ay = cx - half_sin * height - half_cos * width, cy + half_cos * height - half_sin * width
    bx, by = cx + half_sin * height - half_cos * width, cy - half_cos * height - half_sin * width
    corners = [[ax, ay], [bx, by], [2 * cx - ax, 2 * cy - ay], [2 * cx - bx, 2 * cy - by]]
    sums = [x + y for x, y in corners]
    start = sums.index(min(sums))
    return corners[start:] + corners[:start], (width, height)


@lru_cache(maxsize=None)
def _square(side: int) -> np.ndarray:
    """A ``side``×``side`` dilation kernel."""
    return np.ones((side, side), np.uint8)


def _following_polygon(points: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """A polygon tracing the top and bottom extent of ``points`` along the box's long axis.

    ``None`` when the word is too short to bend or the result is not a simple polygon.
    """
    edge_a, edge_b = box[1] - box[0], box[3] - box[0]
    long_edge = edge_a if np.hypot(*edge_a) >= np.hypot(*edge_b) else edge_b
    length = float(np.hypot(*long_edge))
    stroke = len(points) / max(length, 1.0)  # the band's thickness, even when it bends
    slices = min(16, int(round(length / max(stroke, 1.0))))
    if slices < 3:
        return None
    along = long_edge / length
    if along[0] < 0 or (along[0] == 0 and along[1] < 0):
        along = -along
    across = np.array([-along[1], along[0]])  # points down the page for left-to-right text
    centre = box.mean(axis=0)
    s = (points - centre) @ along
    t = (points - centre) @ across
    edges = np.linspace(s.min(), s.max() + 1e-6, slices + 1)
    index = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, slices - 1)
    positions = (edges[:-1] + edges[1:]) / 2
    positions[0], positions[-1] = edges[0], edges[-1]  # the end slices reach the word's ends
    top, bottom = [], []
    for k in range(slices):
        inside = index == k
        if inside.any():
            top.append((positions[k], t[inside].min()))
            bottom.append((positions[k], t[inside].max()))
    if len(top) < 3:
        return None
    chain = np.array(top + bottom[::-1])
    outline = centre + chain[:, :1] * along + chain[:, 1:] * across
    shape = ShapelyPolygon(outline).simplify(0.5, preserve_topology=True)
    if not shape.is_valid or shape.is_empty or len(shape.exterior.coords) < 5:
        return None
    coords = np.array(shape.exterior.coords[:-1])
    return np.roll(coords, -int(np.argmin(coords.sum(axis=1))), axis=0)


def find_words(region: np.ndarray, affinity: np.ndarray, thresholds: Thresholds = Thresholds()) -> list[MapWord]:
    """Words in a pair of H×W score maps, as polygons in map pixel coordinates."""
    text = region > thresholds.low_text
    link = affinity > thresholds.link_threshold
    count, labels, stats, _ = cv2.connectedComponentsWithStats((text | link).astype(np.uint8), connectivity=4)
    peaks = np.zeros(count, np.float32)
    inside = labels > 0
    np.maximum.at(peaks, labels[inside], region[inside])
    character_labels = np.where(text, labels, 0)  # each component's character pixels, without its links
    map_h, map_w = region.shape
    words = []
    for k, (x, y, w, h, area) in enumerate(stats.tolist()):
        if k == 0 or area < thresholds.min_area or peaks[k] < thresholds.text_threshold:
            continue
        # Dilate by a margin that grows with the component's thickness: the region
        # score above low_text covers only the core of each character.
        margin = int(math.sqrt(area * min(w, h) / (w * h)) * 2)
        x0, y0 = max(0, x - margin), max(0, y - margin)
        x1, y1 = min(map_w, x + w + margin + 1), min(map_h, y + h + margin + 1)
        characters = (character_labels[y0:y1, x0:x1] == k).view(np.uint8)
        if margin:
            characters = cv2.dilate(characters, _square(1 + margin))
        points = cv2.findNonZero(characters).reshape(-1, 2)
        corners, (width, height) = _rectangle(points)
        polygon = np.array([[px + x0, py + y0] for px, py in corners], dtype=np.float64)
        rect_area = (width + 1) * (height + 1)
        # A following polygon covers at least the pixels, so only a sparse rectangle can bend.
        if len(points) < CURVED_FILL * rect_area:
            curved = _following_polygon(points.astype(np.float64), np.array(corners))
            if curved is not None and ShapelyPolygon(curved).area < CURVED_FILL * rect_area:
                polygon = curved + (x0, y0)
        words.append(MapWord(polygon, min(float(peaks[k]), 1.0)))
    return words


def find_faint_characters(region: np.ndarray, words: list[MapWord], thresholds: Thresholds) -> list[MapWord]:
    """Components of ``region`` above ``thresholds.faint_text`` that touch none of ``words`` and peak under
    ``text_threshold``, as padded axis-aligned boxes (map coordinates) marked ``faint``; none when
    ``faint_text`` is 0."""
    if thresholds.faint_text <= 0:
        return []
    taken = np.zeros(region.shape, np.uint8)
    cv2.fillPoly(taken, [np.round(w.polygon).astype(np.int32) for w in words], 1)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((region > thresholds.faint_text).view(np.uint8),
                                                               connectivity=4)
    peaks = np.zeros(count, np.float32)
    touched = np.zeros(count, bool)
    inside = labels > 0
    np.maximum.at(peaks, labels[inside], region[inside])
    touched[labels[inside & (taken > 0)]] = True
    map_h, map_w = region.shape
    faint = []
    for k, (x, y, w, h, area) in enumerate(stats.tolist()):
        if k == 0 or touched[k] or area < FAINT_MIN_AREA or peaks[k] >= thresholds.text_threshold:
            continue
        pad = FAINT_PAD * max(w, h)
        x0, y0, x1, y1 = max(0.0, x - pad), max(0.0, y - pad), min(map_w, x + w + pad), min(map_h, y + h + pad)
        faint.append(MapWord(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), float(peaks[k]), faint=True))
    return faint
