"""Settings: one typed, immutable options object that every face builds and engines consume.

The CLI builds :class:`ScanOptions` from its flags; later faces layer a config file and
environment variables under them (defaults ← config file ← environment ← flags).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from .errors import UsageError

Mode = Literal["page", "line"]
"""``page``: find and read all text; ``line``: the whole image is one line or word (no detection)."""

MODES: tuple[str, ...] = get_args(Mode)

DEFAULT_ENGINE = "tesseract"
DEFAULT_DPI = 300
DEFAULT_MAX_PIXELS = 100_000_000


@dataclass(frozen=True)
class ScanOptions:
    """How to read an input.

    ``engine``: a name from :func:`ocr.engines.engine_names`; ``mode``: see :data:`Mode`;
    ``lang``: the engine's language code(s), Tesseract style (``eng``, ``eng+deu``);
    ``dpi``: resolution PDF pages are rendered at; ``max_pixels``: largest page accepted
    (also the guard against decompression bombs); ``max_pages``: most pages accepted in
    one PDF or TIFF (``None``: no limit).
    """

    engine: str = DEFAULT_ENGINE
    mode: Mode = "page"
    lang: str = "eng"
    dpi: int = DEFAULT_DPI
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_pages: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.lang or any(not code for code in self.lang.split("+")):
            raise UsageError(f"invalid language {self.lang!r} (expected e.g. 'eng' or 'eng+deu')")
        if self.dpi <= 0:
            raise UsageError(f"dpi must be positive, got {self.dpi}")
        if self.max_pixels <= 0:
            raise UsageError(f"max_pixels must be positive, got {self.max_pixels}")
        if self.max_pages is not None and self.max_pages <= 0:
            raise UsageError(f"max_pages must be positive, got {self.max_pages}")
