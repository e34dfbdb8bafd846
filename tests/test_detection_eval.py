"""The detection metric on hand-made cases, and a whole-set evaluation on a generated set."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from craft_fakes import ink_model, page
from ocr.detection import Detector, DetectorConfig
from ocr.document import box_polygon
from ocr.eval.detection import Counts, evaluate_set, format_table, line_polygons, match


def test_perfect_detection() -> None:
    truths = [box_polygon(0, 0, 100, 20), box_polygon(0, 40, 60, 60)]
    counts = match(truths, truths, [False, False])
    assert counts == Counts(2, 2, 2)
    assert counts.precision == counts.recall == counts.hmean == 1.0


def test_iou_threshold_is_inclusive_at_one_half() -> None:
    truth = [box_polygon(0, 0, 100, 20)]
    assert match([box_polygon(0, 0, 50, 20)], truth, [False]).matched == 1  # IoU exactly 0.5
    assert match([box_polygon(0, 0, 49, 20)], truth, [False]).matched == 0


def test_one_detection_matches_at_most_one_truth() -> None:
    truths = [box_polygon(0, 0, 60, 20), box_polygon(64, 0, 100, 20)]
    # one detection over two words: IoU 0.6 with the first, so it matches that one only
    assert match([box_polygon(0, 0, 100, 20)], truths, [False, False]) == Counts(1, 2, 1)
    # two detections over one word: one match, one false positive
    assert match([box_polygon(0, 0, 60, 20), box_polygon(0, 0, 55, 20)], truths[:1], [False]) == Counts(1, 1, 2)


def test_greedy_matching_takes_the_best_iou_first() -> None:
    truth = [box_polygon(0, 0, 100, 20)]
    detections = [box_polygon(0, 0, 60, 20), box_polygon(0, 0, 95, 20)]
    assert match(detections, truth, [False]) == Counts(1, 1, 2)
    # the 0.95 pair wins, so the other detection is the false positive either way round
    assert match(detections[::-1], truth, [False]) == Counts(1, 1, 2)


def test_do_not_care_regions() -> None:
    care, dont = box_polygon(0, 0, 100, 20), box_polygon(200, 0, 300, 20)
    # inside the do-not-care region: ignored, neither right nor wrong
    assert match([care, box_polygon(210, 2, 290, 18)], [care, dont], [False, True]) == Counts(1, 1, 1)
    # covering it by less than half of its own area: a false positive
    assert match([box_polygon(140, 0, 250, 20)], [care, dont], [False, True]) == Counts(0, 1, 1)
    assert match([box_polygon(150, 0, 260, 20)], [care, dont], [False, True]) == Counts(0, 1, 0)
    # only do-not-care truth: nothing counted, no division by zero
    counts = match([], [dont], [True])
    assert counts == Counts(0, 0, 0) and counts.hmean == 0.0


def test_rotated_and_self_intersecting_polygons() -> None:
    diamond = ((50.0, 0.0), (100.0, 50.0), (50.0, 100.0), (0.0, 50.0))
    assert match([diamond], [diamond], [False]).matched == 1
    bow_tie = ((0.0, 0.0), (100.0, 100.0), (100.0, 0.0), (0.0, 100.0))  # labelling error in a GT file
    assert match([box_polygon(0, 0, 100, 100)], [bow_tie], [False]).truths == 1


def test_counts_accumulate_over_pages() -> None:
    total = Counts(3, 4, 5) + Counts(1, 1, 1)
    assert total == Counts(4, 5, 6)
    assert total.hmean == pytest.approx(2 * (4 / 6) * (4 / 5) / (4 / 6 + 4 / 5))


def test_words_grouped_into_lines() -> None:
    words = [box_polygon(10, 10, 50, 30), box_polygon(58, 11, 120, 31), box_polygon(10, 60, 70, 80)]
    lines = line_polygons(words)
    assert len(lines) == 2
    assert match(lines, [box_polygon(10, 10, 120, 31), box_polygon(10, 60, 70, 80)], [False, False]).matched == 2


def test_evaluate_a_generated_set(tmp_path) -> None:
    """Pages of drawn "words" with a do-not-care region, read by a stand-in detector."""
    (tmp_path / "images").mkdir()
    rows = []
    for n in range(3):
        boxes = [(30 + 40 * n, 40, 200 + 40 * n, 70), (60, 150, 300, 190)]
        image = page(260, 400, [np.array(box_polygon(*b)) for b in boxes])
        cv2.putText(image, "x", (350, 240), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 3)
        Image.fromarray(image).save(tmp_path / "images" / f"{n}.png")
        words = [{"text": "w", "box": [list(p) for p in box_polygon(*b)]} for b in boxes]
        words.append({"text": "###", "box": [[330, 200], [390, 200], [390, 250], [330, 250]], "ignore": True})
        rows.append({"image": f"images/{n}.png", "text": "w w", "words": words})
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    result = evaluate_set(Detector(ink_model, DetectorConfig()), "fake", tmp_path)
    assert result.level == "words" and result.pages == 3
    assert result.counts == Counts(6, 6, 6)
    assert result.ms_per_page > 0
    table = format_table([result])
    assert "fake" in table and "100.0" in table
    assert result.to_dict()["hmean"] == 1.0
