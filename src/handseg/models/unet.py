"""Plain U-Net (Ronneberger et al. 2015), the course skeleton: (conv-BN-ReLU) x2 per level, max-pool down,
transposed-conv up, skip concatenation. Amodal default: 3 input channels (RGB), 34 logits (2 hands x 17)."""

from __future__ import annotations

import torch
from torch import nn

from handseg.errors import ConfigError
from handseg.models.common import ConvBNReLU, SegmentationModel
from handseg.models.registry import register_model


class DoubleConv(nn.Sequential):
    """(3x3 conv-BN-ReLU) x 2."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(ConvBNReLU(in_ch, out_ch, 3), ConvBNReLU(out_ch, out_ch, 3))


class PlainEncoder(nn.Module):
    """U-Net encoder: DoubleConv at full resolution, then `depth` x (max pool 2 -> DoubleConv), widths doubling."""

    def __init__(self, in_channels: int, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        if depth < 1 or width < 1:
            raise ConfigError(f"U-Net needs depth >= 1 and width >= 1, got depth={depth}, width={width}")
        self.channels = [width * 2**i for i in range(depth + 1)]
        self.strides = [2**i for i in range(depth + 1)]
        self.inc = DoubleConv(in_channels, width)
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), DoubleConv(self.channels[i], self.channels[i + 1])) for i in range(depth)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps from full resolution (stride 1) to the coarsest (stride 2**depth)."""
        feats = [self.inc(x)]
        for down in self.downs:
            feats.append(down(feats[-1]))
        return feats


@register_model("unet", task="amodal")
class UNet(SegmentationModel):
    """Plain U-Net (course skeleton): 4 down / 4 up, (conv-BN-ReLU) x2 per level, base width 64."""

    def __init__(self, in_channels: int = 3, num_classes: int = 34, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        self.encoder = PlainEncoder(in_channels, width, depth)
        self.stride = 2**depth
        chs = self.encoder.channels
        self.ups = nn.ModuleList(nn.ConvTranspose2d(chs[i + 1], chs[i], 2, 2) for i in range(depth))
        self.convs = nn.ModuleList(DoubleConv(2 * chs[i], chs[i]) for i in range(depth))
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        y = feats[-1]
        for i in range(len(feats) - 2, -1, -1):
            y = self.convs[i](torch.cat([feats[i], self.ups[i](y)], dim=1))
        return self.classifier(y)
