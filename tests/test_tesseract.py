"""The Tesseract engine, run for real (tesserocr with Debian's eng traineddata) on samples/."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from PIL import Image
from sample_files import sample, truth

from ocr.config import ScanOptions
from ocr.document import Page, bounding_box
from ocr.engines import availability, create_engine, engine_names
from ocr.engines.tesseract import MIN_LINE_HEIGHT, TesseractEngine, find_tessdata
from ocr.errors import EngineError, UsageError
from ocr.eval.metrics import cer
from ocr.io import load_pages
from ocr.pipeline import read_document


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine()


@pytest.fixture(scope="module")
def clean_page() -> np.ndarray:
    return load_pages(sample("clean_page.png"))[0]


@pytest.fixture(scope="module")
def clean_read(engine: TesseractEngine, clean_page: np.ndarray) -> Page:
    return engine.read(clean_page, "page", 0)


def test_clean_page_reads_within_two_percent_cer(clean_read: Page) -> None:
    assert cer(clean_read.text, truth("clean_page.png")) <= 0.02


def test_noisy_scan_reads_within_five_percent_cer(engine: TesseractEngine) -> None:
    page = engine.read(load_pages(sample("noisy_scan.jpg"))[0])
    assert cer(page.text, truth("noisy_scan.jpg")) <= 0.05


def test_words_carry_source_confidence_and_polygons_on_the_page(clean_read: Page, clean_page: np.ndarray) -> None:
    words = list(clean_read.words)
    assert len(words) == len(truth("clean_page.png").split())
    height, width = clean_page.shape[:2]
    assert (clean_read.width, clean_read.height, clean_read.index) == (width, height, 0)
    for word in words:
        assert word.source == "tesseract"
        assert 0.0 <= word.confidence <= 1.0
        assert word.text and word.text == word.text.strip()
        x0, y0, x1, y1 = bounding_box([word.polygon])
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert np.mean([w.confidence for w in words]) > 0.85  # clean print: confident


def test_hierarchy_follows_reading_order(clean_read: Page) -> None:
    blocks = clean_read.blocks
    assert blocks[0].text == "Annual Report of the Riverside Library"  # the title is its own paragraph
    assert len(blocks) >= 3
    lines = list(clean_read.lines)
    assert len(lines) == len(truth("clean_page.png").replace("\n\n", "\n").splitlines())
    tops = [bounding_box([line.polygon])[1] for line in lines]
    assert tops == sorted(tops)
    for line in lines:
        lefts = [bounding_box([w.polygon])[0] for w in line.words]
        assert lefts == sorted(lefts)
        assert bounding_box([line.polygon]) == bounding_box([w.polygon for w in line.words])


def _line_crop(page: Page, image: np.ndarray, number: int, margin: int = 6) -> np.ndarray:
    x0, y0, x1, y1 = (round(v) for v in bounding_box([list(page.lines)[number].polygon]))
    return image[max(y0 - margin, 0) : y1 + margin, max(x0 - margin, 0) : x1 + margin]


def test_line_mode_reads_a_line_crop(engine: TesseractEngine, clean_read: Page, clean_page: np.ndarray) -> None:
    crop = _line_crop(clean_read, clean_page, 1)
    page = engine.read(crop, "line", 3)
    assert page.index == 3 and len(page.blocks) == 1 and len(page.blocks[0].lines) == 1
    assert page.text == "The library opened its new reading room in March."


def test_line_mode_scales_up_small_crops_and_maps_boxes_back(
    engine: TesseractEngine, clean_read: Page, clean_page: np.ndarray
) -> None:
    crop = _line_crop(clean_read, clean_page, 0)
    height = MIN_LINE_HEIGHT // 2
    small = np.asarray(Image.fromarray(crop).resize((round(crop.shape[1] * height / crop.shape[0]), height)))
    page = engine.read(small, "line")
    assert (page.width, page.height) == (small.shape[1], small.shape[0])
    assert cer(page.text, "Annual Report of the Riverside Library") <= 0.1
    for word in page.words:
        x0, y0, x1, y1 = bounding_box([word.polygon])
        assert 0 <= x0 < x1 <= small.shape[1] and 0 <= y0 < y1 <= small.shape[0]


def test_line_mode_reads_a_single_word(engine: TesseractEngine, clean_read: Page, clean_page: np.ndarray) -> None:
    word = next(w for w in clean_read.words if w.text == "Riverside")
    x0, y0, x1, y1 = (round(v) for v in bounding_box([word.polygon]))
    page = engine.read(clean_page[y0 - 4 : y1 + 4, x0 - 4 : x1 + 4], "line")
    assert [w.text for w in page.words] == ["Riverside"]


def test_blank_and_empty_images_give_empty_pages(engine: TesseractEngine) -> None:
    for mode in ("page", "line"):
        assert engine.read(np.full((200, 300, 3), 255, np.uint8), mode).blocks == ()
    assert engine.read(np.zeros((0, 10, 3), np.uint8)) == Page(0, 10, 0)


def test_two_page_pdf_through_the_pipeline(engine: TesseractEngine) -> None:
    path = sample("two_page.pdf")
    document = read_document(path, ScanOptions(dpi=200), engine)
    assert document.source == str(path)
    assert [p.index for p in document.pages] == [0, 1]
    for page, expected in zip(document.pages, truth("two_page.pdf").split("\f")):
        assert cer(page.text, expected) <= 0.02
    from_bytes = read_document(path.read_bytes(), ScanOptions(dpi=200), engine)
    assert from_bytes.source == "-" and from_bytes.pages == document.pages


def test_the_engine_serializes_concurrent_calls(engine: TesseractEngine, clean_page: np.ndarray, clean_read: Page) -> None:
    results: list[Page] = []
    threads = [threading.Thread(target=lambda: results.append(engine.read(clean_page))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [clean_read] * 3


def test_bad_images_raise_engine_errors(engine: TesseractEngine) -> None:
    with pytest.raises(EngineError, match="expected an H×W×3 uint8 image"):
        engine.read(np.zeros((10, 10), np.uint8))
    with pytest.raises(EngineError, match="expected an H×W×3 uint8 image"):
        engine.read(np.zeros((10, 10, 3), np.float32))


def test_missing_language_says_what_to_install() -> None:
    assert find_tessdata("eng") is not None
    assert find_tessdata("xyz") is None
    with pytest.raises(EngineError, match=r"^no Tesseract data for language 'eng\+xyz' .*tesseract-ocr-xyz"):
        TesseractEngine(lang="eng+xyz")


def test_registry_builds_and_reports_engines() -> None:
    assert "tesseract" in engine_names()
    assert availability("tesseract") is None
    engine = create_engine("tesseract", ScanOptions(lang="eng"))
    assert isinstance(engine, TesseractEngine) and engine.lang == "eng"
    assert os.environ["OMP_THREAD_LIMIT"] == "1"  # set before Tesseract loaded
    with pytest.raises(UsageError, match=r"^unknown engine 'nope' \(known engines: tesseract"):
        create_engine("nope", ScanOptions())


def test_options_are_validated() -> None:
    for bad in ({"mode": "block"}, {"lang": "eng+"}, {"dpi": 0}, {"max_pixels": -1}):
        with pytest.raises(UsageError):
            ScanOptions(**bad)  # type: ignore[arg-type]
