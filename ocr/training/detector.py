"""Distil the CRAFT teacher into Lite-CRAFT: crops of teacher-labelled real pages and exact synthetic pages.

Loss: squared error on the region and affinity maps, averaged over positive pixels (target > 0.1)
plus the hardest negatives (three per positive), per map, as in the CRAFT paper. AdamW with a linear
warm-up and cosine decay. Checkpoints (model, optimizer, step, every RNG) are written every few
minutes and at the end; ``resume`` continues from the latest one. Progress goes to stdout as JSON lines.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch

from ocr.io.files import replacing
from ocr.nets.lite_craft import LiteCraft

from .detector_boxes import BoxPages
from .detector_config import TrainConfig
from .detector_data import MapSample, load_teacher_sample, normalize
from .schedule import progress
from .synth import find_fonts
from .synth_pages import PageRenderer
from .text import TextSampler, cached_words

POSITIVE = 0.1
NEGATIVE_RATIO = 3


def map_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """OHEM-style squared error of one map (N×H×W) where ``mask`` is set: mean over positives + mean
    over hardest negatives."""
    sq = (pred - target) ** 2
    total = pred.new_zeros(())
    for err, tgt, counted in zip(sq, target, mask > 0.5):
        positive = (tgt > POSITIVE) & counted
        n_pos = int(positive.sum())
        negatives = err[(tgt <= POSITIVE) & counted]
        k = min(negatives.numel(), max(NEGATIVE_RATIO * n_pos, 1000))
        hard = torch.topk(negatives, k, sorted=False).values.mean() if k else pred.new_zeros(())
        total = total + hard + (err[positive].mean() if n_pos else pred.new_zeros(()))
    return total / len(sq)


def detector_loss(pred: torch.Tensor, region: torch.Tensor, affinity: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The training loss on a prediction ``N×2×H×W``, its two targets and their mask."""
    return map_loss(pred[:, 0], region, mask) + map_loss(pred[:, 1], affinity, mask)


