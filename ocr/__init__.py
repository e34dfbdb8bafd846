"""ocr: a CPU-first OCR pipeline."""

__version__ = "0.1.0"
