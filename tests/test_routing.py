"""Routing: winner choice rules, provenance, and fallbacks that crash, hang or lie."""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np
import pytest

from ocr.config import PipelineConfig
from ocr.document import Polygon, Word, box_polygon
from ocr.engines.neural import HybridEngine
from ocr.engines.tesseract import TesseractEngine
from ocr.routing import (VOTE, Candidate, Combiner, Router, Stage, TesseractRegions, align, choose, in_background,
                         plausible, vote, worth_rereading_by_tesseract)
from text_images import text_image

BOX = box_polygon(0, 0, 200, 40)  # room for ~17 characters


def test_agreement_beats_a_more_confident_single_reading() -> None:
    winner, others = choose([Candidate("cat", 0.3, "neural"), Candidate("cot", 0.8, "cloud"),
                             Candidate("cat", 0.6, "tesseract")], BOX)
    assert winner.text == "cat"
    assert winner.source == "neural"  # the earliest of the agreeing engines
    assert winner.confidence == pytest.approx(1 - 0.7 * 0.4)
    assert {(c.text, c.source) for c in others} == {("cot", "cloud"), ("cat", "tesseract")}


def test_readings_that_differ_only_in_punctuation_agree_in_the_recognizers_spelling() -> None:
    for neural, tesseract in (("Equal", "‘Equal"), ("PROPERLY,", "| PROPERLY,"), ("LIGHTS", "LIGHTS.")):
        winner, others = choose([Candidate(neural, 0.4, "neural"), Candidate(tesseract, 0.9, "tesseract")], BOX)
        assert (winner.text, winner.source) == (neural, "neural")
        assert winner.confidence == pytest.approx(1 - 0.6 * 0.1)
        assert [c.text for c in others] == [tesseract]
    winner, _ = choose([Candidate("cat", 0.4, "neural"), Candidate("Cat", 0.9, "tesseract")], BOX)
    assert winner.text == "Cat"  # case is not punctuation: no agreement, the more confident wins
    winner, _ = choose([Candidate("was.not", 0.4, "neural"), Candidate("was not", 0.9, "tesseract")], BOX)
    assert winner.text == "was not"  # nor are word boundaries


def test_most_confident_reading_wins_without_agreement_or_vote() -> None:
    winner, others = choose([Candidate("hello", 0.4, "neural"), Candidate("help", 0.7, "tesseract")], BOX)
    assert (winner.text, winner.source) == ("help", "tesseract")
    assert [c.text for c in others] == ["hello"]


def test_ties_go_to_the_earlier_engine() -> None:
    winner, _ = choose([Candidate("abc", 0.5, "neural"), Candidate("abd", 0.5, "tesseract")], BOX)
    assert winner.source in ("neural", VOTE)
    assert winner.text == "abc"


def test_character_vote_uses_per_character_confidences() -> None:
    neural = Candidate("T0TAL", 0.45, "neural", (0.99, 0.3, 0.99, 0.99, 0.99))
    tesseract = Candidate("TOTAI", 0.4, "tesseract")
    voted = vote([neural, tesseract])
    assert voted is not None and voted.text == "TOTAL"
    winner, others = choose([neural, tesseract], BOX)
    assert (winner.text, winner.source) == ("TOTAL", VOTE)
    assert winner.confidence > neural.confidence
    assert {c.source for c in others} == {"neural", "tesseract"}  # both originals kept as alternatives


def test_vote_needs_two_readings_of_one_length() -> None:
    assert vote([Candidate("abc", 0.5, "a"), Candidate("abcd", 0.5, "b")]) is None


def test_implausibly_long_reading_cannot_win() -> None:
    garbage = "W" * 40
    assert not plausible(garbage, BOX)
    winner, others = choose([Candidate("Total", 0.2, "neural"), Candidate(garbage, 0.99, "liar")], BOX)
    assert winner.text == "Total"
    assert others[0].text == garbage


