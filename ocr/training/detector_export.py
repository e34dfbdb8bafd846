"""Ship the student: ONNX fp32 and int8 (static QDQ quantization), speed measured, and a manifest beside them."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from ocr.detection.preprocess import prepare
from ocr.models import file_digest
from ocr.nets.export import export_detector
from ocr.nets.lite_craft import count_parameters

from .detector import load_student
from .int8 import quantize_static_int8
from .packs import SETS
from .photos import licence_of

STUDENT = "craft_lite"
"""File name stem of the student's export; the photograph detector is exported beside it as ``craft_lite_photo``
(see :data:`ocr.detection.predictor.DETECTOR_MODELS`)."""
EXPORT_RECIPE = "batch norms folded; int8: static QDQ, per-channel 7-bit weights, uint8 activations, 8 rendered pages"
"""How the files are made; a manifest with another recipe is exported again."""
BENCH_PAGE = (1400, 1000)
"""Height and width of the page the speed is measured on (a document page at ~120 dpi)."""


def _session(path: Path, threads: int):  # noqa: ANN202 - onnxruntime type
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def page_seconds(path: Path, pages: list[np.ndarray], threads: int, canvas_size: int = 1280, mag_ratio: float = 1.5,
                 repeats: int = 3) -> tuple[float, float]:
    """Median wall and CPU seconds to pre-process and run the model on a page (score maps, no post-processing).

    On a busy machine the wall time includes waiting for a core; with one thread the CPU time is
    what the page takes on an idle core.
    """
    session = _session(path, threads)
    name = session.get_inputs()[0].name
    wall, cpu = [], []
    for page in pages:
        for _ in range(repeats):
            started, started_cpu = time.perf_counter(), time.process_time()
            session.run(None, {name: prepare(page, canvas_size, mag_ratio).tensor})
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def calibration_pages(count: int, seed: int) -> list[np.ndarray]:
    """Rendered pages (no external data) to calibrate the int8 activation ranges."""
    from .detector import synthetic_pages
    from .text import DEFAULT_WORDS

    renderer, _ = synthetic_pages(seed, DEFAULT_WORDS, size=(700, 1300))
    return [renderer().image for _ in range(count)]


def quantize_int8(fp32: Path, int8: Path, pages: list[np.ndarray]) -> None:
    """Static int8 quantization of the whole detector (:func:`.int8.quantize_static_int8`) calibrated on ``pages``.
    (Full-range weights read FUNSD at H-mean 62, not 81.)"""
    quantize_static_int8(fp32, int8, ({"image": prepare(p, 1280, 1.5).tensor} for p in pages))


def export_files(name: str) -> tuple[str, str, str]:
    """The fp32 ONNX, int8 ONNX and manifest file names of an export called ``name``."""
    return f"{name}.onnx", f"{name}.int8.onnx", f"{name}.manifest.json"


def _file_entry(path: Path) -> dict:
    return {"file": path.name, "sha256": file_digest(path), "bytes": path.stat().st_size}


def _up_to_date(previous: dict, checkpoint_sha: str, weights_dir: Path) -> bool:
    """Whether the previous manifest's files were exported from this checkpoint by this recipe and are unchanged."""
    if previous.get("checkpoint_sha256") != checkpoint_sha or previous.get("export_recipe") != EXPORT_RECIPE:
        return False
    entries = previous.get("files", {}).values()
    return bool(entries) and all(
        (weights_dir / e["file"]).is_file() and file_digest(weights_dir / e["file"]) == e["sha256"] for e in entries
    )


def lineage(checkpoint: Path, meta: dict) -> list[dict]:
    """The training runs behind ``checkpoint`` (whose metadata ``meta`` the caller has loaded), oldest first,
    followed through each run's ``--init``: their commands, steps and wall time."""
    return _walk(checkpoint, meta)[0]


def _walk(checkpoint: Path, meta: dict) -> tuple[list[dict], dict]:
    """:func:`lineage`, and the manifest of the exported student the first run started from (``--init
    x.onnx``; ``{}`` if none): its runs come first in the lineage, its data is inherited."""
    runs: list[dict] = []
    while True:
        info = checkpoint.parent / "run.json"
        commands = json.loads(info.read_text()).get("commands", []) if info.is_file() else []
        runs.append({"commands": commands, "steps": meta["step"], "wall_time_s": round(meta["elapsed"])})
        init = meta["config"].get("init")
        if init and init.endswith(".onnx"):
            origin = _exported_manifest(Path(init))
            return _before(origin.get("lineage", []), runs[-1]) + runs[::-1], origin
        if not init or not Path(init).is_file():
            return runs[::-1], {}
        checkpoint = Path(init)
        meta = torch.load(checkpoint, map_location="cpu", weights_only=False)


