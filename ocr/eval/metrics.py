"""Text metrics: edit distance, character and word error rates, the word-benchmark
normalization, and reliability tables of confidences."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence


try:  # C implementation, ~1000x faster on page-long texts (the `bench` extra installs it)
    from rapidfuzz.distance import Levenshtein as _Levenshtein
except ImportError:  # pragma: no cover - exercised only without rapidfuzz
    _Levenshtein = None


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences (strings or lists of words)."""
    if _Levenshtein is not None:
        return _Levenshtein.distance(a, b)
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def word_edit_distance(prediction: str, truth: str) -> int:
    """Edit distance between the whitespace-separated words of two texts."""
    return edit_distance(prediction.split(), truth.split())


def bag_of_words(text: str) -> Counter[str]:
    """The order-free multiset of ``text``'s tokens under :func:`alnum_caseless` (empty tokens dropped)."""
    return Counter(token for token in map(alnum_caseless, text.split()) if token)


@dataclass(frozen=True)
class BagCounts:
    """Tokens found in both texts, in the prediction and in the truth; summed over a set with ``+``."""

    common: int = 0
    predicted: int = 0
    truth: int = 0

    def __add__(self, other: BagCounts) -> BagCounts:
        return BagCounts(self.common + other.common, self.predicted + other.predicted, self.truth + other.truth)

    @property
    def precision(self) -> float:
        return self.common / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.common / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.common / (self.predicted + self.truth) if self.predicted + self.truth else 0.0


def bag_counts(prediction: str, truth: str) -> BagCounts:
    """Bag-of-words overlap of two texts: reading order does not matter, case and punctuation neither."""
    predicted, expected = bag_of_words(prediction), bag_of_words(truth)
    return BagCounts(sum((predicted & expected).values()), sum(predicted.values()), sum(expected.values()))


def collapse_spaces(text: str) -> str:
    """``text`` with runs of whitespace as one space, stripped."""
    return " ".join(text.split())


def alnum_caseless(text: str) -> str:
    """The word-benchmark normalization (IIIT5K, SVT, IC15): lower case, accents dropped, letters
    and digits only. Those sets' labels use 0-9 and A-Z alone (IIIT5K writes a shop sign's Café
    as CAFE), so a reader of accented letters is compared with their base letters."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]", "", folded)


def cer(prediction: str, truth: str) -> float:
    """Character error rate of one text: edit distance over the truth's length (spaces collapsed)."""
    prediction, truth = collapse_spaces(prediction), collapse_spaces(truth)
    return edit_distance(prediction, truth) / max(1, len(truth))


def set_cer(pairs: Iterable[tuple[str, str]]) -> float:
    """Character error rate of a set of (prediction, truth) texts: all edits over all truth characters."""
    edits = chars = 0
    for prediction, truth in pairs:
        prediction, truth = collapse_spaces(prediction), collapse_spaces(truth)
        edits += edit_distance(prediction, truth)
        chars += len(truth)
    return edits / max(1, chars)


@dataclass(frozen=True)
class ReliabilityRow:
    """One bin of readings grouped by confidence: its range, size, mean confidence and accuracy."""

    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float


def reliability_table(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[ReliabilityRow]:
    """Accuracy per confidence quantile: readings sorted by confidence, cut into ``bins`` groups of equal size."""
    pairs = sorted(zip(confidences, correct))
    rows = []
    for k in range(bins):
        part = pairs[k * len(pairs) // bins : (k + 1) * len(pairs) // bins]
        if part:
            rows.append(
                ReliabilityRow(
                    low=part[0][0],
                    high=part[-1][0],
                    count=len(part),
                    mean_confidence=sum(c for c, _ in part) / len(part),
                    accuracy=sum(ok for _, ok in part) / len(part),
                )
            )
    return rows


def calibration_error(rows: Sequence[ReliabilityRow]) -> float:
    """Expected calibration error over the bins: mean |accuracy − confidence| weighted by size."""
    total = sum(r.count for r in rows)
    return sum(r.count * abs(r.accuracy - r.mean_confidence) for r in rows) / total if total else 0.0


def separation_auc(confidences: Sequence[float], correct: Sequence[bool]) -> float:
    """Probability that a random right reading has a higher confidence than a random wrong one
    (ties count half): 1 separates perfectly, 0.5 not at all; 0.5 when either group is empty."""
    ranked = sorted(zip(confidences, correct))
    rights = sum(ok for _, ok in ranked)
    wrongs = len(ranked) - rights
    if not rights or not wrongs:
        return 0.5
    # Mann-Whitney U with mid-ranks for ties
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid_rank = (i + j + 1) / 2
        rank_sum += mid_rank * sum(ok for _, ok in ranked[i:j])
        i = j
    return (rank_sum - rights * (rights + 1) / 2) / (rights * wrongs)
