"""A tiny end-to-end recognizer training run on generated data: train, resume, export, manifest."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from ocr.charset import CHARSET
from ocr.eval.temperature import TEMPERATURES
from ocr.training.data import Sample
from ocr.training.lines import cut_lines
from ocr.nets.recognizer import build_model
from ocr.training.recognizer import (
    Criterion,
    _set_train_mode,
    build_data,
    case_groups,
    evaluate,
    export,
    init_from,
    init_from_english_g2,
    preset,
    resume_config,
    teacher_labels,
    train,
)
from ocr.models import file_digest
from ocr.training import synth
from ocr.training.synth import Renderer, find_fonts, load_grounds
from ocr.training.synth_scene import SceneRenderer, luminance
from ocr.training.text import TextSampler, scene_words

WORDS = [("receipt", 9), ("total", 8), ("cash", 7), ("change", 5), ("coffee", 4), ("price", 3), ("amount", 2)]
LINES = ["TOTAL 12.50", "CASH 20.00", "CHANGE 7.50", "COFFEE 2 X 3.25"]


def _page_set(folder: Path, pages: int = 3) -> Path:
    """A page set in the shared manifest format with four printed lines per page."""
    font = ImageFont.truetype(find_fonts()[0], 22)
    (folder / "images").mkdir(parents=True)
    rows = []
    for p in range(pages):
        image = Image.new("RGB", (360, 220), "white")
        draw = ImageDraw.Draw(image)
        lines = []
        for i, text in enumerate(LINES):
            x0, y0, x1, y1 = draw.textbbox((20, 20 + 48 * i), text, font=font)
            draw.text((20, 20 + 48 * i), text, fill="black", font=font)
            lines.append({"text": text, "box": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]})
        image.save(folder / "images" / f"{p:03d}.png")
        rows.append({"image": f"images/{p:03d}.png", "text": "\n".join(LINES), "lines": lines})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def fonts() -> list[str]:
    return find_fonts()[:4]


def test_renderer_and_sampler_cover_the_extended_charset(fonts: list[str]) -> None:
    sampler = TextSampler(WORDS, CHARSET, seed=3)
    texts = [sampler("word") for _ in range(300)] + [sampler("line") for _ in range(100)]
    assert all(set(t) <= set(CHARSET) and t == t.strip() and t for t in texts)
    assert any(set(t) & set("€£¥°§©®±×÷•–—‘’“”") for t in texts)
    assert any(any(c.islower() for c in t) for t in texts) and any(t.isupper() for t in texts)
    image = Renderer(fonts, 32, seed=1)("Café 12.50 €")
    assert image.dtype == np.uint8 and image.shape[0] == 32 and image.shape[1] > 32


def test_words_printed_between_neighbours_are_cut_around_the_word(fonts: list[str]) -> None:
    renderer = Renderer(fonts, 32, seed=2)
    alone = [renderer("ab") for _ in range(20)]
    crowded = [renderer("ab", "MMMMMMMM", "MMMMMMMM") for _ in range(20)]
    # The neighbours are sixteen letters wide: a crop that kept them would be several times wider.
    assert max(im.shape[1] for im in crowded) < 2.5 * max(im.shape[1] for im in alone)
    assert all(im.shape[0] == 32 for im in alone + crowded)


def test_text_is_drawn_on_a_patch_of_a_photograph_when_given_some(fonts: list[str], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    stripes = np.zeros((300, 400), np.uint8)
    stripes[:, (np.arange(400) // 20) % 2 == 0] = 255  # a ground no paper texture makes: bands 20 columns wide
    Image.fromarray(stripes).save(tmp_path / "stripes.png")
    (ground,) = load_grounds(tmp_path)
    assert ground.shape == (300, 400)
    renderer = Renderer(fonts, 32, seed=5, grounds=[ground])
    renderer._colours()
    patch = renderer._photo_ground((40, 90))
    assert patch.shape == (40, 90) and abs(float(patch.mean()) - renderer._paper) < 1
    assert np.abs(np.diff(patch.mean(axis=0))).max() > 8  # the bands show
    monkeypatch.setattr(synth, "PHOTO_GROUND", 1.0)
    image = renderer("Street 42")
    assert image.dtype == np.uint8 and image.shape[0] == 32
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        load_grounds(tmp_path / "empty")


def test_underlines_run_below_the_baseline_and_sometimes_end_near_the_word(fonts: list[str]) -> None:
    """Form rules under a word (top 10, baseline 40, bottom 50 of a 60×300 canvas, text in
    columns 100–200) never cross its letters above the baseline, and some end near the word's
    end, as in underlined form fields, where the rule's end must not be read as a full stop."""
    renderer = Renderer(fonts, 32, seed=4)
    ends = []
    for _ in range(400):
        rules = renderer._rules((60, 300), (100.0, 200.0), (10, 40, 50), 30)
        rules[:, rules.all(0)] = 0  # cell borders beside the word
        rows = np.flatnonzero(rules[11:].any(1)) + 11  # not the rule above the word
        if rows.size:
            assert rows.min() > 40
            ends.append(np.flatnonzero(rules[rows.min()]).max())
    assert 20 < len(ends) < 120
    assert 299 in ends and any(190 <= end < 275 for end in ends)