def _before(earlier: list[dict], first: dict) -> list[dict]:
    """The runs of ``earlier`` before ``first``: the file a run started from may since have been overwritten by
    an export of that run or of a later one, whose lineage already holds it."""
    return earlier[:earlier.index(first)] if first in earlier else earlier


def _set_entry(folder: str) -> dict:
    """A training set of a run, with its licence and the pages it holds out (a set of our own making, such as
    ``photos_train``, names its licence in its SOURCE.md and is held out as a set of its own)."""
    spec = SETS.get(Path(folder).name)
    if spec is None:
        return {"set": folder, "licence": licence_of(Path(folder)), "held_out": "none: validation pages are a set of their own"}
    return {"set": folder, "licence": spec.licence, "held_out": f"the last {spec.holdout} by name"}


def _exported_manifest(onnx_file: Path) -> dict:
    """The manifest beside an exported student, if it describes exactly that file (else ``{}``)."""
    manifest = onnx_file.with_name(export_files(onnx_file.name.removesuffix(".onnx").removesuffix(".int8"))[2])
    if not (onnx_file.is_file() and manifest.is_file()):
        return {}
    previous = json.loads(manifest.read_text())
    digest = file_digest(onnx_file)
    return previous if any(f.get("sha256") == digest for f in previous.get("files", {}).values()) else {}


def export_student(run_dir: Path, weights_dir: Path, threads: int = 1, metrics: Path | None = None,
                   name: str = STUDENT) -> Path:
    """Export ``run_dir/last.pt`` to fp32 and int8 ONNX in ``weights_dir`` as ``name`` (see :func:`export_files`);
    write and return the manifest.

    Files already exported from the same checkpoint are kept (only the manifest is rewritten).
    ``metrics`` is an ``ocr eval detect --json`` report to record in the manifest; without it the
    previous manifest's metrics are kept when the weights are unchanged.
    """
    checkpoint = run_dir / "last.pt"
    if not checkpoint.is_file():
        raise FileNotFoundError(f"no checkpoint {checkpoint} (train first)")
    model, meta = load_student(checkpoint)
    weights_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8, manifest_path = (weights_dir / file for file in export_files(name))
    previous = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    checkpoint_sha = file_digest(checkpoint)
    seed = meta["config"]["seed"]
    fresh = not _up_to_date(previous, checkpoint_sha, weights_dir)
    # Before exporting: a run started from the export it replaces reads that export's manifest.
    runs, origin = _walk(checkpoint, meta)
    inherited = origin.get("data")
    if fresh:
        export_detector(model, fp32)
        quantize_int8(fp32, int8, calibration_pages(8, seed + 1))
        bench = [np.random.default_rng(seed).integers(0, 256, (*BENCH_PAGE, 3), dtype=np.uint8)]
        speed = {}
        for kind, path in (("fp32", fp32), ("int8", int8)):
            for t in sorted({1, threads, 2}):
                wall, cpu = page_seconds(path, bench, t)
                speed[f"{kind}_{t}_thread{'s' if t > 1 else ''}"] = {"wall_s": round(wall, 4), "cpu_s": round(cpu, 4)}
        speed = {"page": f"{BENCH_PAGE[1]}x{BENCH_PAGE[0]} (w×h), canvas 1280, mag 1.5, pre-processing + model",
                 "load_average": round(os.getloadavg()[0], 1), **speed}
    else:
        speed = previous["speed"]
    run_info = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").is_file() else {}
    recorded = json.loads(metrics.read_text()) if metrics else None if fresh else previous.get("metrics")
    manifest = {
        "model": "Lite-CRAFT student (ocr.nets.lite_craft.LiteCraft)",
        "contract": "input N×3×H×W RGB, ImageNet mean/std, H and W multiples of 32; output N×2×H/2×W/2 (region, affinity)",
        "parameters": count_parameters(model),
        "files": {"fp32": _file_entry(fp32), "int8": _file_entry(int8)},
        "checkpoint_sha256": checkpoint_sha,
        "export_recipe": EXPORT_RECIPE,
        "lineage": runs,
        "data": {
            "teacher": "CRAFT craft_mlt_25k (authors' weights) maps at canvas 1280, mag 1.5",
            "real_pages": [_set_entry(folder) for folder in run_info.get("sets", [])],
            "box_pages": [_set_entry(folder) for folder in meta["config"].get("box_sets", [])],
            "synthetic": "ocr.training.synth_pages.PageRenderer: documents, receipts, forms, tables, UI screens, "
                         "scenes; installed fonts; exact character Gaussians",
        },
        **({"inherited_data": inherited} if inherited else {}),
        "seed": seed,
        "steps": sum(r["steps"] for r in runs),
        "train_config": meta["config"],
        "wall_time_s": sum(r["wall_time_s"] for r in runs),
        "speed": speed,
        "metrics": recorded,
        "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest_path
