"""FCN-32s/16s/8s (Long et al. 2015) on a ResNet backbone instead of VGG-16.

The ResNet runs at output stride 32 (no dilation). Score layers (1x1 convs to the classes) read layer4 (/32),
layer3 (/16) and layer2 (/8), playing the roles of VGG's fc7, pool4 and pool3. As in FCN, the x2 upsamplings
between score levels are learnable ConvTranspose2d layers initialised to bilinear interpolation, and the final
x32, x16 or x8 upsampling is fixed bilinear interpolation (the FCN paper fixes the final deconvolution to
bilinear; done as a resize, because a 64x64-kernel transposed conv made an FCN-32s training step 5-20x slower
on a CPU than FCN-8s's); skip score layers start at zero, so 16s/8s start out as 32s/16s.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

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
        *,
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

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(x)
        score = self.score4(feats[4])
        for i, (skip, up) in enumerate(zip(self.skip_scores, self.skip_ups)):
            score = up(score) + skip(feats[3 - i])
        size = (score.shape[-2] * self.variant, score.shape[-1] * self.variant)
        return F.interpolate(score, size=size, mode="bilinear", align_corners=False)


@register_model("fcn32s")
def fcn32s(
    in_channels: int = 1,
    num_classes: int = 3,
    backbone: str = "resnet50",
    pretrained_path: str | Path | None = None,
    backbone_width: int = 64,
) -> FCN:
    """FCN-32s on ResNet (OS32): layer4 score, fixed bilinear x32 upsampling."""
    return FCN(
        32, in_channels, num_classes, backbone=backbone, pretrained_path=pretrained_path, backbone_width=backbone_width
    )


@register_model("fcn16s")
def fcn16s(
    in_channels: int = 1,
    num_classes: int = 3,
    backbone: str = "resnet50",
    pretrained_path: str | Path | None = None,
    backbone_width: int = 64,
) -> FCN:
    """FCN-16s on ResNet (OS32): layer4 + layer3 scores, a learnable x2 deconvolution, fixed bilinear x16."""
    return FCN(
        16, in_channels, num_classes, backbone=backbone, pretrained_path=pretrained_path, backbone_width=backbone_width
    )


@register_model("fcn8s")
def fcn8s(
    in_channels: int = 1,
    num_classes: int = 3,
    backbone: str = "resnet50",
    pretrained_path: str | Path | None = None,
    backbone_width: int = 64,
) -> FCN:
    """FCN-8s on ResNet (OS32): layer4 + layer3 + layer2 scores, two learnable x2 deconvolutions, fixed bilinear x8."""
    return FCN(
        8, in_channels, num_classes, backbone=backbone, pretrained_path=pretrained_path, backbone_width=backbone_width
    )
