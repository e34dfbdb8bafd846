"""Recognizing an input's format from its first bytes (never from its file name)."""

from __future__ import annotations

SUPPORTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "TIFF", "BMP", "WebP", "GIF", "PDF")
"""Names of the input formats :func:`ocr.io.load_pages` decodes, for messages."""

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)

_PDF_HEADER = b"%PDF-"
_PDF_HEADER_WINDOW = 1024  # readers accept junk before the header within the first KiB


def sniff(data: bytes) -> str | None:
    """The name (one of :data:`SUPPORTED_FORMATS`) of the format ``data`` starts with, if any."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if _PDF_HEADER in data[:_PDF_HEADER_WINDOW]:
        return "PDF"
    return None
