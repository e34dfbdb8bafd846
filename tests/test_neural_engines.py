"""The neural and hybrid engines on real models (skipped when `ocr models` has not exported them)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ocr.config import PipelineConfig, ScanOptions
from ocr.engines import create_engine, engine_names
from ocr.engines.neural import HybridEngine, NeuralEngine
from ocr.errors import EngineError
from ocr.routing import worth_rereading_by_tesseract
from text_images import FONT

needs_models = pytest.mark.skipif(NeuralEngine.availability() is not None,
                                  reason=f"models missing: {NeuralEngine.availability()}")

LINES = ("Invoice number 4821", "Total amount 93.50")


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    font = ImageFont.truetype(FONT, 36)
    image = Image.new("RGB", (640, 200), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(LINES):
        draw.text((30, 40 + 70 * row), line, font=font, fill="black")
    return np.asarray(image)


FAST = PipelineConfig(threads=1, canvas_size=960)
"""Small test pages need no bigger canvas."""


@pytest.fixture(scope="module")
def line() -> np.ndarray:
    font = ImageFont.truetype(FONT, 32)
    image = Image.new("RGB", (300, 60), "white")
    ImageDraw.Draw(image).text((10, 10), "Harbor 42", font=font, fill="black")
    return np.asarray(image)


@pytest.fixture(scope="module")
def hybrid() -> HybridEngine:
    """A hybrid engine sending every word (confidence under 1) to Tesseract."""
    return HybridEngine(replace(FAST, fallback_threshold=1.0))


def test_engines_are_registered() -> None:
    assert {"tesseract", "neural", "hybrid"} <= set(engine_names())


def test_missing_models_are_one_clear_engine_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCR_WEIGHTS_DIR", str(tmp_path))
    assert "model file not found" in (NeuralEngine.availability() or "")
    with pytest.raises(EngineError, match="engine 'hybrid' is not available: model file not found"):
        create_engine("hybrid", ScanOptions())
    with pytest.raises(EngineError, match="unknown detector"):
        NeuralEngine(PipelineConfig(detector="nonesuch"))


@needs_models
def test_a_missing_word_list_is_a_clear_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"word list not found: .*none\.tsv\.gz \(build it with `ocr train lexicon`\)"):
        NeuralEngine(replace(FAST, lexicon=str(tmp_path / "none.tsv.gz")))
    assert NeuralEngine(replace(FAST, lexicon=None)).recognizer.lexicon is None
    assert NeuralEngine(FAST).recognizer.lexicon is not None


@needs_models
def test_neural_reads_words_in_reading_order(page: np.ndarray) -> None:
    engine = create_engine("neural", ScanOptions(pipeline=FAST))
    result = engine.read(page, "page", 2)
    assert result.index == 2 and (result.width, result.height) == (640, 200)
    assert [line.text for line in result.lines] == list(LINES)
    assert all(w.source == "neural" and 0 <= w.confidence <= 1 for w in result.words)


@needs_models
def test_lone_digits_the_detector_scores_faint_are_read() -> None:
    """A receipt's quantity column: CRAFT scores a lone 1 far under text_threshold."""
    font = ImageFont.truetype(FONT, 28)
    image = Image.new("RGB", (560, 200), "white")
    draw = ImageDraw.Draw(image)
    for row, (quantity, item, price) in enumerate([("QTY", "DESCRIPTION", "TOTAL"), ("1", "CHICKEN RICE", "20.00"),
                                                   ("1", "VEGE ITEM", "15.00"), ("2", "ICED TEA", "5.00")]):
        for x, text in ((30, quantity), (110, item), (430, price)):
            draw.text((x, 20 + 40 * row), text, font=font, fill="black")
    config = PipelineConfig(threads=1)
    assert config.faint_text > 0
    with_faint = NeuralEngine(config).read(np.asarray(image))
    without = NeuralEngine(replace(config, faint_text=0.0)).read(np.asarray(image))
    assert sorted(w.text for w in with_faint.words) == sorted("QTY DESCRIPTION TOTAL 1 CHICKEN RICE 20.00 1 VEGE ITEM "
                                                              "15.00 2 ICED TEA 5.00".split())
    assert [w.text for w in without.words if w.text == "1"] == []


@needs_models
def test_words_read_without_confidence_are_left_out_of_a_page_but_not_of_a_line() -> None:
    """A word the recognizer cannot read (written mirrored) is not shown on a page when its confidence is
    under ``min_confidence``; a line reading keeps it."""
    font = ImageFont.truetype(FONT, 36)
    image = Image.new("RGB", (640, 200), "white")
    ImageDraw.Draw(image).text((30, 40), "Invoice number 4821", font=font, fill="black")
    mirrored = Image.new("RGB", (300, 60), "white")
    ImageDraw.Draw(mirrored).text((10, 5), "Harbor", font=font, fill="black")
    image.paste(mirrored.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (30, 110))
    config = PipelineConfig(threads=1)
    everything = NeuralEngine(replace(config, min_confidence=0.0)).read(np.asarray(image))
    (unsure,) = [w for w in everything.words if w.polygon[0][1] > 100]
    sure = [w.confidence for w in everything.words if w is not unsure]
    assert unsure.confidence < 0.9 < min(sure)
    config = replace(config, min_confidence=(unsure.confidence + min(sure)) / 2)
    engine = NeuralEngine(config)
    assert engine.read(np.asarray(image)).text == "Invoice number 4821"
    line = np.asarray(image)[105:175]
    assert engine.read(line, "line").text == NeuralEngine(replace(config, min_confidence=0.0)).read(line, "line").text != ""


@needs_models
def test_hybrid_keeps_provenance_of_every_routed_word(page: np.ndarray, hybrid: HybridEngine) -> None:
    result = hybrid.read(page)
    words = list(result.words)
    assert " ".join(w.text for w in words) == " ".join(LINES)
    reread = [worth_rereading_by_tesseract(w.text) for w in words]
    assert all(w.alternatives for w, sent in zip(words, reread) if sent and w.confidence < 1.0)  # read by two engines
    assert not any(w.alternatives for w, sent in zip(words, reread) if not sent)  # numbers are the recognizer's
    assert {a.source for w in words for a in w.alternatives} <= {"neural", "tesseract"}
    assert all(w.source in ("neural", "tesseract", "vote") for w in words)
    assert hybrid.stats.sent["tesseract"] >= len([w for w in words if w.alternatives])


@needs_models
def test_hybrid_line_mode_reads_the_whole_image(line: np.ndarray, hybrid: HybridEngine) -> None:
    result = hybrid.read(line, "line")
    assert result.text == "Harbor 42"


@needs_models
def test_one_engine_shared_by_threads_gives_the_sequential_results(page: np.ndarray, line: np.ndarray,
                                                                   hybrid: HybridEngine) -> None:
    images = [line, np.ascontiguousarray(page[:100]), line]
    expected = [hybrid.read(image).to_dict() for image in images]
    with ThreadPoolExecutor(max_workers=3) as pool:
        got = list(pool.map(lambda image: hybrid.read(image).to_dict(), images))
    assert got == expected


def test_pipeline_options_reach_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[PipelineConfig] = []
    monkeypatch.setattr(NeuralEngine, "__init__", lambda self, config: seen.append(config))
    monkeypatch.setattr(NeuralEngine, "availability", classmethod(lambda cls: None))
    config = PipelineConfig(recognizer="my_model", fallback_threshold=0.25)
    create_engine("neural", replace(ScanOptions(), pipeline=config))
    assert seen == [config]
