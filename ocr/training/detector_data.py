"""Training samples for the CRAFT student: teacher maps on real pages and exact maps on rendered pages.

A sample is an image at the detector's working scale with its region and affinity targets at half
resolution (``float32`` in 0-1). Teacher maps are computed once per real page at the canvas the
detector uses at inference, and cached as compressed ``uint8`` beside nothing in the repository.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ocr import datasets
from ocr.detection.preprocess import IMAGENET_MEAN, IMAGENET_STD, STRIDE, target_scale
from ocr.io.files import replacing

MEAN = IMAGENET_MEAN * 255.0
STD = IMAGENET_STD * 255.0


@dataclass(frozen=True)
class MapSample:
    """An RGB image (H×W×3 uint8), its targets (H/2×W/2 float32 each) and where they count (1; all if None)."""

    image: np.ndarray
    region: np.ndarray
    affinity: np.ndarray
    mask: np.ndarray | None = None


def to_canvas(image: np.ndarray, ratio: float) -> np.ndarray:
    """Resize by ``ratio`` and pad bottom/right with zeros to multiples of 32, as the detector's
    :func:`ocr.detection.preprocess.prepare` does (uint8, before normalization)."""
    h, w = image.shape[:2]
    th, tw = max(1, int(h * ratio)), max(1, int(w * ratio))
    interp = cv2.INTER_AREA if ratio < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (tw, th), interpolation=interp) if ratio != 1 else image
    canvas = np.zeros((th + -th % STRIDE, tw + -tw % STRIDE, 3), dtype=np.uint8)
    canvas[:th, :tw] = resized
    return canvas


def normalize(batch: np.ndarray) -> np.ndarray:
    """N×H×W×3 uint8 RGB → N×3×H×W float32 with the ImageNet mean/std (the detector's input)."""
    return np.ascontiguousarray(((batch.astype(np.float32) - MEAN) / STD).transpose(0, 3, 1, 2))


def read_rgb(path: Path) -> np.ndarray:
    """An image file as H×W×3 uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def cache_teacher_maps(
    set_dir: Path, out_dir: Path, teacher_onnx: Path, canvas_size: int = 1280, mag_ratio: float = 1.5, threads: int = 1,
    skip: frozenset[Path] = frozenset(),
) -> int:
    """Run the teacher once on every page of a manifest set but those in ``skip`` (held-out pages);
    write ``<stem>.npz`` per page to ``out_dir``.

    Each file holds ``region`` and ``affinity`` (uint8, score × 255, half canvas resolution), the
    ``ratio`` applied and the source ``image`` path. Pages already cached are skipped, so an
    interrupted run resumes. Returns the number of pages written.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(teacher_onnx), sess_options=options, providers=["CPUExecutionProvider"])
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for sample in datasets.iter_samples(set_dir):
        target = out_dir / f"{sample.image.stem}.npz"
        if target.exists() or sample.image in skip:
            continue
        started = time.perf_counter()
        image = read_rgb(sample.image)
        ratio = target_scale(*image.shape[:2], canvas_size, mag_ratio)
        canvas = to_canvas(image, ratio)
        (maps,) = session.run(None, {session.get_inputs()[0].name: normalize(canvas[None])})
        quantized = (np.clip(maps[0], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        with replacing(target) as temp, temp.open("xb") as stream:
            np.savez_compressed(
                stream, region=quantized[0], affinity=quantized[1], ratio=np.float32(ratio), image=str(sample.image)
            )
        written += 1
        print(json.dumps({"page": sample.image.name, "seconds": round(time.perf_counter() - started, 2)}), flush=True)
    return written


def load_teacher_sample(path: Path) -> MapSample:
    """A cached teacher page: the source image brought to the cached canvas, and its maps."""
    with np.load(path) as data:
        region = data["region"].astype(np.float32) / 255.0
        affinity = data["affinity"].astype(np.float32) / 255.0
        ratio = float(data["ratio"])
        image = to_canvas(read_rgb(Path(str(data["image"]))), ratio)
    return MapSample(image, region, affinity)
