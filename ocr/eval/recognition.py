"""Recognition quality on word and line crops: accuracies, error rates, speed and reliability.

Crop sets (one word or line per image) are read whole; page sets are cut into crops
along their ``lines`` boxes (or ``words`` when they have no lines), skipping do-not-care
and empty regions. Metrics per set and model:

- ``acc_alnum``: the word-benchmark protocol (IIIT5K, SVT, IC15): case-insensitive, letters and digits only;
- ``acc``: exact, case-sensitive (whitespace collapsed); ``acc_ci``: the same ignoring case;
- ``cer`` / ``cer_ci``: character error rate over the set (summed edit distances over summed
  lengths), case-sensitive / case-insensitive; ``wer_ci``: the same over words;
- ``crops_per_s``: crops read per second of recognizer time (pre-processing, model and decoding);
- a reliability table: accuracy (``acc_ci``) per decile of confidence, with the calibration
  error and how well confidence separates right from wrong readings (AUC).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal, Mapping, Protocol, Sequence

import numpy as np
from PIL import Image

from .. import datasets
from ..recognition import Reading, Recognizer
from ..recognition.lexicon import Lexicon
from ..recognition.crops import crop_region
from ..runtime import RuntimeConfig
from .metrics import (
    ReliabilityRow,
    alnum_caseless,
    calibration_error,
    collapse_spaces,
    edit_distance,
    reliability_table,
    separation_auc,
)

Level = Literal["auto", "words", "lines"]

CHUNK = 256
"""Crops handed to the recognizer per call (about a dense page)."""


class CropReader(Protocol):
    """Anything that reads a batch of crops: the project's recognizers, or a peer engine's adapter."""

    def read(self, images: Sequence[np.ndarray]) -> list[Reading]: ...


@dataclass(frozen=True)
class Crop:
    """A text image and its ground truth."""

    image: np.ndarray
    text: str


def iter_crops(folder: Path, level: Level = "auto", limit: int | None = None, margin: float = 0.0) -> Iterator[Crop]:
    """The crops of a set: whole images of a crop set, or regions cut from a page set
    (``auto``: lines when a page has line boxes, else words); ``limit`` counts images."""
    for sample in datasets.iter_samples(folder, limit):
        image = np.asarray(Image.open(sample.image).convert("RGB"))
        if not sample.words and not sample.lines:
            yield Crop(image, sample.text)
            continue
        use_lines = level == "lines" or (level == "auto" and bool(sample.lines))
        for region in sample.lines if use_lines else sample.words:
            text = collapse_spaces(region.text)
            if region.ignore or not text:
                continue
            crop = crop_region(image, region.box, margin)
            if crop.shape[0] >= 2 and crop.shape[1] >= 2:
                yield Crop(crop, text)


@dataclass(frozen=True)
class SetResult:
    """One model on one set."""

    set_name: str
    model: str
    crops: int
    acc_alnum: float
    acc: float
    acc_ci: float
    cer: float
    cer_ci: float
    wer_ci: float
    crops_per_s: float
    reliability: list[ReliabilityRow]
    calibration_error: float
    separation_auc: float
    errors: list[dict] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list, repr=False)
    correct: list[bool] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready metrics (without the per-crop confidences)."""
        data = asdict(self)
        del data["confidences"], data["correct"]
        return data


def score(set_name: str, model: str, truths: Sequence[str], readings: Sequence[Reading], seconds: float,
          keep_errors: int = 20) -> SetResult:
    """Metrics of ``readings`` against ``truths``."""
    n = len(truths)
    predictions = [collapse_spaces(r.text) for r in readings]
    truths = [collapse_spaces(t) for t in truths]
    exact = [p == t for p, t in zip(predictions, truths)]
    caseless = [p.lower() == t.lower() for p, t in zip(predictions, truths)]
    alnum = [alnum_caseless(p) == alnum_caseless(t) for p, t in zip(predictions, truths)]
    chars = sum(len(t) for t in truths) or 1
    words = sum(len(t.split()) for t in truths) or 1
    confidences = [r.confidence for r in readings]
    rows = reliability_table(confidences, caseless)
    errors = [
        {"truth": t, "read": p, "confidence": round(c, 4)}
        for p, t, c, ok in zip(predictions, truths, confidences, caseless)
        if not ok
    ][:keep_errors]
    return SetResult(
        set_name=set_name,
        model=model,
        crops=n,
        acc_alnum=sum(alnum) / max(1, n),
        acc=sum(exact) / max(1, n),
        acc_ci=sum(caseless) / max(1, n),
        cer=sum(edit_distance(p, t) for p, t in zip(predictions, truths)) / chars,
        cer_ci=sum(edit_distance(p.lower(), t.lower()) for p, t in zip(predictions, truths)) / chars,
        wer_ci=sum(edit_distance(p.lower().split(), t.lower().split()) for p, t in zip(predictions, truths)) / words,
        crops_per_s=n / seconds if seconds > 0 else 0.0,
        reliability=rows,
        calibration_error=calibration_error(rows),
        separation_auc=separation_auc(confidences, caseless),
        errors=errors,
        confidences=confidences,
        correct=caseless,
    )


def read_timed(recognizer: CropReader, images: Sequence[np.ndarray]) -> tuple[list[Reading], float]:
    """Read ``images`` in chunks of :data:`CHUNK`; returns the readings and the seconds spent reading."""
    readings: list[Reading] = []
    seconds = 0.0
    for start in range(0, len(images), CHUNK):
        started = time.perf_counter()
        readings.extend(recognizer.read(images[start : start + CHUNK]))
        seconds += time.perf_counter() - started
    return readings, seconds


