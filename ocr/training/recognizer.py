"""Train a four-stage recognizer on synthetic and real crops; resumable; exports ONNX with a manifest.

The run directory holds ``checkpoint.pt`` (model, optimizer, step, random states, config;
written every few minutes and at the end), ``best.pt`` (weights of the best validation score),
``log.jsonl`` (one JSON object per log line) and, after export, ``<preset>.onnx``,
``<preset>.int8.onnx``, their ``.json`` configs and ``manifest.json``.

SROIE transcripts are upper-cased, so their loss is computed case-insensitively: the
probabilities of ``a`` and ``A`` (and of every other case pair) are summed before CTC (or
cross-entropy), which supervises the letters without dictating their case. A teacher
checkpoint can relabel real crops with its own reading where it agrees with the label
up to case (distillation that restores the case).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..eval.metrics import edit_distance
from ..io.files import replacing, write_atomic
from ..models import file_digest
from ..charset import BLANK, CHARSET, EASYOCR_ENGLISH_G2, case_folding
from ..nets.recognizer import TextRecognizer, build_model, load_english_g2
from ..recognition.config import RecognizerConfig
from .data import BatchStream, LineSource, Mixture, Sample, Source, SynthSource, jitter_crop, resize_to_height, to_tensor
from .int8 import quantize_convolutions
from .lines import LineCrop, cached_lines, split_by_page
from .packs import SETS as PACK_SETS, load_pack
from .onnx_weights import model_from_onnx
from .schedule import progress
from .photos import licence_of
from .synth import FONT_ROOTS, PHOTO_GROUND, Renderer, find_fonts, load_grounds
from .synth_scene import SceneRenderer
from .text import TextSampler, cached_words, scene_words

SROIE_TRAIN = "/work/shared/data/train/sroie_train"
ENGLISH_G2 = "english_g2"
INT8_OPS = ("MatMul", "Gemm", "LSTM")
"""Operators quantized to int8 (dynamic quantization of the weights) in the int8 export."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved in every checkpoint and in the manifest)."""

    preset: str
    model: dict[str, Any]
    init: str | None = None
    steps: int = 10_000
    minutes: float | None = None
    lr: float = 1e-3
    warmup: int = 200
    weight_decay: float = 1e-4
    columns: int = 4096
    max_batch: int = 64
    max_width: int = 1024
    context: float = 0.4
    mix: dict[str, float] = field(default_factory=lambda: {"sroie": 0.4, "synth_word": 0.4, "synth_line": 0.2})
    freeze: int = 0
    frozen_bn: bool = False
    teacher: str | None = None
    lines: str = SROIE_TRAIN
    pack: str | None = None
    fonts: str | None = None
    grounds: str | None = None
    """A folder of photographs (``ocr train photos``) that synthetic training text is partly drawn on."""
    cache: str = "/work/runs/cache"
    holdout_pages: int = 24
    val_lines: int = 300
    val_synth: int = 300
    val_every: int = 300
    log_every: int = 20
    checkpoint_minutes: float = 5.0
    seed: int = 0
    threads: int = 1
    device: str = "cpu"
    workers: int = 0

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"--lr {self.lr}: the learning rate must be positive")
        if any(not weight >= 0 for weight in self.mix.values()) or not any(self.mix.values()):
            raise ValueError(f"--mix: weights must be 0 or more, and one positive: {self.mix}")
        if self.init and self.init.endswith(".onnx") and not self.frozen_bn:
            raise ValueError(f"--init {self.init}: its batch norms are folded, so train it with a frozen-BN preset (best)")

    @property
    def recognizer(self) -> RecognizerConfig:
        return RecognizerConfig(**self.model)


def _model(name: str, height: int, width: int, hidden: int, channels: int, **extra: Any) -> dict[str, Any]:
    return asdict(RecognizerConfig(name=name, img_height=height, img_width=width, hidden_size=hidden,
                                   output_channels=channels, charset=CHARSET, **extra))


# The card's model at a CPU width (attention decoder: words and short lines only): ResNet channels
# up to 96 read a 128×32 word in 0.59 GFLOP (0.96 at 128, 3.4 at 256: too slow to train here; one
# step of 48 words takes 1.3 s on one thread).
_CARD = TrainConfig("card", _model("TPS-ResNet-BiLSTM-Attn", 32, 128, 128, 96, max_length=32), lr=1e-3, columns=6144,
                    max_batch=64, max_width=256, mix={"sroie": 0.35, "synth_word": 0.45, "synth_line": 0.2})

# Every real set of a pack (see :mod:`ocr.training.packs`) beside the synthetic words and lines.
REAL_MIX = {"funsd_train": 0.2, "docbank_samples": 0.1, "kleister_nda": 0.15, "iiit5k_train": 0.06, "svt_train": 0.02,
            "sroie_train": 0.12, "synth_word": 0.25, "synth_line": 0.1}

