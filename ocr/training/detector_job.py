"""``ocr train detector`` end to end: cache teacher maps, distil the student, export it with a manifest."""

from __future__ import annotations

import json
import shlex
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from .detector import TrainConfig, latest_checkpoint, synthetic_pages, train
from .detector_boxes import held_out_pages
from .detector_data import cache_teacher_maps
from .packs import SETS

DEFAULT_RUN = Path("/work/runs/detector/student")
DEFAULT_SETS = ("/work/shared/data/train/sroie_train",)
DEFAULT_CACHE = Path("/work/runs/detector")


def command_line() -> str:
    """The command that started this process, as a shell line."""
    return shlex.join(["ocr", *sys.argv[1:]]) if Path(sys.argv[0]).name == "ocr" else shlex.join(sys.argv)


def teacher_cache_dir(cache: Path, set_dir: str) -> Path:
    """Where the teacher maps of a manifest set are cached."""
    return cache / f"teacher_{Path(set_dir).name}"


def run(
    config: TrainConfig,
    out_dir: Path,
    sets: tuple[str, ...],
    cache: Path,
    teacher_onnx: Path,
    words: Path,
    resume: bool,
    cache_missing: bool = True,
) -> None:
    """Train while a background thread caches any missing teacher maps for ``sets`` (not of their held-out
    pages, see :func:`.detector_boxes.held_out_pages`); writes ``run.json``.

    Training starts at once on synthetic pages and the teacher pages cached so far; the sample pool
    picks up new teacher pages as they are written (onnxruntime runs outside the GIL); pages still
    missing when training ends are left for the next run. Without ``cache_missing`` only the pages
    already cached are used.
    """
    dirs = [teacher_cache_dir(cache, s) for s in sets]
    for set_dir in sets:
        if not Path(set_dir, "manifest.jsonl").is_file():
            raise FileNotFoundError(f"no manifest.jsonl in {set_dir}")
    if cache_missing and not teacher_onnx.is_file():
        raise FileNotFoundError(f"teacher model not found: {teacher_onnx} (run `ocr models`)")

    def cache_all() -> None:
        for set_dir, target in zip(sets, dirs):
            if cache_missing:
                held_out = frozenset(held_out_pages(Path(set_dir))) if Path(set_dir).name in SETS else frozenset()
                cache_teacher_maps(Path(set_dir), target, teacher_onnx, threads=config.threads, skip=held_out)

    caching = threading.Thread(target=cache_all, name="teacher-maps", daemon=True)
    caching.start()
    config = replace(config, teacher_dirs=[str(d) for d in dirs])
    out_dir.mkdir(parents=True, exist_ok=True)
    info_path = out_dir / "run.json"
    info = json.loads(info_path.read_text()) if resume and info_path.is_file() else {}
    info.setdefault("commands", []).append(command_line())
    info.update({"sets": list(sets), "teacher_onnx": str(teacher_onnx), "words": str(words), "seed": config.seed})
    info_path.write_text(json.dumps(info, indent=2))
    renderer, rngs = synthetic_pages(config.seed, words)
    started = time.time()
    train(config, out_dir, renderer, rngs, resume=resume and latest_checkpoint(out_dir) is not None)
    info["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    info["last_session_wall_s"] = round(time.time() - started)
    info_path.write_text(json.dumps(info, indent=2))