def random_crop(sample: MapSample, size: int, rng: random.Random, scale_range: tuple[float, float]) -> MapSample:
    """A ``size``×``size`` crop at a random scale, centred on text most of the time (zero padding outside)."""
    scale = math.exp(rng.uniform(math.log(scale_range[0]), math.log(scale_range[1])))
    half_h, half_w = sample.region.shape
    span = size / scale
    text = np.argwhere(sample.region > 0.3) if rng.random() < 0.85 else np.empty((0, 2))
    if len(text):
        cy, cx = text[rng.randrange(len(text))] * 2.0
        cx += rng.uniform(-0.35, 0.35) * span
        cy += rng.uniform(-0.35, 0.35) * span
    else:
        cx, cy = rng.uniform(0, 2 * half_w), rng.uniform(0, 2 * half_h)
    x0, y0 = cx - span / 2, cy - span / 2
    image_matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float32)
    map_matrix = np.array([[scale, 0, -x0 * scale / 2], [0, scale, -y0 * scale / 2]], dtype=np.float32)
    fill = tuple(int(v) for v in sample.image[0, 0]) if rng.random() < 0.5 else (0, 0, 0)
    image = cv2.warpAffine(sample.image, image_matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=fill)
    maps = [cv2.warpAffine(m, map_matrix, (size // 2, size // 2), flags=cv2.INTER_LINEAR, borderValue=0)
            for m in (sample.region, sample.affinity)]
    mask = None if sample.mask is None else cv2.warpAffine(
        sample.mask, map_matrix, (size // 2, size // 2), flags=cv2.INTER_NEAREST, borderValue=1)
    return MapSample(image, maps[0], maps[1], mask)


def quarter_turn(sample: MapSample, k: int) -> MapSample:
    """``sample`` turned ``k`` quarters counter-clockwise; the teacher's maps turn with the image."""
    image, region, affinity = (np.ascontiguousarray(np.rot90(a, k)) for a in (sample.image, sample.region, sample.affinity))
    mask = None if sample.mask is None else np.ascontiguousarray(np.rot90(sample.mask, k))
    return MapSample(image, region, affinity, mask)


def colour_jitter(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """Brightness, contrast, gamma, channel order and grey: changes that keep teacher targets valid."""
    out = image.astype(np.float32)
    out = out * rng.uniform(0.75, 1.25) + rng.uniform(-30, 30)
    if rng.random() < 0.3:
        out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** rng.uniform(0.7, 1.4)
    if rng.random() < 0.3:
        out = out[:, :, rng.sample(range(3), 3)]
    if rng.random() < 0.2:
        out = np.repeat(out.mean(axis=2, keepdims=True), 3, axis=2)
    if rng.random() < 0.2:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.0))
    return np.clip(out, 0, 255).astype(np.uint8)


class SamplePool:
    """A pool of pages in memory, a few replaced each step: teacher pages from disk (each set as likely
    as any other, whatever its size), real pages with box targets, synthetic ones rendered."""

    def __init__(self, config: TrainConfig, synth: Callable[[], MapSample], rng: random.Random) -> None:
        self.config = config
        self.synth = synth
        self.rng = rng
        self.teacher_files: list[list[Path]] = []
        self.boxes = BoxPages(config.box_sets, rng) if config.box_sets else None
        self.rescan()
        self.pages = [self._page() for _ in range(config.pool)]

    def rescan(self) -> None:
        """Pick up teacher maps written since the last scan (the cache may still be filling)."""
        found = (sorted(Path(d).glob("*.npz")) for d in self.config.teacher_dirs)
        self.teacher_files = [files for files in found if files]

    @property
    def teacher_pages(self) -> int:
        """Teacher pages found so far, over all sets."""
        return sum(map(len, self.teacher_files))

    def _page(self) -> tuple[MapSample, bool]:
        real: list[Callable[[], MapSample]] = [self.boxes] if self.boxes else []
        if self.teacher_files:
            real.append(lambda: load_teacher_sample(self.rng.choice(self.rng.choice(self.teacher_files))))
        if real and self.rng.random() >= self.config.synthetic_fraction:
            return self.rng.choice(real)(), True
        return self.synth(), False

    def refresh(self) -> None:
        for _ in range(self.config.refresh):
            self.pages[self.rng.randrange(len(self.pages))] = self._page()

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images ``N×3×S×S``, region/affinity targets and their mask ``N×S/2×S/2``."""
        crops = []
        for _ in range(self.config.batch):
            page, real = self.rng.choice(self.pages)
            crop = random_crop(page, self.config.crop, self.rng, self.config.scale_range)
            if self.rng.random() < self.config.turn_fraction:
                crop = quarter_turn(crop, self.rng.choice((1, 3)))
            crops.append(MapSample(colour_jitter(crop.image, self.rng) if real else crop.image, crop.region,
                                   crop.affinity, crop.mask))
        images = torch.from_numpy(normalize(np.stack([c.image for c in crops])))
        region = torch.from_numpy(np.stack([c.region for c in crops]))
        affinity = torch.from_numpy(np.stack([c.affinity for c in crops]))
        mask = torch.from_numpy(np.stack([np.ones_like(c.region) if c.mask is None else c.mask for c in crops]))
        return images, region, affinity, mask


def learning_rate(step: int, done: float, config: TrainConfig) -> float:
    """Linear warm-up over ``config.warmup`` steps, then cosine decay to 1 % of the peak at ``done`` = 1."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    return config.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * done)))


def _rng_state(rng: random.Random, synth_rngs: list[object]) -> dict:
    return {
        "python": rng.getstate(),
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "synth": [r.getstate() if isinstance(r, random.Random) else r.bit_generator.state for r in synth_rngs],
    }


def _set_rng_state(state: dict, rng: random.Random, synth_rngs: list[object]) -> None:
    rng.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    for r, s in zip(synth_rngs, state["synth"]):
        if isinstance(r, random.Random):
            r.setstate(s)
        else:
            r.bit_generator.state = s


def synthetic_pages(seed: int, words_cache: Path, size: tuple[int, int] = (480, 960)) -> tuple[PageRenderer, list[object]]:
    """The synthetic page renderer (installed fonts, offline word list) and its random generators."""
    from ocr.charset import CHARSET

    sampler = TextSampler(cached_words(words_cache), CHARSET, seed)
    renderer = PageRenderer(find_fonts(), sampler, seed, size)
    return renderer, [sampler.rng, renderer.rng, renderer.np_rng]


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The checkpoint a resumed run starts from, if any."""
    path = out_dir / "last.pt"
    return path if path.is_file() else None


def train(
    config: TrainConfig,
    out_dir: Path,
    synth: Callable[[], MapSample],
    synth_rngs: list[object],
    resume: bool = False,
    log: Callable[[dict], None] = lambda row: print(json.dumps(row), flush=True),
) -> LiteCraft:
    """Train (or resume training) the student; returns the model in eval mode.

    ``synth`` renders one synthetic page; ``synth_rngs`` are its random generators, saved in
    checkpoints so that a resumed run draws the same pages as an uninterrupted one would.
    """
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    rng = random.Random(config.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = LiteCraft().to(memory_format=torch.channels_last)  # about 20 % faster convolutions on CPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step = 0
    elapsed = 0.0
    checkpoint = latest_checkpoint(out_dir) if resume else None
    if config.init and checkpoint is None:
        log({"event": "init", "checkpoint": config.init, "loaded": warm_start(model, Path(config.init))})
    if checkpoint is not None:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed"]
        _set_rng_state(state["rng"], rng, synth_rngs)
        log({"event": "resumed", "checkpoint": str(checkpoint), "step": step})
    pool = SamplePool(config, synth, rng)
    log({"event": "start", "step": step, "teacher_pages": pool.teacher_pages, "config": asdict(config)})

    def save() -> None:
        state = {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
            "elapsed": elapsed + time.perf_counter() - started, "config": asdict(config),
            "rng": _rng_state(rng, synth_rngs),
        }
        with replacing(out_dir / "last.pt") as temp:
            torch.save(state, temp)

    started = time.perf_counter()
    last_save = started
    window_start, window_loss, window_steps = started, 0.0, 0
    train_mode(model, config.freeze_bn)
    while (done := progress(step, elapsed + time.perf_counter() - started, config.steps, config.minutes)) < 1.0:
        lr = learning_rate(step, done, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        images, region, affinity, mask = pool.batch()
        loss = detector_loss(model(images.contiguous(memory_format=torch.channels_last)), region, affinity, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        window_loss += loss.item()
        window_steps += 1
        pool.refresh()
        if step % 200 == 0:
            pool.rescan()
        now = time.perf_counter()
        finished = progress(step, elapsed + now - started, config.steps, config.minutes) >= 1.0
        if step % config.log_every == 0 or finished:
            log({"step": step, "loss": round(window_loss / window_steps, 5), "lr": round(lr, 6),
                 "steps_per_s": round(window_steps / (now - window_start), 3),
                 "elapsed_s": round(elapsed + now - started), "teacher_pages": pool.teacher_pages})
            window_start, window_loss, window_steps = now, 0.0, 0
        if now - last_save > config.checkpoint_minutes * 60 or finished:
            save()
            last_save = now
    model.eval()
    return model


def train_mode(model: torch.nn.Module, freeze_bn: bool) -> None:
    """Put ``model`` in training mode, its batch norms in inference mode if ``freeze_bn``."""
    model.train()
    if freeze_bn:
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()


def warm_start(model: torch.nn.Module, checkpoint: Path) -> int:
    """Copy every weight of ``checkpoint`` (a training checkpoint, or the student's fp32 ONNX export)
    whose name and shape match ``model``; returns how many tensors."""
    if checkpoint.suffix == ".onnx":
        from .onnx_weights import detector_from_onnx

        saved = detector_from_onnx(checkpoint).state_dict()
    else:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)["model"]
    own = model.state_dict()
    matching = {k: v for k, v in saved.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matching, strict=False)
    return len(matching)


def load_student(checkpoint: Path) -> tuple[LiteCraft, dict]:
    """The student in eval mode from a training checkpoint, and the checkpoint's metadata."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = LiteCraft()
    model.load_state_dict(state["model"])
    return model.eval(), {k: state[k] for k in ("step", "elapsed", "config")}