PRESETS: dict[str, TrainConfig] = {
    # The pretrained EasyOCR model fine-tuned to our charset; the first four convolutions stay frozen.
    "best": TrainConfig("best", _model("None-VGG-BiLSTM-CTC", 64, 256, 256, 256), init=ENGLISH_G2, lr=2e-4,
                        warmup=100, columns=4096, max_batch=48, max_width=1024, freeze=10, frozen_bn=True),
    # A light student at height 32, distilled from the best model's readings of the real crops.
    "fast": TrainConfig("fast", _model("None-Mobile-BiLSTM-CTC", 32, 128, 96, 128), lr=1.5e-3, columns=12_288,
                        max_batch=128, max_width=512),
    # The student at three times the cost (0.030 GFLOP a 128×32 word against 0.010): the shipped
    # recognizer_fast, grown from the narrow one above by --init.
    "fast_wide": TrainConfig("fast_wide", _model("None-Mobile-BiLSTM-CTC", 32, 128, 128, 256), lr=1.5e-3,
                             columns=12_288, max_batch=128, max_width=512),
    # The fast student widened again (Mobile channels 384, hidden 192: about twice its cost), trained on
    # the real sets of a pack (--pack) beside synthetic text, in large batches for a GPU (--device
    # cuda); whole document lines are read up to 1024 columns unsqueezed. Grown from recognizer_fast
    # by --init.
    "medium": TrainConfig("medium", _model("None-Mobile-BiLSTM-CTC", 32, 128, 192, 384), lr=1.5e-3, columns=32_768,
                          max_batch=256, max_width=1024, mix=REAL_MIX),
    "card": _CARD,
    # The card's stages under a CTC head, which learns to read in a fraction of the steps: trained
    # first, it gives the attention decoder (--config card --init <this run>) features that read.
    # From scratch, the decoder stayed at its language-model plateau for 1,300 steps.
    # Its sizes are the card's own, so that --init fits.
    "card_encoder": replace(_CARD, preset="card_encoder", model={**_CARD.model, "name": "TPS-ResNet-BiLSTM-CTC"}),
    # A seconds-long smoke run (tests).
    "tiny": TrainConfig("tiny", _model("None-Mobile-None-CTC", 32, 64, 32, 64), lr=2e-3, warmup=5, columns=1024,
                        max_batch=16, max_width=256, val_lines=8, val_synth=8, val_every=10, log_every=5,
                        holdout_pages=1),
}


# --------------------------------------------------------------------------- initialization


def _related(char: str) -> str | None:
    """A character of EasyOCR's charset that looks like ``char`` (its base letter, or a similar symbol)."""
    similar = {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "×": "x", "÷": "+", "•": ".", "°": "o",
               "±": "+", "£": "E", "¥": "Y", "§": "S", "©": "C", "®": "R", "ß": "B", "Æ": "A", "æ": "a", "Ð": "D",
               "ð": "d", "Þ": "P", "þ": "p", "Ø": "O", "ø": "o"}
    if char in similar:
        return similar[char]
    base = unicodedata.normalize("NFD", char)[0]
    return base if base != char and base in EASYOCR_ENGLISH_G2 else None


def init_from_english_g2(model: TextRecognizer) -> dict[str, int]:
    """Load english_g2 into ``model`` (a 256-channel None-VGG-BiLSTM-CTC at any charset).

    Output rows of characters EasyOCR knows are copied; a new character starts from the row of
    a look-alike (é from e, “ from ") with its bias lowered so it must be learned before it wins;
    others keep their random initialization. Returns counts of copied, related and new rows.
    """
    state = dict(load_english_g2().state_dict())
    weight, bias = state.pop("prediction.classifier.weight"), state.pop("prediction.classifier.bias")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"prediction.classifier.weight", "prediction.classifier.bias"}:
        raise ValueError(f"english_g2 does not fit this model: missing {missing}, unexpected {unexpected}")
    source = {c: i + 1 for i, c in enumerate(EASYOCR_ENGLISH_G2)}
    counts = {"copied": 1, "related": 0, "new": 0}
    classifier = model.prediction.classifier
    with torch.no_grad():
        classifier.weight[BLANK] = weight[BLANK]
        classifier.bias[BLANK] = bias[BLANK]
        for i, char in enumerate(model.config.charset, start=1):
            if char in source:
                classifier.weight[i], classifier.bias[i] = weight[source[char]], bias[source[char]]
                counts["copied"] += 1
            elif (near := _related(char)) is not None:
                classifier.weight[i], classifier.bias[i] = weight[source[near]], bias[source[near]] - 2.0
                counts["related"] += 1
            else:
                classifier.bias[i] = bias[1:].min() - 2.0
                counts["new"] += 1
    return counts


