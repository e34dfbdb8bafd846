"""Confidence routing: words read with low confidence are re-read by fallback engines; or line-level
combination: a second engine's reading of the whole page decided word by word against the recognizer's
(:class:`Combiner`, the ``combine`` setting; rules in its doc and in docs/hybrid.md).

A :class:`Router` runs a chain of stages. Each stage has a :class:`RegionReader` (an
engine that reads given regions of a page), a threshold and a rule of which readings are
worth its time: every word whose current best reading is under the threshold and passes
the rule is sent to it, and :func:`choose` picks the winner among
all readings of the word so far. Every word keeps its ``source`` (the engine whose
reading won, or ``vote``) and, in ``alternatives``, what every other engine said.

How the winner is chosen (:func:`choose`), in this order:

1. **Plausibility**: a reading far too long for its box (more characters than
   :data:`MAX_CHARS_PER_HEIGHT` × width/height + 2) is a lie and cannot win while any
   plausible reading exists; empty readings lose to non-empty ones.
2. **Agreement**: when two or more engines read the same words, letters and digits, they win
   together with the noisy-OR of their confidences (1 − Π(1 − cᵢ)), in the spelling of the
   earliest of them in the chain: the recognizer's punctuation, since Tesseract, reading a
   padded region, often adds marks from neighbouring ink (``‘Equal``, ``| PROPERLY,``).
3. **Character vote**: when readings have the same length, each position takes the
   character with the highest summed confidence (the neural recognizer's per-character
   probabilities, the other engines' word confidence); the voted text wins when it beats
   every single reading, with the mean share of the winning weight per position as its
   confidence and ``vote`` as its source.
4. Otherwise the most confident reading wins (ties: the earlier engine in the chain).

Faults: a reader that raises, or runs past its stage's ``timeout`` seconds, contributes nothing for
that call and is reported once in :attr:`RouteReport.notices`; the readings already
made are never lost. Readers are called from the calling thread's own helper thread, so
a :class:`Router` is as thread-safe as its readers (Tesseract serializes its calls).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol, Sequence, TypeVar

import numpy as np

from .document import Alternative, Polygon, Word, bounding_box
from .recognition.crops import crop_region

MAX_CHARS_PER_HEIGHT = 3.0
"""Most characters a reading may have per box height of width (narrow fonts reach ~2.5)."""

VOTE = "vote"
"""``Word.source`` of a text assembled by the character vote."""

T = TypeVar("T")


@dataclass(frozen=True)
class Candidate:
    """One engine's reading of a word; ``char_confidences`` when the engine gives them."""

    text: str
    confidence: float
    source: str
    char_confidences: tuple[float, ...] = ()

    def weight(self, position: int) -> float:
        """This reading's confidence in its character at ``position``."""
        if len(self.char_confidences) == len(self.text):
            return self.char_confidences[position]
        return self.confidence


class RegionReader(Protocol):
    """An engine that reads regions (word outlines) of a page: one candidate or ``None`` each."""

    name: str

    def read_regions(self, image: np.ndarray, polygons: Sequence[Polygon]) -> list[Candidate | None]: ...


def _any_text(text: str) -> bool:
    return True


def worth_rereading_by_tesseract(text: str) -> bool:
    """Whether Tesseract may win a word the recognizer read as ``text``: three or more characters,
    fewer digits than letters. On short tokens and numbers it loses more often than it wins (held-out
    pages of the training sets: the same or better bag-of-words F1 with 35-50 % fewer words re-read,
    see docs/hybrid.md)."""
    digits = sum(ch.isdigit() for ch in text)
    return len(text) >= 3 and 2 * digits < sum(ch.isalnum() for ch in text)


@dataclass(frozen=True)
class Stage:
    """A fallback: words under ``threshold`` whose reading ``rereads`` accepts are sent to ``reader``,
    whose answer is awaited ``timeout`` seconds."""

    reader: RegionReader
    threshold: float
    timeout: float = 10.0
    rereads: Callable[[str], bool] = _any_text


