"""Cut a text region out of a page image for the recognizer."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def crop_region(image: np.ndarray, quad: Sequence[Sequence[float]], margin: float = 0.0) -> np.ndarray:
    """The region ``quad`` (four points clockwise from the top-left) of ``image`` as an upright crop.

    An axis-aligned box is sliced; any other quadrilateral is rectified by a perspective
    warp. ``margin`` widens the region on every side by this fraction of its height.
    Returns an empty array when the region lies outside the image.
    """
    points = np.asarray(quad, dtype=np.float32)[:4]
    top, right, bottom, left = (np.linalg.norm(points[(i + 1) % 4] - points[i]) for i in range(4))
    width, height = max(top, bottom), max(left, right)
    pad = margin * height
    xs, ys = points[:, 0], points[:, 1]
    if np.ptp(xs[[0, 3]]) < 1 and np.ptp(xs[[1, 2]]) < 1 and np.ptp(ys[[0, 1]]) < 1 and np.ptp(ys[[2, 3]]) < 1:
        x0, x1 = int(max(0, np.floor(xs.min() - pad))), int(min(image.shape[1], np.ceil(xs.max() + pad)))
        y0, y1 = int(max(0, np.floor(ys.min() - pad))), int(min(image.shape[0], np.ceil(ys.max() + pad)))
        return image[y0:max(y0, y1), x0:max(x0, x1)]
    out_w, out_h = max(1, round(width + 2 * pad)), max(1, round(height + 2 * pad))
    target = np.array([[pad, pad], [pad + width, pad], [pad + width, pad + height], [pad, pad + height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(points, target)
    return cv2.warpPerspective(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
