"""Detector pre-processing: resize to the canvas, pad to a multiple of 32, normalize."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
STRIDE = 32
_NORMALIZED = ((np.arange(256, dtype=np.float32)[:, None] / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).T.copy()
"""3×256 table: each channel's normalized value of every byte (one lookup instead of float arithmetic)."""


@dataclass(frozen=True)
class Prepared:
    """A network-ready batch of one image and how to map its coordinates back.

    ``tensor`` is 1×3×H×W float32 (H, W multiples of 32); the image occupies its
    top-left ``resized`` (height, width) pixels, the rest is black padding.
    """

    tensor: np.ndarray
    original: tuple[int, int]
    resized: tuple[int, int]

    def to_original(self, points: np.ndarray, stride: int = 1) -> np.ndarray:
        """Map (x, y) points of a map at ``stride`` over the tensor to original pixels, clipped to the image."""
        (height, width), (new_h, new_w) = self.original, self.resized
        factors = np.array([stride * width / new_w, stride * height / new_h])
        mapped = np.asarray(points, dtype=np.float64) * factors
        return np.clip(mapped, 0, [width, height])


def check_image(image: np.ndarray) -> None:
    """Raise :class:`InputError` unless ``image`` is a non-empty H×W×3 uint8 array."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        raise InputError(f"expected an H×W×3 uint8 RGB image, got {type(image).__name__} {shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError("the image is empty")


SURVEY_SIDE = 1024
"""Long side of the grey copy on which :func:`estimate_text_height` measures a page."""


LARGE_PAGE_SHARE = 0.6
"""A page longer than ``canvas_size / LARGE_PAGE_SHARE`` keeps this share of its resolution (up to
``max_canvas_size``): a 300 dpi scan shrunk to 1280 pixels leaves small print 7 pixels high, and the
detector loses one-letter words (docs/hybrid.md, "Large pages")."""


def target_scale(height: int, width: int, canvas_size: int, mag_ratio: float, max_canvas_size: int = 0) -> float:
    """The resize factor: magnify by ``mag_ratio``, capped so the long side is ≤ ``canvas_size``, or for a
    large page ≤ :data:`LARGE_PAGE_SHARE` of its own long side, up to ``max_canvas_size`` (0: no growth)."""
    long_side = max(height, width)
    cap = max(canvas_size, min(max_canvas_size, LARGE_PAGE_SHARE * long_side))
    return min(mag_ratio * long_side, cap) / long_side


def estimate_text_height(image: np.ndarray) -> float | None:
    """The median height in pixels of the character-like ink blobs of ``image`` (H×W×3 uint8), or
    ``None`` when fewer than 10 are found. A few milliseconds: Otsu's threshold and connected
    components on a grey copy at most :data:`SURVEY_SIDE` pixels on its long side; ink is the
    minority polarity, so light text on dark counts too."""
    height, width = image.shape[:2]
    factor = min(1.0, SURVEY_SIDE / max(height, width))
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if factor < 1.0:
        grey = cv2.resize(grey, (max(1, round(width * factor)), max(1, round(height * factor))),
                          interpolation=cv2.INTER_AREA)
    _, ink = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    if 2 * cv2.countNonZero(ink) > ink.size:
        ink = 1 - ink
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    w, h, area = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    blobs = (h >= 3) & (h <= 0.2 * grey.shape[0]) & (w <= 3 * h) & (area >= 0.15 * w * h)
    if blobs.sum() < 10:
        return None
    return float(np.median(h[blobs])) / factor


def prepare(image: np.ndarray, canvas_size: int, mag_ratio: float, text_height: float | None = None,
            max_canvas_size: int = 0) -> Prepared:
    """Resize ``image`` (H×W×3 uint8 RGB) for the detector and normalize it with ImageNet statistics.

    With ``text_height``, a page is not magnified beyond what its text needs: its characters
    (:func:`estimate_text_height`) are brought to about that height, never above the canvas
    and ``mag_ratio``; large pages may grow the canvas up to ``max_canvas_size`` (:func:`target_scale`)."""
    check_image(image)
    height, width = image.shape[:2]
    scale = target_scale(height, width, canvas_size, mag_ratio, max_canvas_size)
    if text_height is not None and (found := estimate_text_height(image)) is not None:
        scale = min(scale, text_height / found)
    new_h, new_w = max(1, int(height * scale)), max(1, int(width * scale))
    # Bilinear sampling reaches every source pixel down to half size; only below that does
    # it skip pixels and need area averaging (which costs 5× more).
    interpolation = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation) if scale != 1 else image
    tensor = np.empty((1, 3, new_h + -new_h % STRIDE, new_w + -new_w % STRIDE), dtype=np.float32)
    for plane, channel, table in zip(tensor[0], cv2.split(resized), _NORMALIZED):
        cv2.LUT(channel, table, dst=plane[:new_h, :new_w])  # written in place: no float temporaries
        plane[new_h:], plane[:new_h, new_w:] = table[0], table[0]  # black padding
    return Prepared(tensor, (height, width), (new_h, new_w))
