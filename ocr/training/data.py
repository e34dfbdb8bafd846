"""Training samples for recognizers: a seeded mixture of synthetic and real crops, batched by width.

A :class:`Sample` is a grayscale crop already scaled to the model's input height, its text,
and whether the text is only known up to letter case (SROIE transcripts are upper-cased).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
import torch

from .lines import LineCrop
from .synth import Renderer, degrade
from .text import TextSampler


@dataclass(frozen=True)
class Sample:
    """A crop of the input height, its text, and ``caseless`` when the text's case is unreliable."""

    image: np.ndarray
    text: str
    caseless: bool = False


class Source(Protocol):
    """Anything that draws one sample at a time and can save and restore its random state."""

    def __call__(self) -> Sample: ...

    def get_state(self) -> Any: ...

    def set_state(self, state: Any) -> None: ...

    def reseed(self, seed: int) -> None: ...


class _Seeded:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)

    def get_state(self) -> Any:
        return {"rng": self.rng.getstate(), "np": self.np_rng.bit_generator.state}

    def set_state(self, state: Any) -> None:
        self.rng.setstate(state["rng"])
        self.np_rng.bit_generator.state = state["np"]

    def reseed(self, seed: int) -> None:
        """Restart both generators from ``seed`` (in place: a renderer sharing them follows)."""
        self.rng.seed(seed)
        self.np_rng.bit_generator.state = np.random.default_rng(seed).bit_generator.state


class SynthSource(_Seeded):
    """Rendered strings of ``kind`` ``word`` or ``line``; a ``context`` fraction of words is printed
    between neighbouring words, whose edges may show in the crop (as in word boxes cut from pages)."""

    def __init__(self, sampler: TextSampler, renderer: Renderer, kind: str, seed: int, context: float = 0.0) -> None:
        super().__init__(seed)
        self.sampler, self.renderer, self.kind, self.context = sampler, renderer, kind, context
        # The sampler and renderer draw from this source's generators, so one state covers all.
        sampler.rng = renderer.rng = self.rng
        renderer.np_rng = self.np_rng

    def __call__(self) -> Sample:
        text = self.sampler(self.kind)
        left = right = ""
        if self.rng.random() < self.context:
            side = self.rng.random()
            left = self.sampler("word") if side < 0.7 else ""
            right = self.sampler("word") if side > 0.3 else ""
        return Sample(self.renderer(text, left, right), text)


class LineSource(_Seeded):
    """Real line crops with jittered margins, slight rotation and degradations.

    ``exact`` (one per crop) may replace a label by a case-exact reading (distillation); the labels
    it leaves as ``None`` are marked caseless when ``caseless`` is set.
    """

    def __init__(self, crops: Sequence[LineCrop], height: int, seed: int, charset: str, caseless: bool,
                 max_width: int | None = None, exact: Sequence[str | None] | None = None) -> None:
        super().__init__(seed)
        allowed = set(charset)
        pairs = zip(crops, exact if exact is not None else [None] * len(crops), strict=True)
        kept = [(c, e) for c, e in pairs if set(c.text) <= allowed]
        if not kept:
            raise ValueError("no line crops with text inside the charset")
        self.crops = [c for c, _ in kept]
        self.exact = [e for _, e in kept]
        self.height, self.caseless, self.max_width = height, caseless, max_width

    def __call__(self) -> Sample:
        rng = self.rng
        index = rng.randrange(len(self.crops))
        crop = self.crops[index]
        image = jitter_crop(crop, rng)
        if rng.random() < 0.15:
            angle = rng.uniform(-1.5, 1.5)
            h, w = image.shape
            matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            image = cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
        image = degrade(image, self.height, rng, self.np_rng, self.max_width)
        exact = self.exact[index]
        if exact is not None:
            return Sample(image, exact, False)
        return Sample(image, crop.text, self.caseless)


def jitter_crop(crop: LineCrop, rng: random.Random | None = None) -> np.ndarray:
    """The crop's box with random margins (tight to loose); the plain box with a small margin when ``rng`` is None."""
    x0, y0, x1, y1 = crop.box
    h, w = crop.pixels.shape
    bh = y1 - y0
    if rng is None:
        pads = [0.1 * bh] * 4
    else:
        pads = [bh * (rng.uniform(-0.05, 0.1) if rng.random() < 0.3 else rng.uniform(0.0, 0.3)) for _ in range(4)]
    left, top = max(0, int(x0 - pads[0])), max(0, int(y0 - pads[1]))
    right, bottom = min(w, int(x1 + pads[2])), min(h, int(y1 + pads[3]))
    return crop.pixels[top:max(bottom, top + 2), left:max(right, left + 2)]


