"""Detector post-processing: region and affinity maps → word outlines in map coordinates.

Characters are the pixels whose region score exceeds ``low_text``; the affinity above
``link_threshold`` links neighbouring characters; each connected component of the union
whose strongest region score reaches ``text_threshold`` is one word. Its outline is the
minimum-area rotated rectangle of its (dilated) character pixels, or, when that rectangle
is a poor fit because the word bends, a polygon following the word along its long axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


@dataclass(frozen=True)
class MapWord:
    """A word in score-map coordinates: a K×2 float polygon (clockwise from top-left) and a confidence."""

    polygon: np.ndarray
    confidence: float


# A component whose following polygon covers less than this share of its rotated
# rectangle is treated as curved text.
CURVED_FILL = 0.7


def order_clockwise(box: np.ndarray) -> np.ndarray:
    """A polygon's corners clockwise on screen (y down), starting from the top-left-most one."""
    points = np.asarray(box, dtype=np.float64).tolist()  # plain floats: this runs once per word
    n = len(points)
    twice_area = sum(points[i][0] * points[i - n + 1][1] - points[i - n + 1][0] * points[i][1] for i in range(n))
    if twice_area < 0:
        points.reverse()
    start = min(range(n), key=lambda i: points[i][0] + points[i][1])
    return np.array(points[start:] + points[:start])


def _rectangle(points: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Rotated bounding rectangle of pixel points; axis-aligned when nearly square (no arbitrary angle)."""
    rect = cv2.minAreaRect(points)
    width, height = rect[1]
    if max(width, height) <= 1.1 * min(width, height):
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        return box, (float(x1 - x0), float(y1 - y0))
    return order_clockwise(cv2.boxPoints(rect).astype(np.float64)), (width, height)


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
    map_h, map_w = region.shape
    text_u8 = text.view(np.uint8)
    words = []
    for k, (x, y, w, h, area) in enumerate(stats.tolist()):
        if k == 0 or area < thresholds.min_area or peaks[k] < thresholds.text_threshold:
            continue
        # Dilate by a margin that grows with the component's thickness: the region
        # score above low_text covers only the core of each character.
        margin = int(math.sqrt(area * min(w, h) / (w * h)) * 2)
        x0, y0 = max(0, x - margin), max(0, y - margin)
        x1, y1 = min(map_w, x + w + margin + 1), min(map_h, y + h + margin + 1)
        characters = (labels[y0:y1, x0:x1] == k).view(np.uint8) & text_u8[y0:y1, x0:x1]
        if margin:
            characters = cv2.dilate(characters, np.ones((1 + margin, 1 + margin), np.uint8))
        points = cv2.findNonZero(characters).reshape(-1, 2) + np.array([x0, y0], np.int32)
        box, (width, height) = _rectangle(points)
        polygon = box
        rect_area = (width + 1) * (height + 1)
        # A following polygon covers at least the pixels, so only a sparse rectangle can bend.
        if len(points) < CURVED_FILL * rect_area:
            curved = _following_polygon(points.astype(np.float64), box)
            if curved is not None and ShapelyPolygon(curved).area < CURVED_FILL * rect_area:
                polygon = curved
        words.append(MapWord(polygon, min(float(peaks[k]), 1.0)))
    return words