def init_from(model: TextRecognizer, source: TextRecognizer) -> str:
    """Copy ``source``'s weights into ``model``: all of them, or only the stages before the
    prediction head when the heads differ (an attention decoder on a CTC-trained encoder).
    A narrower ``source`` of the same architecture is widened into ``model`` so that it still
    reads the same (see :func:`widened`). Returns which were copied."""
    same_head = source.config.prediction == model.config.prediction
    copied, target = ({k: v for k, v in m.state_dict().items() if same_head or not k.startswith("prediction.")}
                      for m in (source, model))
    misfits = sorted(k for k in copied.keys() | target.keys()
                     if k not in copied or k not in target or copied[k].shape != target[k].shape)
    grows = source.config.name == model.config.name and copied.keys() == target.keys() and all(
        copied[k].dim() == target[k].dim() and all(a <= b for a, b in zip(copied[k].shape, target[k].shape))
        for k in misfits)
    if misfits and not grows:
        sizes = [f"{m.config.name} ({m.config.output_channels} channels, hidden {m.config.hidden_size})"
                 for m in (source, model)]
        raise ValueError(f"{sizes[0]} does not fit {sizes[1]}: {misfits[0]} differs")
    model.load_state_dict({k: widened(k, v, target[k]) if k in misfits else v for k, v in copied.items()}, strict=False)
    if misfits:
        return f"all, widened from {source.config.output_channels} channels and hidden {source.config.hidden_size}"
    return "all" if same_head else "all but the prediction head"


def widened(key: str, small: torch.Tensor, large: torch.Tensor) -> torch.Tensor:
    """``large`` (a wider model's freshly initialized tensor ``key``) holding ``small`` in its old
    units, so that the wider model computes what the narrow one did (Net2Net-style): old units
    keep their weights, new units keep their random inputs, and the weights from new units into
    old ones are zero, so they start silent and grow with training. An LSTM's rows are four gate
    blocks and a bidirectional projection's columns two direction blocks, each widened alike."""
    def old_units(dim: int) -> torch.Tensor:
        blocks = 4 if ".lstm." in key and dim == 0 else 2 if key.endswith("proj.weight") and dim == 1 else 1
        size, new_size = small.shape[dim] // blocks, large.shape[dim] // blocks
        return torch.cat([torch.arange(b * new_size, b * new_size + size) for b in range(blocks)])

    index = [old_units(d) for d in range(small.dim())]
    out = large.clone()
    if small.dim() >= 2:
        out[index[0]] = 0.0  # old outputs read nothing from new inputs
    out[torch.meshgrid(*index, indexing="ij")] = small
    return out


def freeze_prefix(model: TextRecognizer, modules: int) -> None:
    """Stop gradients through the first ``modules`` layers of the feature extractor."""
    if modules <= 0:
        return
    layers = getattr(model.feature, "layers", None)
    if layers is None:
        raise ValueError(f"--freeze needs a sequential feature extractor, not {model.config.feature}")
    for layer in list(layers)[:modules]:
        for p in layer.parameters():
            p.requires_grad_(False)


# --------------------------------------------------------------------------- losses and decoding


def case_groups(charset: str) -> tuple[torch.Tensor, dict[str, int]]:
    """A (classes × groups) 0/1 matrix joining each upper-case letter with its lower case, and each
    character's group index (blank is group 0)."""
    groups, keys = case_folding(charset)
    matrix = torch.zeros(len(charset) + 1, len(keys))
    matrix[torch.arange(len(groups)), groups] = 1.0
    return matrix, {char: groups[i] for i, char in enumerate(charset, start=1)}


class Criterion:
    """CTC or attention cross-entropy loss, exact or case-insensitive per sample."""

    def __init__(self, config: RecognizerConfig) -> None:
        self.config = config
        self.index = {c: i + 1 for i, c in enumerate(config.charset)}
        self.fold, self.group_of = case_groups(config.charset)

    def targets(self, samples: Sequence[Sample]) -> list[list[int]]:
        """Class indices of each sample's text (case groups for caseless samples)."""
        return [[self.group_of[c] for c in s.text] if s.caseless else [self.index[c] for c in s.text] for s in samples]

    def teacher_tokens(self, samples: Sequence[Sample]) -> torch.Tensor:
        """Attention teacher forcing: the exact text, end-of-sequence padded, (batch, max_length + 1)."""
        steps = self.config.max_length + 1
        rows = [[self.index[c] for c in s.text][: steps - 1] + [BLANK] * (steps - min(len(s.text), steps - 1)) for s in samples]
        return torch.tensor(rows, dtype=torch.long)

    def __call__(self, logits: torch.Tensor, samples: Sequence[Sample]) -> torch.Tensor:
        """Mean per-sample loss (sequence negative log-likelihood)."""
        log_probs = logits.log_softmax(2)
        targets = self.targets(samples)
        loss = self._ctc if self.config.prediction == "CTC" else self._ce
        total = logits.new_zeros(())
        for caseless in (False, True):
            rows = [i for i, s in enumerate(samples) if s.caseless == caseless]
            if not rows:
                continue
            lp = log_probs[rows]
            if caseless:
                lp = torch.log((lp.exp() @ self.fold.to(lp.device)).clamp_min(1e-30))
            total = total + loss(lp, [targets[i] for i in rows])
        return total / len(samples)

    @staticmethod
    def _ctc(log_probs: torch.Tensor, rows: list[list[int]]) -> torch.Tensor:
        batch, steps, _ = log_probs.shape
        device = log_probs.device
        flat = torch.tensor([c for r in rows for c in r], dtype=torch.long, device=device)
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long, device=device)
        return F.ctc_loss(log_probs.transpose(0, 1), flat, torch.full((batch,), steps, dtype=torch.long, device=device),
                          lengths, blank=BLANK, reduction="sum", zero_infinity=True)

    @staticmethod
    def _ce(log_probs: torch.Tensor, rows: list[list[int]]) -> torch.Tensor:
        steps = log_probs.shape[1]
        target = torch.full((len(rows), steps), -100, dtype=torch.long)
        for i, r in enumerate(rows):
            r = r[: steps - 1] + [BLANK]
            target[i, : len(r)] = torch.tensor(r)
        return F.nll_loss(log_probs.reshape(-1, log_probs.shape[2]), target.reshape(-1).to(log_probs.device), reduction="sum")


