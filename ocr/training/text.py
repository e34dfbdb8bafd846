"""Text for synthetic training images: an offline word list and a sampler of realistic strings.

The sampler mixes prose words (lower, Title, UPPER case), numbers, prices, dates, times,
codes, e-mail and web addresses, receipt lines and the extended charset (accented letters,
typographic quotes and dashes, currency and other symbols).
"""

from __future__ import annotations

import gzip
import random
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_TEXT_SUFFIXES = {".txt", ".md", ".rst", ".py", ".gz", ""}

DEFAULT_CORPUS_ROOTS = ("/usr/share/doc", "/usr/share/common-licenses", "/usr/share/man/man1")
"""Offline prose on a Debian system: package docs, licences and manual pages."""

DEFAULT_WORDS = Path("/work/runs/cache/words.tsv")
"""Where :func:`cached_words` keeps the corpus word counts for the detector's pages and the lexicon."""

ACCENTS = {
    "a": "àáâãäå", "e": "èéêë", "i": "ìíîï", "o": "òóôõöø", "u": "ùúûü", "c": "ç", "n": "ñ", "y": "ýÿ",
    "A": "ÀÁÂÃÄÅ", "E": "ÈÉÊË", "I": "ÌÍÎÏ", "O": "ÒÓÔÕÖØ", "U": "ÙÚÛÜ", "C": "Ç", "N": "Ñ", "Y": "Ý",
}
LATIN_WORDS = (
    "café", "naïve", "résumé", "façade", "déjà", "über", "Köln", "München", "Zürich", "São", "Málaga", "Ærø",
    "fiancée", "piñata", "jalapeño", "crème", "brûlée", "entrée", "Ångström", "smörgåsbord", "Straße", "Øresund",
    "coöperate", "Noël", "Bogotá", "Québec", "Ñandú", "Ðorđe", "þorn", "Åland", "Île", "Genève", "Besançon",
)
SYMBOLS = "€£¥°§©®±×÷•–—‘’“”"
CURRENCIES = ("$", "€", "£", "¥", "RM", "USD", "EUR", "GBP", "Rs", "")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FULL_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
TLDS = ("com", "org", "net", "co.uk", "de", "fr", "io", "com.my", "edu")
UNITS = ("kg", "g", "mg", "km", "m", "cm", "mm", "ml", "L", "pcs", "PC", "%", "°C", "°F", "x", "lb", "oz")


SCENE_WORDS = 50_000
"""How many of wordfreq's most frequent English words scene text is drawn from."""


def scene_words(cache: str | Path | None = None, size: int = SCENE_WORDS) -> list[tuple[str, int]]:
    """The ``size`` most frequent English words of everyday writing (``wordfreq``: web, news, subtitles,
    books; CC-BY-SA 4.0) with their frequencies per billion words: the names, brands and plain words of
    signs, where the offline documentation's words are technical. Read from or written to ``cache``
    (a TSV file), so that a training machine without wordfreq can be given the file."""
    if cache is not None and Path(cache).is_file():
        return _read_counts(Path(cache))
    try:
        import wordfreq
    except ImportError:
        raise RuntimeError("scene text needs wordfreq (pip install 'ocr[train]') or its cached word list") from None
    words = [w for w in wordfreq.top_n_list("en", size) if w.isalpha()]
    counted = [(w, max(1, round(wordfreq.word_frequency(w, "en") * 1e9))) for w in words]
    if cache is not None:
        _write_counts(Path(cache), counted)
    return counted


def build_word_counts(roots: Iterable[str | Path], max_files: int = 4000, max_bytes: int = 400_000) -> Counter[str]:
    """Lower-cased word frequencies over the text files (plain or gzip) under ``roots``."""
    counts: Counter[str] = Counter()
    seen = 0
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if seen >= max_files:
                return counts
            if not path.is_file() or path.suffix not in _TEXT_SUFFIXES:
                continue
            try:
                raw = gzip.open(path).read(max_bytes) if path.suffix == ".gz" else path.read_bytes()[:max_bytes]
            except (OSError, EOFError):
                continue
            if b"\0" in raw[:1024]:
                continue
            seen += 1
            counts.update(w.lower() for w in _WORD.findall(raw.decode("utf-8", "ignore")) if 2 <= len(w) <= 18)
    return counts


