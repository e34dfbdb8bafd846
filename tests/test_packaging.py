"""The wheel built from the repository: the default engine's models inside, and working outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from sample_files import sample
from text_images import REPO

from ocr import __version__
from ocr.config import PipelineConfig
from ocr.detection import model_paths
from ocr.orientation import MODEL as ORIENTATION_MODEL

DEFAULT_MODEL_FILES = {"craft_lite.int8.onnx", "craft_lite_photo.int8.onnx", "recognizer_medium.int8.onnx",
                       "recognizer_medium.int8.json", "lexicon_en.tsv.gz", "recognizer_fast.int8.onnx",
                       "recognizer_fast.int8.json"}
"""The default engine's models, and the small recognizer the orientation stage reads lines with."""


def _build_wheel(out: Path) -> Path:
    out.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, timeout=300, cwd=out)
    [wheel] = out.glob("ocr-*.whl")
    return wheel


def test_the_default_models_match_the_files_the_wheel_ships() -> None:
    config = PipelineConfig()
    assert {*(path.name for path in model_paths(config.detector)), f"{config.recognizer}.onnx",
            f"{config.recognizer}.json", f"{config.lexicon}.tsv.gz", f"{ORIENTATION_MODEL}.onnx",
            f"{ORIENTATION_MODEL}.json"} == DEFAULT_MODEL_FILES
    assert config.detector == "auto"


def test_the_wheel_holds_the_default_models_and_reads_a_page_outside_the_checkout(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    assert wheel.name == f"ocr-{__version__}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {Path(name).name for name in names if name.startswith("ocr/weights/")}
    assert DEFAULT_MODEL_FILES <= shipped
    assert not {name for name in shipped if name.endswith(".pt") or name.startswith("craft_mlt")}, shipped
    assert {"ocr/py.typed", f"ocr-{__version__}.dist-info/licenses/LICENSE", "ocr/server/static/index.html"} <= names
    # One importable name, ours: nothing installed at the top level that another package could own (`cli`, `server`).
    assert {name.split("/")[0] for name in names if not name.startswith(f"ocr-{__version__}.")} == {"ocr"}
    assert wheel.stat().st_size < 8e6

    # Installed alone (the dependencies come from this environment), away from the checkout.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OCR_")}, "PYTHONPATH": str(target)}
    run = tmp_path / "run"
    run.mkdir()
    page = str(sample("clean_page.png"))
    scanned = subprocess.run([str(target / "bin" / "ocr"), "scan", page], capture_output=True, text=True, cwd=run,
                             env=env, timeout=300)
    assert (scanned.returncode, scanned.stderr) == (0, "")
    assert scanned.stdout.startswith("Annual Report of the Riverside Library\n")
    code = ("import numpy, ocr; from PIL import Image; "
            f"print(ocr.__file__); print(ocr.read(numpy.asarray(Image.open({page!r}))).text)")
    api = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=run, env=env, timeout=300)
    assert (api.returncode, api.stderr) == (0, "")
    location, text = api.stdout.split("\n", 1)
    assert location == str(target / "ocr" / "__init__.py")
    assert text == scanned.stdout
