"""RefineNet (Lin et al. 2017), the 4-cascaded multi-path network on a ResNet (OS32).

layer4 is reduced by a 3x3 conv to 2*features channels, layer1..3 to `features` (paper: 512 / 256). Each RefineNet
block: 2 residual conv units (RCU) per input path, multi-resolution fusion (3x3 conv per path to the smallest
channel count, bilinear up to the largest resolution, sum), chained residual pooling (4 blocks of 5x5 max pool
stride 1 + 3x3 conv, summed into the path), 1 output RCU. RefineNet-4 (layer4) feeds RefineNet-3 (+layer3) and so
on to RefineNet-1 at /4; then 2 RCUs, a 1x1 conv to the classes and bilinear x4.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from handseg.models.backbones import build_backbone
from handseg.models.common import SegmentationModel, resize
from handseg.models.registry import register_model


def conv3x3(in_ch: int, out_ch: int) -> nn.Conv2d:
    """3x3 conv, padding 1, no bias."""
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False)


class RCU(nn.Module):
    """Residual conv unit: x + conv(ReLU(conv(ReLU(x))))."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(ch, ch)
        self.conv2 = conv3x3(ch, ch)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(self.relu(x))))


class ChainedResidualPooling(nn.Module):
    """ReLU, then a chain of (5x5 max pool stride 1 -> 3x3 conv) blocks, each output summed into the result."""

    def __init__(self, ch: int, blocks: int = 4) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(5, 1, 2)
        self.convs = nn.ModuleList(conv3x3(ch, ch) for _ in range(blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        path = x
        for conv in self.convs:
            path = conv(self.pool(path))
            x = x + path
        return x


class RefineNetBlock(nn.Module):
    """Adaptive RCUs per path, multi-resolution fusion, chained residual pooling, output RCU."""

    def __init__(self, in_chs: list[int], out_ch: int) -> None:
        super().__init__()
        self.adapt = nn.ModuleList(nn.Sequential(RCU(c), RCU(c)) for c in in_chs)
        needs_fuse = len(in_chs) > 1 or in_chs[0] != out_ch
        self.fuse = nn.ModuleList(conv3x3(c, out_ch) for c in in_chs) if needs_fuse else None
        self.crp = ChainedResidualPooling(out_ch)
        self.out = RCU(out_ch)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        xs = [a(x) for a, x in zip(self.adapt, xs)]
        if self.fuse is None:
            y = xs[0]
        else:
            size = max((x.shape[-2:] for x in xs), key=lambda s: s[0] * s[1])
            y = sum(resize(f(x), size) for f, x in zip(self.fuse, xs))  # type: ignore[assignment]
        return self.out(self.crp(y))


@register_model("refinenet")
class RefineNet(SegmentationModel):
    """RefineNet-4cascaded (RCU, multi-resolution fusion, chained residual pooling) on ResNet-50 (OS32)."""

    stride = 32

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 3,
        *,
        backbone: str = "resnet50",
        pretrained_path: str | Path | None = None,
        backbone_width: int = 64,
        features: int = 256,
    ) -> None:
        super().__init__()
        self.backbone = build_backbone(backbone, in_channels, 32, backbone_width, pretrained_path)
        chs = self.backbone.channels
        widths = [features, features, features, 2 * features]  # layer1..layer4
        self.reduce = nn.ModuleList(conv3x3(c, w) for c, w in zip(chs[1:], widths))
        self.refine4 = RefineNetBlock([widths[3]], features)
        self.refine3 = RefineNetBlock([features, widths[2]], features)
        self.refine2 = RefineNetBlock([features, widths[1]], features)
        self.refine1 = RefineNetBlock([features, widths[0]], features)
        self.head = nn.Sequential(RCU(features), RCU(features), nn.Conv2d(features, num_classes, 1))

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        l1, l2, l3, l4 = [r(f) for r, f in zip(self.reduce, self.backbone(x)[1:])]
        y = self.refine4([l4])
        y = self.refine3([y, l3])
        y = self.refine2([y, l2])
        y = self.refine1([y, l1])
        return resize(self.head(y), x.shape[-2:])