def greedy_decode(logits: torch.Tensor, config: RecognizerConfig) -> list[str]:
    """Best-path texts: CTC collapses repeats and drops blanks; attention stops at end-of-sequence."""
    best = logits.argmax(2).tolist()
    texts = []
    for row in best:
        if config.prediction == "CTC":
            chars = [c for i, c in enumerate(row) if c != BLANK and (i == 0 or c != row[i - 1])]
        else:
            chars = row[: row.index(BLANK)] if BLANK in row else row
        texts.append("".join(config.charset[c - 1] for c in chars))
    return texts


# --------------------------------------------------------------------------- data


@dataclass
class Data:
    """The training mixture and the fixed validation sets."""

    mixture: Mixture
    val: dict[str, list[Sample]]
    sources: dict[str, str]


def teacher_labels(model: TextRecognizer, crops: Sequence[LineCrop], cache: Path, columns: int = 32_768,
                   progress: Callable[[int, int], None] | None = None, every: int = 2000) -> list[str | None]:
    """Case-exact labels: ``model``'s reading of each crop where it agrees with the crop's label up to
    case, ``None`` elsewhere. Read once in batches of similar width (``progress(done, total)`` is told
    every ``every`` crops) and kept in the JSON file ``cache``."""
    if cache.is_file():
        labels = json.loads(cache.read_text(encoding="utf-8"))
        if len(labels) == len(crops):
            return labels
    config = model.eval().config
    images = [resize_to_height(jitter_crop(c), config.img_height, 2048) for c in crops]
    labels: list[str | None] = [None] * len(crops)
    done = 0
    with torch.no_grad():
        for batch in _batched([im.shape[1] for im in images], columns):
            readings = greedy_decode(model(to_tensor([images[i] for i in batch], config.img_height)), config)
            for i, reading in zip(batch, readings):
                labels[i] = reading if reading.upper() == crops[i].text.upper() else None
            done += len(batch)
            if progress is not None and done // every > (done - len(batch)) // every:
                progress(done, len(crops))
    write_atomic(cache, json.dumps(labels, ensure_ascii=False))
    return labels


def teacher_id(spec: str) -> str:
    """A short name that changes when the teacher ``spec`` (see :func:`load_teacher`) changes."""
    return spec if spec == ENGLISH_G2 else file_digest(_teacher_checkpoint(spec))[:16]


def _teacher_checkpoint(spec: str) -> Path:
    """The checkpoint file of a run directory (its ``best.pt``) or of a file path."""
    path = Path(spec)
    return path / "best.pt" if path.is_dir() else path


def load_teacher(spec: str) -> TextRecognizer:
    """``english_g2`` (EasyOCR's pretrained model), a run directory / checkpoint file of ours, or
    an exported CTC model (``.onnx`` with its ``.json``, see :func:`model_from_onnx`)."""
    if spec == ENGLISH_G2:
        return load_english_g2()
    path = _teacher_checkpoint(spec)
    if not path.is_file():
        raise FileNotFoundError(f"teacher checkpoint not found: {path}")
    if path.suffix == ".onnx":
        return model_from_onnx(path)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(RecognizerConfig(**saved["config"]["model"]))
    model.load_state_dict(saved["model"])
    return model.eval()


