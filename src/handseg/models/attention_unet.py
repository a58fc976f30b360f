"""Attention U-Net (Oktay et al. 2018): additive attention gates on the skip connections, configurable.

Encoder: the plain U-Net encoder (`depth` levels, base `width`) or, with `backbone="resnet18"` etc., a ResNet
(OS32; skips stem..layer3, then one extra up step to full resolution without a skip). At each decoder level the
coarser decoder map is upsampled by a stride-2 transposed conv to the skip's size and used as the gating signal g
(the common variant that gates at the skip's resolution): alpha = sigmoid(BN(psi(ReLU(BN(W_g g) + BN(W_x x))))),
a one-channel map; the skip x * alpha is concatenated with the upsampled map and goes through (conv-BN-ReLU) x2.
`forward(x, return_attention=True)` also returns the alpha maps, finest first.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from handseg.models.backbones import build_backbone
from handseg.models.common import SegmentationModel, pad_to_multiple
from handseg.models.registry import register_model
from handseg.models.unet import DoubleConv, PlainEncoder


class AttentionGate(nn.Module):
    """Additive attention gate: x * sigmoid(psi(ReLU(W_g g + W_x x))), g and x at the same resolution."""

    def __init__(self, g_ch: int, x_ch: int, inter_ch: int) -> None:
        super().__init__()
        self.w_g = nn.Sequential(nn.Conv2d(g_ch, inter_ch, 1, bias=False), nn.BatchNorm2d(inter_ch))
        self.w_x = nn.Sequential(nn.Conv2d(x_ch, inter_ch, 1, bias=False), nn.BatchNorm2d(inter_ch))
        self.psi = nn.Sequential(nn.Conv2d(inter_ch, 1, 1, bias=False), nn.BatchNorm2d(1), nn.Sigmoid())
        self.relu = nn.ReLU(inplace=True)

    def forward(self, g: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = self.psi(self.relu(self.w_g(g) + self.w_x(x)))
        return x * alpha, alpha


@register_model("attention_unet", task="amodal")
class AttentionUNet(SegmentationModel):
    """Attention-gate U-Net (Oktay et al.): plain (width/depth) or ResNet encoder, gated skips."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 34,
        *,
        width: int = 32,
        depth: int = 4,
        backbone: str | None = None,
        pretrained_path: str | Path | None = None,
        backbone_width: int = 64,
    ) -> None:
        super().__init__()
        if backbone:
            self.encoder: nn.Module = build_backbone(backbone, in_channels, 32, backbone_width, pretrained_path)
            enc_chs = self.encoder.channels  # strides 2..32
            dec_chs = [width * 2**i for i in range(len(enc_chs))]
            self.final_up: nn.Module | None = nn.Sequential(
                nn.ConvTranspose2d(dec_chs[0], dec_chs[0], 2, 2), DoubleConv(dec_chs[0], dec_chs[0])
            )
        else:
            self.encoder = PlainEncoder(in_channels, width, depth)
            enc_chs = self.encoder.channels  # strides 1..2**depth
            dec_chs = enc_chs
            self.final_up = None
        self.stride = int(self.encoder.strides[-1])
        n = len(enc_chs)
        self.bottleneck = nn.Identity() if dec_chs[-1] == enc_chs[-1] else nn.Conv2d(enc_chs[-1], dec_chs[-1], 1)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(dec_chs[i + 1], dec_chs[i], 2, 2) for i in range(n - 1))
        self.gates = nn.ModuleList(AttentionGate(dec_chs[i], enc_chs[i], max(dec_chs[i] // 2, 1)) for i in range(n - 1))
        self.convs = nn.ModuleList(DoubleConv(enc_chs[i] + dec_chs[i], dec_chs[i]) for i in range(n - 1))
        self.classifier = nn.Conv2d(dec_chs[0], num_classes, 1)

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = self.encoder(x)
        y = self.bottleneck(feats[-1])
        alphas = []
        for i in range(len(feats) - 2, -1, -1):
            up = self.ups[i](y)
            skip, alpha = self.gates[i](up, feats[i])
            alphas.append(alpha)
            y = self.convs[i](torch.cat([skip, up], dim=1))
        if self.final_up is not None:
            y = self.final_up(y)
        return self.classifier(y), alphas[::-1]

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x)[0]

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits N x classes x H x W; with return_attention also the gate maps (finest first, padded size)."""
        h, w = x.shape[-2:]
        logits, alphas = self._forward(pad_to_multiple(x, self.stride))
        logits = logits[..., :h, :w]
        return (logits, alphas) if return_attention else logits
