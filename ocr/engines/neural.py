"""The neural engines: CRAFT-family detector → word crops → recognizer → layout, and the
hybrid engine that adds the confidence-routed fallback chain (:mod:`ocr.routing`).

Models load once, in ``__init__``, and are reused for every page. Thread-safety: both
engines may be shared by threads — onnxruntime sessions run concurrently, the detector
and recognizer keep no per-call state, the Tesseract fallback serializes its own calls
and the run statistics are guarded by a lock. Process-safety: each process builds its
own engine (nothing is shared on disk but the read-only model files).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..config import Mode, PipelineConfig, ScanOptions
from ..document import Block, Line, Page, Polygon, Word
from ..errors import EngineError, UsageError
from ..layout import TextLine, build_blocks, text_lines
from ..profile import stage
from ..routing import (Combiner, RouteReport, Router, Stage, TesseractRegions, in_background,
                       worth_rereading_by_tesseract)
from .base import Engine
from .tesseract import TesseractEngine

logger = logging.getLogger(__name__)


def _model_problem(config: PipelineConfig) -> str | None:
    """Why the configured models cannot be loaded (``None`` when their files exist)."""
    from ..detection import model_paths
    from ..recognition.lexicon import lexicon_path
    from ..recognition.predictor import resolve_model

    try:
        detectors = model_paths(config.detector)
    except EngineError as exc:
        return str(exc)
    recognizer = resolve_model(config.recognizer)
    for path in (*detectors, recognizer, recognizer.with_suffix(".json")):
        if not path.is_file():
            return f"model file not found: {path} (run `ocr models`)"
    if config.lexicon and not lexicon_path(config.lexicon).is_file():
        return f"word list not found: {lexicon_path(config.lexicon)} (build it with `ocr train lexicon`)"
    return None


def _model_files(config: PipelineConfig) -> dict[str, Path]:
    """The detector, recognizer (and its settings) and word list of ``config``."""
    from ..detection import model_paths
    from ..recognition.lexicon import lexicon_path
    from ..recognition.predictor import resolve_model

    recognizer = resolve_model(config.recognizer)
    detectors = model_paths(config.detector)
    files = {"detector": detectors[0], **({"photograph detector": detectors[1]} if len(detectors) > 1 else {}),
             "recognizer": recognizer, "recognizer settings": recognizer.with_suffix(".json")}
    if config.lexicon:
        files["lexicon"] = lexicon_path(config.lexicon)
    return files


class RunStats:
    """Words per winning engine, regions sent per fallback, and notices, summed over pages (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.winners: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.notices: list[str] = []

    def add(self, report: RouteReport) -> None:
        with self._lock:
            self.winners.update(report.winners)
            self.sent.update(report.sent)
            for notice in report.notices:
                if notice not in self.notices:
                    self.notices.append(notice)
                    logger.warning("%s", notice)

    def summary(self) -> str:
        """One line: words per engine and regions sent to each fallback."""
        with self._lock:
            words = ", ".join(f"{name} {count}" for name, count in self.winners.most_common()) or "none"
            sent = ", ".join(f"{name} {count}" for name, count in self.sent.most_common()) or "none"
        return f"words by engine: {words}; regions re-read: {sent}"


class NeuralEngine(Engine):
    """CRAFT detector + neural recognizer on onnxruntime, words laid out in reading order."""

    name = "neural"

    def __init__(self, config: PipelineConfig = PipelineConfig()) -> None:
        """Load the detector and recognizer named in ``config`` (once)."""
        from ..detection import Detector, DetectorConfig
        from ..recognition import Recognizer
        from ..recognition.lexicon import Lexicon
        from ..runtime import RuntimeConfig

        problem = _model_problem(config)
        if problem is not None:
            raise EngineError(problem)
        runtime = RuntimeConfig(intra_op_threads=config.threads)
        detector_config = DetectorConfig(text_threshold=config.text_threshold, link_threshold=config.link_threshold,
                                         low_text=config.low_text, canvas_size=config.canvas_size,
                                         max_canvas_size=config.max_canvas_size,
                                         text_height=config.text_height or None, faint_text=config.faint_text)
        self.config = config
        self.detector = Detector.named(config.detector, detector_config, runtime)
        lexicon = Lexicon.load(config.lexicon) if config.lexicon else None
        self.recognizer = Recognizer(config.recognizer, runtime, lexicon)
        self.stats = RunStats()

    @classmethod
    def from_options(cls, options: ScanOptions) -> NeuralEngine:
        if options.lang != "eng":
            raise UsageError(f"engine '{cls.name}' reads English only (--lang eng); for {options.lang!r} use the "
                             "tesseract or hybrid engine")
        return cls(options.pipeline)

    @classmethod
    def availability(cls) -> str | None:
        return _model_problem(PipelineConfig())

    @classmethod
    def model_files(cls, options: ScanOptions) -> dict[str, Path]:
        return _model_files(options.pipeline)

    def summary(self) -> str:
        """One line: words per engine."""
        return self.stats.summary()

    def read_words(self, image: np.ndarray, mode: Mode = "page") -> tuple[list[Word], list[tuple[float, ...]]]:
        """The recognized words of ``image`` (line by line) and each one's character probabilities.

        The detected words are chained into lines, and each line is read whole
        (:mod:`ocr.recognition.lines`); in ``line`` mode the image is the line.
        """
        from ..recognition.lines import confirm_characters, read_lines

        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise EngineError(f"{self.name}: expected an H×W×3 uint8 image, got {image.shape} {image.dtype}")
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return [], []
        faint: list[Polygon] = []
        if mode == "line":
            lines = [TextLine.whole(width, height)]
        else:
            with stage("detector"):
                found = self.detector.detect(image)
            faint = [d.polygon for d in found if d.faint]
            with stage("line grouping", len(found)):
                lines = text_lines([d.polygon for d in found if not d.faint])
        read = read_lines(self.recognizer, image, lines, self.config.crop_margin)
        read += confirm_characters(self.recognizer, image, faint, self.config.crop_margin, self.config.faint_confidence)
        words = [Word(w.text, w.polygon, min(max(w.confidence, 0.0), 1.0), NeuralEngine.name) for w in read]
        return words, [w.char_confidences for w in read]

    def layout(self, words: Sequence[Word], width: int, height: int, mode: Mode, index: int) -> Page:
        """Words → lines → blocks (one line in ``line`` mode)."""
        if not words:
            return Page(index, width, height)
        if mode == "line":
            return Page(index, width, height, (Block.of([Line.of(words)]),))
        with stage("layout", len(words)):
            return Page(index, width, height, build_blocks(words))

    def read(self, image: np.ndarray, mode: Mode = "page", index: int = 0) -> Page:
        words, _ = self.read_words(image, mode)
        self.stats.add(RouteReport(winners=Counter(w.source for w in words)))
        return self.layout(self.kept(words, mode), image.shape[1], image.shape[0], mode, index)

    def kept(self, words: Sequence[Word], mode: Mode) -> list[Word]:
        """The words a page shows: not blank and, outside ``line`` mode, read with at least ``min_confidence``
        (in line mode the caller asked for this one reading)."""
        least = 0.0 if mode == "line" else self.config.min_confidence
        return [w for w in words if w.text.strip() and w.confidence >= least]


class HybridEngine(NeuralEngine):
    """The neural engine with low-confidence words re-read by Tesseract (and Cloud Vision when configured)."""

    name = "hybrid"

    def __init__(self, config: PipelineConfig = PipelineConfig(), lang: str = "eng") -> None:
        """Load the models, Tesseract for ``lang``, and Cloud Vision when credentials are configured."""
        from .cloud import CLOUD_BACKOFF_BUDGET, cloud_stage_reader

        super().__init__(config)
        self.tesseract = TesseractEngine(lang=lang)
        lexicon = self.recognizer.lexicon
        self.combiner = Combiner(lexicon.__contains__ if lexicon is not None else _unlisted) if config.combine else None
        stages = [] if self.combiner is not None else [
            Stage(TesseractRegions(self.tesseract), config.fallback_threshold, config.fallback_timeout,
                  worth_rereading_by_tesseract)]
        self.cloud, notice = cloud_stage_reader(config)
        if self.cloud is not None:
            # every attempt may take its whole timeout, plus the waits between retries
            budget = (config.cloud_retries + 1) * config.cloud_timeout + CLOUD_BACKOFF_BUDGET
            stages.append(Stage(self.cloud, config.cloud_threshold, budget))
        elif notice is not None:
            self.stats.add(RouteReport(notices=[notice]))
        self.router = Router(stages)

    @classmethod
    def from_options(cls, options: ScanOptions) -> HybridEngine:
        return cls(options.pipeline, lang=options.lang)

    @classmethod
    def availability(cls) -> str | None:
        return NeuralEngine.availability() or TesseractEngine.availability()

    @classmethod
    def model_files(cls, options: ScanOptions) -> dict[str, Path]:
        return {**_model_files(options.pipeline), **TesseractEngine.model_files(options)}

    def summary(self) -> str:
        """One line: words per engine, regions re-read, cloud requests made."""
        requests = self.cloud.requests if self.cloud is not None else 0
        return f"{self.stats.summary()}; cloud requests: {requests}"

    def read(self, image: np.ndarray, mode: Mode = "page", index: int = 0) -> Page:
        tesseract = None
        if self.combiner is not None:  # Tesseract reads the page while the detector and recognizer do
            tesseract = in_background(lambda: list(self.tesseract.read(image, mode).words))
        words, chars = self.read_words(image, mode)
        if tesseract is not None:
            with stage("combination (Tesseract)", len(words)):
                words, combined = self._combine(words, tesseract)
            self.stats.add(replace(combined, winners=Counter()))  # the router counts the winners
            chars = None  # the words may now be Tesseract's
        with stage("fallback (Tesseract, cloud)", len(words)):
            routed, report = self.router.route(image, words, chars)
        self.stats.add(report)
        return self.layout(self.kept(routed, mode), image.shape[1], image.shape[0], mode, index)

    def _combine(self, words: list[Word], tesseract: Callable[[float], list[Word]]) -> tuple[list[Word], RouteReport]:
        """``words`` decided against Tesseract's reading of the whole image, awaited ``fallback_timeout`` seconds
        after the recognizer's (:class:`ocr.routing.Combiner`); unchanged, with a notice, when Tesseract fails
        or runs past it."""
        try:
            others = tesseract(self.config.fallback_timeout)
        except Exception as exc:  # any fault of Tesseract: keep the recognizer's words
            return words, RouteReport(notices=[f"tesseract failed, local readings kept: {type(exc).__name__}: {exc}"])
        return self.combiner.combine(words, others)  # type: ignore[union-attr]


def _unlisted(word: str) -> bool:
    """No word list: no word is listed."""
    return False
