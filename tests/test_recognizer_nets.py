"""The four-stage recognizer: every combination builds, runs, exports to ONNX and matches onnxruntime."""

from __future__ import annotations

import itertools

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ocr.nets.recognizer import RecognizerConfig, ThinPlateSpline, build_model, export_onnx
from ocr.recognition.config import STAGES

NAMES = ["-".join(parts) for parts in itertools.product(*STAGES.values())]


def tiny(name: str) -> RecognizerConfig:
    return RecognizerConfig(name=name, img_height=32, img_width=64, hidden_size=16, output_channels=32, max_length=5, charset="abc ")


def test_all_sixteen_times_two_combinations_listed() -> None:
    assert len(NAMES) == 32 and "TPS-ResNet-BiLSTM-Attn" in NAMES and "None-Mobile-None-CTC" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_onnx_export(name: str, tmp_path) -> None:
    torch.manual_seed(0)
    config = tiny(name)
    model = build_model(config).eval()
    path = export_onnx(model, tmp_path / "model.onnx")
    assert RecognizerConfig.load(tmp_path / "model.json") == config
    # a batch and width other than the export example: both axes are dynamic
    images = torch.rand(3, 1, 32, 90) * 2 - 1
    with torch.no_grad():
        expected = model(images).numpy()
    steps = config.max_length + 1 if config.prediction == "Attn" else expected.shape[1]
    assert expected.shape == (3, steps, config.num_classes)
    if config.prediction == "CTC":
        assert 20 <= steps <= 24  # about one step per 4 columns
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": images.numpy()})[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-4


@pytest.mark.parametrize("name", ["None-VGG-BiLSTM-Attn", "TPS-Mobile-None-CTC"])
def test_training_forward_has_gradients(name: str) -> None:
    config = tiny(name)
    model = build_model(config).train()
    images = torch.rand(2, 1, 32, 64) * 2 - 1
    targets = torch.randint(0, config.num_classes, (2, config.max_length + 1))
    logits = model(images, targets)
    logits.logsumexp(-1).mean().backward()
    assert all(p.grad is not None for p in model.feature.parameters() if p.requires_grad)


def test_tps_starts_as_identity() -> None:
    tps = ThinPlateSpline(20, 1).eval()
    images = torch.rand(2, 1, 32, 100)
    with torch.no_grad():
        assert torch.allclose(tps(images), images, atol=1e-3)


def test_config_parsing_and_errors() -> None:
    config = RecognizerConfig(name="TPS-ResNet-BiLSTM-Attn")
    assert (config.transformation, config.feature, config.sequence, config.prediction) == ("TPS", "ResNet", "BiLSTM", "Attn")
    assert RecognizerConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown feature 'VGG16'"):
        RecognizerConfig(name="TPS-VGG16-BiLSTM-Attn")
    with pytest.raises(ValueError, match="4 parts"):
        RecognizerConfig(name="ResNet-CTC")
    with pytest.raises(ValueError, match="not a recognizer config"):
        RecognizerConfig.from_dict({"name": "None-VGG-None-CTC"})
