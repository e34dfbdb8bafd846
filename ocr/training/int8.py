"""Static int8 exports: onnxruntime's QDQ quantization of a model (its convolutions above all), calibrated on its inputs.

Weights are quantized per output channel in 7 bits (``reduce_range``): without VNNI, onnxruntime's
uint8×int8 kernels add pairs of products in saturating 16-bit lanes, and full-range weights overflow
them. Activations are uint8, one range per tensor from the calibration inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..io.files import replacing

RECOGNIZER_STATIC = ("Conv", "Relu")
"""What a recognizer's static export quantizes: the convolutions, and the ReLUs after them, so that a
convolution's output range starts at 0 (the ReLU folds into it) and spends no steps on what the ReLU
clips. With the convolutions alone, their outputs kept their negative half: the held-out crops read
worse (docs/speed.md)."""

MOMENTUM = 0.01
"""Weight of each calibration batch in a recognizer's moving activation ranges."""


def quantize_static_int8(fp32: Path, int8: Path, feeds: Iterable[dict[str, np.ndarray]],
                         op_types: Sequence[str] | None = None, moving_average: bool = False) -> None:
    """``fp32`` quantized into ``int8`` (QDQ, per-channel 7-bit weights, uint8 activations), its ranges
    calibrated on ``feeds`` (input name → array): every operator onnxruntime can quantize, or ``op_types``;
    each range the extremes over all feeds, or with ``moving_average`` their moving average."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self.feeds, None)

    extra = {"CalibMovingAverage": True, "CalibMovingAverageConstant": MOMENTUM} if moving_average else {}
    optimized = int8.with_name(int8.name + ".optimized")  # onnxruntime's graph pre-processing
    try:
        quant_pre_process(str(fp32), str(optimized), skip_symbolic_shape=True)
        with replacing(int8) as temp:
            quantize_static(str(optimized), str(temp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            op_types_to_quantize=list(op_types) if op_types else None, extra_options=extra)
    finally:
        optimized.unlink(missing_ok=True)


def quantize_convolutions(fp32: Path, int8: Path, batches: Sequence[np.ndarray], dynamic: Sequence[str]) -> None:
    """A recognizer ``fp32`` exported as ``int8``: its convolutions static (:data:`RECOGNIZER_STATIC`, calibrated
    on ``batches`` of crops as it reads them), the ``dynamic`` operators (LSTM, MatMul ...) dynamically quantized."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    static = int8.with_name(int8.name + ".static")
    try:
        quantize_static_int8(fp32, static, ({"images": batch} for batch in batches), RECOGNIZER_STATIC,
                             moving_average=True)
        with replacing(int8) as temp:
            quantize_dynamic(str(static), str(temp), weight_type=QuantType.QInt8, op_types_to_quantize=list(dynamic))
    finally:
        static.unlink(missing_ok=True)