def test_scene_words_are_mostly_capitalized_everyday_words(tmp_path: Path) -> None:
    words = scene_words(tmp_path / "scene.tsv", size=2000)
    assert len(words) > 1500 and all(w.isalpha() and n >= 1 for w, n in words)
    assert dict(words)["the"] > dict(words)["street"] > 1
    assert scene_words(tmp_path / "scene.tsv", size=10) == words  # the cached list, not wordfreq again
    sampler = TextSampler(words, CHARSET, seed=5)
    texts = [sampler("scene") for _ in range(400)]
    capitalized = sum(t[:1].isupper() for t in texts)
    assert 0.5 * len(texts) < capitalized < 0.95 * len(texts)
    assert any(any(c.isdigit() for c in t) for t in texts)


def test_scene_text_is_cut_close_around_letters_that_stand_out_in_gray(fonts: list[str]) -> None:
    renderer = SceneRenderer(fonts, 32, seed=6)
    for _ in range(200):
        ground, letters, _ = renderer._palette()
        assert abs(luminance(letters) - luminance(ground)) >= 25
    short = [renderer("AB") for _ in range(30)]
    long = [renderer("ABCDEFGHABCD") for _ in range(30)]
    assert all(im.dtype == np.uint8 and im.shape[0] == 32 for im in short + long)
    # cut close: twelve letters make crops several times wider than two
    assert np.median([im.shape[1] for im in long]) > 3 * np.median([im.shape[1] for im in short])
    # the letters show: most crops span a wide range of gray levels
    assert np.median([np.percentile(im, 95) - np.percentile(im, 5) for im in long]) > 40


def test_a_close_cut_clipping_a_thin_mark_keeps_its_ink(fonts: list[str]) -> None:
    # a cut inside a "1" on both sides once came out empty and killed a training run
    class Clipping(random.Random):
        def random(self) -> float:
            return 0.0  # always the clipping branch

        def uniform(self, a: float, b: float) -> float:
            return a  # as deep as it goes

    renderer = SceneRenderer(fonts, 32, seed=3)
    renderer.rng = Clipping()
    gray = np.full((60, 40), 200, np.float32)
    assert renderer._crop_tight(gray, (10, 50, 19, 21)).shape == (36, 2)  # rows clipped, the 2-column stroke kept
    assert renderer._crop_tight(gray, (10, 50, 5, 35)).shape == (36, 26)