def test_empty_reading_loses_to_any_text() -> None:
    winner, _ = choose([Candidate("", 0.9, "tesseract"), Candidate("x1", 0.1, "neural")], BOX)
    assert winner.text == "x1"


class Scripted:
    """A region reader answering from a function of the region index (or misbehaving)."""

    def __init__(self, name: str, answer: str = "fixed", confidence: float = 0.9,
                 behaviour: str = "ok", release: threading.Event | None = None) -> None:
        self.name = name
        self.answer = answer
        self.confidence = confidence
        self.behaviour = behaviour
        self.release = release
        self.calls: list[int] = []

    def read_regions(self, image: np.ndarray, polygons: Sequence[Polygon]) -> list[Candidate | None]:
        self.calls.append(len(polygons))
        if self.behaviour == "crash":
            raise RuntimeError("engine crashed")
        if self.behaviour == "hang":
            assert self.release is not None
            self.release.wait(30)
        if self.behaviour == "short":
            return []
        return [Candidate(self.answer, self.confidence, self.name) for _ in polygons]


def _words() -> list[Word]:
    return [Word("sure", box_polygon(0, 0, 80, 20), 0.95, "neural"),
            Word("d0ubt", box_polygon(100, 0, 200, 20), 0.2, "neural")]


def test_only_low_confidence_words_are_sent_and_provenance_is_kept() -> None:
    reader = Scripted("tesseract", answer="doubt", confidence=0.8)
    routed, report = Router([Stage(reader, 0.5)]).route(np.zeros((20, 200, 3), np.uint8), _words())
    assert reader.calls == [1]
    assert routed[0].text == "sure" and routed[0].source == "neural" and routed[0].alternatives == ()
    assert routed[1].text == "doubt" and routed[1].source == "tesseract"
    assert [(a.text, a.source, a.confidence) for a in routed[1].alternatives] == [("d0ubt", "neural", 0.2)]
    assert report.sent == {"tesseract": 1}
    assert report.winners == {"neural": 1, "tesseract": 1}


def test_a_stage_is_sent_only_the_readings_its_rule_accepts() -> None:
    reader = Scripted("tesseract", answer="doubt", confidence=0.8)
    words = [*_words(), Word("10.5", box_polygon(0, 30, 80, 50), 0.1, "neural"),
             Word("ab", box_polygon(100, 30, 140, 50), 0.1, "neural")]
    routed, report = Router([Stage(reader, 0.5, rereads=worth_rereading_by_tesseract)]).route(
        np.zeros((60, 200, 3), np.uint8), words)
    assert reader.calls == [1] and report.sent == {"tesseract": 1}
    assert [w.text for w in routed] == ["sure", "doubt", "10.5", "ab"]


def test_chain_sends_still_weak_words_to_the_next_stage() -> None:
    first = Scripted("tesseract", answer="dOubt", confidence=0.25)
    second = Scripted("cloud", answer="doubt", confidence=0.9)
    routed, report = Router([Stage(first, 0.5), Stage(second, 0.3)]).route(np.zeros((20, 200, 3), np.uint8), _words())
    assert second.calls == [1]
    assert routed[1].text == "doubt" and routed[1].source == "cloud"
    assert {a.source for a in routed[1].alternatives} == {"neural", "tesseract"}


@pytest.mark.parametrize("behaviour", ["crash", "short"])
def test_a_failing_fallback_never_loses_the_local_reading(behaviour: str) -> None:
    routed, report = Router([Stage(Scripted("tesseract", behaviour=behaviour), 0.5)]).route(
        np.zeros((20, 200, 3), np.uint8), _words())
    assert [w.text for w in routed] == ["sure", "d0ubt"]
    assert all(w.source == "neural" for w in routed)
    assert len(report.notices) == 1 and "tesseract failed" in report.notices[0]


def test_a_hanging_fallback_is_abandoned_after_the_timeout() -> None:
    release = threading.Event()
    try:
        router = Router([Stage(Scripted("cloud", behaviour="hang", release=release), 0.5, timeout=0.2)])
        routed, report = router.route(np.zeros((20, 200, 3), np.uint8), _words())
    finally:
        release.set()
    assert [w.text for w in routed] == ["sure", "d0ubt"]
    assert "TimeoutError" in report.notices[0]


