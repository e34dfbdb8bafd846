"""Read whole text lines and cut the readings into words with boxes.

A line crop gives the recognizer the context a word crop lacks (a price's decimal point,
the spacing between words) and spares it the detector's splits: CRAFT often cuts
``12.50`` or ``A/C:`` into pieces, the line reading keeps them whole. Word boundaries are
the spaces the recognizer reads; each word's box is the union of the detector's outlines
that cover its characters, cut at the midpoints to the neighbouring words, or, with no
outline there, the span of its characters' positions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..document import Polygon
from ..layout import TextLine
from ..profile import stage
from .crops import crop_region
from .predictor import Reading, Recognizer, word_confidence

LINE_PAD = 0.3
"""Blank margin left and right of a line crop, times the line's height."""


@dataclass(frozen=True)
class LineWord:
    """One word of a line reading: its page polygon, text, confidence and character probabilities."""

    polygon: Polygon
    text: str
    confidence: float
    char_confidences: tuple[float, ...]


VERTICAL_RATIO = 2.0
"""A line of one outline at least this many times taller than wide runs up or down the page (a margin
stamp, a document number): its text height is its width."""


def line_crop(image: np.ndarray, line: TextLine, margin: float) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The crop of ``line`` (``margin`` × its text height above and below its text, :data:`LINE_PAD` ×
    that height before and after it), with its frame rectangle (x0, y0, x1, y1)."""
    box = line.box
    width, height = box.x1 - box.x0, box.y1 - box.y0
    if len(line.word_boxes) == 1 and height >= VERTICAL_RATIO * width:
        x0, x1 = box.x0 - margin * width, box.x1 + margin * width
        y0, y1 = box.y0 - LINE_PAD * width, box.y1 + LINE_PAD * width
    else:
        x0, x1 = box.x0 - LINE_PAD * height, box.x1 + LINE_PAD * height
        y0, y1 = box.y0 - margin * height, box.y1 + margin * height
    if line.straight:  # sliced, not warped: keep to whole pixels inside the image so columns map exactly
        x0, x1 = max(0, math.floor(x0)), min(image.shape[1], math.ceil(x1))
        y0, y1 = max(0, math.floor(y0)), min(image.shape[0], math.ceil(y1))
    return crop_region(image, line.polygon(x0, y0, x1, y1)), (x0, y0, x1, y1)


def _char_positions(reading: Reading) -> tuple[float, ...]:
    """Where along the crop each character of ``reading`` lies (0-1); spread evenly where the model does not say."""
    if len(reading.positions) == len(reading.text):
        return reading.positions
    return tuple((i + 0.5) / len(reading.text) for i in range(len(reading.text)))


def split_words(reading: Reading, line: TextLine, left: float, right: float) -> list[LineWord]:
    """The words of ``reading`` (of the crop spanning frame abscissas ``left``–``right`` of ``line``)."""
    text = reading.text
    tokens = [m.span() for m in re.finditer(r"\S+", text)]
    if not tokens:
        return []
    box = line.box
    x = [left + p * (right - left) for p in _char_positions(reading)]
    pitch = float(np.median(np.diff(x))) if len(x) > 1 else 0.5 * (box.y1 - box.y0)
    firsts, lasts = [x[a] for a, _ in tokens], [x[b - 1] for _, b in tokens]

    members: list[list[int]] = [[] for _ in tokens]
    for k, word in enumerate(line.word_boxes):
        # every word whose characters the outline covers; else the nearest word within a character
        distance = [max(first - word.x1, word.x0 - last, 0.0) for first, last in zip(firsts, lasts)]
        covered = [t for t, d in enumerate(distance) if d == 0.0]
        nearest = int(np.argmin(distance))
        for t in covered or ([nearest] if distance[nearest] <= pitch else []):
            members[t].append(k)

    words = []
    for t, (a, b) in enumerate(tokens):
        outlines = [line.word_boxes[k] for k in members[t]]
        low, high = firsts[t] - pitch / 2, lasts[t] + pitch / 2
        x0 = min((w.x0 for w in outlines), default=low)
        x1 = max((w.x1 for w in outlines), default=high)
        if t > 0:
            x0 = max(x0, (lasts[t - 1] + firsts[t]) / 2)
        if t + 1 < len(tokens):
            x1 = min(x1, (lasts[t] + firsts[t + 1]) / 2)
        if x1 <= x0:
            x0, x1 = low, high
        y0 = min((w.y0 for w in outlines), default=box.y0)
        y1 = max((w.y1 for w in outlines), default=box.y1)
        confidences = reading.char_confidences[a:b]
        words.append(LineWord(line.polygon(x0, y0, x1, y1), text[a:b], word_confidence(confidences), confidences))
    return words


def split_turned(reading: Reading, line: TextLine, top: float, bottom: float) -> list[LineWord]:
    """The words of ``reading``, read turned (``reading.turn``) from the crop spanning frame ordinates
    ``top``–``bottom`` of ``line``: each spans the line's width and its characters' stretch of its height."""
    text, box = reading.text, line.box
    y = [top + p * (bottom - top) if reading.turn > 0 else bottom - p * (bottom - top) for p in _char_positions(reading)]
    half = abs(float(np.median(np.diff(y)))) / 2 if len(y) > 1 else 0.25 * (box.x1 - box.x0)
    words = []
    for match in re.finditer(r"\S+", text):
        a, b = match.span()
        y0, y1 = sorted((y[a], y[b - 1]))
        confidences = reading.char_confidences[a:b]
        words.append(LineWord(line.polygon(box.x0, max(box.y0, y0 - half), box.x1, min(box.y1, y1 + half)),
                              text[a:b], word_confidence(confidences), confidences))
    return words


def read_lines(recognizer: Recognizer, image: np.ndarray, lines: Sequence[TextLine], margin: float) -> list[LineWord]:
    """Every word of ``lines`` of ``image``, line by line, each line left to right (or in reading order
    when it runs up or down the page)."""
    with stage("line crops", len(lines)):
        crops = [line_crop(image, line, margin) for line in lines]
    with stage("recognizer", len(crops)):
        readings = recognizer.read([crop for crop, _ in crops])
    with stage("words from lines", len(lines)):
        return [word for line, (_, (x0, y0, x1, y1)), reading in zip(lines, crops, readings)
                for word in (split_turned(reading, line, y0, y1) if reading.turn else split_words(reading, line, x0, x1))]


def confirm_characters(recognizer: Recognizer, image: np.ndarray, polygons: Sequence[Polygon], margin: float,
                       confidence: float) -> list[LineWord]:
    """The faint characters (detector outlines ``polygons``) that the recognizer, reading each alone, reads
    as a letter or digit with at least ``confidence``; one word each, with its outline. Read once: nearly
    every faint crop is unsure, and a second look doubled the stage (8 kept of 183 on 15 held-out forms)."""
    if not polygons:
        return []
    with stage("faint characters", len(polygons)):
        readings = recognizer.read([crop_region(image, polygon, margin) for polygon in polygons], reread=False)
        return [LineWord(polygon, reading.text, reading.confidence, reading.char_confidences)
                for polygon, reading in zip(polygons, readings)
                if reading.confidence >= confidence and " " not in reading.text and any(c.isalnum() for c in reading.text)]