@dataclass
class RouteReport:
    """What routing one page did: words per winning engine, regions sent per engine, notices."""

    winners: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    notices: list[str] = field(default_factory=list)


def plausible(text: str, polygon: Polygon) -> bool:
    """Whether ``text`` can fit the box ``polygon`` (see :data:`MAX_CHARS_PER_HEIGHT`)."""
    x0, y0, x1, y1 = bounding_box([polygon])
    height = max(y1 - y0, 1.0)
    return len(text) <= MAX_CHARS_PER_HEIGHT * max(x1 - x0, height) / height + 2


def _agreement_key(text: str) -> str:
    """What two readings must share to agree: their words' letters and digits (the text itself
    when it has none)."""
    return " ".join("".join(ch for ch in text if ch.isalnum() or ch.isspace()).split()) or text


def _noisy_or(confidences: Sequence[float]) -> float:
    return 1.0 - float(np.prod([1.0 - c for c in confidences]))


def vote(candidates: Sequence[Candidate]) -> Candidate | None:
    """The character vote over same-length readings (``None`` unless two or more share a length)."""
    length = Counter(len(c.text) for c in candidates if c.text).most_common(1)
    if not length or length[0][1] < 2:
        return None
    voters = [c for c in candidates if len(c.text) == length[0][0]]
    chars, shares = [], []
    for i in range(length[0][0]):
        weights: Counter[str] = Counter()
        for c in voters:
            weights[c.text[i]] += c.weight(i)
        char, best = weights.most_common(1)[0]
        chars.append(char)
        shares.append(best / max(sum(weights.values()), 1e-9))
    return Candidate("".join(chars), float(np.mean(shares)), VOTE)


def choose(candidates: Sequence[Candidate], polygon: Polygon) -> tuple[Candidate, list[Candidate]]:
    """The winning reading of a word and the readings it beat (see the module doc for the rules)."""
    pool = [c for c in candidates if c.text and plausible(c.text, polygon)] or [
        c for c in candidates if c.text
    ] or list(candidates)
    by_key: dict[str, list[Candidate]] = {}
    for c in pool:
        by_key.setdefault(_agreement_key(c.text), []).append(c)
    agreeing = [group for group in by_key.values() if len(group) >= 2]
    if agreeing:
        group = max(agreeing, key=lambda g: (len(g), sum(c.confidence for c in g)))
        lead = group[0]  # chain order
        winner = Candidate(lead.text, _noisy_or([c.confidence for c in group]), lead.source)
        return winner, [c for c in candidates if c is not lead]
    best = max(pool, key=lambda c: c.confidence)  # max keeps the first of equals: chain order
    voted = vote(pool)
    if voted is not None and _agreement_key(voted.text) not in by_key and voted.confidence > best.confidence:
        return voted, list(candidates)
    return best, [c for c in candidates if c is not best]


