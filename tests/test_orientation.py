"""Page rotation and skew: found on the samples turned every way, undone before reading, outlines
given back on the input image (the real recognizer on onnxruntime, the real pipeline)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from sample_files import sample, truth

from ocr import orientation
from ocr.engines import tesseract

from ocr.config import ScanOptions
from ocr.document import Block, Line, Page, Word, bounding_box
from ocr.engines import create_engine
from ocr.engines.tesseract import TesseractEngine
from ocr.errors import EngineError, UsageError
from ocr.eval.metrics import cer
from ocr.orientation import Orientation, _matrix, find_orienter, osd_rotation, to_input_frame, transform
from ocr.pipeline import read_document, read_pages

SAMPLES = ("clean_page.png", "noisy_scan.jpg", "receipt.png", "scoreboard.png")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
ARABIC = "مرحبا بالعالم هذه صفحة مكتوبة باللغة العربية"


def pixels(name: str) -> np.ndarray:
    with Image.open(sample(name)) as image:
        return np.asarray(image.convert("RGB"))


def turned(image: np.ndarray, degrees: int) -> np.ndarray:
    """``image`` turned clockwise by ``degrees`` (a multiple of 90)."""
    return np.ascontiguousarray(np.rot90(image, -degrees // 90))


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_turned_every_way_is_found(name: str, degrees: int) -> None:
    found = find_orienter().find(turned(pixels(name), degrees))
    assert found.rotation == degrees
    assert found.skew == pytest.approx(find_orienter().find(pixels(name)).skew, abs=0.3)  # noisy_scan leans 1.2°


@pytest.mark.parametrize("skew", [-12.0, -5.0, 5.0, 12.0])
def test_skew_is_measured_to_half_a_degree(skew: float) -> None:
    crooked = transform(pixels("clean_page.png"), Orientation(0, -skew))  # lines rise by ``skew`` degrees
    found = find_orienter().find(crooked)
    assert found.rotation == 0
    assert found.skew == pytest.approx(skew, abs=0.5)


def test_the_rotated_sample_reads_as_the_upright_page_and_records_how_it_lay() -> None:
    document = read_document(sample("rotated_page.png"), ScanOptions(), create_engine("hybrid", ScanOptions()))
    page = document.pages[0]
    assert (page.rotation, page.skew) == (90, pytest.approx(3.0, abs=0.5))
    assert cer(document.text, truth("rotated_page.png")) < 0.02
    with Image.open(sample("rotated_page.png")) as image:
        assert (page.width, page.height) == image.size


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_words_of_a_turned_page_lie_on_the_image_as_given(degrees: int) -> None:
    """Each word read on the page turned clockwise is where the upright reading's word goes when turned."""
    engine = TesseractEngine()
    upright = pixels("clean_page.png")
    height, width = upright.shape[:2]
    plain = read_pages([upright], ScanOptions(engine="tesseract", rotate="off"), engine, "upright").pages[0]
    read = read_pages([turned(upright, degrees)], ScanOptions(engine="tesseract"), engine, "turned").pages[0]
    assert read.rotation == degrees and read.text == plain.text
    for before, after in zip(plain.words, read.words):
        corners = {90: lambda x, y: (height - y, x), 180: lambda x, y: (width - x, height - y),
                   270: lambda x, y: (y, width - x)}[degrees]
        expected = [corners(x, y) for x, y in before.polygon]
        assert np.allclose(after.polygon, expected, atol=0.02)
        assert after.polygon[0] == pytest.approx(expected[0], abs=0.02)  # still the word's own top-left first


def test_rotate_off_reads_the_page_as_given() -> None:
    page = read_pages([turned(pixels("clean_page.png"), 180)], ScanOptions(engine="tesseract", rotate="off"),
                      TesseractEngine(), "x").pages[0]
    assert (page.rotation, page.skew) == (0, 0.0)
    assert cer(page.text, truth("clean_page.png")) > 0.5


