"""Word detection with CRAFT-family score maps (numpy, OpenCV and onnxruntime only; no torch)."""

from .postprocess import MapWord, Thresholds, find_faint_characters, find_words
from .predictor import DETECTOR_MODELS, DetectedWord, Detector, DetectorConfig, OnnxScoreModel, model_path
from .preprocess import Prepared, prepare

__all__ = [
    "DETECTOR_MODELS",
    "DetectedWord",
    "Detector",
    "DetectorConfig",
    "MapWord",
    "OnnxScoreModel",
    "Prepared",
    "Thresholds",
    "find_faint_characters",
    "find_words",
    "model_path",
    "prepare",
]
