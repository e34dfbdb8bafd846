"""Cutting line readings into words: boxes from the detector's outlines and the character positions."""

from __future__ import annotations

import numpy as np
import pytest

from ocr.document import bounding_box, box_polygon
from ocr.layout import TextLine, text_lines
from ocr.recognition import Reading
from ocr.recognition.lines import line_crop, read_lines, split_turned, split_words
from ocr.recognition.predictor import Recognizer
from ocr.runtime import RuntimeConfig
from text_images import text_image


def _reading(crop: tuple[float, float], *words: tuple[str, float, float]) -> Reading:
    """``words`` joined by spaces, each one's characters spread evenly over page columns
    ``left``–``right``, as read from a crop spanning ``crop``."""
    texts, centres = [], []
    for text, left, right in words:
        step = (right - left) / len(text)
        texts.append(text)
        centres += [left + (i + 0.5) * step for i in range(len(text))]
    for i in range(len(words) - 1, 0, -1):  # each space halfway between its neighbours
        end = sum(len(t) for t in texts[:i]) + i - 1
        centres.insert(end, (centres[end - 1] + centres[end]) / 2)
    text = " ".join(texts)
    positions = tuple((c - crop[0]) / (crop[1] - crop[0]) for c in centres)
    return Reading(text, 0.9 ** len(text), (0.9,) * len(text), positions)


def _line(*boxes: tuple[float, float, float, float]) -> TextLine:
    (line,) = text_lines([box_polygon(*b) for b in boxes])
    return line


def test_pieces_the_detector_split_become_one_word_with_their_union_box() -> None:
    line = _line((100, 10, 140, 30), (150, 10, 180, 30), (195, 10, 255, 30))  # "12" "50" | "TOTAL"
    words = split_words(_reading((0, 400), ("12.50", 100, 180), ("TOTAL", 195, 255)), line, 0, 400)
    assert [w.text for w in words] == ["12.50", "TOTAL"]
    assert bounding_box([words[0].polygon]) == pytest.approx((100, 10, 180, 30))
    assert bounding_box([words[1].polygon]) == pytest.approx((195, 10, 255, 30))
    assert words[0].char_confidences == (0.9,) * 5 and words[0].confidence == pytest.approx(0.9 ** 5)


def test_an_outline_holding_two_words_is_cut_between_them() -> None:
    line = _line((100, 10, 300, 30))
    words = split_words(_reading((50, 350), ("ab", 100, 180), ("cd", 220, 300)), line, 50, 350)
    assert [w.text for w in words] == ["ab", "cd"]
    left, right = (bounding_box([w.polygon]) for w in words)
    assert left[0] == pytest.approx(100) and right[2] == pytest.approx(300)
    assert left[2] == pytest.approx(right[0]) and 160 < left[2] < 240  # one cut, in the space between the words


def test_words_without_outlines_span_their_characters() -> None:
    words = split_words(_reading((0, 140), ("one", 0, 60), ("two", 80, 140)), TextLine.whole(140, 20), 0, 140)
    assert [w.text for w in words] == ["one", "two"]
    first, second = (bounding_box([w.polygon]) for w in words)
    assert first[0] == pytest.approx(0) and first[2] <= second[0] and second[2] == pytest.approx(140)
    assert (first[1], first[3]) == (0, 20)
    assert split_words(Reading("  ", 0.5, (0.5, 0.5), (0.2, 0.8)), TextLine.whole(140, 20), 0, 140) == []


def test_line_crops_map_columns_to_page_abscissas() -> None:
    image = np.zeros((100, 400, 3), np.uint8)
    straight = _line((100, 40, 200, 60), (220, 40, 300, 60))
    crop, (left, _, right, _) = line_crop(image, straight, 0.1)
    assert (left, right) == (94, 306) and crop.shape[:2] == (24, 212)
    edge = _line((0, 0, 100, 20))
    crop, (left, _, right, _) = line_crop(image, edge, 0.1)
    assert left == 0 and crop.shape[1] == right - left  # clamped to the image, columns still map exactly
    tilted = text_lines([((100, 40), (300, 47), (299, 67), (99, 60)), ((310, 48), (390, 51), (389, 71), (309, 68))])
    crop, (left, _, right, _) = line_crop(image, tilted[0], 0.1)
    assert crop.shape[1] == pytest.approx(right - left, abs=1)


def test_a_word_running_down_the_page_is_cut_with_margins_of_its_width() -> None:
    crop, rect = line_crop(np.zeros((200, 100, 3), np.uint8), _line((40, 20, 60, 120)), 0.1)
    assert rect == (38, 14, 62, 126) and crop.shape[:2] == (112, 24)  # tall enough to be read turned


def test_words_read_turned_follow_the_text_along_the_line() -> None:
    line = _line((40, 20, 60, 120))
    down = Reading("AB CD", 0.5, (0.9,) * 5, (0.1, 0.3, 0.5, 0.7, 0.9), turn=1)
    first, second = (bounding_box([w.polygon]) for w in split_turned(down, line, 20, 120))
    assert first[0] == 40 and first[2] == 60 and first[1] == 20 and first[3] <= second[1] and second[3] == 120
    up = Reading("AB CD", 0.5, (0.9,) * 5, (0.1, 0.3, 0.5, 0.7, 0.9), turn=-1)
    words = split_turned(up, line, 20, 120)
    assert [w.text for w in words] == ["AB", "CD"]
    assert bounding_box([words[0].polygon])[1] > bounding_box([words[1].polygon])[3] - 1  # AB is the lower one


def test_a_number_printed_down_the_margin_is_read_with_its_direction() -> None:
    page = np.full((400, 300, 3), 255, np.uint8)
    stamp = np.rot90(np.asarray(text_image("92094746")), -1)  # turned clockwise: it reads downwards
    top, left = 20, 200
    page[top:top + stamp.shape[0], left:left + stamp.shape[1]] = stamp
    ink = np.argwhere(stamp.min(axis=2) < 128)
    (y0, x0), (y1, x1) = ink.min(axis=0) + (top, left), ink.max(axis=0) + (top + 1, left + 1)
    recognizer = Recognizer("recognizer_medium.int8", RuntimeConfig(intra_op_threads=1))
    (word,) = read_lines(recognizer, page, [_line((x0, y0, x1, y1))], 0.1)
    assert word.text == "92094746"
    assert bounding_box([word.polygon]) == pytest.approx((x0, y0, x1, y1), abs=0.25 * (x1 - x0))
