"""FCN-32s/16s/8s (Long et al. 2015) on a ResNet backbone instead of VGG-16.

The ResNet runs at output stride 32 (no dilation). Score layers (1x1 convs to the classes) read layer4 (/32),
layer3 (/16) and layer2 (/8), playing the roles of VGG's fc7, pool4 and pool3. As in FCN, upsampling is by
learnable ConvTranspose2d layers initialised to bilinear interpolation: x2 between score levels and a final x32,
x16 or x8; skip score layers start at zero, so 16s/8s start out as 32s/16s.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from handseg.models.backbones import build_backbone
from handseg.models.common import SegmentationModel, upsampling_deconv
from handseg.models.registry import register_model


class FCN(SegmentationModel):
    """FCN with 0, 1 or 2 skip score layers (32s, 16s, 8s) on a ResNet (OS32)."""

    stride = 32

    def __init__(
        self,
        variant: int,
        in_channels: int = 1,
        num_classes: int = 3,
        backbone: str = "resnet50",
        pretrained_path: str | Path | None = None,
        backbone_width: int = 64,
    ) -> None:
        super().__init__()
        if variant not in (32, 16, 8):
            raise ValueError(f"FCN variant must be 32, 16 or 8, got {variant}")
        self.variant = variant
        self.backbone = build_backbone(backbone, in_channels, 32, backbone_width, pretrained_path)
        chs = self.backbone.channels
        self.score4 = nn.Conv2d(chs[4], num_classes, 1)
        n_skips = {32: 0, 16: 1, 8: 2}[variant]
        self.skip_scores = nn.ModuleList(nn.Conv2d(chs[3 - i], num_classes, 1) for i in range(n_skips))
        self.skip_ups = nn.ModuleList(upsampling_deconv(num_classes, 2) for _ in range(n_skips))
        for conv in self.skip_scores:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.final_up = upsampling_deconv(num_classes, variant)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(x)
        score = self.score4(feats[4])
        for i, (skip, up) in enumerate(zip(self.skip_scores, self.skip_ups)):
            score = up(score) + skip(feats[3 - i])
        return self.final_up(score)


@register_model("fcn32s")
def fcn32s(
    in_channels: int = 1,
    num_classes: int = 3,
    backbone: str = "resnet50",
    pretrained_path: str | Path | None = None,
    backbone_width: int = 64,
) -> FCN:
    """FCN-32s on ResNet (OS32): layer4 score, learnable x32 bilinear-initialised deconvolution."""
    return FCN(32, in_channels, num_classes, backbone, pretrained_path, backbone_width)


@register_model("fcn16s")
def fcn16s(
    in_channels: int = 1,
    num_classes: int = 3,
    backbone: str = "resnet50",
    pretrained_path: str | Path | None = None,
    backbone_width: int = 64,
) -> FCN:
    """FCN-16s on ResNet (OS32): layer4 + layer3 scores, x2 and x16 learnable deconvolutions."""
    return FCN(16, in_channels, num_classes, backbone, pretrained_path, backbone_width)


@register_model("fcn8s")
def fcn8s(
    in_channels: int = 1,
    num_classes: int = 3,
    backbone: str = "resnet50",
    pretrained_path: str | Path | None = None,
    backbone_width: int = 64,
) -> FCN:
    """FCN-8s on ResNet (OS32): layer4 + layer3 + layer2 scores, x2, x2 and x8 learnable deconvolutions."""
    return FCN(8, in_channels, num_classes, backbone, pretrained_path, backbone_width)