def resize_to_height(image: np.ndarray, height: int, max_width: int | None = None) -> np.ndarray:
    """Plain (undegraded) scaling of a grayscale crop to ``height`` rows, aspect kept, width capped."""
    h, w = image.shape
    new_w = max(1, round(w * height / h))
    if max_width:
        new_w = min(new_w, max_width)
    return cv2.resize(image, (new_w, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_CUBIC)


class Mixture(_Seeded):
    """Draws from ``sources`` with the given weights; texts longer than ``max_length`` are redrawn."""

    def __init__(self, sources: dict[str, Source], weights: dict[str, float], seed: int,
                 max_length: int | None = None) -> None:
        super().__init__(seed)
        self.sources = sources
        self.names = [n for n in sources if weights.get(n, 0) > 0]
        self.weights = [weights[n] for n in self.names]
        self.max_length = max_length

    def __call__(self) -> Sample:
        while True:
            sample = self.sources[self.rng.choices(self.names, weights=self.weights)[0]]()
            if self.max_length is None or len(sample.text) <= self.max_length:
                return sample

    def get_state(self) -> Any:
        return {"self": super().get_state(), **{n: s.get_state() for n, s in self.sources.items()}}

    def set_state(self, state: Any) -> None:
        super().set_state(state["self"])
        for name, source in self.sources.items():
            source.set_state(state[name])

    def reseed(self, seed: int) -> None:
        super().reseed(seed)
        for offset, source in enumerate(self.sources.values(), start=1):
            source.reseed(seed + offset)


def width_batches(draw: Callable[[], Sample], columns: int, max_batch: int, pool: int = 256,
                  rng: random.Random | None = None) -> Iterator[list[Sample]]:
    """Endless batches of similar width: ``pool`` samples are sorted by width and cut into batches
    whose padded size (count × widest) stays within ``columns`` (and at most ``max_batch`` crops)."""
    rng = rng or random.Random(0)
    while True:
        samples = sorted((draw() for _ in range(pool)), key=lambda s: s.image.shape[1])
        batches: list[list[Sample]] = []
        current: list[Sample] = []
        for sample in samples:
            width = sample.image.shape[1]
            if current and (len(current) + 1) * width > columns or len(current) >= max_batch:
                batches.append(current)
                current = []
            current.append(sample)
        if current:
            batches.append(current)
        rng.shuffle(batches)
        yield from batches


class BatchStream(torch.utils.data.IterableDataset):
    """Endless (images, samples) batches of ``mixture`` (see :func:`width_batches`), the images as one
    tensor and the samples without their pixels. Iterated in the training process it draws from
    ``mixture`` itself (so a checkpoint can save its state); in each worker of a
    ``torch.utils.data.DataLoader`` it draws from its own copy, reseeded by the worker's number."""

    def __init__(self, mixture: Mixture, height: int, columns: int, max_batch: int, seed: int) -> None:
        super().__init__()
        self.mixture, self.height, self.columns, self.max_batch, self.seed = mixture, height, columns, max_batch, seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, list[Sample]]]:
        worker = torch.utils.data.get_worker_info()
        seed = self.seed
        if worker is not None:
            seed = self.seed * 1009 + worker.id + 1
            self.mixture.reseed(seed)
        for samples in width_batches(self.mixture, self.columns, self.max_batch, rng=random.Random(seed)):
            yield to_tensor([s.image for s in samples], self.height), [Sample(_NO_PIXELS, s.text, s.caseless) for s in samples]


_NO_PIXELS = np.zeros((0, 0), np.uint8)


def to_tensor(images: Sequence[np.ndarray], min_width: int) -> torch.Tensor:
    """Stack grayscale crops into (batch, 1, height, width) in [-1, 1], padding on the right by
    repeating each crop's last column (as at inference)."""
    width = max(min_width, max(im.shape[1] for im in images))
    height = images[0].shape[0]
    out = np.empty((len(images), 1, height, width), np.float32)
    for i, im in enumerate(images):
        w = im.shape[1]
        out[i, 0, :, :w] = im
        out[i, 0, :, w:] = im[:, -1:]
    return torch.from_numpy(out / 127.5 - 1.0)
