"""The recognizer configuration: which four stages, which sizes, which charset.

It is torch-free so that the onnxruntime predictor can read the ``<model>.json`` that
travels beside each exported ``<model>.onnx``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..charset import CHARSET

FORMAT = "ocr.recognizer/1"

STAGES: dict[str, tuple[str, ...]] = {
    "transformation": ("None", "TPS"),
    "feature": ("VGG", "RCNN", "ResNet", "Mobile"),
    "sequence": ("None", "BiLSTM"),
    "prediction": ("CTC", "Attn"),
}
"""The options of each stage, in the order they appear in a config name."""


@dataclass(frozen=True)
class RecognizerConfig:
    """A four-stage recognizer (Baek et al. 2019) named ``Transformation-Feature-Sequence-Prediction``.

    ``img_height`` is the input height; ``img_width`` the training width and, for attention
    models, the widest window read at once (longer crops are read in overlapping chunks).
    ``output_channels`` is the width of the visual features, ``hidden_size`` that of the
    sequence model and decoder; ``max_length`` bounds an attention decode per window. The
    logits are divided by ``temperature`` before the softmax: fitted after training so that
    confidences are honest (see :mod:`ocr.eval.temperature`), it never changes a
    greedy reading.
    """

    name: str = "TPS-ResNet-BiLSTM-Attn"
    img_height: int = 32
    img_width: int = 100
    input_channels: int = 1
    hidden_size: int = 256
    output_channels: int = 512
    max_length: int = 25
    charset: str = CHARSET
    num_fiducial: int = 20
    temperature: float = 1.0

    def __post_init__(self) -> None:
        parts = self.name.split("-")
        if len(parts) != len(STAGES):
            raise ValueError(f"recognizer name {self.name!r} must have 4 parts like 'TPS-ResNet-BiLSTM-Attn'")
        for part, (stage, options) in zip(parts, STAGES.items()):
            if part not in options:
                raise ValueError(f"unknown {stage} {part!r} in {self.name!r}: choose one of {', '.join(options)}")
        if self.img_height < 16 or self.img_height % 16:
            raise ValueError(f"img_height must be a positive multiple of 16, got {self.img_height}")
        if self.img_width < self.img_height:
            raise ValueError(f"img_width {self.img_width} is smaller than img_height {self.img_height}")
        if self.input_channels not in (1, 3):
            raise ValueError(f"input_channels must be 1 (gray) or 3 (RGB), got {self.input_channels}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if len(set(self.charset)) != len(self.charset) or not self.charset:
            raise ValueError("charset must be a non-empty string without repeated characters")

    @property
    def transformation(self) -> str:
        return self.name.split("-")[0]

    @property
    def feature(self) -> str:
        return self.name.split("-")[1]

    @property
    def sequence(self) -> str:
        return self.name.split("-")[2]

    @property
    def prediction(self) -> str:
        return self.name.split("-")[3]

    @property
    def num_classes(self) -> int:
        """Class 0 is the CTC blank / attention end-of-sequence; class i is ``charset[i - 1]``."""
        return len(self.charset) + 1

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecognizerConfig:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a recognizer config (format {data.get('format')!r}, expected {FORMAT!r})")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: str | Path) -> None:
        """Write the config as JSON (the ``<model>.json`` beside ``<model>.onnx``)."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> RecognizerConfig:
        """Read a config written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
