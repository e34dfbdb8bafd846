"""Visualization: word outlines drawn over the page image, colored by confidence; page previews for viewers."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image, ImageDraw

from ..document import Page


def confidence_color(confidence: float) -> tuple[int, int, int]:
    """Red at 0, yellow at 0.5, green at 1."""
    c = min(max(confidence, 0.0), 1.0)
    return (255, round(510 * c), 0) if c < 0.5 else (round(510 * (1.0 - c)), 255, 0)


def draw_words(image: np.ndarray, page: Page) -> np.ndarray:
    """A copy of ``image`` (H×W×3 uint8 RGB) with every word polygon of ``page`` outlined."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 image, got shape {image.shape} {image.dtype}")
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(max(image.shape[:2]) / 1000))
    for word in page.words:
        draw.polygon(word.polygon, outline=confidence_color(word.confidence), width=width)
    return np.array(canvas)


PREVIEW_SIDE = 2000
"""Longer side, in pixels, of a page preview (larger pages are shrunk; outlines scale with the page size)."""


def preview_url(image: np.ndarray) -> str:
    """A ``data:`` URL of ``image`` (H×W×3 uint8 RGB) as a JPEG for a viewer, at most :data:`PREVIEW_SIDE` pixels
    on its longer side (a viewer stretches it over the page's own width and height)."""
    picture = Image.fromarray(image)
    picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
