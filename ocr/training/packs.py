"""The real training text in one file: crops of every labelled set, split into train and validation.

A pack holds, per set, the margin crops (:mod:`ocr.training.lines`) of its training pages and
of its held-out pages (the last pages by name: validation is never drawn from the eval sets),
sampled down, scaled so that no text is taller than ``MAX_BOX_HEIGHT`` rows (the recognizers
read at 32 or 64) and WebP-encoded, so that it travels to a training machine. Born-digital PDFs
(``kleister_nda``) are rendered at a resolution drawn per page between 100 and 300 dpi;
the scan-like degradation is applied when a crop is drawn for training
(:class:`ocr.training.data.LineSource`), so every epoch sees another scan of it.
"""

from __future__ import annotations

import json
import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ocr.io.files import write_atomic

from .lines import Level, LineCrop, cut_page, cut_set, split_by_page

DPIS = (100, 120, 150, 200, 300)
MAX_BOX_HEIGHT = 32


@dataclass(frozen=True)
class SetSpec:
    """How one training set is cut: which regions, how many pages (PDF documents) held out, whether
    labels are upper-cased, whether it is a set of born-digital PDFs."""

    levels: tuple[Level, ...]
    holdout: int
    caseless: bool = False
    pdf: bool = False
    licence: str = ""
    most: int | None = None
    """At most this many training crops are kept (a random sample)."""


SETS: dict[str, SetSpec] = {
    "funsd_train": SetSpec(("words", "lines"), 15, licence="FUNSD: non-commercial research use only"),
    "docbank_samples": SetSpec(("words", "lines"), 10, licence="DocBank: Apache-2.0", most=8_000),
    "kleister_nda": SetSpec(("words", "lines"), 12, pdf=True, licence="Kleister-NDA (SEC EDGAR filings): no licence stated; research use"),
    "iiit5k_train": SetSpec(("words",), 200, licence="IIIT5K: research use only"),
    "svt_train": SetSpec(("words",), 25, caseless=True, licence="SVT: research use only"),
    "sroie_train": SetSpec(("lines",), 24, caseless=True, licence="ICDAR 2019 SROIE: research use only", most=5_000),
}


@dataclass
class Pack:
    """Per set: training and validation crops, and whether its labels ignore case."""

    train: dict[str, list[LineCrop]]
    val: dict[str, list[LineCrop]]
    caseless: dict[str, bool]
    sources: dict[str, str]


def pdf_files(folder: Path) -> list[Path]:
    """The PDFs of a born-digital set (its manifest's ``pdf`` entries), in manifest order."""
    lines = (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [folder / json.loads(line)["pdf"] for line in lines]


def _pdf_crops(folder: Path, rng: random.Random, per_page: int) -> list[LineCrop]:
    """Words and lines of every page of the PDF set in ``folder``, rendered at a random dpi;
    at most ``per_page`` words and ``per_page // 4`` lines of a page are kept."""
    import pypdfium2 as pdfium  # here: loading a pack (on a training machine) needs no PDF library

    from .pdf_text import render_page

    crops: list[LineCrop] = []
    for pdf in pdf_files(folder):
        document = pdfium.PdfDocument(str(pdf))
        try:
            for index in range(len(document)):
                page = render_page(document, index, rng.choice(DPIS))
                name = f"{pdf.name}#{index}"
                words = cut_page(page.image, page.words, name)
                lines = cut_page(page.image, page.lines, name)
                crops += rng.sample(words, min(per_page, len(words))) + rng.sample(lines, min(per_page // 4, len(lines)))
        finally:
            document.close()
    return crops


def _document(crop: LineCrop) -> str:
    """The page's image, or the PDF of a rendered page (``name.pdf#3``): what validation holds out whole."""
    return crop.page.split("#")[0]


def build_pack(root: Path, sets: dict[str, SetSpec] = SETS, seed: int = 0, per_page: int = 8, val: int = 400,
               log: Callable[[str], None] = print) -> Pack:
    """Cut the training ``sets`` (folders under ``root``) into a pack; at most ``val`` validation
    crops are kept per set."""
    rng = random.Random(seed)
    pack = Pack({}, {}, {}, {})
    for name, spec in sets.items():
        folder = root / name
        if spec.pdf:
            crops = _pdf_crops(folder, rng, per_page)
        else:
            crops = [c for level in spec.levels for c in cut_set(folder, level)]
        train, held = split_by_page(crops, spec.holdout, key=_document)
        if spec.most is not None and len(train) > spec.most:
            train = rng.sample(train, spec.most)
        held = rng.sample(held, min(val, len(held)))
        train, held = [_capped(c) for c in train], [_capped(c) for c in held]
        pack.train[name], pack.val[name], pack.caseless[name] = train, held, spec.caseless
        pages = len({c.page for c in train})
        pack.sources[name] = (f"{folder}: {len(train)} crops ({', '.join(spec.levels)}) of {pages} pages or images; "
                              f"{len(held)} held out (of the {spec.holdout} last by name); {spec.licence}")
        log(f"{name}: {len(train)} train, {len(held)} val crops")
    return pack


def _capped(crop: LineCrop) -> LineCrop:
    """``crop`` scaled down so that its box is at most ``MAX_BOX_HEIGHT`` rows high."""
    x0, y0, x1, y1 = crop.box
    scale = MAX_BOX_HEIGHT / max(y1 - y0, 1)
    if scale >= 1:
        return crop
    h, w = crop.pixels.shape
    pixels = cv2.resize(crop.pixels, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)
    box = (round(x0 * scale), round(y0 * scale), round(x1 * scale), round(y1 * scale))
    return LineCrop(pixels, box, crop.text, crop.page)


def _encode(crop: LineCrop) -> tuple[bytes, tuple[int, int, int, int], str, str]:
    ok, buf = cv2.imencode(".webp", crop.pixels, [cv2.IMWRITE_WEBP_QUALITY, 70])
    if not ok:
        raise ValueError(f"cannot encode a crop of {crop.page}")
    return buf.tobytes(), crop.box, crop.text, crop.page


def _decode(row: tuple[bytes, tuple[int, int, int, int], str, str]) -> LineCrop:
    data, box, text, page = row
    return LineCrop(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE), tuple(box), text, page)


def save_pack(pack: Pack, path: Path) -> None:
    """Write ``pack`` to ``path`` (crops as WebP)."""
    rows = {"train": {n: [_encode(c) for c in cs] for n, cs in pack.train.items()},
            "val": {n: [_encode(c) for c in cs] for n, cs in pack.val.items()},
            "caseless": pack.caseless, "sources": pack.sources}
    write_atomic(path, pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))


def load_pack(path: str | Path) -> Pack:
    """Read a pack written by :func:`save_pack`."""
    with Path(path).open("rb") as fh:
        rows = pickle.load(fh)
    return Pack({n: [_decode(r) for r in rs] for n, rs in rows["train"].items()},
                {n: [_decode(r) for r in rs] for n, rs in rows["val"].items()},
                rows["caseless"], rows["sources"])
