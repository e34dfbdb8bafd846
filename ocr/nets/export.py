"""Export torch detection and recognition networks to ONNX for onnxruntime inference."""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .craft import load_teacher
from .recognizer import export_onnx, load_english_g2

ONNX_OPSET = 18
INPUT_NAME = "image"
OUTPUT_NAME = "maps"


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (in eval mode) with every Conv2d → BatchNorm2d pair inside a Sequential folded into one Conv2d.

    The exporter leaves some batch norms standing as nodes of their own; folded, the graph is
    smaller and faster (the student: 7 % less CPU per page) and int8 quantization sees only convolutions.
    """
    model = copy.deepcopy(model).eval()
    for sequence in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(sequence) - 1):
            conv, norm = sequence[i], sequence[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                sequence[i], sequence[i + 1] = fuse_conv_bn_eval(conv, norm), nn.Identity()
    return model


def export_detector(model: nn.Module, path: Path, opset: int = ONNX_OPSET) -> Path:
    """Write ``model`` (a :class:`~ocr.nets.craft.Craft`-contract network) to ``path`` as ONNX.

    The graph has one input ``image`` (N×3×H×W) and one output ``maps`` (N×2×H/2×W/2),
    with batch, height and width dynamic (height and width multiples of 32). The file is
    written to a temporary name and renamed, so an interrupted export leaves nothing behind.
    """
    model = fold_batch_norms(model)
    batch = torch.export.Dim("batch", min=1, max=64)
    height = 32 * torch.export.Dim("height_32", min=1, max=256)
    width = 32 * torch.export.Dim("width_32", min=1, max=256)
    example = torch.zeros(2, 3, 64, 96)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    # The exporter warns about torchvision operators it cannot register; none is used here.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamic_shapes={"x": {0: batch, 2: height, 3: width}},
            external_data=False,
            dynamo=True,
            verbose=False,
        )
    program.save(str(partial), external_data=False)
    partial.replace(path)
    return path


def export_craft_teacher(path: Path) -> Path:
    """Check and load the authors' CRAFT weights, then export them to ``path``."""
    return export_detector(load_teacher(), path)


def export_english_g2(path: Path) -> Path:
    """Check and load EasyOCR's ``english_g2`` recognizer, then export it to ``path`` (config beside it as ``.json``)."""
    return export_onnx(load_english_g2(), path)
