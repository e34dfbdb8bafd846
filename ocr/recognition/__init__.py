"""Text recognition on onnxruntime: the recognizer config and the crop predictor."""

from .config import RecognizerConfig
from .predictor import Reading, Recognizer

__all__ = ["Reading", "RecognizerConfig", "Recognizer"]
