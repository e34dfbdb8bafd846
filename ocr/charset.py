"""Character sets of the recognizers and the shared class layout.

Every recognizer (CTC or attention) predicts ``len(charset) + 1`` classes: class 0 is
the CTC blank or the attention end-of-sequence, class ``i >= 1`` is ``charset[i - 1]``.
"""

from __future__ import annotations

import string

_PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
_TYPOGRAPHY = "€£¥°§©®±×÷•–—‘’“”"
_LATIN1_LETTERS = "".join(chr(c) for c in range(0xC0, 0x100) if chr(c) not in "×÷")

CHARSET: str = _PRINTABLE_ASCII + _TYPOGRAPHY + _LATIN1_LETTERS
"""The target charset of our trained models: printable ASCII (with space), typographic
symbols and the Latin-1 letters, case-sensitive."""

EASYOCR_ENGLISH_G2: str = string.digits + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €" + string.ascii_uppercase + string.ascii_lowercase
"""The charset of EasyOCR's pretrained ``english_g2`` model, in its class order."""

BLANK = 0
"""Class 0: the CTC blank, or the end of sequence for attention decoders."""


def encode(text: str, charset: str) -> list[int]:
    """Class indices of ``text``; raises ``ValueError`` naming characters outside ``charset``."""
    index = {c: i + 1 for i, c in enumerate(charset)}
    missing = sorted(set(text) - index.keys())
    if missing:
        raise ValueError(f"characters outside the charset: {''.join(missing)!r}")
    return [index[c] for c in text]


def case_folding(charset: str) -> tuple[list[int], str]:
    """Letter case folded out of ``charset``'s classes: each class's group (blank is class and group 0;
    a letter's two cases share a group) and each group's character (the lower case; NUL for blank)."""
    keys = ["\0"]
    groups = [BLANK]
    for char in charset:
        lower = char.lower()
        key = lower if len(lower) == 1 and lower in charset else char
        if key not in keys:
            keys.append(key)
        groups.append(keys.index(key))
    return groups, "".join(keys)
