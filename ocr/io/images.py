"""Decoding raster images (PNG, JPEG, TIFF, BMP, WebP, GIF) into RGB arrays.

Every page becomes an H×W×3 uint8 RGB array: EXIF orientation applied, alpha
composited on white, grayscale, palette, 1-bit, CMYK and 16-bit samples converted.
The pixel limit is checked from the header, before any pixel data is decoded.
"""

from __future__ import annotations

import io
import re
import warnings
from contextlib import contextmanager
from typing import Iterator

import cv2
import numpy as np
from PIL import Image, ImageOps

from ..errors import InputError, InputTooLarge

_PIL_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "TIFF": "TIFF", "BMP": "BMP", "WebP": "WEBP", "GIF": "GIF"}
"""Our format names → PIL's (keys of ``Image.OPEN``)."""
_REPR = re.compile(r"\s*<[^<>]* at 0x[0-9A-Fa-f]+>")
_WIDE_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


def decode(data: bytes, fmt: str, name: str, max_pixels: int, max_pages: int | None = None) -> Iterator[np.ndarray]:
    """The pages of image ``data`` in format ``fmt``: every page of a TIFF, the first frame otherwise.

    The file is opened (header checks, page count against ``max_pages``) at once; pages
    are decoded as they are consumed.
    """
    image = _open(data, fmt, name, max_pixels)
    try:
        count = image.n_frames if fmt == "TIFF" else 1
    except Exception as exc:  # PIL reports broken frame chains with many exception types
        raise InputError(f"{name}: cannot decode {fmt} image ({_reason(exc)})") from None
    if max_pages is not None and count > max_pages:
        image.close()
        raise InputTooLarge(f"{name}: {count} pages exceeds the limit of {max_pages} pages")
    return _frames(image, count, fmt, name, max_pixels)


def to_rgb(image: Image.Image) -> np.ndarray:
    """An H×W×3 uint8 RGB copy of ``image`` in any PIL mode (alpha composited on white)."""
    if image.mode in _WIDE_MODES:
        image = Image.fromarray(_to_gray8(np.asarray(image)))
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    if image.mode in ("1", "L"):  # through 8-bit gray: PIL's own RGB copy takes 4 bytes a pixel
        return cv2.cvtColor(np.asarray(image.convert("L")), cv2.COLOR_GRAY2RGB)
    return np.array(image if image.mode == "RGB" else image.convert("RGB"))


