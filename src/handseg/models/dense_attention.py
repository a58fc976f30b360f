"""DenseAttentionSeg (Bo et al. 2019): DeepLabv3+ encoder, dense fine/coarse attention over 6 levels, deconv decoder.

Choices where the paper leaves room (all here, nowhere else):
- Encoder: the DeepLabv3+ encoder (ResNet-50, OS16 by dilation, ASPP 6/12/18 + image pooling, 256 ch).
- Levels (finest to coarsest): 0 stem (conv1/bn1/relu, /2), 1 layer1 (/4), 2 layer2 (/8), 3 layer3 (/16),
  4 layer4 (/16), 5 ASPP output (/16); strides follow the output stride (e.g. /8 for layers 2..5 at OS8).
- Squeeze block per level: 1x1 conv-BN-ReLU to k channels, then 3x3 conv-BN-ReLU (k), giving s_i (k = 64).
- Fine attention of level i: F_i = product of s_j for all finer j < i, built level by level as
  F_i = bilinear_down(F_{i-1} * s_{i-1}) (the product is taken at the finer level, then resized to level i);
  coarse attention: C_i = bilinear_up(C_{i+1} * s_{i+1}) = product of all coarser levels. Bilinear, align_corners=False.
- Gates: G^f_i = sigmoid(BN(1x1 conv(F_i))), G^c_i = sigmoid(BN(1x1 conv(C_i))), k channels each (a per-channel,
  per-pixel gate). Level 0 has no fine gate and level 5 no coarse gate (treated as all ones).
- Gated skip: g_i = s_i * G^f_i * G^c_i. The ablation `dense_attention_seg_noattn` uses g_i = s_i (same squeezes);
  `attention_mode="fine"` / `"coarse"` keeps only one kind of gate (the other is all ones), for Table 3.
- Decoder of 6 ConvTranspose2d: y_5 = g_5; y_i = ReLU(BN(deconv_i(y_{i+1}))) + g_i for i = 4..0 (fusion by
  addition, k channels); deconv stride 2 (kernel 4, padding 1) where the resolution doubles, stride 1 (kernel 3,
  padding 1) where it does not (between the /16 levels); the 6th deconv takes y_0 (/2) to full resolution with
  head_channels = k/4 channels (BN-ReLU), then a 1x1 conv to the classes. Only that deconv and the 1x1 run at full
  resolution (kept narrow: eager CPU transposed convolutions are slow at 640x480).
- `forward(x, return_attention=True)` returns (logits, {"fine": [6 maps], "coarse": [6 maps]}); each map is the
  channel mean of the gate, N x 1 x ceil(H/s_i) x ceil(W/s_i) in [0, 1] (ones where a level has no such gate).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from handseg.errors import ConfigError
from handseg.models.aspp import ASPP, aspp_rates
from handseg.models.backbones import build_backbone
from handseg.models.common import ConvBNReLU, SegmentationModel, pad_to_multiple, resize
from handseg.models.registry import register_model

AttentionMaps = dict[str, list[torch.Tensor]]
ATTENTION_MODES = ("both", "fine", "coarse")


class Squeeze(nn.Sequential):
    """1x1 conv-BN-ReLU to k channels, then 3x3 conv-BN-ReLU."""

    def __init__(self, in_ch: int, k: int) -> None:
        super().__init__(ConvBNReLU(in_ch, k, 1), ConvBNReLU(k, k, 3))


class Gate(nn.Sequential):
    """sigmoid(BN(1x1 conv)) turning an attention product into a per-channel, per-pixel gate in (0, 1)."""

    def __init__(self, k: int) -> None:
        super().__init__(nn.Conv2d(k, k, 1, bias=False), nn.BatchNorm2d(k), nn.Sigmoid())


class UpBlock(nn.Sequential):
    """ConvTranspose2d (stride 1: kernel 3; stride 2: kernel 4) -> BN -> ReLU."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        if stride not in (1, 2):
            raise ValueError(f"decoder stride must be 1 or 2, got {stride}")
        kernel = 3 if stride == 1 else 4
        super().__init__(
            nn.ConvTranspose2d(in_ch, out_ch, kernel, stride, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class DenseAttentionSeg(SegmentationModel):
    """DenseAttentionSeg: DeepLabv3+ encoder, squeezed 6-level dense fine/coarse attention, 6-deconv decoder."""

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
        k: int = 64,
        head_channels: int | None = None,
        attention: bool = True,
        attention_mode: str = "both",
    ) -> None:
        super().__init__()
        if attention_mode not in ATTENTION_MODES:
            raise ConfigError(f"attention_mode must be one of {', '.join(ATTENTION_MODES)}, got {attention_mode!r}")
        self.backbone = build_backbone(backbone, in_channels, output_stride, backbone_width, pretrained_path)
        self.aspp = ASPP(self.backbone.channels[4], aspp_channels, aspp_rates(output_stride))
        self.stride = output_stride
        self.attention = attention
        self.use_fine = attention and attention_mode in ("both", "fine")
        self.use_coarse = attention and attention_mode in ("both", "coarse")
        self.level_strides = [*self.backbone.strides, output_stride]
        level_channels = [*self.backbone.channels, aspp_channels]
        self.squeeze = nn.ModuleList(Squeeze(c, k) for c in level_channels)
        n = len(level_channels)
        if self.use_fine:
            self.fine_gates = nn.ModuleList(Gate(k) for _ in range(1, n))  # levels 1..5
        if self.use_coarse:
            self.coarse_gates = nn.ModuleList(Gate(k) for _ in range(n - 1))  # levels 0..4
        s = self.level_strides
        self.up = nn.ModuleList(UpBlock(k, k, s[i + 1] // s[i]) for i in range(n - 1))  # up[i]: level i+1 -> i
        head_channels = head_channels or max(k // 4, 1)
        self.head_up = UpBlock(k, head_channels, s[0])
        self.classifier = nn.Conv2d(head_channels, num_classes, 1)

    def _gated_skips(
        self, squeezed: list[torch.Tensor], want_maps: bool
    ) -> tuple[list[torch.Tensor], AttentionMaps | None]:
        """Apply dense fine/coarse attention to the squeezed levels; optionally return the gates' channel means."""
        n = len(squeezed)
        fine_gate: list[torch.Tensor | None] = [None] * n
        coarse_gate: list[torch.Tensor | None] = [None] * n
        product = squeezed[0]
        for i in range(1, n if self.use_fine else 1):
            fine = resize(product, squeezed[i].shape[-2:])
            fine_gate[i] = self.fine_gates[i - 1](fine)
            if i < n - 1:
                product = fine * squeezed[i]
        product = squeezed[n - 1]
        for i in range(n - 2 if self.use_coarse else -1, -1, -1):
            coarse = resize(product, squeezed[i].shape[-2:])
            coarse_gate[i] = self.coarse_gates[i](coarse)
            if i > 0:
                product = coarse * squeezed[i]
        skips = []
        for s, gf, gc in zip(squeezed, fine_gate, coarse_gate):
            if gf is not None:
                s = s * gf
            if gc is not None:
                s = s * gc
            skips.append(s)
        if not want_maps:
            return skips, None
        maps: AttentionMaps = {
            "fine": [_mean_or_ones(g, s) for g, s in zip(fine_gate, squeezed)],
            "coarse": [_mean_or_ones(g, s) for g, s in zip(coarse_gate, squeezed)],
        }
        return skips, maps

    def _forward(self, x: torch.Tensor, want_maps: bool = False) -> tuple[torch.Tensor, AttentionMaps | None]:
        feats = self.backbone(x)
        feats.append(self.aspp(feats[4]))
        squeezed = [sq(f) for sq, f in zip(self.squeeze, feats)]
        maps = None
        if self.attention:
            skips, maps = self._gated_skips(squeezed, want_maps)
        else:
            skips = squeezed
        y = skips[-1]
        for i in range(len(skips) - 2, -1, -1):
            y = self.up[i](y) + skips[i]
        return self.classifier(self.head_up(y)), maps

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x)[0]

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, AttentionMaps]:
        """Logits N x classes x H x W; with return_attention also the per-level fine/coarse gate maps."""
        h, w = x.shape[-2:]
        logits, maps = self._forward(pad_to_multiple(x, self.stride), return_attention)
        logits = logits[..., :h, :w]
        if not return_attention:
            return logits
        if maps is None:
            ones = [x.new_ones(x.shape[0], 1, -(-h // s), -(-w // s)) for s in self.level_strides]
            return logits, {"fine": ones, "coarse": list(ones)}
        crop = {
            key: [m[..., : -(-h // s), : -(-w // s)] for m, s in zip(values, self.level_strides)]
            for key, values in maps.items()
        }
        return logits, crop


def _mean_or_ones(gate: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """Channel mean of a gate, or ones shaped like one channel of `like` where there is no gate."""
    if gate is None:
        return like.new_ones(like.shape[0], 1, *like.shape[-2:])
    return gate.mean(dim=1, keepdim=True)


# Variants are registry entries with fixed options, not functions of their own.
register_model(
    "dense_attention_seg",
    attention=True,
    description="DenseAttentionSeg: DeepLabv3+ encoder, dense fine/coarse attention on 6 levels, 6-deconv decoder.",
)(DenseAttentionSeg)
register_model(
    "dense_attention_seg_noattn",
    attention=False,
    description="DenseAttentionSeg ablation: the same squeezes and decoder with ungated skips.",
)(DenseAttentionSeg)