def arabic_page() -> np.ndarray:
    """A page of six lines of Arabic, a script the Latin recognizer cannot read either way up."""
    page = Image.new("RGB", (900, 500), "white")
    draw = ImageDraw.Draw(page)
    for line in range(6):
        draw.text((40, 40 + 70 * line), ARABIC, font=ImageFont.truetype(FONT, 28), fill="black")
    return np.asarray(page)


@pytest.fixture
def osd_calls(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """What each call of Tesseract's OSD (the real one) answered, in order."""
    calls: list[int | None] = []

    def spied(gray: np.ndarray) -> int | None:
        calls.append(osd_rotation(gray))
        return calls[-1]

    monkeypatch.setattr(orientation, "osd_rotation", spied)
    return calls


@pytest.mark.parametrize("degrees", [90, 180])
def test_a_page_the_recognizer_cannot_read_is_set_upright_by_tesseract_osd(degrees: int,
                                                                            osd_calls: list[int | None]) -> None:
    assert find_orienter().find(turned(arabic_page(), degrees)).rotation == degrees
    assert osd_calls == [degrees]


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_osd_finds_how_a_latin_page_is_turned(degrees: int) -> None:
    gray = np.asarray(Image.open(sample("clean_page.png")).convert("L"))
    assert osd_rotation(np.ascontiguousarray(np.rot90(gray, -degrees // 90))) == degrees


@pytest.mark.parametrize("name", SAMPLES)
def test_osd_is_not_asked_about_a_page_the_recognizer_reads(name: str, osd_calls: list[int | None]) -> None:
    assert find_orienter().find(turned(pixels(name), 270)).rotation == 270
    assert osd_calls == []


def _no_tesserocr() -> None:
    raise EngineError("tesserocr cannot load")


@pytest.mark.parametrize("broken", [("find_tessdata", lambda lang: None), ("import_tesserocr", _no_tesserocr)],
                         ids=["no osd data", "no tesserocr"])
def test_osd_that_cannot_run_leaves_the_recognizer_s_guess(broken: tuple[str, object], monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    page = turned(arabic_page(), 90)
    with monkeypatch.context() as unanswered:
        unanswered.setattr(orientation, "osd_rotation", lambda gray: None)
        guess = find_orienter().find(page)
    assert guess.rotation != 90  # the recognizer alone cannot tell, so OSD decides when it runs
    monkeypatch.setattr(tesseract, *broken)
    orientation._osd_api.cache_clear()
    try:
        with caplog.at_level("DEBUG", logger="ocr.orientation"):
            assert find_orienter().find(page) == guess
    finally:
        orientation._osd_api.cache_clear()
    assert "Tesseract OSD cannot run" in caplog.text


def test_a_blank_page_is_left_as_it_is() -> None:
    assert find_orienter().find(np.full((300, 200, 3), 255, np.uint8)) == Orientation()


def test_outlines_go_back_through_skew_and_turn_exactly() -> None:
    found = Orientation(270, 7.5)
    image = np.zeros((120, 200, 3), np.uint8)
    upright = transform(image, found)
    word = Word("x", ((10.0, 20.0), (60.0, 20.0), (60.0, 40.0), (10.0, 40.0)), 0.9, "test")
    page = Page(0, upright.shape[1], upright.shape[0], (Block.of([Line.of([word])]),))
    back = to_input_frame(page, found, 200, 120)
    assert (back.width, back.height, back.rotation, back.skew) == (200, 120, 270, 7.5)
    moved = next(back.words).polygon
    forward = _matrix(found, 200, 120)[0]
    again = [tuple(forward[:2, :2] @ np.array(p) + forward[:2, 2]) for p in moved]
    assert np.allclose(again, word.polygon, atol=0.05)
    x0, y0, x1, y1 = bounding_box([moved])
    assert 0 <= x0 < x1 <= 200 and 0 <= y0 < y1


def test_a_deskewed_page_keeps_all_its_ink_and_drops_the_white_corners() -> None:
    upright = pixels("clean_page.png")
    crooked = transform(upright, Orientation(0, -10.0))
    straight = transform(crooked, find_orienter().find(crooked))

    def dark(image: np.ndarray) -> int:
        return int((image.min(axis=2) < 128).sum())

    assert straight.shape[0] * straight.shape[1] < 0.8 * crooked.shape[0] * crooked.shape[1]
    assert dark(straight) == pytest.approx(dark(upright), rel=0.05)


def test_ink_on_a_framed_upright_page_goes_back_onto_the_ink_of_the_input() -> None:
    found = Orientation(90, 6.0, frame=(0.1, 0.2, 0.8, 0.9))
    image = np.full((300, 400, 3), 255, np.uint8)
    image[140:170, 180:220] = 0  # a word, away from the parts the frame drops
    upright = transform(image, found)
    ys, xs = np.nonzero(upright.min(axis=2) < 128)
    outline = ((xs.min(), ys.min()), (xs.max() + 1, ys.min()), (xs.max() + 1, ys.max() + 1), (xs.min(), ys.max() + 1))
    word = Word("x", tuple((float(x), float(y)) for x, y in outline), 0.9, "test")
    page = Page(0, upright.shape[1], upright.shape[0], (Block.of([Line.of([word])]),))
    x0, y0, x1, y1 = bounding_box([next(to_input_frame(page, found, 400, 300).words).polygon])
    assert (x0, y0, x1, y1) == pytest.approx((180, 140, 220, 170), abs=6)  # the box of the turned box


def test_rotate_must_be_auto_or_off() -> None:
    with pytest.raises(UsageError, match="rotate"):
        ScanOptions(rotate="sideways")  # type: ignore[arg-type]


def test_blob_boxes_are_the_connected_components_also_inside_a_form_s_box() -> None:
    mask = np.zeros((120, 200), np.uint8)
    cv2.rectangle(mask, (10, 10), (190, 110), 1, 2)  # a form's box, with text inside it
    mask[40:50, 30:90] = 1
    mask[60:70, 100:101] = 1
    mask[80:84, 20:24] = 1
    mask[82:90, 23:30] = 1  # touches the blob before it diagonally: one blob (8-connected)
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    expected = sorted(map(tuple, stats[1:, :4].tolist()))
    assert sorted(zip(*(axis.tolist() for axis in orientation._blob_boxes(mask)))) == expected
    assert len(expected) == 4


@pytest.mark.parametrize("seed", range(6))
def test_the_frame_of_a_deskewed_page_holds_every_pixel_of_its_ink(seed: int) -> None:
    """The frame comes from each row's first and last ink pixel: every ink pixel, turned upright, lies inside it."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((120, 90), bool)
    for _ in range(int(rng.integers(1, 12))):
        y, x = int(rng.integers(0, 115)), int(rng.integers(0, 80))
        mask[y : y + int(rng.integers(1, 6)), x : x + int(rng.integers(1, 11))] = True
    level = orientation._framed(Orientation(90 * int(rng.integers(0, 4)), float(rng.choice([-7.5, -2.0, 3.0, 11.0]))), mask)
    matrix, width, height = _matrix(replace(level, frame=(0.0, 0.0, 1.0, 1.0)), mask.shape[1], mask.shape[0])
    ys, xs = np.nonzero(mask)
    upright = np.column_stack([xs, ys]) @ matrix[:2, :2].T + matrix[:2, 2]
    left, top, right, bottom = level.frame
    assert (upright[:, 0] >= left * width - 1e-6).all() and (upright[:, 0] <= right * width + 1e-6).all()
    assert (upright[:, 1] >= top * height - 1e-6).all() and (upright[:, 1] <= bottom * height + 1e-6).all()
