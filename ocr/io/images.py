"""Decoding raster images (PNG, JPEG, TIFF, BMP, WebP, GIF) into RGB arrays.

Every page becomes an H×W×3 uint8 RGB array: EXIF orientation applied, alpha
composited on white, grayscale, palette, 1-bit, CMYK and 16-bit samples converted.
The pixel limit is checked from the header, before any pixel data is decoded.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps

from ..errors import InputError, InputTooLarge

_PIL_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "TIFF": "TIFF", "BMP": "BMP", "WebP": "WEBP", "GIF": "GIF"}
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
    return np.array(image.convert("RGB"))


def _open(data: bytes, fmt: str, name: str, max_pixels: int) -> Image.Image:
    # PIL's own guard must never fire below our limit. Above it PIL warns (and raises above
    # twice its value); our check right after opening refuses those images with a proper
    # message, so the warning would only be noise, like PIL's warnings about corrupt metadata
    # it skips. (filterwarnings is idempotent: re-adding a filter moves it to the front.)
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    try:
        return Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])
    except Image.DecompressionBombError:
        raise InputTooLarge(f"{name}: image exceeds the limit of {max_pixels:,} pixels") from None
    except Exception as exc:  # PIL reports corrupt headers with many exception types
        raise InputError(f"{name}: cannot decode {fmt} image ({_reason(exc)})") from None


def _check_pixels(width: int, height: int, max_pixels: int, what: str) -> None:
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
            _check_pixels(*image.size, max_pixels, what)
            try:
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
