"""Word-list correction of CTC readings: exact CTC probabilities, plausible edits only, case kept."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ocr.errors import EngineError
from ocr.recognition.lexicon import Lexicon, ctc_log_likelihood
from ocr.recognition.predictor import decode_ctc
from ocr.training.text import build_lexicon

CHARSET = " .0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WORDS = Lexicon({"the": 1000, "cat": 50, "total": 40, "tile": 2})


def frames(text: str, runner_up: dict[int, str] | None = None, second: float = 0.3) -> np.ndarray:
    """Probabilities of a clean reading of ``text``: each character for two steps then a blank step;
    at character ``i`` of ``runner_up`` the character given there gets ``second`` of the probability."""
    runner_up = runner_up or {}
    rows = []
    for i, char in enumerate(text):
        row = np.full(len(CHARSET) + 1, 1e-4)
        row[CHARSET.index(char) + 1] = 1.0 - second if i in runner_up else 1.0
        if i in runner_up:
            row[CHARSET.index(runner_up[i]) + 1] = second
        rows += [row / row.sum()] * 2
        blank = np.full(len(CHARSET) + 1, 1e-4)
        blank[0] = 1.0
        rows.append(blank / blank.sum())
    return np.array(rows)


def test_ctc_likelihood_equals_torch() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(30, 12))
    log_probs = torch.from_numpy(logits).log_softmax(-1)
    for labels in ([3, 3, 5], [1], [2, 4, 2, 4, 7, 7, 1]):
        expected = -F.ctc_loss(log_probs[:, None], torch.tensor([labels]), torch.tensor([30]), torch.tensor([len(labels)]),
                               blank=0, reduction="sum").item()
        assert ctc_log_likelihood(log_probs.numpy(), labels) == pytest.approx(expected, rel=1e-6)


def test_a_near_miss_becomes_the_listed_word_the_model_nearly_read() -> None:
    text, confidences, positions = decode_ctc(frames("tbe", {1: "h"}), CHARSET, WORDS)
    assert text == "the"
    probability = math.exp(ctc_log_likelihood(np.log(frames("the", {1: "b"}, 0.7)), [CHARSET.index(c) + 1 for c in "the"]))
    odds = probability * math.exp(WORDS.bonus("the"))
    assert math.prod(confidences) == pytest.approx(odds / (1 + odds), rel=1e-2)  # the posterior of the listed word
    assert len(positions) == 3 and positions[0] < positions[1] < positions[2]
    # case follows the reading, punctuation around the word stays
    assert decode_ctc(frames("TBE.", {1: "h"}), CHARSET, WORDS)[0] == "THE."
    assert decode_ctc(frames("Tota1 2.50", {4: "l"}), CHARSET, WORDS)[0] == "Total 2.50"
    assert decode_ctc(frames("c4t", {1: "a"}), CHARSET, WORDS)[0] == "cat"


def test_confident_unlisted_words_numbers_and_listed_words_stay() -> None:
    for text, runner_up in (("tbe", {}), ("tbe", {1: "x"}), ("1234", {0: "t"}), ("tile", {1: "h"}), ("4t", {0: "a"})):
        assert decode_ctc(frames(text, runner_up), CHARSET, WORDS)[0] == text
    assert decode_ctc(frames("tbe", {1: "h"}), CHARSET, None)[0] == "tbe"


def test_building_and_loading_the_word_list(tmp_path) -> None:
    dictionary = tmp_path / "words"
    dictionary.write_text("The\ncat's\nx\nqi\nzebra\n", encoding="utf-8")
    out = tmp_path / "lexicon.tsv.gz"
    assert build_lexicon(dictionary, [("the", 9), ("nodejs", 500), ("rare", 3)], out) == 3
    with gzip.open(out, "rt", encoding="utf-8") as stream:
        assert stream.read().splitlines() == ["nodejs\t500", "the\t9", "zebra\t0"]
    words = Lexicon.load(out)
    assert "THE" in words and "zebra" in words and "qi" not in words
    with pytest.raises(EngineError, match="word list not found"):
        Lexicon.load(tmp_path / "missing.tsv.gz")