def cached_words(cache: str | Path, roots: Iterable[str | Path] = DEFAULT_CORPUS_ROOTS,
                 extra: Iterable[str] = (), min_count: int = 3, size: int = 40_000) -> list[tuple[str, int]]:
    """The ``size`` most frequent words of ``roots`` (plus ``extra`` text), read from or written to ``cache``."""
    cache = Path(cache)
    if cache.is_file():
        return _read_counts(cache)
    counts = build_word_counts(roots)
    for text in extra:
        counts.update(w.lower() for w in _WORD.findall(text) if 2 <= len(w) <= 18)
    words = [(w, n) for w, n in counts.most_common(size) if n >= min_count]
    _write_counts(cache, words)
    return words


def _read_counts(path: Path) -> list[tuple[str, int]]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    return [(w, int(n)) for w, n in rows]


def _write_counts(path: Path, words: list[tuple[str, int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{w}\t{n}\n" for w, n in words), encoding="utf-8")


SHORT_WORDS = frozenset("a i am an as at be by do go he if in is it me my no of oh ok on or so to up us we".split())
"""The only words of one or two letters kept in the lexicon (dictionaries list every letter and many abbreviations)."""


def build_lexicon(dictionary: str | Path, counts: Iterable[tuple[str, int]], out: str | Path,
                  min_corpus_count: int = 200) -> int:
    """Write the lexicon for CTC word correction (``ocr.recognition.lexicon``) as gzipped ``word<TAB>count``
    lines, most frequent first: the alphabetic words of ``dictionary`` (one per line, such as Debian's
    wamerican) and corpus words seen at least ``min_corpus_count`` times, lower case, with their corpus
    counts. Returns the number of words."""
    corpus = dict(counts)
    words = {w.strip().lower() for w in Path(dictionary).read_text(encoding="utf-8").splitlines() if w.strip().isalpha()}
    words |= {w for w, n in corpus.items() if n >= min_corpus_count and w.isalpha()}
    words = {w for w in words if len(w) > 2 or w in SHORT_WORDS}
    rows = sorted(words, key=lambda w: (-corpus.get(w, 0), w))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8") as stream:
        stream.writelines(f"{w}\t{corpus.get(w, 0)}\n" for w in rows)
    return len(rows)


class TextSampler:
    """Draws training strings: single tokens (``word``), words as signs print them (``scene``) or short
    lines (``line``) over a charset."""

    def __init__(self, words: list[tuple[str, int]], charset: str, seed: int = 0) -> None:
        if not words:
            raise ValueError("the word list is empty")
        self.rng = random.Random(seed)
        self.charset = set(charset)
        self.words = [w for w, _ in words]
        # Flatten Zipf a little (counts ** 0.5) so that rarer words appear too.
        self.cum_weights: list[float] = []
        total = 0.0
        for _, n in words:
            total += n**0.5
            self.cum_weights.append(total)
        self.kinds = (
            (self.word, 40), (self.number, 8), (self.price, 8), (self.date, 5), (self.time, 2), (self.code, 7),
            (self.email_or_url, 3), (self.accented, 12), (self.symbolic, 8), (self.punctuated, 12), (self.random_chars, 5),
        )
        self.kind_weights = [w for _, w in self.kinds]

    def __call__(self, kind: str = "word") -> str:
        """A string of ``kind`` ``word``, ``scene`` or ``line``, restricted to the charset."""
        text = self.line() if kind == "line" else self.scene() if kind == "scene" else self.token()
        text = "".join(c for c in text if c in self.charset).strip()
        return " ".join(text.split()) or self.plain_word()

    def token(self) -> str:
        fn = self.rng.choices(self.kinds, weights=self.kind_weights)[0][0]
        return fn()

    def line(self) -> str:
        r = self.rng.random()
        if r < 0.3:
            return self.receipt_line()
        if r < 0.75:
            return self.sentence()
        n = self.rng.randint(2, 6)
        return " ".join(self.token() for _ in range(n))

    def plain_word(self) -> str:
        return self.rng.choices(self.words, cum_weights=self.cum_weights)[0]

    def cased(self, word: str) -> str:
        r = self.rng.random()
        if r < 0.5:
            return word
        if r < 0.8:
            return word[:1].upper() + word[1:]
        return word.upper()

    def word(self) -> str:
        return self.cased(self.plain_word())

    def scene(self) -> str:
        """A word as signs and shopfronts print it: mostly capitals or a capital first, sometimes a
        number, a code or any other token."""
        rng, r = self.rng, self.rng.random()
        if r < 0.75:
            word = self.plain_word()
            return word.upper() if r < 0.4 else word[:1].upper() + word[1:] if r < 0.6 else word
        return self.number() if r < 0.82 else self.code() if r < 0.88 else self.token()

    def number(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            return str(rng.randint(0, 10 ** rng.randint(1, 6)))
        if r < 0.6:
            return f"{rng.uniform(0, 10 ** rng.randint(1, 4)):.{rng.choice((1, 2, 2, 3))}f}"
        if r < 0.75:
            return f"{rng.randint(1000, 9_999_999):,}"
        if r < 0.85:
            return f"{rng.choice(('-', '+', '±', ''))}{rng.uniform(0, 100):.1f}{rng.choice(UNITS)}"
        return f"{rng.randint(1, 99)}{rng.choice(('x', '×', ' x ', ' @ '))}{rng.randint(1, 999)}"

    def price(self) -> str:
        rng = self.rng
        amount = rng.choice((f"{rng.uniform(0, 100):.2f}", f"{rng.uniform(0, 10000):,.2f}", f"{rng.randint(1, 999)}.00"))
        cur = rng.choice(CURRENCIES)
        if rng.random() < 0.15:
            amount = amount.replace(".", ",") if "," not in amount else amount
        return rng.choice((f"{cur}{amount}", f"{cur} {amount}", f"{amount} {cur}", f"-{cur}{amount}", amount))

    def date(self) -> str:
        rng = self.rng
        d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1970, 2030)
        return rng.choice((
            f"{d:02d}/{m:02d}/{y}", f"{m}/{d}/{y % 100:02d}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}",
            f"{d} {MONTHS[m - 1]} {y}", f"{FULL_MONTHS[m - 1]} {d}, {y}", f"{d:02d}-{MONTHS[m - 1].upper()}-{y % 100:02d}",
        ))

    def time(self) -> str:
        rng = self.rng
        h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        return rng.choice((f"{h:02d}:{mi:02d}", f"{h:02d}:{mi:02d}:{s:02d}", f"{h % 12 or 12}:{mi:02d} {rng.choice(('AM', 'PM', 'am', 'pm'))}"))

    def code(self) -> str:
        rng = self.rng
        alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        parts = ["".join(rng.choices(alnum, k=rng.randint(2, 8))) for _ in range(rng.randint(1, 3))]
        r = rng.random()
        if r < 0.2:
            return f"({rng.randint(100, 999)}) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        if r < 0.35:
            return f"+{rng.randint(1, 99)} {rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}"
        if r < 0.5:
            return f"#{rng.randint(1, 99999)}"
        return rng.choice(("-", "/", "", " ", ".")).join(parts)

    def email_or_url(self) -> str:
        rng = self.rng
        a, b = self.plain_word(), self.plain_word()
        return rng.choice((f"{a}.{b}@{self.plain_word()}.{rng.choice(TLDS)}", f"www.{a}{b}.{rng.choice(TLDS)}",
                           f"https://{a}.{rng.choice(TLDS)}/{b}", f"{a}_{rng.randint(1, 99)}@{b}.{rng.choice(TLDS)}"))

    def accented(self) -> str:
        rng = self.rng
        if rng.random() < 0.4:
            return self.cased(rng.choice(LATIN_WORDS)) if rng.random() < 0.3 else rng.choice(LATIN_WORDS)
        word = list(self.word())
        for i in rng.sample(range(len(word)), k=min(len(word), rng.randint(1, 2))):
            if word[i] in ACCENTS:
                word[i] = rng.choice(ACCENTS[word[i]])
        return "".join(word)

    def symbolic(self) -> str:
        rng = self.rng
        s = rng.choice(SYMBOLS)
        return rng.choice((f"{s}{self.word()}", f"{self.number()}{s}", f"{s} {self.word()}", f"{self.word()}{s}",
                           f"{rng.randint(0, 360)}°", f"§{rng.randint(1, 99)}", f"©{rng.randint(1990, 2030)}",
                           f"{self.word()}®", f"• {self.word()}", f"{rng.randint(1, 99)}×{rng.randint(1, 99)}"))

    def punctuated(self) -> str:
        rng = self.rng
        w = self.word()
        left, right = rng.choice((("", "."), ("", ","), ("", ":"), ("", ";"), ("", "!"), ("", "?"), ("(", ")"),
                                  ("\"", "\""), ("“", "”"), ("‘", "’"), ("'", "'"), ("[", "]"), ("", "'s"),
                                  ("", "’s"), ("-", ""), ("", "-"), ("", "/"), ("", ".:"), ("", "..."), ("*", ""),
                                  ("<", ">"), ("{", "}")))
        return f"{left}{w}{right}"

    def random_chars(self) -> str:
        rng = self.rng
        pool = sorted(self.charset - {" "})
        return "".join(rng.choices(pool, k=rng.randint(1, 10)))

    def sentence(self) -> str:
        rng = self.rng
        words = [self.plain_word() for _ in range(rng.randint(2, 9))]
        if rng.random() < 0.7:
            words[0] = words[0][:1].upper() + words[0][1:]
        for i in range(len(words)):
            r = rng.random()
            if r < 0.08:
                words[i] += rng.choice((",", ";", ":"))
            elif r < 0.12:
                words[i] = rng.choice(("–", "—", "-", "&", "/")) + " " + words[i]
            elif r < 0.18:
                words[i] = self.token()
            elif r < 0.22:
                words[i] = self.accented()
        text = " ".join(words) + rng.choice((".", ".", "", "!", "?", ":", "…"))
        if rng.random() < 0.1:
            text = f"“{text}”" if rng.random() < 0.5 else f"\"{text}\""
        return text.upper() if rng.random() < 0.15 else text

    def receipt_line(self) -> str:
        rng = self.rng
        item = " ".join(self.plain_word() for _ in range(rng.randint(1, 3)))
        item = item.upper() if rng.random() < 0.6 else item.title()
        amount = f"{rng.uniform(0.1, 500):.2f}"
        return rng.choice((
            f"{item} {amount}", f"{rng.randint(1, 9)} x {item} {amount}", f"{item} {rng.randint(1, 9)} @ {amount}",
            f"{rng.choice(('TOTAL', 'Total', 'SUBTOTAL', 'Subtotal', 'TAX', 'GST 6%', 'VAT 20%', 'CASH', 'CHANGE', 'Balance Due'))}"
            f"{rng.choice((':', '', ' :'))} {rng.choice(CURRENCIES)}{amount}",
            f"{self.date()} {self.time()}", f"{rng.choice(('Invoice', 'INV', 'Receipt', 'Tel', 'Fax', 'No'))}"
            f"{rng.choice((':', '.', ' #', ' No:'))} {self.code()}",
        ))
