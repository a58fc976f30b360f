"""DeepLabv3+ (Chen et al. 2018): ResNet encoder (OS16), ASPP, and the v3+ decoder with a 48-channel low-level skip."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from handseg.models.aspp import ASPP, aspp_rates
from handseg.models.backbones import build_backbone
from handseg.models.common import ConvBNReLU, SegmentationModel, resize
from handseg.models.registry import register_model


@register_model("deeplabv3plus")
class DeepLabV3Plus(SegmentationModel):
    """DeepLabv3+: ResNet-50 OS16, ASPP 6/12/18 + image pooling, decoder on layer1 (48-ch projection), x4 bilinear.

    Decoder: ASPP output (256 ch, /16) bilinearly up to layer1 (/4), concatenated with layer1 projected to 48
    channels, two 3x3 conv-bn-relu (256), a 1x1 conv to the classes, bilinear x4 to the input size.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 3,
        *,
        backbone: str = "resnet50",
        output_stride: int = 16,
        pretrained_path: str | Path | None = None,
        backbone_width: int = 64,
        aspp_channels: int = 256,
        low_level_channels: int = 48,
        decoder_channels: int = 256,
    ) -> None:
        super().__init__()
        self.backbone = build_backbone(backbone, in_channels, output_stride, backbone_width, pretrained_path)
        self.stride = max(output_stride, 4)
        chs = self.backbone.channels
        self.aspp = ASPP(chs[4], aspp_channels, aspp_rates(output_stride))
        self.low_level = ConvBNReLU(chs[1], low_level_channels, 1)
        self.decoder = nn.Sequential(
            ConvBNReLU(aspp_channels + low_level_channels, decoder_channels, 3),
            ConvBNReLU(decoder_channels, decoder_channels, 3),
            nn.Conv2d(decoder_channels, num_classes, 1),
        )

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(x)
        low = self.low_level(feats[1])
        high = resize(self.aspp(feats[4]), low.shape[-2:])
        return resize(self.decoder(torch.cat([high, low], dim=1)), x.shape[-2:])