def in_background(function: Callable[[], T]) -> Callable[[float], T]:
    """Start ``function()`` in a helper thread now; the returned ``wait(timeout)`` gives its value (or
    raises its error), or raises :class:`TimeoutError` past ``timeout`` seconds of waiting (the thread
    is abandoned: a daemon, it cannot keep the process alive)."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="ocr-fallback")
    worker.start()

    def wait(timeout: float) -> T:
        worker.join(timeout)
        if worker.is_alive():
            raise TimeoutError(f"no answer within {timeout:g} s")
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["value"]  # type: ignore[return-value]

    return wait


def call_with_timeout(function: Callable[[], T], timeout: float) -> T:
    """``function()`` in a helper thread; raises :class:`TimeoutError` past ``timeout`` seconds
    (see :func:`in_background`)."""
    return in_background(function)(timeout)


class Router:
    """Sends low-confidence words through a chain of :class:`Stage` fallbacks."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)

    def route(
        self, image: np.ndarray, words: Sequence[Word], char_confidences: Sequence[tuple[float, ...]] | None = None
    ) -> tuple[list[Word], RouteReport]:
        """``words`` (read by one local engine) after the fallbacks, and what was done.

        ``char_confidences[i]`` are the per-character probabilities of ``words[i]``, used by the vote.
        """
        report = RouteReport()
        per_char = list(char_confidences) if char_confidences is not None else [()] * len(words)
        readings = [[Candidate(w.text, w.confidence, w.source, tuple(cc))] for w, cc in zip(words, per_char)]
        winners = [r[0] for r in readings]
        for stage in self.stages:
            chosen = [i for i, win in enumerate(winners) if win.confidence < stage.threshold and stage.rereads(win.text)]
            if not chosen:
                continue
            report.sent[stage.reader.name] += len(chosen)
            polygons = [words[i].polygon for i in chosen]
            try:
                answers = call_with_timeout(lambda: stage.reader.read_regions(image, polygons), stage.timeout)
                if len(answers) != len(chosen):
                    raise ValueError(f"{len(answers)} readings for {len(chosen)} regions")
            except Exception as exc:  # any fault of a fallback: keep what we have
                report.notices.append(f"{stage.reader.name} failed, local readings kept: {type(exc).__name__}: {exc}")
                continue
            for i, answer in zip(chosen, answers):
                if isinstance(answer, Candidate):
                    readings[i].append(replace(answer, confidence=min(max(answer.confidence, 0.0), 1.0)))
                    winners[i] = choose(readings[i], words[i].polygon)[0]
        routed = []
        for word, candidates in zip(words, readings):
            winner, others = choose(candidates, word.polygon)
            report.winners[winner.source] += 1
            alternatives = word.alternatives + tuple(Alternative(c.text, c.confidence, c.source) for c in others)
            routed.append(replace(word, text=winner.text, confidence=winner.confidence, source=winner.source,
                                  alternatives=alternatives))
        return routed, report


class TesseractRegions:
    """Tesseract re-reading word regions one by one in raw-line mode (PSM 13), padded and scaled.

    Each region is cut with ``margin`` × its height of padding on every side (Tesseract
    needs some background around the ink); the engine scales crops under 32 px up.
    Confidences are Tesseract's word confidences / 100, length-weighted over the words it found.
    """

    name = "tesseract"

    def __init__(self, engine: object, margin: float = 0.15) -> None:
        self.engine = engine
        self.margin = margin

    def read_regions(self, image: np.ndarray, polygons: Sequence[Polygon]) -> list[Candidate | None]:
        readings: list[Candidate | None] = []
        for polygon in polygons:
            crop = np.ascontiguousarray(crop_region(image, polygon, self.margin))
            if crop.size == 0:
                readings.append(None)
                continue
            lines = list(self.engine.read(crop, "line").lines)  # type: ignore[attr-defined]
            words = [w for line in lines for w in line.words]
            if not words:
                readings.append(Candidate("", 0.0, self.name))
                continue
            weights = [max(len(w.text), 1) for w in words]
            confidence = sum(w.confidence * k for w, k in zip(words, weights)) / sum(weights)
            readings.append(Candidate(" ".join(w.text for w in words), confidence, self.name))
        return readings


# --------------------------------------------------------------------------- line-level combination

SAME_INK = 0.5
"""Two words of different engines read the same ink when their boxes' intersection covers this share of
the smaller box's area and of the smaller box's height."""


@dataclass(frozen=True)
class Trust:
    """How far one engine's reading of a word is believed when two engines disagree: its score is
    ``bias + confidence × per_confidence + (listed_bonus if listed)`` (:func:`listed`)."""

    bias: float
    per_confidence: float
    listed_bonus: float

    def score(self, confidence: float, is_listed: bool) -> float:
        return self.bias + self.per_confidence * confidence + (self.listed_bonus if is_listed else 0.0)


TRUST: dict[str, Trust] = {"neural": Trust(0.0, 3.28, 1.18), "tesseract": Trust(0.36, 1.86, 0.98)}
"""Fitted by logistic regression on the held-out training pages (15 FUNSD, 24 SROIE, 10 DocBank; 415
words the two engines read differently, one of them right): Tesseract is right where its score beats the
recognizer's (``recognizer_medium.int8``; Tesseract 5 ``eng``). An engine not listed scores its confidence."""