def test_scene_text_joins_the_mixture_and_its_validation_when_weighted(tmp_path: Path, fonts: list[str]) -> None:
    pages = _page_set(tmp_path / "pages", pages=2)
    cfg = replace(preset("tiny"), lines=str(pages), cache=str(tmp_path / "cache"),
                  mix={"sroie": 0.0, "synth_word": 0.0, "synth_line": 0.0, "synth_scene": 1.0})
    data = build_data(cfg, words=WORDS, fonts=fonts, crops=cut_lines(pages))
    assert len(data.val["scene_val"]) == 8 and "wordfreq" in data.sources["synth_scene"]
    drawn = [data.mixture() for _ in range(20)]
    assert all(s.image.shape[0] == 32 for s in drawn)
    assert not {s.text.lower() for s in drawn} <= {w for w, _ in WORDS}  # words of the scene list, not the given ones
    plain = build_data(replace(cfg, mix=preset("tiny").mix), words=WORDS, fonts=fonts, crops=cut_lines(pages))
    assert "scene_val" not in plain.val and "synth_scene" not in plain.sources


def test_caseless_loss_ignores_case_but_not_letters() -> None:
    config = preset("tiny").recognizer
    fold, group_of = case_groups(config.charset)
    assert group_of["a"] == group_of["A"] and group_of["é"] == group_of["É"] and group_of["a"] != group_of["b"]
    assert torch.equal(fold.sum(0)[group_of["a"]], torch.tensor(2.0))
    criterion = Criterion(config)
    index = {c: i + 1 for i, c in enumerate(config.charset)}
    logits = torch.full((1, 6, config.num_classes), -20.0)
    for t, c in enumerate("to-tal"):  # the model reads "total" in lower case, with one blank
        logits[0, t, index[c] if c != "-" else 0] = 20.0
    image = np.zeros((32, 24), np.uint8)
    caseless = float(criterion(logits, [Sample(image, "TOTAL", caseless=True)]))
    exact = float(criterion(logits, [Sample(image, "TOTAL")]))
    wrong = float(criterion(logits, [Sample(image, "TOTEL", caseless=True)]))
    assert caseless < 1e-3 < exact and caseless < 1e-3 < wrong


def test_english_g2_initialization_keeps_known_rows() -> None:
    from ocr.nets.recognizer import build_model, load_english_g2

    model = build_model(preset("best").recognizer)
    counts = init_from_english_g2(model)
    assert counts["copied"] == 97 and counts["copied"] + counts["related"] + counts["new"] == model.config.num_classes
    g2 = load_english_g2()
    ours = model.prediction.classifier
    theirs = g2.prediction.classifier
    a_ours, a_theirs = model.config.charset.index("a") + 1, g2.config.charset.index("a") + 1
    assert torch.equal(ours.weight[a_ours], theirs.weight[a_theirs])
    e_acute = model.config.charset.index("é") + 1
    e_theirs = g2.config.charset.index("e") + 1
    assert torch.equal(ours.weight[e_acute], theirs.weight[e_theirs]) and ours.bias[e_acute] < theirs.bias[e_theirs]


def test_an_attention_decoder_starts_on_the_encoder_of_a_ctc_run() -> None:
    from ocr.nets.recognizer import build_model

    small = {"output_channels": 32, "hidden_size": 32}
    encoder = build_model(replace(preset("card_encoder").recognizer, **small))
    card = build_model(replace(preset("card").recognizer, **small))
    decoder_before = card.prediction.classifier.weight.clone()
    assert init_from(card, encoder) == "all but the prediction head"
    shared = {k: v for k, v in encoder.state_dict().items() if not k.startswith("prediction.")}
    assert shared and all(torch.equal(card.state_dict()[k], v) for k, v in shared.items())
    assert torch.equal(card.prediction.classifier.weight, decoder_before)


