"""What kind of image a page is: paper, a flat drawn image (a screen), or a photograph.

Two cheap measures of a gray image, each on a regular sample of its pixels (well under a millisecond
for a 2-megapixel page): how much of it lies near one gray level (:func:`is_paper`: a plain ground) and
how much of it is flat, neighbouring pixels within a gray level of each other (:func:`flat_share`: screens,
slides and drawings; a camera's noise and texture leave photographs rough). Orientation uses the first,
the ``auto`` detector both (:func:`is_photograph`).
"""

from __future__ import annotations

import cv2
import numpy as np

PAPER_SHARE = 0.75
"""Share of its pixels (every fourth row and column) within :data:`PAPER_SPREAD` gray levels of its
commonest level above which an image is paper, not a photograph: the tesseract_testing, FUNSD and SROIE
pages are at 0.69–0.99 (only faint receipt photos under 0.75), street photographs of ICDAR 2015 at
0.04–0.62."""

PAPER_SPREAD = 25

FLAT_SIDE = 512
"""Longer side, in pixels, of the sample :func:`flat_share` measures (every n-th row and column)."""

FLAT_SHARE = 0.8
"""Share of flat pixels (see :func:`flat_share`) above which an image that is not paper is drawn, not
photographed: the score screen sample is at 0.97, rendered wallpapers 0.74–0.99; the camera photographs of
OpenCV's sample data (street scenes, objects, its scene-text samples) at 0.00–0.61."""


def is_paper(gray: np.ndarray) -> bool:
    """Whether the gray image is a page of paper (a plain ground, :data:`PAPER_SHARE`), not a photograph."""
    sample = gray[::4, ::4]
    counts = np.bincount(sample.ravel(), minlength=256)
    common = int(counts.argmax())
    return counts[max(0, common - PAPER_SPREAD):common + PAPER_SPREAD + 1].sum() >= PAPER_SHARE * sample.size


def flat_share(gray: np.ndarray) -> float:
    """Share of the pixels of a sample of the gray image (:data:`FLAT_SIDE`) that differ by at most one gray
    level from their right and lower neighbours."""
    step = max(1, max(gray.shape) // FLAT_SIDE)
    sample = gray[::step, ::step].astype(np.int16)
    if min(sample.shape) < 2:
        return 1.0
    across = np.abs(np.diff(sample, axis=1))[:-1] <= 1
    down = np.abs(np.diff(sample, axis=0))[:, :-1] <= 1
    return float((across & down).mean())


def is_photograph(image: np.ndarray) -> bool:
    """Whether ``image`` (H×W×3 RGB or H×W gray, uint8) is a photograph: neither paper nor a flat drawn image."""
    step = max(1, max(image.shape[:2]) // (2 * FLAT_SIDE))  # a large page is looked at through every step-th pixel
    sample = np.ascontiguousarray(image[::step, ::step])
    gray = cv2.cvtColor(sample, cv2.COLOR_RGB2GRAY) if sample.ndim == 3 else sample
    return not is_paper(gray) and flat_share(gray) < FLAT_SHARE
