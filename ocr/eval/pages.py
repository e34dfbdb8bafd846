"""Page-level evaluation of whole engines, and calibration of the routing thresholds.

Metrics per set and engine: bag-of-words F1 (order-free, case-insensitive, letters and
digits: :func:`ocr.eval.metrics.bag_counts`), end-to-end word F1 where the set has word
boxes (a predicted word matches a ground-truth word when their boxes overlap with IoU ≥ 0.5
and their texts are equal ignoring case; one-to-one, greedy by IoU), CER over the set
(order-sensitive, so only indicative on forms and receipts), the fallback rate (share of the neural words
re-read by each fallback) and the median seconds per page. Each page's bag-of-words F1 is kept, so that
:func:`parent_comparison` can say how often ``hybrid`` reads a page at least as well as the better of its
parents, ``neural`` and ``tesseract`` (within :data:`PAGE_TOLERANCE`).

Calibration reads every page once with the neural engine and once more every word with
Tesseract, then replays the routing (:func:`ocr.routing.choose`) for each threshold: a
word under the threshold gets both readings, the others keep the neural one. That gives
accuracy and fallback rate against the threshold without reading the set again per value.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from .. import datasets
from ..config import PipelineConfig, ScanOptions
from ..document import Page, Word
from ..engines import create_engine
from ..engines.neural import HybridEngine
from ..layout import build_blocks
from ..routing import Candidate, TesseractRegions, choose, worth_rereading_by_tesseract
from .detection import Counts, match_end_to_end
from .metrics import BagCounts, bag_counts, set_cer

Progress = Callable[[str], None]

PAGE_TOLERANCE = 0.01
"""A page counts as read at least as well as the better parent within this much bag-of-words F1 (1 point)."""

PARENTS = ("neural", "tesseract")
"""The engines ``hybrid`` combines, compared with it page by page."""


@dataclass(frozen=True)
class PageScore:
    """One engine on one set: the metrics above (``e2e_f1`` is ``None`` without word boxes)."""

    set: str
    engine: str
    pages: int
    bow_f1: float
    bow_precision: float
    bow_recall: float
    e2e_f1: float | None
    cer: float
    fallback_rate: float | None
    seconds_per_page: float
    page_f1: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


def e2e_f1(pages: Sequence[tuple[Page, datasets.Sample]]) -> float | None:
    """End-to-end word F1 over ``(page read, its sample)`` pairs (:func:`ocr.eval.detection.match_end_to_end`);
    ``None`` when the set has no word boxes."""
    if not any(sample.words for _, sample in pages):
        return None
    return sum((match_end_to_end([(w.polygon, w.text) for w in page.words], [(t.box, t.text) for t in sample.words],
                                 [t.ignore for t in sample.words]) for page, sample in pages), Counts()).hmean


def _load(sample: datasets.Sample) -> np.ndarray:
    with Image.open(sample.image) as image:
        return np.asarray(image.convert("RGB"))


def _score(set_name: str, engine: str, pages: list[tuple[Page, datasets.Sample, float]],
           fallback_rate: float | None) -> PageScore:
    bags = sum((bag_counts(page.text, sample.text) for page, sample, _ in pages), BagCounts())
    return PageScore(
        set=set_name, engine=engine, pages=len(pages), bow_f1=bags.f1, bow_precision=bags.precision,
        bow_recall=bags.recall, e2e_f1=e2e_f1([(page, sample) for page, sample, _ in pages]),
        cer=set_cer((page.text, sample.text) for page, sample, _ in pages),
        fallback_rate=fallback_rate, seconds_per_page=statistics.median(t for _, _, t in pages),
        page_f1=tuple(bag_counts(page.text, sample.text).f1 for page, sample, _ in pages),
    )


def evaluate_engine(set_name: str, engine_name: str, options: ScanOptions, limit: int | None = None,
                    progress: Progress | None = None) -> PageScore:
    """Read the first ``limit`` pages of set ``set_name`` with ``engine_name`` and score them."""
    samples = datasets.load(datasets.resolve(set_name), limit)
    engine = create_engine(engine_name, options)
    read = []
    for n, sample in enumerate(samples, start=1):
        image = _load(sample)
        start = time.perf_counter()
        page = engine.read(image, "page", 0)
        read.append((page, sample, time.perf_counter() - start))
        if progress is not None:
            progress(f"{set_name} {engine_name} {n}/{len(samples)} {read[-1][2]:.1f}s")
    fallback_rate = None
    stats = getattr(engine, "stats", None)
    if isinstance(engine, HybridEngine) and stats is not None:
        local = sum(stats.winners.values())
        fallback_rate = stats.sent.get("tesseract", 0) / local if local else 0.0
    return _score(Path(set_name).name, engine_name, read, fallback_rate)


def format_scores(scores: Sequence[PageScore]) -> str:
    """A Markdown table of ``scores``, followed by :func:`format_parent_comparison` where ``hybrid`` and its
    parents were read on the same set."""
    rows = ["| set | engine | pages | BoW F1 | e2e F1 | CER | fallback rate | s/page |",
            "|---|---|---|---|---|---|---|---|"]
    for s in scores:
        e2e = "–" if s.e2e_f1 is None else f"{100 * s.e2e_f1:.1f}"
        rate = "–" if s.fallback_rate is None else f"{100 * s.fallback_rate:.1f} %"
        rows.append(f"| {s.set} | {s.engine} | {s.pages} | {100 * s.bow_f1:.1f} | {e2e} | {100 * s.cer:.1f} | "
                    f"{rate} | {s.seconds_per_page:.2f} |")
    comparison = parent_comparison(scores)
    return "\n".join(rows) + ("\n\n" + format_parent_comparison(comparison) if comparison else "")


@dataclass(frozen=True)
class ParentComparison:
    """``hybrid`` against the better of its parents on each page of a set."""

    set: str
    pages: int
    at_least_parents: int
    """Pages where ``hybrid`` is at least the better parent's F1 − :data:`PAGE_TOLERANCE`."""
    better_parent_f1: float
    """Mean over pages of the better parent's F1 (choosing the engine page by page)."""
    hybrid_f1: float
    """Mean over pages of ``hybrid``'s F1."""

    @property
    def share(self) -> float:
        return self.at_least_parents / self.pages if self.pages else 0.0