def evaluate(
    folders: Sequence[Path],
    models: Mapping[str, CropReader],
    level: Level = "auto",
    limit: int | None = None,
    margin: float = 0.0,
    progress: Callable[[SetResult], None] | None = None,
) -> list[SetResult]:
    """Every model on every set; crops are cut once per set and shared by the models."""
    results = []
    for folder in folders:
        crops = list(iter_crops(folder, level, limit, margin))
        images = [c.image for c in crops]
        truths = [c.text for c in crops]
        for name, recognizer in models.items():
            readings, seconds = read_timed(recognizer, images)
            result = score(folder.name, name, truths, readings, seconds)
            results.append(result)
            if progress is not None:
                progress(result)
    return results


def format_table(results: Sequence[SetResult]) -> str:
    """Sets as rows, models side by side as column groups (percentages; speed in crops/s)."""
    models = list(dict.fromkeys(r.model for r in results))
    sets = list(dict.fromkeys(r.set_name for r in results))
    by_key = {(r.set_name, r.model): r for r in results}
    columns = ("acc-an", "acc", "acc-ci", "CER", "CER-ci", "WER-ci", "crops/s")
    header = f"{'set':<26} {'crops':>6}" + "".join(
        " | " + " ".join(f"{(m + ' ' if i == 0 else '') + c:>{len(m) + 7 if i == 0 else 7}}" for i, c in enumerate(columns))
        for m in models
    )
    lines = [header, "-" * len(header)]
    for set_name in sets:
        first = next(by_key[(set_name, m)] for m in models if (set_name, m) in by_key)
        row = f"{set_name:<26} {first.crops:>6}"
        for m in models:
            r = by_key.get((set_name, m))
            values = (
                ["-"] * len(columns)
                if r is None
                else [f"{100 * v:.1f}" for v in (r.acc_alnum, r.acc, r.acc_ci, r.cer, r.cer_ci, r.wer_ci)] + [f"{r.crops_per_s:.0f}"]
            )
            row += " | " + " ".join(f"{v:>{len(m) + 7 if i == 0 else 7}}" for i, v in enumerate(values))
        lines.append(row)
    return "\n".join(lines)


def pooled_reliability(results: Sequence[SetResult], model: str) -> tuple[list[ReliabilityRow], float, float]:
    """The reliability table of ``model`` over all its sets, its calibration error and separation AUC."""
    confidences = [c for r in results if r.model == model for c in r.confidences]
    correct = [ok for r in results if r.model == model for ok in r.correct]
    rows = reliability_table(confidences, correct)
    return rows, calibration_error(rows), separation_auc(confidences, correct)


def format_reliability(name: str, rows: Sequence[ReliabilityRow], ece: float, auc: float) -> str:
    """A reliability table: one line per confidence decile."""
    lines = [
        f"reliability of {name} (accuracy = case-insensitive exact match; calibration error {100 * ece:.1f} pts, "
        f"right-vs-wrong AUC {auc:.3f})",
        f"{'decile':>6} {'confidence range':>19} {'crops':>6} {'mean conf':>9} {'accuracy':>8}",
    ]
    for k, r in enumerate(rows, start=1):
        lines.append(f"{k:>6} {r.low:>9.3f} – {r.high:<7.3f} {r.count:>6} {100 * r.mean_confidence:>9.1f} {100 * r.accuracy:>8.1f}")
    return "\n".join(lines)


def model_labels(models: Sequence[str]) -> list[str]:
    """A column label per model: its name (``recognizer_fast.int8``), or its file name without
    ``.onnx``, with its folder where two files share a name."""
    stems = [Path(name).name.removesuffix(".onnx") for name in models]
    return [f"{Path(name).parent.name}/{stem}" if stems.count(stem) > 1 else stem for name, stem in zip(models, stems)]


def run(
    sets: Sequence[str],
    models: Sequence[str],
    level: Level,
    limit: int | None,
    margin: float,
    json_path: str | None,
    threads: int,
    echo: Callable[[str], None],
    lexicon: str | None = None,
    peers: Mapping[str, CropReader] | None = None,
) -> list[SetResult]:
    """The ``ocr eval recognize`` command: evaluate, print the tables to stdout, optionally write JSON.
    With ``lexicon`` (a word list's name or path), each model is also read with near-miss words corrected;
    ``peers`` (other engines' crop readers) are scored beside the models on the same crops."""
    folders = [datasets.resolve(name) for name in sets]
    runtime = RuntimeConfig(intra_op_threads=threads)
    labels = model_labels(models)
    recognizers: dict[str, CropReader] = {label: Recognizer(name, runtime) for name, label in zip(models, labels)}
    if lexicon:
        words = Lexicon.load(lexicon)
        recognizers |= {f"{label}+lexicon": Recognizer(name, runtime, words) for name, label in zip(models, labels)}
    recognizers |= dict(peers or {})

    def progress(result: SetResult) -> None:
        echo(f"{result.model} {result.set_name}: {result.crops} crops, acc-ci {100 * result.acc_ci:.1f}, "
             f"CER {100 * result.cer:.1f}, {result.crops_per_s:.0f} crops/s")

    results = evaluate(folders, recognizers, level, limit, margin, progress)
    print(format_table(results))
    pooled = {}
    for name in recognizers:
        rows, ece, auc = pooled_reliability(results, name)
        pooled[name] = {"reliability": [asdict(r) for r in rows], "calibration_error": ece, "separation_auc": auc}
        print()
        print(format_reliability(f"{name} over {', '.join(f.name for f in folders)}", rows, ece, auc))
    if json_path:
        report = {"results": [r.to_dict() for r in results], "pooled": pooled,
                  "settings": {"level": level, "limit": limit, "margin": margin, "threads": threads, "lexicon": lexicon}}
        Path(json_path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return results
