"""Lite-CRAFT training: exact synthetic targets, teacher-map caching, a tiny run with resume."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from craft_fakes import clockwise_on_screen
from ocr.charset import CHARSET
from ocr.detection import OnnxScoreModel
from ocr.nets.export import export_detector
from ocr.nets.lite_craft import LiteCraft, count_parameters
from ocr.training import detector, detector_export
from ocr.training.detector import SamplePool, detector_loss, random_crop, train
from ocr.training.detector_config import TrainConfig
from ocr.training.detector_data import MapSample, cache_teacher_maps, load_teacher_sample
from ocr.training.detector_export import lineage
from ocr.training.synth import find_fonts
from ocr.training.synth_pages import PageRenderer, _Canvas, affinity_quad, render_targets
from ocr.training.text import TextSampler

WORDS = [(w, 10) for w in ("total", "invoice", "date", "amount", "receipt", "score", "level", "name", "cash", "item")]


@lru_cache(maxsize=1)
def fonts() -> tuple[str, ...]:
    return tuple(find_fonts())


def renderer(seed: int = 0) -> tuple[PageRenderer, list[object]]:
    sampler = TextSampler(WORDS, CHARSET, seed)
    pages = PageRenderer(list(fonts()), sampler, seed, size=(200, 300))
    return pages, [sampler.rng, pages.rng, pages.np_rng]


def square(x: float, y: float, side: float) -> np.ndarray:
    return np.array([[x, y], [x + side, y], [x + side, y + side], [x, y + side]], dtype=np.float32)


def test_student_contract_and_size() -> None:
    model = LiteCraft().eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 96))
    assert out.shape == (1, 2, 32, 48)
    assert count_parameters(model) <= 3_000_000


def test_export_folds_every_batch_norm(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = LiteCraft()
    for norm in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        nn.init.uniform_(norm.weight, 0.5, 1.5)
        nn.init.uniform_(norm.bias, -0.5, 0.5)
    path = export_detector(model, tmp_path / "student.onnx")
    assert "BatchNormalization" not in {node.op_type for node in onnx.load(path).graph.node}
    image = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        expected = model.eval()(image).numpy()
    assert np.abs(OnnxScoreModel(path)(image.numpy()) - expected).max() < 1e-4


def test_targets_peak_on_characters_and_link_only_within_words() -> None:
    word = [square(20, 20, 20), square(44, 20, 20)]
    lone = [square(120, 20, 20)]
    region, affinity = render_targets((80, 200), [word, lone])
    assert region.shape == (40, 100)
    # Region peaks at each character centre (half resolution) and is low between words.
    assert region[15, 15] > 0.9 and region[15, 27] > 0.9 and region[15, 65] > 0.9
    assert region[15, 45] < 0.05
    # Affinity peaks between the two characters of the word, nothing near the lone character.
    assert affinity[15, 21] > 0.8
    assert affinity[:, 50:].max() == 0.0
    box = affinity_quad(word[0], word[1])
    assert box[:, 0].min() == pytest.approx(30.0) and box[:, 0].max() == pytest.approx(54.0)


def test_rendered_pages_have_targets_over_their_text() -> None:
    pages, _ = renderer(3)
    for _ in range(3):
        sample = pages()
        h, w = sample.image.shape[:2]
        assert sample.region.shape == (h // 2, w // 2) == sample.affinity.shape
        assert sample.region.max() > 0.9
        assert 0.0 <= sample.affinity.min() and sample.affinity.max() <= 1.0
        crop = random_crop(sample, 128, pages.rng, (0.7, 1.3))
        assert crop.image.shape == (128, 128, 3) and crop.region.shape == (64, 64)


def test_fax_scans_are_bilevel_keep_the_ink_and_do_not_blacken_shadows() -> None:
    pages, _ = renderer(5)
    shade = np.linspace(250, 110, 300, dtype=np.float32)[None, :, None]  # a shadow darkening to the right
    page = Image.fromarray(np.broadcast_to(shade, (200, 300, 3)).astype(np.uint8))
    ImageDraw.Draw(page).text((20, 80), "INVOICE 2024 TOTAL", font=ImageFont.truetype(fonts()[0], 24), fill=(20, 20, 20))
    image = np.asarray(page)
    for _ in range(5):
        fax = pages._fax(image)
        assert fax.shape == image.shape and len(np.unique(fax)) == 2  # paper and ink
        ink = fax[..., 0] < 128
        assert ink[image[..., 0] < 60].mean() > 0.7  # toner may fade by up to a quarter
        assert ink[:60].mean() < 0.05  # no text here, only the shadow


def test_vertical_stamps_carry_their_character_quads_with_them() -> None:
    pages, _ = renderer(7)
    stamped = 0
    for _ in range(6):
        canvas = _Canvas(Image.new("RGB", (200, 300), (255, 255, 255)))
        pages._vertical_stamp(canvas)
        if not canvas.words:
            continue
        stamped += 1
        ink = np.asarray(canvas.image).max(axis=2) < 200
        covered = np.zeros(ink.shape, np.uint8)
        for word in canvas.words:
            for quad in word:
                cv2.fillPoly(covered, [np.round(quad).astype(np.int32)], 1)
                assert clockwise_on_screen(quad)  # turned, not mirrored
            centres = np.array([q.mean(axis=0) for q in word])
            assert np.ptp(centres[:, 1]) >= np.ptp(centres[:, 0])  # the word runs up or down the page
        covered = cv2.dilate(covered, np.ones((3, 3), np.uint8)).astype(bool)
        assert ink[covered].sum() > 0.9 * ink.sum()
    assert stamped >= 3


def _fake_teacher(path: Path) -> None:
    """A real ONNX file with the CRAFT contract: 2×2 average pool of the first two channels."""
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, None, None])
    maps = helper.make_tensor_value_info("maps", TensorProto.FLOAT, [1, 2, None, None])
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [2])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    graph = helper.make_graph(
        [helper.make_node("Slice", ["image", "starts", "ends", "axes"], ["two"]),
         helper.make_node("AveragePool", ["two"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Sigmoid", ["pooled"], ["maps"])],
        "fake_teacher", [image], [maps], [starts, ends, axes],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)


def test_teacher_maps_are_cached_once_at_the_canvas_scale(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    (pages / "images").mkdir(parents=True)
    Image.fromarray(np.full((100, 60, 3), 200, np.uint8)).save(pages / "images" / "a.png")
    (pages / "manifest.jsonl").write_text(json.dumps({"image": "images/a.png", "text": ""}) + "\n")
    teacher = tmp_path / "teacher.onnx"
    _fake_teacher(teacher)
    out = tmp_path / "maps"
    assert cache_teacher_maps(pages, out, teacher, canvas_size=128, mag_ratio=1.5) == 1
    assert cache_teacher_maps(pages, out, teacher, canvas_size=128, mag_ratio=1.5) == 0
    sample = load_teacher_sample(out / "a.npz")
    # 100×60 magnified ×1.28 (long side capped at 128) → 128×76, padded to 128×96.
    assert sample.image.shape == (128, 96, 3)
    assert sample.region.shape == (64, 48)
    assert 0.0 < sample.region.min() and sample.region.max() < 1.0


def test_held_out_pages_get_no_teacher_maps(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    (pages / "images").mkdir(parents=True)
    with (pages / "manifest.jsonl").open("w") as manifest:
        for name in ("a", "b"):
            Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(pages / "images" / f"{name}.png")
            manifest.write(json.dumps({"image": f"images/{name}.png", "text": ""}) + "\n")
    teacher = tmp_path / "teacher.onnx"
    _fake_teacher(teacher)
    out = tmp_path / "maps"
    assert cache_teacher_maps(pages, out, teacher, canvas_size=64, skip=frozenset({pages / "images" / "b.png"})) == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.npz"]


def test_each_teacher_set_is_drawn_as_often_as_any_other(tmp_path: Path, monkeypatch) -> None:
    dirs = []
    for name, count in (("small", 1), ("large", 9)):
        (tmp_path / name).mkdir()
        for i in range(count):
            (tmp_path / name / f"{i}.npz").touch()
        dirs.append(str(tmp_path / name))
    monkeypatch.setattr(detector, "load_teacher_sample", lambda path: path)
    config = TrainConfig(pool=400, synthetic_fraction=0.0, teacher_dirs=dirs)
    pool = SamplePool(config, lambda: pytest.fail("no synthetic page expected"), random.Random(0))
    small = sum(page.parent.name == "small" for page, _ in pool.pages)
    assert 160 < small < 240


def test_a_share_of_crops_is_turned_a_quarter_with_its_targets() -> None:
    image = np.full((128, 128, 3), 128, np.uint8)
    image[60:68, 32:96] = 255  # one light horizontal word on grey (padding is grey or black, never light)
    region = np.zeros((64, 64), np.float32)
    region[30:34, 16:48] = 1.0
    page = MapSample(image, region, region.copy())
    config = TrainConfig(pool=2, batch=60, crop=64, scale_range=(1.0, 1.0), synthetic_fraction=1.0, turn_fraction=0.5)
    images, regions, _, _ = SamplePool(config, lambda: page, random.Random(3)).batch()
    turned = 0
    for tensor, target in zip(images.numpy(), regions.numpy()):
        ink = tensor.mean(axis=0) > 1.0  # the light bar, normalized
        ink_half = ink.reshape(32, 2, 32, 2).any(axis=(1, 3))
        word = target > 0.5
        assert (ink_half & word).sum() >= 0.8 * word.sum()  # the target still lies on the ink
        rows, cols = np.nonzero(word)
        turned += word.any() and np.ptp(rows) > np.ptp(cols)
    assert 12 <= turned <= 45


def test_tiny_training_run_resumes(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    pages, rngs = renderer()
    config = TrainConfig(steps=3, batch=2, crop=96, pool=3, warmup=2, log_every=1, teacher_dirs=[str(maps)])
    rows: list[dict] = []
    train(config, tmp_path / "run", pages, rngs, log=rows.append)
    first = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert first["step"] == 3
    losses = [r["loss"] for r in rows if "loss" in r]
    assert len(losses) == 3 and all(np.isfinite(losses))

    pages, rngs = renderer()
    rows = []
    config.steps = 5
    model = train(config, tmp_path / "run", pages, rngs, resume=True, log=rows.append)
    assert rows[0]["event"] == "resumed" and rows[0]["step"] == 3
    assert [r["step"] for r in rows if "loss" in r] == [4, 5]
    second = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert second["step"] == 5
    assert len(second["optimizer"]["state"]) == len(first["optimizer"]["state"]) > 0
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 2, 32, 32)
    assert torch.isfinite(detector_loss(out, torch.zeros(1, 32, 32), torch.zeros(1, 32, 32), torch.ones(1, 32, 32)))


def test_lineage_follows_init_back_to_the_first_run(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    first = TrainConfig(steps=2, batch=2, crop=96, pool=3, warmup=1, log_every=1, teacher_dirs=[str(maps)])
    train(first, tmp_path / "a", *renderer(), log=lambda row: None)
    (tmp_path / "a" / "run.json").write_text(json.dumps({"commands": ["ocr train detector --out a"]}))
    second = replace(first, steps=1, init=str(tmp_path / "a" / "last.pt"))
    train(second, tmp_path / "b", *renderer(1), log=lambda row: None)
    newest = tmp_path / "b" / "last.pt"
    runs = lineage(newest, torch.load(newest, weights_only=False))
    assert [(r["commands"], r["steps"]) for r in runs] == [(["ocr train detector --out a"], 2), ([], 1)]


def test_export_is_redone_only_for_a_new_checkpoint_or_recipe(tmp_path: Path, monkeypatch) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    config = TrainConfig(steps=1, batch=2, crop=96, pool=3, warmup=1, log_every=1, teacher_dirs=[str(maps)])
    train(config, tmp_path / "run", *renderer(), log=lambda row: None)
    # Speed and calibration pages do not decide whether to export: keep them small.
    monkeypatch.setattr(detector_export, "page_seconds", lambda *args, **kwargs: (0.1, 0.1))
    monkeypatch.setattr(detector_export, "calibration_pages", lambda count, seed: [renderer(seed)[0]().image])
    weights = tmp_path / "weights"
    manifest = json.loads(detector_export.export_student(tmp_path / "run", weights, name="craft_lite_photo").read_text())
    assert manifest["export_recipe"] == detector_export.EXPORT_RECIPE and manifest["steps"] == 1
    assert sorted(p.name for p in weights.iterdir()) == sorted(detector_export.export_files("craft_lite_photo"))
    int8 = weights / "craft_lite_photo.int8.onnx"
    assert detector_export._exported_manifest(int8) == manifest
    exported = int8.stat().st_mtime_ns
    detector_export.export_student(tmp_path / "run", weights, name="craft_lite_photo")
    assert int8.stat().st_mtime_ns == exported
    monkeypatch.setattr(detector_export, "EXPORT_RECIPE", "another recipe")
    detector_export.export_student(tmp_path / "run", weights, name="craft_lite_photo")
    assert int8.stat().st_mtime_ns != exported


def test_exporting_again_does_not_repeat_the_lineage(tmp_path: Path, monkeypatch) -> None:
    # A run that started from the exported file, once exported over it, finds its own export at its --init path.
    monkeypatch.setattr(detector_export, "page_seconds", lambda *args, **kwargs: (0.1, 0.1))
    monkeypatch.setattr(detector_export, "calibration_pages", lambda count, seed: [renderer(seed)[0]().image])
    maps = tmp_path / "maps"
    maps.mkdir()
    weights = tmp_path / "weights"
    first = TrainConfig(steps=1, batch=2, crop=96, pool=3, warmup=1, log_every=1, teacher_dirs=[str(maps)])
    for run, config in ("a", first), ("b", replace(first, init=str(weights / "craft_lite.onnx"), freeze_bn=True)):
        train(config, tmp_path / run, *renderer(), log=lambda row: None)
        (tmp_path / run / "run.json").write_text(json.dumps({"commands": [f"ocr train detector --out {run}"]}))
        detector_export.export_student(tmp_path / run, weights)
    manifest = json.loads(detector_export.export_student(tmp_path / "b", weights).read_text())
    assert [r["commands"] for r in manifest["lineage"]] == [[f"ocr train detector --out {run}"] for run in "ab"]
