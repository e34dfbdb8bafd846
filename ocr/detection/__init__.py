"""Word detection with CRAFT-family score maps (numpy, OpenCV and onnxruntime only; no torch)."""

from .page_kind import is_photograph
from .postprocess import MapWord, Thresholds, find_faint_characters, find_words
from .predictor import DETECTOR_NAMES, DetectedWord, Detector, DetectorConfig, OnnxScoreModel, model_paths
from .preprocess import Prepared, prepare

__all__ = [
    "DETECTOR_NAMES",
    "DetectedWord",
    "Detector",
    "DetectorConfig",
    "MapWord",
    "OnnxScoreModel",
    "Prepared",
    "Thresholds",
    "find_faint_characters",
    "find_words",
    "is_photograph",
    "model_paths",
    "prepare",
]
