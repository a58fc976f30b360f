"""GCN, "Large Kernel Matters" (Peng et al. 2017): global convolution (k=9) + boundary refinement on a ResNet.

Each of layer1..layer4 (/4../32, OS32 backbone) goes through a GCN module, (k x 1 then 1 x k) + (1 x k then k x 1)
with no BN or ReLU, to `channels` score maps (default: the classes, as in the paper), then a boundary refinement
block (x + conv3x3(ReLU(conv3x3(x)))). From the coarsest level: learnable x2 deconvolution (bilinear-initialised),
add the next level, boundary refinement; after layer1 two more deconv + BR steps reach full resolution.
With `channels` other than num_classes a final 1x1 conv maps to the classes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from handseg.models.backbones import build_backbone
from handseg.models.common import SegmentationModel, upsampling_deconv
from handseg.models.registry import register_model


class GlobalConv(nn.Module):
    """Large separable kernel: (k x 1 -> 1 x k) + (1 x k -> k x 1)."""

    def __init__(self, in_ch: int, out_ch: int, k: int = 9) -> None:
        super().__init__()
        p = k // 2
        self.left = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, (k, 1), padding=(p, 0)), nn.Conv2d(out_ch, out_ch, (1, k), padding=(0, p))
        )
        self.right = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, (1, k), padding=(0, p)), nn.Conv2d(out_ch, out_ch, (k, 1), padding=(p, 0))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.left(x) + self.right(x)


class BoundaryRefine(nn.Module):
    """Residual boundary refinement: x + conv3x3(ReLU(conv3x3(x)))."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(ch, ch, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register_model("gcn")
class GCN(SegmentationModel):
    """GCN (Large Kernel Matters, k=9) with boundary refinement and deconvolution fusion on ResNet-50 (OS32)."""

    stride = 32

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 3,
        *,
        backbone: str = "resnet50",
        pretrained_path: str | Path | None = None,
        backbone_width: int = 64,
        kernel_size: int = 9,
        channels: int | None = None,
    ) -> None:
        super().__init__()
        self.backbone = build_backbone(backbone, in_channels, 32, backbone_width, pretrained_path)
        c = channels or num_classes
        self.gcn = nn.ModuleList(GlobalConv(ch, c, kernel_size) for ch in self.backbone.channels[1:])
        self.br_in = nn.ModuleList(BoundaryRefine(c) for _ in range(4))
        self.br_fuse = nn.ModuleList(BoundaryRefine(c) for _ in range(3))
        self.ups = nn.ModuleList(upsampling_deconv(c, 2) for _ in range(5))
        self.br_out = nn.ModuleList(BoundaryRefine(c) for _ in range(2))
        self.classifier = nn.Identity() if c == num_classes else nn.Conv2d(c, num_classes, 1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(x)[1:]  # layer1..layer4
        scores = [br(g(f)) for g, br, f in zip(self.gcn, self.br_in, feats)]
        y = scores[3]
        for i in (2, 1, 0):
            y = self.br_fuse[i](self.ups[i](y) + scores[i])
        y = self.br_out[0](self.ups[3](y))
        y = self.br_out[1](self.ups[4](y))
        return self.classifier(y)