def test_a_lying_fallback_keeps_the_local_reading_as_alternative() -> None:
    liar = Scripted("liar", answer="#" * 60, confidence=1.0)
    routed, _ = Router([Stage(liar, 0.5)]).route(np.zeros((20, 200, 3), np.uint8), _words())
    assert routed[1].text == "d0ubt"  # too long for its box: cannot win
    plausible_liar = Scripted("liar", answer="xyzzy", confidence=0.99)
    routed, _ = Router([Stage(plausible_liar, 0.5)]).route(np.zeros((20, 200, 3), np.uint8), _words())
    assert routed[1].text == "xyzzy"  # undetectable lie of plausible length wins on confidence ...
    assert ("d0ubt", "neural") in {(a.text, a.source) for a in routed[1].alternatives}  # ... but nothing is lost


def test_out_of_range_confidences_are_clamped() -> None:
    routed, _ = Router([Stage(Scripted("odd", answer="doubt", confidence=7.0), 0.5)]).route(
        np.zeros((20, 200, 3), np.uint8), _words())
    assert 0.0 <= routed[1].confidence <= 1.0


def test_tesseract_regions_reads_a_word_region_of_a_page() -> None:
    first, second = np.asarray(text_image("Invoice")), np.asarray(text_image("2024"))
    height = min(first.shape[0], second.shape[0])
    image = np.ascontiguousarray(np.hstack([first[:height], second[:height]]))
    # the second word's region, as a detector would give it (tight around the ink)
    left = first.shape[1] + 36
    region = box_polygon(float(left), 26.0, float(image.shape[1] - 36), float(height - 26))
    [reading] = TesseractRegions(TesseractEngine()).read_regions(image, [region])
    assert reading is not None
    assert reading.text == "2024"
    assert 0.5 < reading.confidence <= 1.0
    assert reading.source == "tesseract"


# --------------------------------------------------------------------------- line-level combination

WORD_LIST = frozenset({"rating", "as", "morning", "total", "amount", "rm", "cash"}).__contains__


def _neural(text: str, x0: float, x1: float, confidence: float = 0.9, y0: float = 0.0) -> Word:
    return Word(text, box_polygon(x0, y0, x1, y0 + 20), confidence, "neural")


def _tesseract(text: str, x0: float, x1: float, confidence: float = 0.9, y0: float = 0.0) -> Word:
    return Word(text, box_polygon(x0, y0 + 1, x1, y0 + 19), confidence, "tesseract")


def test_a_confident_wrong_recognizer_word_loses_to_tesseract_and_the_word_list() -> None:
    combined, report = Combiner(WORD_LIST).combine([_neural("moming", 0, 90, 0.9)],
                                                   [_tesseract("morning", 2, 92, 0.92)])
    [word] = combined
    assert (word.text, word.source, word.confidence) == ("morning", "tesseract", 0.92)
    assert word.polygon == box_polygon(0, 0, 90, 20)  # the detector's box is kept
    assert [(a.text, a.source, a.confidence) for a in word.alternatives] == [("moming", "neural", 0.9)]
    assert report.sent == {"tesseract": 1} and report.winners == {"tesseract": 1}


def test_a_listed_recognizer_word_beats_a_more_confident_unlisted_tesseract_reading() -> None:
    [word], _ = Combiner(WORD_LIST).combine([_neural("Total", 0, 90, 0.8)], [_tesseract("Tota1", 0, 90, 0.96)])
    assert (word.text, word.source) == ("Total", "neural")
    assert [(a.text, a.source) for a in word.alternatives] == [("Tota1", "tesseract")]


def test_agreeing_readings_keep_the_recognizers_spelling_with_both_confidences() -> None:
    [word], _ = Combiner(WORD_LIST).combine([_neural("cash", 0, 60, 0.6)], [_tesseract("‘cash", 0, 60, 0.5)])
    assert (word.text, word.source) == ("cash", "neural")
    assert word.confidence == pytest.approx(1 - 0.4 * 0.5)


