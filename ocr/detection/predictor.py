"""The CRAFT-family word detector: pre-processing → score-map model → post-processing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..document import Polygon
from ..errors import EngineError
from ..models import weights_dir
from ..profile import stage
from ..runtime import RuntimeConfig, Session
from .page_kind import is_photograph
from .postprocess import Thresholds, find_faint_characters, find_words
from .preprocess import Prepared, prepare

MAP_STRIDE = 2
"""Score maps are at half the network input's resolution."""

DETECTOR_MODELS: dict[str, str] = {
    "teacher": "craft_mlt_25k.onnx",
    "student": "craft_lite.onnx",
    "student-int8": "craft_lite.int8.onnx",
    "photo": "craft_lite_photo.onnx",
    "photo-int8": "craft_lite_photo.int8.onnx",
}
"""Detector name → ONNX file in :func:`ocr.models.weights_dir`."""

ROUTED_DETECTORS: dict[str, tuple[str, str]] = {"auto": ("student-int8", "photo-int8")}
"""Detector name → the detectors it reads pages with: the first for paper and drawn images (screens), the
second for photographs (:func:`.page_kind.is_photograph`)."""

DETECTOR_NAMES: tuple[str, ...] = (*DETECTOR_MODELS, *ROUTED_DETECTORS)

ScoreModel = Callable[[np.ndarray], np.ndarray]
"""1×3×H×W normalized image → 1×2×H/2×W/2 maps (region, affinity)."""


@dataclass(frozen=True)
class DetectorConfig:
    """Knobs of the CRAFT paper: score thresholds and the canvas the page is resized to."""

    text_threshold: float = 0.7
    link_threshold: float = 0.4
    low_text: float = 0.4
    canvas_size: int = 1280
    max_canvas_size: int = 0
    """Large pages keep part of their resolution, up to this long side (0: ``canvas_size`` for every page)."""
    mag_ratio: float = 1.5
    text_height: float | None = None
    """Characters are brought to about this height, no larger (see :func:`.preprocess.prepare`)."""
    faint_text: float = 0.0
    """Also propose faint characters above this region score (0: none; see :func:`.postprocess.find_faint_characters`)."""

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.text_threshold, self.link_threshold, self.low_text, faint_text=self.faint_text)


@dataclass(frozen=True)
class DetectedWord:
    """A word outline in original image pixels (clockwise from top-left) and its confidence in [0, 1]."""

    polygon: Polygon
    confidence: float
    faint: bool = False
    """A faint character, not a word: kept only where a recognizer confirms it (see ``faint_text``)."""


class OnnxScoreModel:
    """A :data:`ScoreModel` running an ONNX file through :class:`ocr.runtime.Session`.

    Without onnxruntime's memory patterns, which keep a block for every input size seen (every page has
    its own: the 15 `tesseract_testing` pages peaked at 583 MB with the arena and patterns, 480 with
    neither). The arena stays (about 10 MB more): without it each page's buffers are fresh memory from
    the system, and the page faults cost a FUNSD form a fifth of the model's time (80 against 62 ms, 7 %
    of the page). An input of more than ``release_above`` pixels (a large page's grown canvas: the detector
    passes its canvas size squared) gives its memory back after the run: the 15 `tesseract_testing` pages
    peaked at 488 MB without that, 393 with it, in the same time."""

    def __init__(self, path: str | Path, runtime: RuntimeConfig = RuntimeConfig(),
                 release_above: int = DetectorConfig.canvas_size ** 2) -> None:
        self.session = Session(path, replace(runtime, memory_pattern=False))
        self.release_above = release_above

    def __call__(self, tensor: np.ndarray) -> np.ndarray:
        return self.session.run(tensor, release_memory=tensor.shape[2] * tensor.shape[3] > self.release_above)[0]


def model_paths(name: str) -> tuple[Path, ...]:
    """The ONNX files of the detector called ``name`` (see :data:`DETECTOR_NAMES`): one, or for a routed
    detector its page detector's and then its photograph detector's."""
    if name not in DETECTOR_NAMES:
        raise EngineError(f"unknown detector {name!r}; choose from {', '.join(DETECTOR_NAMES)}")
    return tuple(weights_dir() / DETECTOR_MODELS[part] for part in ROUTED_DETECTORS.get(name, (name,)))


class Detector:
    """Finds words on a page image (H×W×3 uint8 RGB); reusable across pages."""

    def __init__(self, model: ScoreModel, config: DetectorConfig = DetectorConfig(),
                 photo_model: ScoreModel | None = None) -> None:
        self.model = model
        self.config = config
        self.photo_model = photo_model
        """Reads photographs (:func:`.page_kind.is_photograph`) instead of ``model``, when given."""

    @classmethod
    def named(cls, name: str, config: DetectorConfig = DetectorConfig(), runtime: RuntimeConfig = RuntimeConfig()) -> Detector:
        """The detector ``name`` (one of :data:`DETECTOR_NAMES`) on onnxruntime."""
        models = [OnnxScoreModel(path, runtime, config.canvas_size ** 2) for path in model_paths(name)]
        return cls(models[0], config, *models[1:])

    def score_maps(self, image: np.ndarray) -> tuple[np.ndarray, Prepared]:
        """The 2×h×w maps (region, affinity) of ``image``, and its prepared input (which maps points back)."""
        with stage("detector: pre-process"):
            model = self.photo_model if self.photo_model is not None and is_photograph(image) else self.model
            prepared = prepare(image, self.config.canvas_size, self.config.mag_ratio, self.config.text_height,
                               self.config.max_canvas_size)
        with stage("detector: model"):
            return model(prepared.tensor)[0], prepared

    def detect(self, image: np.ndarray) -> list[DetectedWord]:
        """The words of ``image``, in the order the components were found (use ocr.layout for reading order),
        then its faint characters when ``faint_text`` is set."""
        maps, prepared = self.score_maps(image)
        with stage("detector: post-process"):
            return words_of(maps, prepared, self.config.thresholds)


def words_of(maps: np.ndarray, prepared: Prepared, thresholds: Thresholds) -> list[DetectedWord]:
    """The words that score maps (see :meth:`Detector.score_maps`) hold under ``thresholds``, in image pixels,
    then the faint characters (``faint_text``)."""
    found = find_words(maps[0], maps[1], thresholds)
    found += find_faint_characters(maps[0], found, thresholds)
    if not found:
        return []
    points = prepared.to_original(np.concatenate([w.polygon for w in found]), MAP_STRIDE).tolist()
    words, start = [], 0
    for word in found:
        end = start + len(word.polygon)
        words.append(DetectedWord(tuple(map(tuple, points[start:end])), word.confidence, word.faint))
        start = end
    return words
