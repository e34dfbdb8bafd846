"""ocr: a CPU-first OCR pipeline.

``ocr.read(source)`` reads a path, bytes, a binary file, a PIL image or a numpy array (or a
list of them) into a :class:`Document`; ``ocr.Reader(...)`` keeps the models loaded.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())  # the application decides what is shown

# After the version and the handler: the modules below read the one and log through the other.
from .document import Document
from .errors import EngineError, InputError, OcrError, UsageError
from .reader import Reader, read

__all__ = ["Document", "EngineError", "InputError", "OcrError", "Reader", "UsageError", "__version__", "read"]