def test_a_dropped_space_is_repaired_where_tesseract_and_the_word_list_agree() -> None:
    combined, _ = Combiner(WORD_LIST).combine([_neural("ratingas", 0, 160, 0.95)],
                                              [_tesseract("rating", 0, 100, 0.8), _tesseract("as", 112, 160, 0.8)])
    assert [(w.text, w.source) for w in combined] == [("rating", "tesseract"), ("as", "tesseract")]
    assert combined[1].polygon == box_polygon(112, 1, 160, 19)
    assert all(("ratingas", "neural") == (w.alternatives[0].text, w.alternatives[0].source) for w in combined)
    # and an invented one: the recognizer's two words become Tesseract's one listed word
    combined, _ = Combiner(WORD_LIST).combine([_neural("mor", 0, 40), _neural("ning", 48, 90)],
                                              [_tesseract("morning", 0, 90)])
    assert [w.text for w in combined] == ["morning"]


def test_spaces_at_punctuation_are_not_repaired() -> None:
    combined, _ = Combiner(WORD_LIST).combine([_neural("Amount(RM)", 0, 160, 0.6)],
                                              [_tesseract("Amount", 0, 100, 0.99), _tesseract("(RM)", 108, 160, 0.99)])
    assert [(w.text, w.source) for w in combined] == [("Amount(RM)", "neural")]


def test_words_are_aligned_by_position_line_by_line() -> None:
    words = [_neural("one", 0, 50), _neural("two", 60, 110), _neural("three", 0, 80, y0=40)]
    others = [_tesseract("tw", 62, 80), _tesseract("o", 84, 110), _tesseract("one", 2, 50), _tesseract("x", 300, 320),
              _tesseract("three", 0, 80, y0=40)]
    assert align(words, others) == [([0], [2]), ([1], [0, 1]), ([2], [4]), ([], [3])]


def test_words_only_tesseract_read_are_added_when_confident() -> None:
    words = [_neural("cash", 0, 60)]
    combined, _ = Combiner(WORD_LIST).combine(words, [_tesseract("cash", 0, 60), _tesseract("rating", 100, 180, 0.85),
                                                      _tesseract("qzx", 200, 240, 0.85)])
    assert [w.text for w in combined] == ["cash", "rating"]  # listed at 0.85; "qzx" would need 0.9


def test_a_lying_second_reading_changes_nothing() -> None:
    words = [_neural("moming", 0, 90, 0.5)]
    combined, _ = Combiner(WORD_LIST).combine(words, [_tesseract("morning" * 8, 0, 90, 1.0)])
    assert [(w.text, w.source, w.alternatives) for w in combined] == [("moming", "neural", ())]


class _Failing:
    """A Tesseract stand-in that crashes or hangs."""

    def __init__(self, behaviour: str, release: threading.Event) -> None:
        self.behaviour = behaviour
        self.release = release

    def read(self, image: np.ndarray, mode: str = "page") -> object:
        if self.behaviour == "hang":
            self.release.wait(30)
        raise RuntimeError("engine crashed")


@pytest.mark.parametrize("behaviour", ["crash", "hang"])
def test_a_crashing_or_hanging_tesseract_changes_nothing_in_the_combination(behaviour: str) -> None:
    release = threading.Event()
    engine = HybridEngine.__new__(HybridEngine)  # only what _combine uses: no models loaded
    engine.config = PipelineConfig(combine=True, fallback_timeout=0.2)
    engine.combiner = Combiner(WORD_LIST)
    failing = _Failing(behaviour, release)
    try:
        words, report = engine._combine(_words(), in_background(lambda: failing.read(np.zeros((20, 200, 3), np.uint8))))
    finally:
        release.set()
    assert words == _words()
    assert len(report.notices) == 1 and "tesseract failed" in report.notices[0]
