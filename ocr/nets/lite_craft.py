"""Lite-CRAFT: a small CRAFT student (inverted-residual encoder, light U-Net decoder).

Same contract as the CRAFT teacher (:mod:`ocr.nets.craft`): input ``N×3×H×W`` float32 RGB normalized
with the ImageNet mean/std, ``H`` and ``W`` multiples of 32; output ``N×2×H/2×W/2`` with the region
score in channel 0 and the affinity score in channel 1 (raw regression values, no sigmoid).

Almost all work happens at 1/4 resolution and below; the half-resolution path is only the stem and
a small head over the sub-pixel-upsampled decoder output plus the stem, because memory traffic
at high resolution dominates CPU time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 linear project (+ identity when shapes match)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, expand: int = 4) -> None:
        super().__init__()
        hidden = cin * expand
        self.body = nn.Sequential(
            _conv_bn(cin, hidden),
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            _conv_bn(hidden, cout, relu=False),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class UpBlock(nn.Module):
    """Upsample the coarse map to the skip's size, concatenate, fuse with 1x1 + depthwise 3x3 + 1x1."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.fuse = nn.Sequential(
            _conv_bn(cin + cskip, cout),
            _conv_bn(cout, cout, 3, groups=cout),
            _conv_bn(cout, cout),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[2:], mode="bilinear", align_corners=False)
        return self.fuse(torch.cat([x, skip], dim=1))


HALF = 8
QUARTER = 24
# (out_channels, repeats, expansion) per encoder stage; the first works at 1/4, each next halves the size.
STAGES: tuple[tuple[int, int, int], ...] = ((QUARTER, 1, 3), (48, 3, 4), (96, 4, 4), (160, 3, 4))
DECODER: tuple[int, ...] = (96, 48, 32)


class LiteCraft(nn.Module):
    """The student detector: region and affinity maps at half resolution."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _conv_bn(3, HALF, 3, 2)
        self.down = _conv_bn(HALF, QUARTER, 3, 2)
        stages = []
        cin = QUARTER
        for i, (cout, repeats, expand) in enumerate(STAGES):
            blocks = [InvertedResidual(cin, cout, 1 if i == 0 else 2, expand)]
            blocks += [InvertedResidual(cout, cout, 1, expand) for _ in range(repeats - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = cout
        self.stages = nn.ModuleList(stages)
        skips = [c for c, *_ in STAGES[:-1]][::-1]
        ups = []
        for cskip, cout in zip(skips, DECODER, strict=True):
            ups.append(UpBlock(cin, cskip, cout))
            cin = cout
        self.ups = nn.ModuleList(ups)
        self.to_half = nn.Sequential(_conv_bn(cin, 4 * HALF), nn.PixelShuffle(2))
        self.head = nn.Sequential(
            _conv_bn(HALF, HALF, 3),
            nn.Conv2d(HALF, 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.stem(x)
        x = self.down(half)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        x = feats[-1]
        for up, skip in zip(self.ups, feats[-2::-1], strict=True):
            x = up(x, skip)
        return self.head(self.to_half(x) + half)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