def build_data(cfg: TrainConfig, words: list[tuple[str, int]] | None = None, fonts: list[str] | None = None,
               crops: list[LineCrop] | None = None, log: Callable[..., None] | None = None) -> Data:
    """The seeded training mixture and validation sets of ``cfg``: synthetic text, and real crops
    of ``cfg.lines`` split by page or, with ``cfg.pack``, of every set of the pack with its own
    held-out pages; ``log`` hears how far the teacher has read the real crops."""
    rc = cfg.recognizer
    cache = Path(cfg.cache)
    weights = {name: w for name, w in cfg.mix.items() if w > 0}
    real: dict[str, tuple[list[LineCrop], list[LineCrop], bool]] = {}
    described: dict[str, str] = {}
    if cfg.pack:
        pack = load_pack(cfg.pack)
        real = {name: (pack.train[name], pack.val[name], pack.caseless[name]) for name in pack.train}
        described = {name: text for name, text in pack.sources.items() if name in weights}
    known = ["sroie", "synth_word", "synth_line", "synth_scene", *real]
    for name in weights:
        if name not in known and name in PACK_SETS and not cfg.pack:
            raise ValueError(f"--mix: {name} is a set of a pack: give --pack")
        if name not in known:
            raise ValueError(f"--mix: unknown source {name!r}: choose from {', '.join(known)}")
    if "sroie" in weights:
        if crops is None:
            crops = cached_lines(cfg.lines, cache / f"{Path(cfg.lines).name}_lines.pkl")
        train_crops, held_crops = split_by_page(crops, cfg.holdout_pages)
        real["sroie"] = (train_crops, held_crops, True)
        described["sroie"] = (f"{cfg.lines}: {len(train_crops)} line crops of {len({c.page for c in train_crops})} pages "
                              f"(held out: last {cfg.holdout_pages} pages); {PACK_SETS['sroie_train'].licence}")
    if words is None:
        words = cached_words(cache / "words.tsv", extra=[c.text for c in real["sroie"][0]] if "sroie" in real else [])
    fonts = fonts if fonts is not None else find_fonts((cfg.fonts,) if cfg.fonts else FONT_ROOTS)
    seed = cfg.seed
    sources: dict[str, Source] = {}
    used = [(offset, name, crops_of) for offset, (name, crops_of) in enumerate(sorted(real.items()), start=10)
            if name in weights]
    # loaded once, first: it says clearly when the checkpoint is missing
    teacher = load_teacher(cfg.teacher) if cfg.teacher and any(caseless for _, _, (_, _, caseless) in used) else None
    for offset, name, (train_crops, _, caseless) in used:
        exact = None
        if teacher is not None and caseless:
            labels_file = cache / f"{name}_labels_{teacher_id(cfg.teacher)}_{len(train_crops)}.json"
            progress = (lambda done, total: log("teacher_labels", done=done, total=total)) if log else None
            exact = teacher_labels(teacher, train_crops, labels_file, progress=progress)
        sources[name] = LineSource(train_crops, rc.img_height, seed + offset, rc.charset, caseless=caseless,
                                   max_width=cfg.max_width, exact=exact)
    grounds = load_grounds(Path(cfg.grounds)) if cfg.grounds else ()
    for offset, kind in ((2, "word"), (3, "line")):
        renderer = Renderer(fonts, rc.img_height, max_width=cfg.max_width, grounds=grounds)
        sources[f"synth_{kind}"] = SynthSource(TextSampler(words, rc.charset), renderer, kind, seed + offset,
                                               context=cfg.context if kind == "word" else 0.0)
    scene = scene_words(cache / "scene_words.tsv") if "synth_scene" in weights else None
    if scene:
        sources["synth_scene"] = SynthSource(TextSampler(scene, rc.charset), SceneRenderer(
            fonts, rc.img_height, max_width=cfg.max_width, grounds=grounds), "scene", seed + 4)
    mixture = Mixture(sources, weights, seed, max_length=rc.max_length if rc.prediction == "Attn" else None)
    # Validation: each real set's held-out pages (clean crops) and a fixed synthetic set.
    val_rng = random.Random(seed + 100)
    allowed = set(rc.charset)
    val: dict[str, list[Sample]] = {}
    for _, name, (_, held_crops, caseless) in used:
        held = [c for c in held_crops if set(c.text) <= allowed and (rc.prediction == "CTC" or len(c.text) <= rc.max_length)]
        held = val_rng.sample(held, min(cfg.val_lines, len(held)))
        val[f"{name}_val"] = [Sample(resize_to_height(jitter_crop(c), rc.img_height, cfg.max_width), c.text, caseless)
                              for c in held]
    def fixed(source: SynthSource) -> list[Sample]:
        return [s for s in (source() for _ in range(3 * cfg.val_synth))
                if rc.prediction == "CTC" or len(s.text) <= rc.max_length][: cfg.val_synth]

    val["synth_val"] = fixed(SynthSource(TextSampler(words, rc.charset), Renderer(fonts, rc.img_height, max_width=cfg.max_width),
                                         "word", seed + 101))
    if scene:
        val["scene_val"] = fixed(SynthSource(TextSampler(scene, rc.charset),
                                             SceneRenderer(fonts, rc.img_height, max_width=cfg.max_width), "scene", seed + 102))
    described["synth"] = f"{len(fonts)} fonts, {len(words)} words from offline docs + SROIE train transcripts"
    if grounds:
        described["synth"] += (f"; {PHOTO_GROUND:.0%} of training crops drawn on {len(grounds)} photographs of {cfg.grounds} "
                               f"({licence_of(Path(cfg.grounds))})")
    if scene:
        described["synth_scene"] = (f"scene text ({SceneRenderer.__module__}): {len(fonts)} fonts, wordfreq's most frequent "
                                    "English words (CC-BY-SA 4.0), numbers and codes")
    described["teacher"] = cfg.teacher or "none"
    return Data(mixture, val, described)