def parent_comparison(scores: Sequence[PageScore]) -> list[ParentComparison]:
    """Per set where ``hybrid`` and both :data:`PARENTS` were read: how often ``hybrid`` reads a page
    at least as well as the better parent."""
    by_set: dict[str, dict[str, PageScore]] = {}
    for s in scores:
        by_set.setdefault(s.set, {})[s.engine] = s
    rows = []
    for name, engines in by_set.items():
        if "hybrid" not in engines or not all(p in engines for p in PARENTS):
            continue
        hybrid = engines["hybrid"].page_f1
        better = [max(f) for f in zip(*(engines[p].page_f1 for p in PARENTS))]
        if not hybrid or len(better) != len(hybrid):
            continue
        kept = sum(h >= b - PAGE_TOLERANCE for h, b in zip(hybrid, better))
        rows.append(ParentComparison(name, len(hybrid), kept, statistics.fmean(better), statistics.fmean(hybrid)))
    return rows


def format_parent_comparison(rows: Sequence[ParentComparison]) -> str:
    """A Markdown table of :func:`parent_comparison` rows."""
    lines = ["| set | pages | hybrid ≥ better parent − 1 | mean page F1: hybrid | better parent |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.set} | {r.pages} | {r.at_least_parents} ({100 * r.share:.0f} %) | "
                     f"{100 * r.hybrid_f1:.1f} | {100 * r.better_parent_f1:.1f} |")
    return "\n".join(lines)


