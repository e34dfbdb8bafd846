"""Correct near-miss words of a CTC reading with a word list.

A word of the reading that is not in the list is compared with listed words the model
itself finds plausible: words made from it by at most two edits, each swapping a
character for one of the model's runner-up classes at that character's frames, dropping
a character, or inserting one the model nearly emitted between two characters. Each
candidate is scored by its exact CTC log-probability over the word's frames plus a prior
for listed words (a constant and a little for frequency); the best replaces the word when
it beats the reading's own score. Only the letters of a word change: its leading and
trailing punctuation, and words made mostly of digits, are left alone. A changed word's
confidence is its CTC probability (the chance the model gives that exact spelling).
"""

from __future__ import annotations

import gzip
import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from ..charset import BLANK
from ..errors import EngineError
from ..models import weights_dir

LEXICON = "lexicon_en"
"""The English word list in the weights folder (``lexicon_en.tsv.gz``: gzipped ``word<TAB>count`` lines,
lower case; built by ``ocr train lexicon``)."""

ALTERNATIVES = 3
"""Runner-up classes tried in place of each character."""

MIN_INSERT = 0.02
"""A character is tried between two others when the model gave it at least this probability there."""


@dataclass(frozen=True)
class Prior:
    """Log-score bonus of a listed word: ``listed + per_log_count * ln(1 + count)``."""

    listed: float = 3.0
    per_log_count: float = 0.25


class Lexicon:
    """Lower-case words with their corpus counts."""

    def __init__(self, counts: dict[str, int], prior: Prior = Prior()) -> None:
        self.counts = counts
        self.prior = prior

    @classmethod
    def load(cls, name_or_path: str | Path = LEXICON, prior: Prior = Prior()) -> Lexicon:
        """A word list by name in the weights folder (``<name>.tsv.gz``) or by path."""
        return cls(_read_counts(str(lexicon_path(name_or_path))), prior)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.counts

    def bonus(self, word: str) -> float:
        """The prior's log-score bonus of a listed ``word``."""
        return self.prior.listed + self.prior.per_log_count * math.log1p(self.counts[word.lower()])

    def correct(self, text: str, probs: np.ndarray, runs: Sequence[tuple[int, int]], charset: str
                ) -> list[tuple[int, int, str, float]]:
        """Corrections of the space-separated words of ``text``, the greedy CTC reading of the (steps,
        classes) ``probs`` whose characters span the steps ``runs`` (first, last): for each changed
        word, its character range in ``text``, its new spelling and that spelling's CTC log-probability
        (ignoring case, as the whole comparison does; the case follows the reading's)."""
        fold, group_of, letters = _case_fold(charset)
        folded = np.log(np.maximum(probs @ fold, 1e-30))
        index = {c: i + 1 for i, c in enumerate(charset)}
        groups = [group_of[index[c]] for c in text]
        changes = []
        start = 0
        while start < len(text):
            end = text.find(" ", start)
            end = len(text) if end < 0 else end
            if end > start:
                first = runs[start - 1][1] + 1 if start > 0 else 0
                last = runs[end][0] if end < len(text) else len(probs)
                found = self._word(text[start:end], groups[start:end], runs[start:end], folded[first:last], first,
                                   letters, index)
                if found is not None:
                    changes.append((start, end, *found))
            start = end + 1
        return changes

    def _word(self, text: str, groups: list[int], runs: Sequence[tuple[int, int]], window: np.ndarray, offset: int,
              letters: str, index: dict[str, int]) -> tuple[str, float] | None:
        """A better spelling of one word (``groups``: its case-folded classes, named by ``letters``) read
        over ``window`` (which starts at step ``offset``), and its CTC log-probability; or None."""
        lead = len(text) - len(text.lstrip(_PUNCTUATION))
        trail = len(text.rstrip(_PUNCTUATION))
        core = text[lead:trail]
        alphabetic = sum(c.isalpha() for c in core)
        if alphabetic < 2 or alphabetic <= sum(c.isdigit() for c in core) or core in self:
            return None
        space = letters.find(" ")
        edits = _edits(groups[lead:trail], runs[lead:trail], window, offset, space)
        best: tuple[float, str, float] | None = None
        seen = set()
        for combo in itertools.chain(((e,) for e in edits), _pairs(edits)):
            word = _recase(core, _apply(core.lower(), [(kind, pos, letters[g]) for kind, pos, g in combo]), index)
            if word in seen or word not in self:
                continue
            seen.add(word)
            likelihood = ctc_log_likelihood(window, groups[:lead] + [_group(c, letters) for c in word] + groups[trail:])
            if best is None or likelihood + self.bonus(word) > best[0]:
                best = (likelihood + self.bonus(word), word, likelihood)
        if best is None or best[0] <= ctc_log_likelihood(window, groups):
            return None
        return text[:lead] + best[1] + text[trail:], best[2]


_PUNCTUATION = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum()) + "‘’“”–—•"


def lexicon_path(name_or_path: str | Path) -> Path:
    """The file of a word list given by path or by name in the weights folder."""
    path = Path(name_or_path)
    return path if path.suffix == ".gz" or path.is_file() else weights_dir() / f"{name_or_path}.tsv.gz"


