"""Routing: winner choice rules, provenance, and fallbacks that crash, hang or lie."""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np
import pytest

from ocr.document import Polygon, Word, box_polygon
from ocr.engines.tesseract import TesseractEngine
from ocr.routing import (VOTE, Candidate, Router, Stage, TesseractRegions, choose, plausible, vote,
                         worth_rereading_by_tesseract)
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
