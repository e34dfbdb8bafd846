"""`ocr models`: exports only what is missing, and says so; fails in one line without torch."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import ocr.models
from ocr.cli import main
from ocr.errors import EngineError
from ocr.models import PRETRAINED, PretrainedModel, ensure_models


@pytest.fixture()
def weights(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("OCR_WEIGHTS_DIR", str(tmp_path))
    return tmp_path


def test_present_models_are_not_exported_again(weights) -> None:
    for model in PRETRAINED:
        (weights / model.onnx_file).write_bytes(b"onnx")
    reports = ensure_models()
    assert [r.action for r in reports] == ["present"] * len(PRETRAINED)
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0
    assert "craft_mlt_25k: present" in result.output and "--force" in result.output


def test_missing_exporter_dependency_is_one_line_engine_error(weights, monkeypatch) -> None:
    missing = PretrainedModel("fake", "fake.onnx", "needs a module that is not installed", "no_such_module_xyz:export")
    monkeypatch.setattr(ocr.models, "PRETRAINED", (missing,))
    with pytest.raises(EngineError, match="pip install"):
        ensure_models()
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 4
    assert result.output.count("\n") <= 2 and "Traceback" not in result.output
