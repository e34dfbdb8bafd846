"""Torch weights recovered from an exported CTC recognizer (fp32 or int8 ONNX) or Lite-CRAFT student (fp32), to train on from it.

The export folds each batch norm into the convolution before it and quantizes the int8
file's matrix and LSTM weights, so the recovered model is the exported one, not the run
that made it: batch norms become the identity (with the convolution's bias), int8 weights
are dequantized. It reads as the file does (up to int8 rounding); train it on with frozen
batch norms (the ``best`` preset does) or the folded statistics are lost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from ..nets.lite_craft import LiteCraft
from ..nets.recognizer import TextRecognizer, build_model
from ..recognition.config import RecognizerConfig

_WEIGHTED = {"Conv": nn.Conv2d, "LSTM": nn.LSTM, "DynamicQuantizeLSTM": nn.LSTM, "MatMul": nn.Linear,
             "MatMulInteger": nn.Linear}
_LSTM_GATES = (0, 2, 3, 1)
"""Torch gate order (input, forget, cell, output) as blocks of ONNX's (input, output, forget, cell)."""


def _initializers(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Every initializer by name as float32, int8 ones dequantized (scales and zero points left out)."""
    raw = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    values = {}
    for name, array in raw.items():
        if name.endswith("_quantized"):
            base = name[: -len("_quantized")]
            scale, zero = raw[f"{base}_scale"], raw[f"{base}_zero_point"].astype(np.float32)
            shape = (-1,) + (1,) * (array.ndim - 1) if scale.ndim else ()
            values[name] = (array.astype(np.float32) - zero.reshape(shape)) * scale.reshape(shape)
        elif not name.endswith(("_scale", "_zero_point")):
            values[name] = array.astype(np.float32)
    return values


def _execution_order(model: nn.Module, example: torch.Tensor) -> list[nn.Module]:
    """Convolutions, batch norms, LSTMs and linear layers in the order a forward pass on ``example`` runs them."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda module, *_: order.append(module)) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.LSTM, nn.Linear))]
    with torch.no_grad():
        model.eval()(example)
    for hook in hooks:
        hook.remove()
    return order


def _module_name(node: onnx.NodeProto) -> str:
    """The torch module a node was exported from: scope ``/feature/stages/stages.0/stages.0.1/conv1/Conv``
    is module ``feature.stages.0.1.conv1`` (a container's children repeat its name)."""
    parts: list[str] = []
    previous: list[str] = []
    for scope in node.name.split("/")[1:-1]:
        segments = scope.split(".")
        parts += segments[len(previous):] if segments[: len(previous)] == previous else segments
        previous = segments
    return ".".join(parts)


def _weight(values: dict[str, np.ndarray], name: str, shape: tuple[int, ...]) -> torch.Tensor:
    """Initializer ``name`` in ``shape``, transposing the last two axes where int8 LSTM weights were."""
    array = values[name]
    if array.shape != shape and array.ndim == 3 and array.shape[1:] == shape[:0:-1]:
        array = array.transpose(0, 2, 1)
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
    return torch.from_numpy(np.ascontiguousarray(array))


def _load_lstm(lstm: nn.LSTM, node: onnx.NodeProto, values: dict[str, np.ndarray]) -> None:
    hidden, size = lstm.hidden_size, lstm.input_size
    dirs = 2 if lstm.bidirectional else 1
    w = _weight(values, node.input[1], (dirs, 4 * hidden, size))
    r = _weight(values, node.input[2], (dirs, 4 * hidden, hidden))
    b = _weight(values, node.input[3], (dirs, 8 * hidden))

    def gates(m: torch.Tensor) -> torch.Tensor:
        return torch.cat([m[g * hidden:(g + 1) * hidden] for g in _LSTM_GATES])

    for d in range(dirs):
        suffix = "_l0" + ("_reverse" if d else "")
        getattr(lstm, "weight_ih" + suffix).copy_(gates(w[d]))
        getattr(lstm, "weight_hh" + suffix).copy_(gates(r[d]))
        getattr(lstm, "bias_ih" + suffix).copy_(gates(b[d, : 4 * hidden]))
        getattr(lstm, "bias_hh" + suffix).copy_(gates(b[d, 4 * hidden:]))


def _load_conv(conv: nn.Conv2d, following: nn.Module | None, node: onnx.NodeProto, values: dict[str, np.ndarray]) -> None:
    """A convolution's weights; a batch norm it feeds was folded into it, so that becomes the identity plus bias."""
    conv.weight.copy_(_weight(values, node.input[1], tuple(conv.weight.shape)))
    bias = torch.from_numpy(values[node.input[2]]) if len(node.input) > 2 else torch.zeros(conv.out_channels)
    if isinstance(following, nn.BatchNorm2d):
        following.weight.fill_(1.0)
        following.running_mean.zero_()
        following.running_var.fill_(1.0 - following.eps)
        following.bias.copy_(bias)
        bias = torch.zeros(conv.out_channels)
    if conv.bias is not None:
        conv.bias.copy_(bias)


def _bias_after(node: onnx.NodeProto, graph: onnx.GraphProto, values: dict[str, np.ndarray]) -> np.ndarray | None:
    """The initializer added to ``node``'s output (a MatMul's bias), following int8 rescaling."""
    outputs = set(node.output)
    for _ in range(3):  # MatMulInteger → Cast → Mul → Add
        consumer = next((n for n in graph.node if outputs & set(n.input)), None)
        if consumer is None:
            return None
        if consumer.op_type == "Add":
            return next((values[i] for i in consumer.input if i in values), None)
        outputs = set(consumer.output)
    return None


def model_from_onnx(path: str | Path) -> TextRecognizer:
    """The torch recognizer whose export is ``path`` (a CTC model without TPS; config ``path``'s ``.json``)."""
    path = Path(path)
    config = RecognizerConfig.load(path.with_suffix(".json"))
    if config.transformation != "None" or config.prediction != "CTC":
        raise ValueError(f"cannot recover {config.name} from ONNX: only CTC models without TPS")
    graph = onnx.load(str(path)).graph
    values = _initializers(graph)
    model = build_model(config)
    modules = dict(model.named_modules())
    nodes = [n for n in graph.node if n.op_type in _WEIGHTED]
    layers = [modules.get(_module_name(n)) for n in nodes]
    expected = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.LSTM, nn.Linear))]
    if any(not isinstance(m, _WEIGHTED[n.op_type]) for n, m in zip(nodes, layers)) or len(layers) != len(expected):
        raise ValueError(f"{path.name} does not have the layers of {config.name}")
    order = _execution_order(model, torch.zeros(1, config.input_channels, config.img_height, config.img_width))
    with torch.no_grad():
        for node, layer in zip(nodes, layers):
            if isinstance(layer, nn.LSTM):
                _load_lstm(layer, node, values)
            elif isinstance(layer, nn.Linear):
                layer.weight.copy_(_weight(values, node.input[1], (layer.in_features, layer.out_features)).T)
                bias = _bias_after(node, graph, values)
                if layer.bias is not None:
                    if bias is None:
                        raise ValueError(f"{path.name}: no bias found after {node.name}")
                    layer.bias.copy_(torch.from_numpy(bias))
            else:
                after = order.index(layer) + 1
                _load_conv(layer, order[after] if after < len(order) else None, node, values)
    return model.eval()



def detector_from_onnx(path: str | Path) -> LiteCraft:
    """The Lite-CRAFT student whose fp32 export is ``path``. The exporter keeps no module names, so
    convolutions are matched in execution order (shapes checked); batch norms become the identity."""
    graph = onnx.load(str(path)).graph
    values = _initializers(graph)
    model = LiteCraft()
    order = _execution_order(model, torch.zeros(1, 3, 64, 64))
    convs = [m for m in order if isinstance(m, nn.Conv2d)]
    nodes = [n for n in graph.node if n.op_type == "Conv"]
    if len(nodes) != len(convs):
        raise ValueError(f"{Path(path).name} has {len(nodes)} convolutions, Lite-CRAFT {len(convs)}")
    with torch.no_grad():
        for node, conv in zip(nodes, convs):
            after = order.index(conv) + 1
            _load_conv(conv, order[after] if after < len(order) else None, node, values)
    return model.eval()