@contextmanager
def _pil_quiet() -> Iterator[None]:
    """PIL's warnings about corrupt metadata it skips, and about sizes our own limit rules on, silenced
    for the block only (the process's warning filters are restored after it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        yield


def from_array(array: np.ndarray, name: str, max_pixels: int) -> np.ndarray:
    """An H×W×3 uint8 RGB page from a numpy image: H×W gray, H×W×1, H×W×3 RGB or H×W×4 RGBA
    (composited on white); samples uint8, bool, other integers up to 255 (or 65535: 16-bit),
    or floats in [0, 1] or [0, 255]. Anything else raises :class:`InputError`."""
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        channels = array.shape[2]
    elif array.ndim == 2:
        channels, array = 1, array[:, :, None]
    else:
        raise InputError(f"{name}: expected an H×W gray, H×W×3 RGB or H×W×4 RGBA array, got shape {array.shape}")
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise InputError(f"{name}: the array holds no pixels (shape {array.shape})")
    check_pixels(width, height, max_pixels, name)
    samples = _samples_to_uint8(array, name)
    if channels == 4:
        alpha = samples[:, :, 3:].astype(np.uint16)
        samples = ((samples[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
    elif channels == 1:
        samples = np.repeat(samples, 3, axis=2)
    return np.ascontiguousarray(samples)


def _samples_to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    """``array``'s samples as uint8 (see :func:`from_array` for the ranges accepted)."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype.kind not in "uif":
        raise InputError(f"{name}: unsupported array type {array.dtype} (use uint8, integers or floats)")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InputError(f"{name}: the array holds NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0:
        raise InputError(f"{name}: negative sample values ({low:g}); expected 0 to 1, 255 or 65535")
    if array.dtype.kind == "f" and high <= 1.0:
        scale = 255.0
    elif high <= 255:
        scale = 1.0
    elif array.dtype.kind in "ui" and high <= 65535:
        scale = 255.0 / 65535.0
    else:
        raise InputError(f"{name}: sample values up to {high:g}; expected 0 to 1 or 255 (floats), 255 or 65535")
    return np.clip(np.rint(array.astype(np.float32) * scale), 0, 255).astype(np.uint8)


def _open(data: bytes, fmt: str, name: str, max_pixels: int) -> Image.Image:
    # The format's own opener, not Image.open: its guard against decompression bombs (a
    # process-wide setting, Image.MAX_IMAGE_PIXELS) must not rule instead of ``max_pixels``,
    # which is checked from each page's header before its pixels are decoded.
    Image.init()
    opener = Image.OPEN[_PIL_FORMATS[fmt]][0]
    try:
        with _pil_quiet():
            image = opener(io.BytesIO(data), None)
    except Image.DecompressionBombError:
        raise InputTooLarge(f"{name}: image exceeds the limit of {max_pixels:,} pixels") from None
    except Exception as exc:  # PIL reports corrupt headers with many exception types
        raise InputError(f"{name}: cannot decode {fmt} image ({_reason(exc)})") from None
    return image


def check_pixels(width: int, height: int, max_pixels: int, what: str) -> None:
    """Raise :class:`InputError` when a ``width``×``height`` image exceeds ``max_pixels``."""
    if width * height > max_pixels:
        raise InputTooLarge(
            f"{what}: {width}x{height} = {width * height:,} pixels exceeds the limit of {max_pixels:,} pixels"
        )


def _frames(image: Image.Image, count: int, fmt: str, name: str, max_pixels: int) -> Iterator[np.ndarray]:
    with image:
        for index in range(count):
            what = f"{name}: page {index + 1}" if count > 1 else name
            try:
                image.seek(index)
            except Exception as exc:
                raise InputError(f"{what}: cannot decode {fmt} image ({_reason(exc)})") from None
            check_pixels(*image.size, max_pixels, what)
            try:
                with _pil_quiet():
                    image.load()
                    rgb = to_rgb(ImageOps.exif_transpose(image))
            except Image.DecompressionBombError:
                raise InputTooLarge(f"{what}: image exceeds the limit of {max_pixels:,} pixels") from None
            except Exception as exc:  # truncated data, bad chunks, unsupported sample layouts
                raise InputError(f"{what}: cannot decode {fmt} image ({_reason(exc)})") from None
            yield rgb


def _to_gray8(values: np.ndarray) -> np.ndarray:
    """Scale 16-bit, 32-bit integer or float samples to 0–255.

    Samples in [0, 1] (floats) or [0, 65535] keep their meaning (full scale maps to 255);
    anything else is stretched from its minimum to its maximum.
    """
    samples = values.astype(np.float32)
    low, high = float(samples.min()), float(samples.max())
    if values.dtype.kind == "f" and low >= 0.0 and high <= 1.0:
        full_scale = 1.0
    elif low >= 0.0 and high <= 65535.0:
        full_scale = 65535.0
    else:
        samples -= low
        full_scale = max(high - low, 1e-12)
    return np.clip(np.rint(samples * (255.0 / full_scale)), 0, 255).astype(np.uint8)


def _reason(exc: Exception) -> str:
    """The first line of ``exc``'s message, without object reprs such as ``<_io.BytesIO object at 0x...>``."""
    lines = _REPR.sub("", str(exc)).strip().splitlines()
    return lines[0].rstrip(" :") if lines else type(exc).__name__
