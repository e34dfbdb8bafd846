"""Detector training targets from real word and line boxes: even character splits, masks, held-out pages."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ocr.datasets import Region
from ocr.training import detector_boxes, packs
from ocr.training.detector import detector_loss, train
from ocr.training.detector_config import TrainConfig
from ocr.training.detector_boxes import BoxPages, box_targets, char_quads
from test_detector_training import renderer


def _box(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def test_a_box_is_cut_evenly_into_its_characters_and_words_at_spaces() -> None:
    words = char_quads(np.array(_box(0, 0, 50, 10), dtype=np.float32), "ab cd")
    assert [len(w) for w in words] == [2, 2]
    lefts = [float(q[0, 0]) for w in words for q in w]
    assert lefts == pytest.approx([0, 10, 30, 40])
    assert all(float(q[1, 0] - q[0, 0]) == pytest.approx(10) for w in words for q in w)


def test_targets_peak_on_characters_link_within_words_and_mask_what_an_even_split_cannot_describe() -> None:
    image = np.full((100, 200, 3), 255, np.uint8)
    for x in (12, 22, 42, 52):  # the ink of "ab cd": four glyphs, a word space in the middle
        image[12:28, x:x + 6] = 0
    image[52:68, 102:108] = image[52:68, 182:188] = 0  # "a b" far apart: a line no even split describes
    regions = [
        Region("ab cd", _box(10, 10, 60, 30)),                      # two words of two characters
        Region("x", _box(10, 50, 30, 70), ignore=True),             # do-not-care
        Region("a b c", _box(100, 50, 190, 70)),                    # three words, but one gap in the ink
    ]
    sample = box_targets(image, regions, ratio=1.0)
    assert sample.image.shape == (128, 224, 3) and sample.region.shape == sample.mask.shape == (64, 112)
    row = 10  # y = 20 at full resolution: the middle of the first box
    centres = [8, 12, 23, 27]  # x = 16, 24, 46, 54: the cells of each word's inked stretch, at half resolution
    assert all(sample.region[row, x] > 0.8 for x in centres)
    assert sample.affinity[row, 10] > 0.5 and sample.affinity[row, 25] > 0.5   # inside "ab", inside "cd"
    assert sample.affinity[row, 17] < 0.05                                    # the space between them
    assert sample.mask[30, 10] == 0 and sample.mask[30, 70] == 0 and sample.mask[row, 20] == 1
    assert sample.region[25:35, 50:95].max() == 0  # nothing drawn for the masked line


def test_the_loss_ignores_masked_pixels() -> None:
    target = torch.zeros(1, 16, 16)
    target[0, 4:8, 4:8] = 1.0
    pred = torch.zeros(1, 2, 16, 16)
    pred[0, :, 4:8, 4:8] = 1.0
    mask = torch.ones(1, 16, 16)
    clean = detector_loss(pred, target, target, mask)
    pred[0, :, 10:14, 10:14] = 1.0  # a false positive ...
    assert detector_loss(pred, target, target, mask) > clean
    mask[0, 10:14, 10:14] = 0.0  # ... where the labels say nothing
    assert detector_loss(pred, target, target, mask) == pytest.approx(float(clean))


def _page_set(folder: Path, pages: int) -> None:
    (folder / "images").mkdir(parents=True)
    with (folder / "manifest.jsonl").open("w") as manifest:
        for n in range(pages):
            image = Image.new("RGB", (160, 120), "white")
            ImageDraw.Draw(image).text((20, 40), "total 12", fill="black")
            image.save(folder / "images" / f"p{n}.png")
            words = [{"text": "total", "box": _box(20, 40, 50, 52)}, {"text": "12", "box": _box(56, 40, 68, 52)}]
            manifest.write(json.dumps({"image": f"images/p{n}.png", "text": "total 12", "words": words}) + "\n")


def test_box_pages_hold_out_the_last_pages_and_train_a_frozen_norm_student(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "toy_set"
    _page_set(folder, 3)
    monkeypatch.setitem(packs.SETS, "toy_set", packs.SetSpec(("words",), 1))
    assert detector_boxes.held_out_pages(folder) == [folder / "images" / "p2.png"]
    pages = BoxPages([folder], random.Random(0))
    assert [p.path.name for p in pages.sets[0]] == ["p0.png", "p1.png"]
    assert pages().region.max() > 0.8
    with pytest.raises(ValueError, match="no holdout rule"):
        BoxPages([tmp_path / "unknown"], random.Random(0))

    synth, rngs = renderer()
    config = TrainConfig(steps=2, batch=2, crop=96, pool=3, warmup=1, log_every=1, box_sets=[str(folder)],
                         synthetic_fraction=0.0, freeze_bn=True)
    rows: list[dict] = []
    model = train(config, tmp_path / "run", synth, rngs, log=rows.append)
    assert [r["step"] for r in rows if "loss" in r] == [1, 2]
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(float(m.running_var.min()) == 1.0 == float(m.running_var.max()) for m in norms)  # fresh, untouched
