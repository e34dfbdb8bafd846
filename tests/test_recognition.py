"""The onnxruntime recognizer: pre-processing, batching, decoding, long-crop windows, crops and metrics."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
import torch

from ocr.charset import CHARSET, EASYOCR_ENGLISH_G2, encode
from ocr.errors import EngineError, InputError
from ocr.eval.metrics import alnum_caseless, cer, edit_distance, reliability_table, separation_auc
from ocr.eval.temperature import TEMPERATURES, fit_temperature
from ocr.nets.recognizer import RecognizerConfig, build_model, export_onnx
from ocr.recognition import Reading, Recognizer
from ocr.recognition.crops import crop_region
from ocr.recognition.predictor import (
    LIGHT_GROUND,
    REREAD_BELOW,
    WIDTH_STEP,
    batch_tensor,
    decode_attention,
    decode_ctc,
    merge_windows,
    plan_batches,
    second_look,
    split_windows,
    word_confidence,
)


def one_hot_probs(classes: list[int], num_classes: int, peak: float = 0.9) -> np.ndarray:
    probs = np.full((len(classes), num_classes), (1 - peak) / (num_classes - 1), dtype=np.float32)
    probs[np.arange(len(classes)), classes] = peak
    return probs


# --------------------------------------------------------------------------- charset


def test_charset_contents() -> None:
    assert len(set(CHARSET)) == len(CHARSET)
    for char in " azAZ09~€£¥°§©®±×÷•–—‘’“”éÉñÑçßÿ":
        assert char in CHARSET
    assert "\t" not in CHARSET and "\n" not in CHARSET
    assert len(EASYOCR_ENGLISH_G2) == 96 and EASYOCR_ENGLISH_G2.index("€") == 43
    assert encode("a€", CHARSET) == [CHARSET.index("a") + 1, CHARSET.index("€") + 1]
    with pytest.raises(ValueError, match="outside the charset"):
        encode("naïve→", EASYOCR_ENGLISH_G2)


# --------------------------------------------------------------------------- decoding


def test_ctc_collapses_repeats_and_drops_blanks() -> None:
    charset = "abl"
    # a a _ b _ b l l  → "abbl"
    probs = one_hot_probs([1, 1, 0, 2, 0, 2, 3, 3], 4)
    probs[1, 1] = 0.95
    text, confs, centres = decode_ctc(probs, charset)
    assert text == "abbl"
    assert confs == pytest.approx((0.95, 0.9, 0.9, 0.9))
    assert centres == (1.0, 3.5, 5.5, 7.0)  # the middle of each character's run of steps
    assert decode_ctc(one_hot_probs([0, 0, 0], 4), charset) == ("", (), ())


def test_attention_stops_at_end_of_sequence() -> None:
    probs = one_hot_probs([2, 1, 0, 3, 3], 4, peak=0.8)
    assert decode_attention(probs, "abc") == ("ba", pytest.approx((0.8, 0.8)), pytest.approx(0.8))
    text, confs, end = decode_attention(one_hot_probs([1, 1, 1], 4), "abc")
    assert (text, end) == ("aaa", 0.0)  # ran out of steps: no end-of-sequence, flagged by probability 0


def test_word_confidence_is_the_product_of_character_probabilities() -> None:
    assert word_confidence((0.5, 0.5)) == pytest.approx(0.25)
    assert word_confidence((1.0, 0.9, 0.8)) == pytest.approx(0.72)
    assert word_confidence(()) == 0.0


# --------------------------------------------------------------------------- batching and windows


def test_batches_cover_every_item_once_with_bucketed_widths() -> None:
    rng = random.Random(0)
    widths = [rng.randint(16, 900) for _ in range(300)]
    batches = plan_batches(widths, max_pixels=32 * 32 * 256, height=32)
    seen = sorted(i for indices, _ in batches for i in indices)
    assert seen == list(range(300))
    for indices, width in batches:
        assert width % WIDTH_STEP == 0
        assert all(width - WIDTH_STEP < widths[i] <= width for i in indices)
        assert len(indices) == 1 or len(indices) * width * 32 <= 32 * 32 * 256


def test_batch_tensor_pads_by_repeating_the_last_column() -> None:
    a = np.zeros((4, 3), np.uint8)
    a[:, -1] = 255
    b = np.full((4, 5), 255, np.uint8)
    batch = batch_tensor([a, b], 8)
    assert batch.shape == (2, 1, 4, 8) and batch.dtype == np.float32
    assert batch.min() == -1.0 and batch.max() == 1.0
    assert (batch[0, 0, :, 2:] == 1.0).all() and (batch[0, 0, :, :2] == -1.0).all()


@pytest.mark.parametrize("width", [100, 101, 250, 777, 2000])
def test_windows_cover_the_crop_with_overlap(width: int) -> None:
    windows = split_windows(width, 100, 32)
    assert windows[0][0] == 0 and windows[-1][1] == width
    assert all(end - start <= 100 for start, end in windows)
    for (_, end), (start, _) in zip(windows, windows[1:]):
        assert end - start >= 32


@pytest.mark.parametrize("seed", range(20))
def test_merging_window_readings_restores_the_text(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(rng.randint(20, 80)))
    pitch = 14  # pixels per character
    windows = split_windows(len(text) * pitch, 128, 2 * 32)  # as the predictor does at height 32
    parts = []
    for start, end in windows:
        # a window reads the characters whose centre it contains, sometimes missing a cut one at an edge
        chars = [i for i in range(len(text)) if start <= i * pitch + pitch / 2 < end]
        if start > 0 and rng.random() < 0.5:
            chars = chars[1:]
        if end < len(text) * pitch and rng.random() < 0.5:
            chars = chars[:-1]
        parts.append(("".join(text[i] for i in chars), tuple(0.5 + i / 1000 for i in chars)))
    merged, confs = merge_windows(parts, windows)
    assert merged == text
    assert confs == tuple(0.5 + i / 1000 for i in range(len(text)))


# --------------------------------------------------------------------------- crops


def test_crop_region_slices_boxes_and_rectifies_quads() -> None:
    image = np.arange(100 * 200 * 3, dtype=np.uint32).reshape(100, 200, 3).astype(np.uint8)
    box = [[10, 20], [60, 20], [60, 40], [10, 40]]
    assert np.array_equal(crop_region(image, box), image[20:40, 10:60])
    assert crop_region(image, box, margin=0.5).shape == (40, 70, 3)
    tilted = [[10, 30], [110, 10], [114, 30], [14, 50]]
    crop = crop_region(image, tilted)
    assert abs(crop.shape[1] - 102) <= 1 and abs(crop.shape[0] - 20) <= 1
    assert crop_region(image, [[300, 300], [310, 300], [310, 310], [300, 310]]).size == 0


# --------------------------------------------------------------------------- metrics


def test_text_metrics() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance(["a", "b"], ["a", "c", "b"]) == 1
    assert cer("helo  world", "hello world") == pytest.approx(1 / 11)
    assert alnum_caseless("Don't-Stop!") == "dontstop"
    assert alnum_caseless("Café Ñoño, 2°") == alnum_caseless("CAFE NONO 2") == "cafenono2"
    rows = reliability_table([0.1, 0.2, 0.3, 0.9], [False, False, True, True], bins=2)
    assert [(r.count, r.accuracy) for r in rows] == [(2, 0.0), (2, 1.0)]
    assert separation_auc([0.1, 0.2, 0.3, 0.9], [False, False, True, True]) == 1.0
    assert separation_auc([0.5, 0.5], [False, True]) == 0.5


# --------------------------------------------------------------------------- the predictor on real sessions


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("tiny_recognizers")
    paths = {}
    torch.manual_seed(0)
    for name in ("None-Mobile-None-CTC", "None-Mobile-None-Attn"):
        config = RecognizerConfig(name=name, img_height=32, img_width=96, hidden_size=16, output_channels=32, max_length=8)
        paths[name] = str(export_onnx(build_model(config), folder / f"{name}.onnx"))
    return paths


def _noise_crops(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(count):
        h = int(rng.integers(8, 60))
        w = int(rng.integers(4, 400))
        crops.append(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return crops


@pytest.mark.parametrize("name", ["None-Mobile-None-CTC", "None-Mobile-None-Attn"])
def test_batched_reading_equals_one_by_one(tiny_models: dict[str, str], name: str) -> None:
    recognizer = Recognizer(tiny_models[name])
    crops = _noise_crops(12) + [np.zeros((0, 5, 3), np.uint8), np.full((20, 900), 200, np.uint8)]
    batched = recognizer.read(crops)
    assert len(batched) == len(crops) and all(isinstance(r, Reading) for r in batched)
    assert batched[12] == Reading("", 0.0, ())
    for reading, crop in zip(batched, crops):
        alone = recognizer.read([crop])[0]
        assert alone.text == reading.text
        assert alone.confidence == pytest.approx(reading.confidence, abs=1e-4)
        assert len(reading.char_confidences) == len(reading.text)
        assert 0.0 <= reading.confidence <= 1.0


def test_attention_model_reads_long_crops_in_windows(tiny_models: dict[str, str], monkeypatch) -> None:
    recognizer = Recognizer(tiny_models["None-Mobile-None-Attn"])
    widths: list[int] = []
    run = recognizer.session.run

    def spy(batch: np.ndarray) -> list[np.ndarray]:
        widths.extend([batch.shape[3]] * batch.shape[0])
        return run(batch)

    monkeypatch.setattr(recognizer.session, "run", spy)
    monkeypatch.setattr("ocr.recognition.predictor.REREAD_BELOW", 0.0)  # one reading, no second look
    recognizer.read([np.full((32, 1000), 128, np.uint8)])
    assert len(widths) == len(split_windows(1000, 96, 64)) > 10
    assert max(widths) <= 96


def test_unsure_crops_are_read_a_second_time(tiny_models: dict[str, str], monkeypatch) -> None:
    """Unsure crops are read again, inverted (light text on a dark ground) or stretched along their text (on
    a light ground); the second reading replaces the first only when more confident, and is then only as
    sure as the other is wrong; sure readings, and long lines of sure characters, are not read again."""
    line = "a long line of characters each read at 0.97"
    light = LIGHT_GROUND + 20
    readings = {  # (gray level, width) of a uniform crop -> what the model reads there
        (40, 60): Reading("Exlt", 0.3, (0.9, 0.5, 0.8, 0.83)), (215, 60): Reading("Exit", 0.95, (0.99, 0.98, 0.99, 0.99)),
        (200, 60): Reading("Total", 0.99, (0.998,) * 5), (55, 60): Reading(line, 0.97 ** len(line), (0.97,) * len(line)),
        (60, 60): Reading("rn", 0.5, (0.7, 0.7)), (195, 60): Reading("m", 0.2, (0.2,)),
        (light, 60): Reading("rnorning", 0.4, (0.4,) + (0.9,) * 7), (light, 72): Reading("morning", 0.8, (0.97,) * 7),
    }
    seen: list[list[tuple[int, int]]] = []

    def read_turned(grays):
        seen.append([(int(g.mean()), g.shape[1]) for g in grays])
        return [readings[key] for key in seen[-1]]

    recognizer = Recognizer(tiny_models["None-Mobile-None-CTC"])
    monkeypatch.setattr(recognizer, "_read_turned", read_turned)
    crops = [np.full((20, 60), level, np.uint8) for level in (40, 200, 55, 60, light)]
    got = recognizer.read(crops)
    assert [r.text for r in got] == ["Exit", "Total", line, "rn", "morning"]
    assert got[0].confidence == pytest.approx(0.95 * (1 - 0.3))  # right only if the upright reading is wrong
    assert got[4].confidence == pytest.approx(0.8 * (1 - 0.4))
    assert seen == [[(40, 60), (200, 60), (55, 60), (60, 60), (light, 60)], [(215, 60), (195, 60), (light, 72)]]
    assert readings[(55, 60)].confidence < 0.3 < REREAD_BELOW  # the line is not judged by its product
    assert second_look(np.full((60, 20), light, np.uint8)).shape == (72, 20)  # tall: stretched along its height

    seen.clear()
    once = recognizer.read(crops, reread=False)
    assert [r.text for r in once] == ["Exlt", "Total", line, "rn", "rnorning"] and [s for s in seen if s] == seen[:1]


def test_spaces_at_a_crops_edges_are_dropped(tiny_models: dict[str, str], monkeypatch) -> None:
    """A reading never starts or ends with a space; the space's probability does not count
    against the word, and the other characters keep their own probabilities and positions."""
    recognizer = Recognizer(tiny_models["None-Mobile-None-CTC"])
    decoded = {1: (" NAME: ", (0.4, 0.9, 0.9, 0.9, 0.9, 0.8, 0.3), 1.0, (0.05, 0.2, 0.3, 0.4, 0.5, 0.6, 0.95)),
               2: ("two words", (0.9,) * 9, 1.0, tuple(k / 9 for k in range(9))),
               3: ("   ", (0.2,) * 3, 1.0, (0.1, 0.5, 0.9))}
    monkeypatch.setattr(recognizer, "_decode", lambda images: [decoded[int(image.mean())] for image in images])
    got = recognizer._read_gray([np.full((32, 64), level, np.uint8) for level in (1, 2, 3)])
    assert got[0] == Reading("NAME:", pytest.approx(0.9**4 * 0.8), (0.9, 0.9, 0.9, 0.9, 0.8), (0.2, 0.3, 0.4, 0.5, 0.6))
    assert got[1].text == "two words"  # spaces between words stay
    assert got[2] == Reading("", 0.0, (), ())


@pytest.mark.parametrize("name", ["None-Mobile-None-CTC", "None-Mobile-None-Attn"])
def test_a_temperature_sharpens_confidences_but_never_changes_a_reading(tiny_models: dict[str, str], name: str,
                                                                       monkeypatch) -> None:
    monkeypatch.setattr("ocr.recognition.predictor.REREAD_BELOW", 0.0)  # one reading per crop, at either temperature
    recognizer = Recognizer(tiny_models[name])
    crops = _noise_crops(8, seed=3)
    plain = recognizer.read(crops)
    recognizer.config = replace(recognizer.config, temperature=0.5)
    sharp = recognizer.read(crops)
    assert [r.text for r in sharp] == [r.text for r in plain] and any(r.text for r in plain)
    for s, p in zip(sharp, plain):
        assert all(a >= b - 1e-6 for a, b in zip(s.char_confidences, p.char_confidences))
    # (the untrained attention model never ends a word, so its word confidences are 0: compare its characters')
    assert sum(word_confidence(r.char_confidences) for r in sharp) > sum(word_confidence(r.char_confidences) for r in plain)
    with pytest.raises(ValueError, match="temperature must be positive"):
        replace(recognizer.config, temperature=0.0)


def _fit_saying(recognizer: Recognizer, base: float, monkeypatch) -> tuple:
    """Fit a temperature to ten crops, eight right, each read "RIGHT" with confidence base ** (1 / T)."""

    def read(images):
        confidence = base ** (1 / recognizer.config.temperature)
        return [Reading("RIGHT", confidence, (confidence,))] * len(images)

    monkeypatch.setattr(recognizer, "read", read)
    return fit_temperature(recognizer, [np.zeros((8, 8), np.uint8)] * 10, ["right"] * 8 + ["other"] * 2)


def test_the_fitted_temperature_makes_confidence_match_accuracy(tiny_models: dict[str, str], monkeypatch) -> None:
    """Said with 0.64 ** (1 / T) where 0.8 is right: honest at T = 2."""
    recognizer = Recognizer(tiny_models["None-Mobile-None-CTC"])
    best, tried = _fit_saying(recognizer, 0.64, monkeypatch)
    assert best.temperature == 2.0 and recognizer.config.temperature == 2.0
    assert best.mean_confidence == pytest.approx(0.8) and best.accuracy == pytest.approx(0.8)
    assert [t.temperature for t in tried] == list(TEMPERATURES)
    assert all(best.log_loss < t.log_loss for t in tried if t is not best)


def test_a_temperature_barely_better_than_1_is_not_kept(tiny_models: dict[str, str], monkeypatch) -> None:
    """Said with 0.78 ** (1 / T) where 0.8 is right: 1.15 fits a little better (0.806), not by MIN_GAIN."""
    recognizer = Recognizer(tiny_models["None-Mobile-None-CTC"])
    best, tried = _fit_saying(recognizer, 0.78, monkeypatch)
    assert min(tried, key=lambda t: t.log_loss).temperature == 1.15
    assert best.temperature == 1.0 and recognizer.config.temperature == 1.0


def test_bad_inputs_and_missing_config(tiny_models: dict[str, str], tmp_path) -> None:
    recognizer = Recognizer(tiny_models["None-Mobile-None-CTC"])
    with pytest.raises(InputError, match="uint8"):
        recognizer.read([np.zeros((10, 10), np.float32)])
    with pytest.raises(InputError, match="shape"):
        recognizer.read([np.zeros((10, 10, 2), np.uint8)])
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(b"")
    with pytest.raises(EngineError, match="config not found"):
        Recognizer(lonely)