def test_a_narrow_model_widened_into_a_wider_one_still_reads_the_same() -> None:
    from ocr.nets.recognizer import build_model

    torch.manual_seed(0)
    narrow = build_model(replace(preset("fast").recognizer, output_channels=32, hidden_size=16)).eval()
    wide = build_model(replace(preset("fast").recognizer, output_channels=64, hidden_size=24)).eval()
    for module in narrow.modules():  # batch norms that do something, so that a wrong copy would show
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    assert init_from(wide, narrow) == "all, widened from 32 channels and hidden 16"
    images = torch.rand(3, 1, 32, 80) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(wide(images), narrow(images), atol=1e-5)
        wide.sequence.layers[1].proj.weight[:, 16] += 1.0  # a new unit's output, once it grows, is read
        assert not torch.allclose(wide(images), narrow(images), atol=1e-3)


def test_an_init_model_of_other_sizes_is_a_usage_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ocr.cli import main

    shipped = Path(__file__).parents[1] / "weights" / "recognizer_fast.pt"
    result = CliRunner().invoke(main, ["train", "recognizer", "--config", "tiny", "--init", str(shipped),
                                       "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "does not fit None-Mobile-None-CTC" in result.output


def test_tiny_training_run_resumes_and_exports(tmp_path: Path, fonts: list[str]) -> None:
    pages = _page_set(tmp_path / "pages")
    cfg = replace(preset("tiny"), steps=6, lines=str(pages), cache=str(tmp_path / "cache"), checkpoint_minutes=0.0)
    data = build_data(cfg, words=WORDS, fonts=fonts, crops=cut_lines(pages))
    assert {len(v) for v in data.val.values()} == {4, 8}  # one held-out page of four lines; eight synthetic words
    out = tmp_path / "run"
    echoed: list[str] = []
    first = train(cfg, out, command="first", data=data, echo=echoed.append)
    assert first.step == 6 and (out / "checkpoint.pt").is_file() and (out / "best.pt").is_file()
    saved = torch.load(out / "checkpoint.pt", weights_only=False)
    assert saved["state"]["step"] == 6 and saved["config"]["seed"] == cfg.seed and "optimizer" in saved

    again = resume_config(out, steps=10, teacher=None)
    assert again == replace(cfg, steps=10)
    resumed = train(again, out, resume=True, command="second", data=data, echo=echoed.append)
    assert resumed.step == 10 and resumed.commands == ["first", "second"]
    assert resumed.wall_seconds > first.wall_seconds
    events = [json.loads(line)["event"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert events.count("resume") == 1 and "val" in events and "train" in events
    losses = [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines() if '"train"' in line]
    assert all(np.isfinite(losses))

    manifest = export(out, data=data, echo=echoed.append)
    for name in ("tiny.onnx", "tiny.int8.onnx"):
        entry = manifest["files"][name]
        assert entry["sha256"] == file_digest(out / name) and (out / entry["config"]).is_file()
        assert {"sroie_val_cer", "synth_val_acc", "synth_val_crops_per_s"} <= entry["metrics"].keys()
        assert json.loads((out / entry["config"]).read_text())["temperature"] == entry["confidence"]["temperature"]
        assert entry["confidence"]["temperature"] in TEMPERATURES
    assert manifest["commands"] == ["first", "second"] and manifest["training"]["seed"] == cfg.seed
    assert json.loads((out / "manifest.json").read_text())["model"] == "None-Mobile-None-CTC"


def test_a_time_budget_ends_the_run_early_with_the_schedule_annealed(tmp_path: Path, fonts: list[str]) -> None:
    pages = _page_set(tmp_path / "pages", pages=2)
    cfg = replace(preset("tiny"), steps=10_000, minutes=0.06, warmup=1, lines=str(pages), cache=str(tmp_path / "cache"))
    data = build_data(cfg, words=WORDS, fonts=fonts, crops=cut_lines(pages))
    state = train(cfg, tmp_path / "run", data=data, echo=lambda _: None)
    assert 1 < state.step < cfg.steps and 3.6 <= state.wall_seconds < 20
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    train_lrs = [float(r["lr"]) for r in records if r["event"] == "train"]
    # annealed by the budget, not by --steps (by those it would still be near cfg.lr); the last
    # record can come a few steps before the end, so it is only required past the cosine's middle
    assert train_lrs[-1] < 0.5 * cfg.lr and train_lrs == sorted(train_lrs, reverse=True)
    assert records[-1] == {**records[-1], "event": "checkpoint", "step": state.step}


def test_attention_model_trains_a_few_steps(tmp_path: Path, fonts: list[str]) -> None:
    pages = _page_set(tmp_path / "pages", pages=2)
    card = preset("card")
    small = {**card.model, "output_channels": 32, "hidden_size": 32, "max_length": 16}
    cfg = replace(card, model=small, steps=2, columns=512, max_batch=8, val_lines=4, val_synth=4, val_every=2,
                  log_every=1, holdout_pages=1, cache=str(tmp_path / "cache"))
    data = build_data(cfg, words=WORDS, fonts=fonts, crops=cut_lines(pages))
    assert all(len(s.text) <= 16 for s in data.val["synth_val"])
    state = train(cfg, tmp_path / "run", data=data, echo=lambda _: None)
    assert state.step == 2
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines() if '"train"' in line]
    assert len(losses) == 2 and all(np.isfinite(losses))


class _ReadsTotal(torch.nn.Module):
    """A stand-in teacher that reads every crop as "total" (and counts its batches)."""

    def __init__(self) -> None:
        super().__init__()
        self.config = preset("tiny").recognizer
        self.batches = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.batches += 1
        logits = torch.zeros(images.shape[0], 5, self.config.num_classes)
        for t, c in enumerate("total"):
            logits[:, t, self.config.charset.index(c) + 1] = 1.0
        return logits


def test_teacher_labels_restore_case_where_the_teacher_agrees_and_are_read_once(tmp_path: Path) -> None:
    crops = [c for c in cut_lines(_page_set(tmp_path / "set", pages=1)) if c.text in ("TOTAL 12.50", "CASH 20.00")]
    crops += [replace(crops[0], text="TOTAL")]
    teacher, cache, told = _ReadsTotal(), tmp_path / "labels.json", []
    labels = teacher_labels(teacher, crops, cache, progress=lambda done, total: told.append((done, total)), every=2)
    assert labels == [None, None, "total"]
    assert teacher.batches == 1 and told == [(3, 3)]  # all crops in one batch
    assert teacher_labels(teacher, crops, cache) == [None, None, "total"] and teacher.batches == 1  # from the cache


def test_a_resume_needs_no_config_but_a_run_directory(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ocr.cli import main

    runner = CliRunner()
    no_run = runner.invoke(main, ["train", "recognizer", "--resume"])
    assert no_run.exit_code == 2 and "give --config, or --resume with --out" in no_run.output
    empty = runner.invoke(main, ["train", "recognizer", "--resume", "--out", str(tmp_path)])
    assert empty.exit_code == 3 and "nothing to resume" in empty.output and "ignored" not in empty.output
    told = runner.invoke(main, ["train", "recognizer", "--resume", "--config", "fast", "--seed", "4", "--out", str(tmp_path)])
    assert told.exit_code == 3 and "warning: --config, --seed ignored: a resumed run keeps its own" in told.output


def test_a_learning_rate_must_be_positive_and_sets_the_peak(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ocr.cli import main

    bad = CliRunner().invoke(main, ["train", "recognizer", "--config", "tiny", "--lr", "0", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--lr 0.0: the learning rate must be positive" in bad.output
    assert preset("fast", lr=3e-4).lr == 3e-4 and preset("fast").lr == 1.5e-3


def test_validation_leaves_frozen_batch_norms_frozen() -> None:
    model = build_model(preset("tiny").recognizer)
    _set_train_mode(model, frozen_bn=True)
    before = {name: module.training for name, module in model.named_modules()}
    assert not all(before.values()) and any(before.values())
    evaluate(model, {"synth_val": [Sample(np.full((32, 48), 255, np.uint8), "a", False)]})
    assert {name: module.training for name, module in model.named_modules()} == before