# --------------------------------------------------------------------------- evaluation


def score(predictions: Sequence[str], references: Sequence[str], caseless: bool) -> dict[str, float]:
    """CER (edit distance over reference length) and exact-match accuracy, in percent."""
    if caseless:
        predictions = [p.upper() for p in predictions]
        references = [r.upper() for r in references]
    errors = sum(edit_distance(p, r) for p, r in zip(predictions, references))
    chars = sum(len(r) for r in references)
    exact = sum(p == r for p, r in zip(predictions, references))
    return {"cer": 100.0 * errors / max(chars, 1), "acc": 100.0 * exact / max(len(references), 1)}


def _batched(widths: Sequence[int], columns: int) -> Iterator[list[int]]:
    """Indices of crops in batches of similar width, each under about ``columns`` padded columns."""
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) + 1) * widths[i] > columns:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def evaluate(model: TextRecognizer, val: dict[str, list[Sample]], columns: int = 8192) -> dict[str, float]:
    """Greedy-decoding CER and accuracy on each validation set (SROIE case-insensitively)."""
    modes = [(module, module.training) for module in model.modules()]  # frozen batch norms stay frozen
    model.eval()
    metrics: dict[str, float] = {}
    with torch.no_grad():
        for name, samples in val.items():
            predictions = [""] * len(samples)
            for batch in _batched([s.image.shape[1] for s in samples], columns):
                images = to_tensor([samples[i].image for i in batch], model.config.img_height)
                logits = model(images.to(next(model.parameters()).device))
                for i, text in zip(batch, greedy_decode(logits, model.config)):
                    predictions[i] = text
            caseless = any(s.caseless for s in samples)
            for key, value in score(predictions, [s.text for s in samples], caseless).items():
                metrics[f"{name}_{key}"] = round(value, 3)
    for module, training in modes:
        module.train(training)
    return metrics


# --------------------------------------------------------------------------- training loop


def _set_train_mode(model: TextRecognizer, frozen_bn: bool) -> None:
    model.train()
    if frozen_bn:
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()


def _atomic_save(obj: Any, path: Path) -> None:
    with replacing(path) as temp:
        torch.save(obj, temp)


class Logger:
    """Prints one line per event and appends it as JSON to ``log.jsonl``."""

    def __init__(self, path: Path, echo: Callable[[str], None] = print) -> None:
        self.path, self.echo = path, echo

    def __call__(self, event: str, **values: Any) -> None:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "event": event, **values}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.echo(" ".join(f"{k}={v}" for k, v in record.items()))


@dataclass
class RunState:
    """What a checkpoint restores besides the weights."""

    step: int = 0
    wall_seconds: float = 0.0
    best: float = float("inf")
    best_metrics: dict[str, float] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)


def _finished(state: RunState, cfg: TrainConfig) -> bool:
    """The run has done ``cfg.steps``, or trained for ``cfg.minutes`` when a budget is set."""
    return progress(state.step, state.wall_seconds, cfg.steps, cfg.minutes) >= 1.0