def run_pages(sets: Sequence[str], engines: Sequence[str], options: ScanOptions, limit: int | None = None,
              json_path: str | Path | None = None, progress: Progress | None = None) -> list[PageScore]:
    """Evaluate every engine on every set; optionally write the scores as JSON."""
    scores = [evaluate_engine(s, e, options, limit, progress) for s in sets for e in engines]
    if json_path is not None:
        Path(json_path).write_text(json.dumps([s.to_dict() for s in scores], indent=2) + "\n", encoding="utf-8")
    return scores


# --------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class PageReadings:
    """Every neural word of a page with its Tesseract re-reading, for replaying the routing."""

    sample: datasets.Sample
    width: int
    height: int
    words: tuple[Word, ...]
    chars: tuple[tuple[float, ...], ...]
    tesseract: tuple[Candidate | None, ...]


@dataclass(frozen=True)
class CalibrationRow:
    """Results of routing at one threshold over all pages of a set."""

    set: str
    threshold: float
    bow_f1: float
    e2e_f1: float | None
    fallback_rate: float
    tesseract_wins: float


def collect_readings(set_name: str, config: PipelineConfig, limit: int | None = None,
                     progress: Progress | None = None) -> list[PageReadings]:
    """Neural words of each page and Tesseract's reading of every one of them."""
    engine = HybridEngine(config)
    fallback = TesseractRegions(engine.tesseract)
    collected = []
    samples = datasets.load(datasets.resolve(set_name), limit)
    for n, sample in enumerate(samples, start=1):
        image = _load(sample)
        words, chars = engine.read_words(image)
        tesseract = fallback.read_regions(image, [w.polygon for w in words])
        collected.append(PageReadings(sample, image.shape[1], image.shape[0], tuple(words), tuple(chars),
                                      tuple(tesseract)))
        if progress is not None:
            progress(f"{set_name} {n}/{len(samples)}: {len(words)} words")
    return collected


def replay(pages: Sequence[PageReadings], threshold: float) -> tuple[list[Page], int, int, int]:
    """The pages as the hybrid engine reads them at ``threshold``; also (words, re-read, tesseract wins)."""
    read, total, sent, won = [], 0, 0, 0
    for p in pages:
        words = []
        for word, chars, other in zip(p.words, p.chars, p.tesseract):
            candidates = [Candidate(word.text, word.confidence, word.source, chars)]
            if word.confidence < threshold and worth_rereading_by_tesseract(word.text):
                sent += 1
                if other is not None:
                    candidates.append(other)
            winner, _ = choose(candidates, word.polygon)
            won += winner.source != word.source
            if winner.text.strip():
                words.append(Word(winner.text, word.polygon, winner.confidence, winner.source))
        total += len(p.words)
        read.append(Page(0, p.width, p.height, build_blocks(words)))
    return read, total, sent, won


def calibrate(set_name: str, pages: Sequence[PageReadings], thresholds: Sequence[float]) -> list[CalibrationRow]:
    """Accuracy and fallback rate of the routing at each of ``thresholds``."""
    rows = []
    for threshold in thresholds:
        read, total, sent, won = replay(pages, threshold)
        bags = sum((bag_counts(page.text, p.sample.text) for page, p in zip(read, pages)), BagCounts())
        e2e = e2e_f1([(page, p.sample) for page, p in zip(read, pages)])
        rows.append(CalibrationRow(Path(set_name).name, threshold, bags.f1, e2e, sent / max(total, 1),
                                   won / max(total, 1)))
    return rows


def format_calibration(rows: Sequence[CalibrationRow]) -> str:
    """A Markdown table of calibration rows."""
    lines = ["| set | threshold | BoW F1 | e2e F1 | sent to tesseract | tesseract wins |", "|---|---|---|---|---|---|"]
    for r in rows:
        e2e = "–" if r.e2e_f1 is None else f"{100 * r.e2e_f1:.1f}"
        lines.append(f"| {r.set} | {r.threshold:.2f} | {100 * r.bow_f1:.1f} | {e2e} | {100 * r.fallback_rate:.1f} % | "
                     f"{100 * r.tesseract_wins:.1f} % |")
    return "\n".join(lines)
