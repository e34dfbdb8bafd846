"""Fault injection for every engine (issue 28): Tesseract crashing, hanging or answering garbage inside the
hybrid chain, onnxruntime failing to load a model. (The cloud's 429, 403, 500, garbage and timeouts are in
test_cloud.py; a worker process killed or hung mid-page in test_server.py and test_batch.py.)"""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from text_images import REPO, encoded, ocr_command, text_image

from ocr.config import PipelineConfig
from ocr.engines.neural import HybridEngine, NeuralEngine
from ocr.errors import EXIT_ENGINE, EngineError
from ocr.models import weights_dir

needs_models = pytest.mark.skipif(NeuralEngine.availability() is not None,
                                  reason=f"models missing: {NeuralEngine.availability()}")

FAST = PipelineConfig(threads=1, canvas_size=960, fallback_threshold=1.0, fallback_timeout=1.0)
"""Every word goes to Tesseract, which has a second to answer."""

GARBAGE = "@#" * 40


class _GarbageIterator:
    """Tesseract's result iterator, every word read as :data:`GARBAGE` with full confidence."""

    def __init__(self, iterator: Any) -> None:
        self._iterator = iterator

    def __getattr__(self, name: str) -> Any:
        return getattr(self._iterator, name)

    def GetUTF8Text(self, level: Any) -> str:  # noqa: N802 (tesserocr's name)
        return GARBAGE

    def Confidence(self, level: Any) -> float:  # noqa: N802
        return 99.0


class FaultyTesseract:
    """tesserocr's API that crashes (``RuntimeError`` as tesserocr raises it), hangs or answers garbage."""

    def __init__(self, api: Any, fault: str, release: threading.Event) -> None:
        self._api = api
        self._fault = fault
        self._release = release

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def Recognize(self) -> bool:  # noqa: N802
        if self._fault == "crash":
            raise RuntimeError("Tesseract crashed")
        if self._fault == "hang":
            self._release.wait(60)
        return self._api.Recognize()

    def GetIterator(self) -> Any:  # noqa: N802
        iterator = self._api.GetIterator()
        return _GarbageIterator(iterator) if self._fault == "garbage" and iterator is not None else iterator


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return np.asarray(text_image("Harbor 42 Invoice"))


@needs_models
@pytest.mark.parametrize("fault", ["crash", "hang", "garbage"])
def test_a_failing_tesseract_leaves_the_neural_reading_and_the_next_page_is_read(page: np.ndarray, fault: str) -> None:
    local = [w.text for w in NeuralEngine(FAST).read(page).words]
    hybrid = HybridEngine(FAST)
    release = threading.Event()
    hybrid.tesseract._api = FaultyTesseract(hybrid.tesseract._api, fault, release)
    try:
        for index in range(2):  # the job goes on: a second page after the fault
            read = hybrid.read(page, index=index)
            assert [w.text for w in read.words] == local
            assert all(w.source == "neural" for w in read.words)
    finally:
        release.set()
    assert GARBAGE not in hybrid.summary()
    if fault != "garbage":
        assert "tesseract failed, local readings kept" in " ".join(hybrid.stats.notices)


@needs_models
def test_a_model_onnxruntime_cannot_load_is_one_engine_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07 this is no ONNX model" * 100)
    shutil.copy(weights_dir() / f"{PipelineConfig().recognizer}.json", broken.with_suffix(".json"))
    with pytest.raises(EngineError, match=f"onnxruntime cannot load model {broken}"):
        NeuralEngine(replace(FAST, recognizer=str(broken)))
    image = tmp_path / "page.png"
    image.write_bytes(encoded(text_image("Unread")))
    result = subprocess.run(ocr_command() + ["scan", str(image), "-e", "neural", "--recognizer", str(broken)],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == EXIT_ENGINE
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert f"onnxruntime cannot load model {broken}" in result.stderr