@lru_cache(maxsize=8)
def _case_fold(charset: str) -> tuple[np.ndarray, list[int], str]:
    """A (classes × groups) 0/1 matrix joining each letter's two cases (group 0 is blank), each class's
    group, and each group's character (lower case)."""
    letters = ["\0"]
    group_of = [0]
    for char in charset:
        key = char.lower() if len(char.lower()) == 1 and char.lower() in charset else char
        if key not in letters:
            letters.append(key)
        group_of.append(letters.index(key))
    fold = np.zeros((len(charset) + 1, len(letters)), dtype=np.float32)
    fold[np.arange(len(group_of)), group_of] = 1.0
    return fold, group_of, "".join(letters)


def _group(char: str, letters: str) -> int:
    lower = char.lower()
    return letters.index(lower if len(lower) == 1 and lower in letters else char)


@lru_cache(maxsize=4)
def _read_counts(path: str) -> dict[str, int]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            return {word: int(count) for word, count in (line.rstrip("\n").split("\t") for line in stream if line.strip())}
    except FileNotFoundError:
        raise EngineError(f"word list not found: {path} (build it with `ocr train lexicon`)") from None
    except (OSError, ValueError, EOFError) as exc:
        raise EngineError(f"bad word list {path}: {exc}") from None


Edit = tuple[str, int, int]
"""``("sub", position, class)``, ``("del", position, 0)`` or ``("ins", position, class)`` (before ``position``)."""


def _edits(labels: list[int], runs: Sequence[tuple[int, int]], window: np.ndarray, offset: int, space: int
           ) -> list[Edit]:
    """Single edits the model finds plausible, within the frames of ``window`` (which starts at step ``offset``;
    ``space``: the class never inserted or swapped in, -1 for none)."""
    edits: list[Edit] = []
    steps = len(window)
    for i, (label, (a, b)) in enumerate(zip(labels, runs)):
        frames = window[max(0, a - offset - 1) : min(steps, b - offset + 2)]
        peak = frames.max(axis=0)
        peak[[BLANK, label]] = -np.inf
        if space >= 0:
            peak[space] = -np.inf
        edits += [("sub", i, int(c)) for c in np.argsort(peak)[::-1][:ALTERNATIVES]]
        edits.append(("del", i, 0))
    bounds = [0] + [b - offset + 1 for _, b in runs]
    ends = [a - offset for a, _ in runs] + [steps]
    for i, (a, b) in enumerate(zip(bounds, ends)):
        if b <= a:
            continue
        peak = window[a:b].max(axis=0)
        peak[BLANK] = -np.inf
        if space >= 0:
            peak[space] = -np.inf
        best = int(peak.argmax())
        if peak[best] >= math.log(MIN_INSERT):
            edits.append(("ins", i, best))
    return edits


def _pairs(edits: list[Edit]):
    """Pairs of edits at different positions (an insertion and an edit of the next character may pair)."""
    for one, two in itertools.combinations(edits, 2):
        if one[1] != two[1] or (one[0] == "ins") != (two[0] == "ins"):
            yield one, two


def _apply(chars: str, edits: Sequence[tuple[str, int, str]]) -> list[tuple[str, int]]:
    """``chars`` after ``edits``: each new character with the index of the one it replaces or keeps
    (-1 when inserted)."""
    subs = {pos: char for kind, pos, char in edits if kind == "sub"}
    dels = {pos for kind, pos, _ in edits if kind == "del"}
    inserts = {pos: char for kind, pos, char in edits if kind == "ins"}
    out: list[tuple[str, int]] = []
    for i in range(len(chars) + 1):
        if i in inserts:
            out.append((inserts[i], -1))
        if i < len(chars) and i not in dels:
            out.append((subs.get(i, chars[i]), i))
    return out


def _recase(original: str, edited: list[tuple[str, int]], charset: dict[str, int]) -> str:
    """The edited word with the case of the reading: a letter put in place of another takes that
    letter's case; an inserted one (or one replacing a non-letter) the case most of the word has."""
    upper = sum(c.isupper() for c in original[1:]) > sum(c.islower() for c in original[1:])
    out = []
    for char, source in edited:
        model = original[source] if source >= 0 and original[source].isalpha() else ("A" if upper else "a")
        cased = char.upper() if model.isupper() else char.lower()
        out.append(cased if cased in charset else char)
    return "".join(out)


def ctc_log_likelihood(log_probs: np.ndarray, labels: Sequence[int]) -> float:
    """log P(labels | frames) under CTC (blank is class 0): the sum over every alignment."""
    steps = len(log_probs)
    if steps == 0:
        return 0.0 if not labels else -math.inf
    extended = np.zeros(2 * len(labels) + 1, dtype=np.int64)
    extended[1::2] = labels
    skip = np.zeros(len(extended), dtype=bool)
    skip[2:] = (extended[2:] != BLANK) & (extended[2:] != extended[:-2])
    alpha = np.full(len(extended), -np.inf)
    alpha[0] = log_probs[0, BLANK]
    if len(extended) > 1:
        alpha[1] = log_probs[0, extended[1]]
    for t in range(1, steps):
        shifted = np.concatenate(([-np.inf], alpha[:-1]))
        skipped = np.concatenate(([-np.inf, -np.inf], alpha[:-2]))
        skipped[~skip] = -np.inf
        alpha = np.logaddexp(np.logaddexp(alpha, shifted), skipped) + log_probs[t, extended]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if len(extended) > 1 else alpha[-1])