UNMATCHED_CONFIDENCE = 0.9
"""A word only the second engine read is added with at least this confidence ..."""

UNMATCHED_LISTED_CONFIDENCE = 0.8
"""... or this much when it is listed (both ≥ 93 % right on the held-out training pages)."""


def listed(text: str, words: Callable[[str], bool]) -> bool:
    """Whether every token of ``text`` is a word of the list ``words`` (letters, case and punctuation
    ignored) or a number (digits and punctuation only)."""
    tokens = ["".join(ch for ch in token if ch.isalnum()) for token in text.split()]
    tokens = [t for t in tokens if t]
    return bool(tokens) and all(words(t) or not any(ch.isalpha() for ch in t) for t in tokens)


def _boxes(words: Sequence[Word]) -> np.ndarray:
    return np.array([bounding_box([w.polygon]) for w in words], dtype=float).reshape(-1, 4)


def align(words: Sequence[Word], others: Sequence[Word]) -> list[tuple[list[int], list[int]]]:
    """Groups of words of two engines that read the same ink (:data:`SAME_INK`), each as (indices into
    ``words``, indices into ``others``), both in left-to-right order; words with no counterpart are
    groups of their own."""
    a, b = _boxes(words), _boxes(others)
    parent = list(range(len(words) + len(others)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if len(a) and len(b):
        width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
        height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
        area_a, area_b = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        smaller = np.maximum(np.minimum(area_a[:, None], area_b[None, :]), 1e-9)
        lower = np.maximum(np.minimum((a[:, 3] - a[:, 1])[:, None], (b[:, 3] - b[:, 1])[None, :]), 1e-9)
        same = (width > 0) & (height >= SAME_INK * lower) & (width * height >= SAME_INK * smaller)
        for i, j in zip(*np.nonzero(same)):
            parent[root(int(i))] = root(len(words) + int(j))
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for k in range(len(parent)):
        ours, theirs = groups.setdefault(root(k), ([], []))
        (ours if k < len(words) else theirs).append(k if k < len(words) else k - len(words))
    for ours, theirs in groups.values():
        ours.sort(key=lambda i: a[i, 0])
        theirs.sort(key=lambda j: b[j, 0])
    return sorted(groups.values(), key=lambda g: min(g[0] or [len(words)]))


def _fits(text: str, polygon: Polygon) -> bool:
    """Whether ``text`` can fit the box ``polygon`` written along its longer side (a second engine's
    word may stand upright on a rotated page)."""
    x0, y0, x1, y1 = bounding_box([polygon])
    long, short = max(x1 - x0, y1 - y0), max(min(x1 - x0, y1 - y0), 1.0)
    return len(text) <= MAX_CHARS_PER_HEIGHT * long / short + 2


def _respaced(one: str, other: str) -> bool:
    """Whether two readings are the same characters with spaces in different places, each such
    space between two letters or digits (``ratingas`` / ``rating as``, not ``Amount(RM)`` / ``Amount (RM)``)."""
    bare = "".join(one.split())
    if bare.lower() != "".join(other.split()).lower() or one.split() == other.split():
        return False

    def cuts(text: str) -> set[int]:
        ends, position = set(), 0
        for token in text.split()[:-1]:
            position += len(token)
            ends.add(position)
        return ends

    return all(bare[k - 1].isalnum() and bare[k].isalnum() for k in cuts(one) ^ cuts(other))


@dataclass(frozen=True)
class Combiner:
    """Combines the recognizer's words with a second engine's reading of the same page.

    The two readings are aligned by position (:func:`align`); each group is decided by these rules:

    0. A word of the other engine too long for its own box (:func:`_fits`) is a lie and is dropped.
    1. Words only the recognizer read are kept; words only the other engine read are added when
       confident (:data:`UNMATCHED_CONFIDENCE`, :data:`UNMATCHED_LISTED_CONFIDENCE`).
    2. As many words on both sides: word by word. Readings that agree (:func:`choose`'s rule 2:
       the same words, letters and digits) win together in the recognizer's spelling; otherwise the
       reading with the higher :class:`Trust` score wins (its confidence and the word list), so a
       confident reading that is not a word can lose to a listed one.
    3. The same letters and digits cut into different words: the recognizer's cut is kept unless every
       differing space lies between two letters or digits (a space dropped or invented,
       :func:`_respaced`) and the other cut has the larger share of listed tokens.
    4. Otherwise the side with the higher mean :class:`Trust` score wins the group.

    A winning word keeps its engine's confidence and source; the other engine's reading of its group
    is in its ``alternatives`` (agreeing readings: noisy-OR confidence, the other in ``alternatives``).
    """

    words: Callable[[str], bool]
    trust: dict[str, Trust] = field(default_factory=lambda: TRUST)

    def score(self, word: Word) -> float:
        """``word``'s :class:`Trust` score."""
        trust = self.trust.get(word.source)
        return word.confidence if trust is None else trust.score(word.confidence, listed(word.text, self.words))

    def combine(self, words: Sequence[Word], others: Sequence[Word]) -> tuple[list[Word], RouteReport]:
        """``words`` (the recognizer's) decided against ``others`` (the second engine's, same page)."""
        report = RouteReport()
        combined: list[Word] = []
        for ours, theirs in align(words, others):
            if theirs:
                report.sent[others[theirs[0]].source] += len(ours)
            decided = self._decide([words[i] for i in ours], [others[j] for j in theirs])
            combined.extend(decided)
            report.winners.update(w.source for w in decided)
        return combined, report

    def _decide(self, ours: list[Word], theirs: list[Word]) -> list[Word]:
        """One group of :func:`align`: the rules of the class doc in order."""
        theirs = [w for w in theirs if _fits(w.text, w.polygon)]
        if not theirs:
            return ours
        if not ours:
            return [w for w in theirs if w.confidence >= UNMATCHED_CONFIDENCE
                    or w.confidence >= UNMATCHED_LISTED_CONFIDENCE and listed(w.text, self.words)]
        if len(ours) == len(theirs):
            return [self._pair(word, other) for word, other in zip(ours, theirs)]
        if _agreement_key("".join(w.text for w in ours)) == _agreement_key("".join(w.text for w in theirs)):
            ours_listed = sum(listed(w.text, self.words) for w in ours) / len(ours)
            theirs_listed = sum(listed(w.text, self.words) for w in theirs) / len(theirs)
            respaced = _respaced(" ".join(w.text for w in ours), " ".join(w.text for w in theirs))
            return self._side(theirs, ours) if respaced and theirs_listed > ours_listed else self._side(ours, theirs)
        ours_score = float(np.mean([self.score(w) for w in ours]))
        theirs_score = float(np.mean([self.score(w) for w in theirs]))
        return self._side(theirs, ours) if theirs_score > ours_score else self._side(ours, theirs)

    def _pair(self, word: Word, other: Word) -> Word:
        """One word read by both engines."""
        if _agreement_key(word.text) == _agreement_key(other.text):
            winner, loser = replace(word, confidence=_noisy_or([word.confidence, other.confidence])), other
        elif plausible(other.text, word.polygon) and self.score(other) > self.score(word):
            winner, loser = replace(other, polygon=word.polygon), word
        else:
            winner, loser = word, other
        return replace(winner, alternatives=winner.alternatives + (Alternative(loser.text, loser.confidence,
                                                                               loser.source),))

    @staticmethod
    def _side(winners: list[Word], losers: list[Word]) -> list[Word]:
        """``winners`` with the reading of ``losers`` (their group's other engine) as an alternative."""
        beaten = Alternative(" ".join(w.text for w in losers), float(np.mean([w.confidence for w in losers])),
                             losers[0].source)
        return [replace(w, alternatives=w.alternatives + (beaten,)) for w in winners]
