"""A recognizer's static int8 export: convolutions quantized (ReLUs folded), the rest dynamic, and it reads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx

from ocr.recognition.predictor import Recognizer
from ocr.training.lines import cut_lines
from ocr.training.recognizer import build_data, export, preset, train
from ocr.training.synth import find_fonts

from test_recognizer_training import WORDS, _page_set


def test_a_static_int8_export_quantizes_the_convolutions_folds_their_relus_and_reads(tmp_path: Path) -> None:
    pages = _page_set(tmp_path / "pages")
    cfg = replace(preset("tiny"), steps=8, lines=str(pages), cache=str(tmp_path / "cache"))
    data = build_data(cfg, words=WORDS, fonts=find_fonts()[:4], crops=cut_lines(pages))
    train(cfg, tmp_path / "run", data=data, echo=lambda _: None)
    crops = [np.full((32, 80), 255, np.uint8), np.tile(np.arange(0, 256, 4, dtype=np.uint8), (32, 2))]

    export(tmp_path / "run", data=data, echo=lambda _: None)
    dynamic = onnx.load(tmp_path / "run" / "tiny.int8.onnx")
    manifest = export(tmp_path / "run", data=data, echo=lambda _: None, static_int8=True)
    static = onnx.load(tmp_path / "run" / "tiny.int8.onnx")

    ops = [node.op_type for node in static.graph.node]
    assert "QuantizeLinear" not in {node.op_type for node in dynamic.graph.node}
    # every convolution reads int8: each has a dequantized input and weight; no ReLU is left between them
    convolutions = [node for node in static.graph.node if node.op_type == "Conv"]
    made_by = {output: node.op_type for node in static.graph.node for output in node.output}
    assert convolutions and all(made_by.get(node.input[0]) == made_by.get(node.input[1]) == "DequantizeLinear"
                                for node in convolutions)
    assert ops.count("QuantizeLinear") >= len(convolutions)
    assert "Relu" in {node.op_type for node in dynamic.graph.node}
    assert not any(made_by.get(node.input[0]) == "Conv" for node in static.graph.node if node.op_type == "Relu")
    assert "DynamicQuantizeMatMul" in ops or "MatMulInteger" in ops  # the rest stays dynamically quantized
    assert manifest["files"]["tiny.int8.onnx"]["bytes"] == (tmp_path / "run" / "tiny.int8.onnx").stat().st_size
    readings = Recognizer(tmp_path / "run" / "tiny.int8.onnx").read(crops)
    assert len(readings) == 2 and all(0.0 <= r.confidence <= 1.0 for r in readings)
