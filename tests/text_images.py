"""Small rendered text images and the ``ocr`` command with the test-only ``fault`` engine plugged in."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
HANG = (255, 0, 255)
"""Top-left pixel that makes the ``fault`` engine hang."""
CRASH = (0, 255, 255)
"""Top-left pixel that makes the ``fault`` engine kill its process."""


def text_image(text: str, corner: tuple[int, int, int] | None = None) -> Image.Image:
    """``text`` in black on white, 40 px type, one line; ``corner`` colors the top-left pixel (see fault_engine)."""
    font = ImageFont.truetype(FONT, 40)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 80, bottom - top + 60), "white")
    ImageDraw.Draw(image).text((40 - left, 30 - top), text, font=font, fill="black")
    if corner is not None:
        image.putpixel((0, 0), corner)
    return image


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    """``image`` encoded as ``fmt`` (PNG, JPEG, PDF, TIFF...)."""
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def ocr_command() -> list[str]:
    """The ``ocr`` console script installed beside this Python (or ``python -m cli``)."""
    script = Path(sys.executable).with_name("ocr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ocr.cli"]


def fault_env(**extra: str) -> dict[str, str]:
    """The environment of an ``ocr`` process that knows the ``fault`` engine (tests/fault_engine.py)."""
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH", "")]))
    return {**os.environ, "PYTHONPATH": path, "OCR_ENGINE_PLUGINS": "fault_engine", **extra}
