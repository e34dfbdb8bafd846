"""Page evaluation and threshold calibration on a small generated set."""

from __future__ import annotations

import json
from pathlib import Path

from ocr.config import ScanOptions
from ocr.datasets import Region, Sample
from ocr.document import Word, box_polygon
from ocr.eval.pages import (PageReadings, PageScore, calibrate, format_calibration, format_scores, parent_comparison,
                            run_pages)
from ocr.routing import Candidate
from text_images import text_image


def _region(text: str, x0: float, x1: float) -> Region:
    return Region(text, ((x0, 0.0), (x1, 0.0), (x1, 20.0), (x0, 20.0)))


def test_run_pages_scores_an_engine_on_a_set(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    rows = []
    for n, text in enumerate(["Invoice 4821", "Total 93"]):
        text_image(text).save(tmp_path / "images" / f"{n}.png")
        rows.append({"image": f"images/{n}.png", "text": text})
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    [score] = run_pages([str(tmp_path)], ["tesseract"], ScanOptions(), json_path=tmp_path / "scores.json")
    assert (score.engine, score.pages, score.bow_f1, score.e2e_f1, score.fallback_rate) == ("tesseract", 2, 1.0, None,
                                                                                            None)
    assert json.loads((tmp_path / "scores.json").read_text())[0]["bow_f1"] == 1.0
    assert "| tesseract | 2 | 100.0 | – |" in format_scores([score])


def test_calibration_replays_routing_per_threshold() -> None:
    sample = Sample(Path("x.png"), "Total cash", (_region("Total", 0, 50), _region("cash", 60, 100)))
    words = (Word("Total", box_polygon(0, 0, 50, 20), 0.95, "neural"), Word("cesh", box_polygon(60, 0, 100, 20), 0.3,
                                                                            "neural"))
    readings = PageReadings(sample, 120, 20, words, ((), ()),
                            (Candidate("TotaI", 0.5, "tesseract"), Candidate("cash", 0.9, "tesseract")))
    low, middle, high = calibrate("set", [readings], [0.0, 0.5, 1.01])
    assert (low.fallback_rate, low.bow_f1, low.e2e_f1) == (0.0, 0.5, 0.5)
    assert (middle.fallback_rate, middle.bow_f1, middle.tesseract_wins) == (0.5, 1.0, 0.5)
    assert high.fallback_rate == 1.0 and high.bow_f1 == 1.0  # "Total" at 0.95 beats "TotaI" at 0.5
    assert "| set | 0.50 | 100.0 |" in format_calibration([middle])


def _scores(engine: str, page_f1: tuple[float, ...]) -> PageScore:
    return PageScore("set", engine, len(page_f1), 0.0, 0.0, 0.0, None, 0.0, None, 0.1, page_f1)


def test_parent_comparison_counts_pages_within_a_point_of_the_better_parent() -> None:
    scores = [_scores("hybrid", (0.95, 0.80, 0.695)), _scores("neural", (0.90, 0.85, 0.60)),
              _scores("tesseract", (0.96, 0.50, 0.70))]
    [row] = parent_comparison(scores)
    assert (row.pages, row.at_least_parents) == (3, 2)  # page 2: 0.80 < 0.85 − 0.01; page 3: within a point
    assert abs(row.better_parent_f1 - (0.96 + 0.85 + 0.70) / 3) < 1e-9
    assert "| set | 3 | 2 (67 %) |" in format_scores(scores)
    assert parent_comparison(scores[:2]) == []  # no Tesseract: nothing to compare
