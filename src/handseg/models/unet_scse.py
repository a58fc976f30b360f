"""U-Net with a ResNet encoder, scSE decoder blocks and a hypercolumn head (amodal hand parts).

Encoder: ResNet (default ResNet-50, OS32), skips from stem (/2), layer1 (/4), layer2 (/8), layer3 (/16).
Five decoder blocks (default widths 256, 128, 64, 32, 16): nearest x2 upsampling, concatenation with the skip
(none for the last block, at full resolution), (3x3 conv-BN-ReLU) x2, then scSE (Roy et al. 2018): channel
squeeze-and-excitation (global pool, FC C/16, ReLU, FC, sigmoid) plus spatial SE (1x1 conv to 1, sigmoid), the two
recalibrated maps added. Hypercolumn: every decoder output bilinearly resized to the input size and concatenated,
Dropout2d(0.5), 1x1 conv to the logits (34 = 2 hands x 17 by default).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from handseg.models.backbones import build_backbone
from handseg.models.common import SegmentationModel, resize
from handseg.models.registry import register_model
from handseg.models.unet import DoubleConv


class SCSE(nn.Module):
    """Concurrent spatial and channel squeeze-and-excitation: x * cSE(x) + x * sSE(x)."""

    def __init__(self, ch: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(ch // reduction, 1)
        self.cse = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(ch, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, ch, 1),
            nn.Sigmoid(),
        )
        self.sse = nn.Sequential(nn.Conv2d(ch, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.cse(x) + x * self.sse(x)


class DecoderBlock(nn.Module):
    """Nearest x2 up, concat skip, (conv-BN-ReLU) x2, scSE."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = DoubleConv(in_ch + skip_ch, out_ch)
        self.scse = SCSE(out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.scse(self.conv(x))


@register_model("unet_resnet50_scse", task="amodal")
class UNetResNetSCSE(SegmentationModel):
    """U-Net, ResNet-50 encoder, 5 scSE decoder blocks, hypercolumn, dropout 0.5, 2 x 17 part logits."""

    stride = 32

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 34,
        *,
        backbone: str = "resnet50",
        pretrained_path: str | Path | None = None,
        backbone_width: int = 64,
        decoder_channels: tuple[int, ...] | list[int] = (256, 128, 64, 32, 16),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if len(decoder_channels) != 5:
            raise ValueError(f"decoder_channels needs 5 widths, got {list(decoder_channels)}")
        self.backbone = build_backbone(backbone, in_channels, 32, backbone_width, pretrained_path)
        chs = self.backbone.channels  # stem, layer1..layer4
        skips = [chs[3], chs[2], chs[1], chs[0], 0]
        ins = [chs[4], *decoder_channels[:-1]]
        self.blocks = nn.ModuleList(DecoderBlock(i, s, o) for i, s, o in zip(ins, skips, decoder_channels))
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(sum(decoder_channels), num_classes, 1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(x)
        skips: list[torch.Tensor | None] = [feats[3], feats[2], feats[1], feats[0], None]
        y = feats[4]
        outs = []
        for block, skip in zip(self.blocks, skips):
            y = block(y, skip)
            outs.append(y)
        size = x.shape[-2:]
        hypercolumn = torch.cat([resize(o, size) for o in outs], dim=1)
        return self.classifier(self.dropout(hypercolumn))
