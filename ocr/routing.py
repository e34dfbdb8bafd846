"""Confidence routing: words read with low confidence are re-read by fallback engines.

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
from typing import Callable, Protocol, Sequence

import numpy as np

from .document import Alternative, Polygon, Word, bounding_box
from .recognition.crops import crop_region

MAX_CHARS_PER_HEIGHT = 3.0
"""Most characters a reading may have per box height of width (narrow fonts reach ~2.5)."""

VOTE = "vote"
"""``Word.source`` of a text assembled by the character vote."""


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


def call_with_timeout(function: Callable[[], list[Candidate | None]], timeout: float) -> list[Candidate | None]:
    """``function()`` in a helper thread; raises :class:`TimeoutError` past ``timeout`` seconds
    (the thread is abandoned: a daemon, it cannot keep the process alive)."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="ocr-fallback")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


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
            alternatives = tuple(Alternative(c.text, c.confidence, c.source) for c in others)
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
