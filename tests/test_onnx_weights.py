"""Torch weights recovered from exported recognizers read as the exported files do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from ocr.nets.recognizer import build_model, export_onnx
from ocr.recognition.config import RecognizerConfig
from ocr.training.onnx_weights import detector_from_onnx, model_from_onnx
from ocr.training.recognizer import INT8_OPS, load_teacher


def _trained_looking(name: str) -> torch.nn.Module:
    """A small model whose batch norms have non-trivial statistics (so folding them matters)."""
    torch.manual_seed(0)
    model = build_model(RecognizerConfig(name=name, img_height=32, img_width=64, hidden_size=32, output_channels=32))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model.eval()


def _logits(path: Path, images: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": images})[0]


@pytest.mark.parametrize("name", ["None-VGG-BiLSTM-CTC", "None-Mobile-BiLSTM-CTC", "None-ResNet-None-CTC"])
def test_fp32_and_int8_exports_come_back_as_models_that_read_like_them(tmp_path: Path, name: str) -> None:
    original = _trained_looking(name)
    fp32 = export_onnx(original, tmp_path / "model.onnx")
    int8 = tmp_path / "model.int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, op_types_to_quantize=list(INT8_OPS))
    original.config.save(int8.with_suffix(".json"))
    images = np.random.default_rng(1).random((3, 1, 32, 96), dtype=np.float32)
    expected = _logits(fp32, images)

    recovered = load_teacher(str(fp32))  # the same path the training command's --init and --teacher take
    with torch.no_grad():
        np.testing.assert_allclose(recovered(torch.from_numpy(images)).numpy(), expected, atol=1e-4)
        assert not torch.allclose(build_model(original.config).eval()(torch.from_numpy(images)),
                                  original(torch.from_numpy(images)))  # a fresh model would not pass

        from_int8 = model_from_onnx(int8)(torch.from_numpy(images)).numpy()
    assert np.abs(from_int8 - expected).max() < 0.05 * np.abs(expected).max()
    assert (from_int8.argmax(2) == expected.argmax(2)).mean() > 0.9


def test_models_it_cannot_recover_are_refused_clearly(tmp_path: Path) -> None:
    config = RecognizerConfig(name="TPS-ResNet-BiLSTM-Attn", img_height=32, img_width=64, hidden_size=32,
                              output_channels=32, max_length=8)
    config.save(tmp_path / "attn.json")
    (tmp_path / "attn.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="only CTC models without TPS"):
        model_from_onnx(tmp_path / "attn.onnx")
    other = _trained_looking("None-VGG-None-CTC")
    export_onnx(other, tmp_path / "vgg.onnx")
    RecognizerConfig(name="None-Mobile-None-CTC", img_height=32, img_width=64, hidden_size=32,
                     output_channels=32).save(tmp_path / "vgg.json")
    with pytest.raises(ValueError, match="does not have the layers of None-Mobile-None-CTC"):
        model_from_onnx(tmp_path / "vgg.onnx")


def test_training_from_an_export_needs_frozen_batch_norms(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ocr.cli import main

    result = CliRunner().invoke(main, ["train", "recognizer", "--config", "fast", "--init", str(tmp_path / "m.onnx"),
                                       "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "frozen-BN preset" in result.output
    assert not (tmp_path / "run").exists()


def test_the_shipped_student_detector_comes_back_as_a_model_that_scores_like_it() -> None:
    weights = Path(__file__).resolve().parent.parent / "weights" / "craft_lite.onnx"
    images = np.random.default_rng(0).normal(size=(1, 3, 96, 128)).astype(np.float32)
    session = ort.InferenceSession(str(weights), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: images})[0]
    with torch.no_grad():
        recovered = detector_from_onnx(weights)(torch.from_numpy(images)).numpy()
    assert recovered.shape == expected.shape == (1, 2, 48, 64)
    np.testing.assert_allclose(recovered, expected, atol=1e-4)
