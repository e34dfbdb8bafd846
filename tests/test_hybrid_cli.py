"""`ocr scan` with the hybrid engine: layered settings, JSON provenance, the terminal summary line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ocr.engines.neural import NeuralEngine
from ocr.routing import worth_rereading_by_tesseract
from text_images import REPO, ocr_command, text_image

needs_models = pytest.mark.skipif(NeuralEngine.availability() is not None, reason="neural models missing")


def test_bad_config_file_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "ocr.toml"
    config.write_text("fallback_threshold = 3\n", encoding="utf-8")
    done = subprocess.run([*ocr_command(), "scan", "x.png", "--config", str(config)], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.strip() == "ocr: fallback_threshold must be in [0, 1], got 3.0"


@needs_models
def test_hybrid_json_carries_sources_and_alternatives_and_summary_with_verbose(tmp_path: Path) -> None:
    image = tmp_path / "line.png"
    text_image("Quarterly 2031 rent").save(image)
    config = tmp_path / "ocr.yaml"
    config.write_text("fallback_threshold: 1.0\nthreads: 1\n", encoding="utf-8")  # re-read every word
    done = subprocess.run([*ocr_command(), "-v", "scan", str(image), "-e", "hybrid", "-f", "json"], capture_output=True,
                          text=True, timeout=600, cwd=REPO, env={**os.environ, "OCR_CONFIG": str(config)})
    assert done.returncode == 0
    words = [w for b in json.loads(done.stdout)["pages"][0]["blocks"] for ln in b["lines"] for w in ln["words"]]
    assert " ".join(w["text"] for w in words) == "Quarterly 2031 rent"
    assert all(w["source"] in ("neural", "tesseract", "vote") for w in words)
    assert all(w["alternatives"] for w in words if w["confidence"] < 1.0 and worth_rereading_by_tesseract(w["text"]))
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.startswith("ocr: words by engine: ") and "regions re-read: tesseract" in summary
    assert summary.endswith("cloud requests: 0")


@needs_models
def test_hybrid_in_worker_processes_matches_one_process(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name, text in (("a", "Harbor 42"), ("b", "Invoice 7731")):
        text_image(text).save(inputs / f"{name}.png")
    done = subprocess.run([*ocr_command(), "batch", str(inputs), "--out", str(tmp_path / "out"), "-e", "hybrid",
                           "--workers", "2", "--format", "json"], capture_output=True, text=True, timeout=900, cwd=REPO,
                          env={**os.environ, "OCR_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    for name, text in (("a", "Harbor 42"), ("b", "Invoice 7731")):
        document = json.loads((tmp_path / "out" / f"{name}.png.json").read_text(encoding="utf-8"))
        words = [w for b in document["pages"][0]["blocks"] for ln in b["lines"] for w in ln["words"]]
        assert " ".join(w["text"] for w in words) == text
