"""A stand-in for a CRAFT network, and a geometry check, for tests of the stages around it."""

from __future__ import annotations

import cv2
import numpy as np

from ocr.detection.preprocess import IMAGENET_MEAN, IMAGENET_STD


def ink_model(tensor: np.ndarray) -> np.ndarray:
    """1×3×H×W normalized image → 1×2×H/2×W/2 maps shaped like CRAFT's.

    Bright shapes are text: the score is 1 on each shape's medial axis and falls to 0 at
    its border (distance to the background over the shape's largest such distance), so
    that, as with CRAFT, only the core of a word passes ``low_text``. Affinity = region.
    """
    pixels = tensor[0].transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    gray = pixels.mean(axis=2)
    half = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2), interpolation=cv2.INTER_AREA)
    mask = (half > 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    _, labels = cv2.connectedComponents(mask)
    peaks = np.zeros(labels.max() + 1, np.float32)
    np.maximum.at(peaks, labels.ravel(), distance.ravel())
    region = distance / np.maximum(peaks[labels], 1e-6)
    return np.stack([region, region])[None].astype(np.float32)


def page(height: int, width: int, shapes: list[np.ndarray]) -> np.ndarray:
    """A black RGB page with ``shapes`` (polygons) filled white."""
    image = np.zeros((height, width, 3), np.uint8)
    for shape in shapes:
        cv2.fillPoly(image, [np.round(shape).astype(np.int32)], (255, 255, 255))
    return image


def clockwise_on_screen(polygon: np.ndarray) -> bool:
    """Whether a K×2 polygon runs clockwise in image coordinates (y down): a positive shoelace sum."""
    x, y = polygon[:, 0], polygon[:, 1]
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) > 0
