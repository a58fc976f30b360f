"""Atrous spatial pyramid pooling (DeepLabv3): 1x1, three dilated 3x3 and an image-pooling branch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from handseg.models.common import ConvBNReLU


class ImagePooling(nn.Module):
    """Global average pool -> 1x1 conv (with bias, no BN, so batch-1 training works) -> ReLU -> broadcast back."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.relu(self.conv(F.adaptive_avg_pool2d(x, 1)))
        return pooled.expand(-1, -1, x.shape[-2], x.shape[-1])


class ASPP(nn.Module):
    """ASPP with rates (6, 12, 18) at OS16 (doubled at OS8), image pooling, 1x1 projection and dropout 0.1."""

    def __init__(
        self, in_ch: int, out_ch: int = 256, rates: tuple[int, ...] = (6, 12, 18), dropout: float = 0.1
    ) -> None:
        super().__init__()
        branches: list[nn.Module] = [ConvBNReLU(in_ch, out_ch, 1)]
        branches += [ConvBNReLU(in_ch, out_ch, 3, dilation=r) for r in rates]
        branches.append(ImagePooling(in_ch, out_ch))
        self.branches = nn.ModuleList(branches)
        self.project = nn.Sequential(ConvBNReLU(out_ch * len(branches), out_ch, 1), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([b(x) for b in self.branches], dim=1))


def aspp_rates(output_stride: int) -> tuple[int, ...]:
    """DeepLabv3's rates for an output stride: (6, 12, 18) at 16, doubled at 8, halved at 32."""
    return {8: (12, 24, 36), 16: (6, 12, 18), 32: (3, 6, 9)}[output_stride]
