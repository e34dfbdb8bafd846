"""OCR engines: every one implements :class:`ocr.engines.base.Engine`."""