def _lr_factor(state: RunState, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 5 % by the end of the steps or of the training-time budget."""
    if state.step < cfg.warmup:
        return (state.step + 1) / cfg.warmup
    done = progress(state.step - cfg.warmup, state.wall_seconds, cfg.steps - cfg.warmup, cfg.minutes)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done))


def _frozen_val(path: Path, val: dict[str, list[Sample]]) -> dict[str, list[Sample]]:
    """The run's validation sets as first saved in ``path`` (so that scores stay comparable
    when the data code changes between resumes); saves ``val`` there on the first call."""
    if path.is_file():
        with path.open("rb") as fh:
            return pickle.load(fh)
    with path.open("wb") as fh:
        pickle.dump(val, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return val


def resume_config(out: Path, **overrides: Any) -> TrainConfig:
    """The config saved in ``out/checkpoint.pt`` with ``overrides`` (None values ignored) applied."""
    path = out / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(f"nothing to resume: {path} does not exist")
    saved = torch.load(path, map_location="cpu", weights_only=False)
    return replace(TrainConfig(**saved["config"]), **{k: v for k, v in overrides.items() if v is not None})


def train(cfg: TrainConfig, out: Path, resume: bool = False, command: str = "", data: Data | None = None,
          echo: Callable[[str], None] = print) -> RunState:
    """Train (or continue, from ``out/checkpoint.pt``) the run in ``out`` up to ``cfg.steps``;
    returns the final run state. Continue a run with :func:`resume_config`'s config."""
    out.mkdir(parents=True, exist_ok=True)
    log = Logger(out / "log.jsonl", echo)
    torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    checkpoint_path = out / "checkpoint.pt"
    saved = torch.load(checkpoint_path, map_location="cpu", weights_only=False) if resume and checkpoint_path.is_file() else None
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.recognizer)
    if saved is None and cfg.init == ENGLISH_G2:
        log("init", source=ENGLISH_G2, rows=init_from_english_g2(model))
    elif saved is None and cfg.init:
        log("init", source=cfg.init, stages=init_from(model, load_teacher(cfg.init)))
    freeze_prefix(model, cfg.freeze)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    data = data or build_data(cfg, log=log)
    data.val = _frozen_val(out / "val.pkl", data.val)
    state = RunState()
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])  # follows the parameters' device
        state = RunState(**saved["state"])
        data.mixture.set_state(saved["data_rng"])
        random.setstate(saved["py_rng"])
        torch.set_rng_state(saved["torch_rng"])
        log("resume", step=state.step, wall_seconds=round(state.wall_seconds))
    state.commands.append(command)
    n_params = sum(p.numel() for p in model.parameters())
    log("start", preset=cfg.preset, model=cfg.recognizer.name, params=n_params,
        trainable=sum(p.numel() for p in params), steps=cfg.steps, data=data.sources, out=str(out))
    criterion = Criterion(cfg.recognizer)
    stream = BatchStream(data.mixture, cfg.recognizer.img_height, cfg.columns, cfg.max_batch, cfg.seed + state.step)
    batches = iter(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=cfg.workers, prefetch_factor=8,
                                               pin_memory=device.type == "cuda") if cfg.workers else stream)

    def checkpoint() -> None:
        _atomic_save({"config": asdict(cfg), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "state": asdict(state), "data_rng": data.mixture.get_state(), "py_rng": random.getstate(),
                      "torch_rng": torch.get_rng_state()}, checkpoint_path)

    # Sets far smaller than the rest (SVT's 25 held-out words, whose CER swings by 10 points from one
    # validation to the next) are reported but do not choose best.pt.
    choosing = [name for name, samples in data.val.items() if len(samples) >= cfg.val_lines / 3] or list(data.val)

    def validate() -> None:
        metrics = evaluate(model, data.val)
        target = sum(metrics[f"{name}_cer"] for name in choosing)
        if target < state.best:
            state.best, state.best_metrics = target, {**metrics, "step": state.step}
            _atomic_save({"config": asdict(cfg), "model": model.state_dict(), "metrics": state.best_metrics}, out / "best.pt")
        log("val", step=state.step, **metrics)

    _set_train_mode(model, cfg.frozen_bn)
    last_save = last_log = time.monotonic()
    window = {"loss": 0.0, "samples": 0, "steps": 0, "columns": 0}
    while not _finished(state, cfg):
        started = time.monotonic()
        images, samples = next(batches)
        images = images.to(device, non_blocking=True)
        lr = cfg.lr * _lr_factor(state, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        targets = criterion.teacher_tokens(samples).to(device) if cfg.recognizer.prediction == "Attn" else None
        loss = criterion(model(images, targets), samples)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
        state.step += 1
        state.wall_seconds += time.monotonic() - started
        window["loss"] += loss.item() * len(samples)
        window["samples"] += len(samples)
        window["steps"] += 1
        window["columns"] += images.shape[0] * images.shape[3]
        last = _finished(state, cfg)
        if state.step % cfg.log_every == 0 or last:
            elapsed = time.monotonic() - last_log
            log("train", step=state.step, loss=round(window["loss"] / max(window["samples"], 1), 4), lr=f"{lr:.2e}",
                steps_per_s=round(window["steps"] / elapsed, 3), samples_per_s=round(window["samples"] / elapsed, 2),
                columns_per_s=round(window["columns"] / elapsed))
            window = {"loss": 0.0, "samples": 0, "steps": 0, "columns": 0}
            last_log = time.monotonic()
        if state.step % cfg.val_every == 0 or last:
            validate()
        if time.monotonic() - last_save > cfg.checkpoint_minutes * 60 or last:
            checkpoint()
            last_save = time.monotonic()
            log("checkpoint", step=state.step, path=str(checkpoint_path))
    return state


# --------------------------------------------------------------------------- export


def command_line() -> str:
    """The command that started this process, as typed."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else ""


def environment() -> dict[str, str]:
    """Versions that matter for reproducing a run."""
    import onnxruntime

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "python": sys.version.split()[0],
            "cpu_count": str(os.cpu_count())}


def _load_weights(out: Path, which: str) -> tuple[TrainConfig, TextRecognizer, dict[str, Any]]:
    path = out / f"{which}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no {which}.pt in {out}: train first")
    saved = torch.load(path, map_location="cpu", weights_only=False)
    cfg = TrainConfig(**saved["config"])
    model = build_model(cfg.recognizer)
    model.load_state_dict(saved["model"])
    return cfg, model.eval(), saved


CALIBRATION_BATCHES = 48
"""Training batches a static int8 export calibrates its activation ranges on ..."""

CALIBRATION_COLUMNS = 4096
"""... each of about this many columns (crops × width), the size of the batches a page's lines are read in,
whatever the batches the model was trained in: the ranges are moving averages of each batch's extremes."""


def calibration_batches(data: Data, cfg: TrainConfig) -> list[np.ndarray]:
    """:data:`CALIBRATION_BATCHES` batches of training crops as the model reads them, drawn with a seed of their own."""
    data.mixture.reseed(cfg.seed + 7)
    stream = iter(BatchStream(data.mixture, cfg.recognizer.img_height, CALIBRATION_COLUMNS, cfg.max_batch, cfg.seed + 7))
    return [next(stream)[0].numpy() for _ in range(CALIBRATION_BATCHES)]


def export(out: Path, which: str = "best", data: Data | None = None, threads: int = 1,
           echo: Callable[[str], None] = print, static_int8: bool = False) -> dict[str, Any]:
    """Export ``which``.pt (``best`` or ``checkpoint``) of the run in ``out`` to ONNX fp32 and int8, fit
    each one's confidence temperature and measure it on the validation sets with onnxruntime, and
    write ``manifest.json``; returns the manifest. With ``static_int8`` the int8 file also runs its
    convolutions in int8 (:func:`.int8.quantize_convolutions`, calibrated on training crops)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from ..nets.recognizer import export_onnx
    from ..eval.temperature import fit_temperature
    from ..recognition.predictor import Recognizer
    from ..runtime import RuntimeConfig

    cfg, model, saved = _load_weights(out, which)
    rc = cfg.recognizer
    data = data or build_data(cfg)
    data.val = _frozen_val(out / "val.pkl", data.val)
    fp32 = export_onnx(model, out / f"{cfg.preset}.onnx")
    int8 = out / f"{cfg.preset}.int8.onnx"
    if static_int8:
        quantize_convolutions(fp32, int8, calibration_batches(data, cfg), dynamic=INT8_OPS)
    else:  # convolutions stay fp32: onnxruntime's dynamic ConvInteger measured 3x slower than fp32 here
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, op_types_to_quantize=list(INT8_OPS))
    rc.save(int8.with_suffix(".json"))
    files: dict[str, Any] = {}
    held_out = [s for samples in data.val.values() for s in samples]
    for path in (fp32, int8):
        recognizer = Recognizer(path, RuntimeConfig(intra_op_threads=threads))
        fitted, tried = fit_temperature(recognizer, [s.image for s in held_out], [s.text for s in held_out])
        recognizer.config.save(path.with_suffix(".json"))
        unscaled = next(t for t in tried if t.temperature == 1.0)
        calibration = {"temperature": fitted.temperature, "log_loss": round(fitted.log_loss, 4),
                       "calibration_error": round(fitted.calibration_error, 4),
                       "calibration_error_at_1": round(unscaled.calibration_error, 4)}
        metrics: dict[str, float] = {}
        for name, samples in data.val.items():
            started = time.perf_counter()
            predictions = [r.text for r in recognizer.read([s.image for s in samples])]
            rate = len(samples) / (time.perf_counter() - started)
            caseless = any(s.caseless for s in samples)
            for key, value in score(predictions, [s.text for s in samples], caseless).items():
                metrics[f"{name}_{key}"] = round(value, 3)
            metrics[f"{name}_crops_per_s"] = round(rate, 1)
        files[path.name] = {"sha256": file_digest(path), "bytes": path.stat().st_size, "config": path.with_suffix(".json").name,
                            "metrics": metrics, "confidence": calibration}
        echo(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB {metrics} {calibration}")
    run = RunState(**saved["state"]) if "state" in saved else None
    if run is None and (out / "checkpoint.pt").is_file():
        run = RunState(**torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)["state"])
    manifest = {
        "model": rc.name, "preset": cfg.preset, "weights_from": f"{which}.pt",
        "files": files,
        "commands": run.commands if run else [],
        "export_command": command_line(),
        "training": {"steps": run.step if run else None, "wall_seconds": round(run.wall_seconds) if run else None,
                     "seed": cfg.seed, "threads": cfg.threads, "config": asdict(cfg)},
        "data": data.sources,
        "validation_metrics_torch": saved.get("metrics", {}),
        "validation": ("held-out pages of sroie_train (case-insensitive) and a fixed synthetic word set, on which "
                       "the confidence temperature is also fitted; never the eval sets"),
        "environment": environment(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def mix_weights(name: str, spec: str | None) -> dict[str, float] | None:
    """Preset ``name``'s source weights updated by ``spec`` (``NAME=WEIGHT,...``); None without a spec."""
    if not spec:
        return None
    mix = dict(preset(name).mix)
    for item in spec.split(","):
        source, _, weight = item.partition("=")
        try:
            mix[source.strip()] = float(weight)
        except ValueError:
            raise ValueError(f"--mix {spec!r}: write NAME=WEIGHT,... with numbers as weights") from None
    return mix


def preset(name: str, **overrides: Any) -> TrainConfig:
    """The preset ``name`` with ``overrides`` (None values ignored)."""
    if name not in PRESETS:
        raise ValueError(f"unknown recognizer preset {name!r}: choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
