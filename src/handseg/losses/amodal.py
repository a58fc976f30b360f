"""Amodal part losses: one loss per hand on its 17 channels, summed over the two hands."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from handseg.data.format import NUM_PARTS
from handseg.errors import ConfigError, DataError


class AmodalLoss(nn.Module):
    """loss = L(logits[:, 0:K], target[:, 0]) + L(logits[:, K:2K], target[:, 1]), K = num_parts + 1.

    logits N x 2K x H x W (left hand channels 0..K-1: 0 none, 1..num_parts parts; right hand K..2K-1), target
    N x 2 x H x W int64 (left, right; 255 ignored). The two hand losses are summed (reduction="sum", default)
    or averaged (reduction="mean"). `base` is a single-hand loss module (CE or Dice+CE).
    """

    def __init__(self, base: nn.Module, num_parts: int = NUM_PARTS, reduction: str = "sum") -> None:
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ConfigError(f"amodal loss: reduction must be 'sum' or 'mean', got {reduction!r}")
        if num_parts < 1:
            raise ConfigError(f"amodal loss: num_parts must be >= 1, got {num_parts}")
        self.base = base
        self.num_parts = num_parts
        self.reduction = reduction

    def per_hand(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(left loss, right loss)."""
        k = self.num_parts + 1
        if logits.ndim != 4 or logits.shape[1] != 2 * k:
            raise DataError(None, f"amodal loss: logits must be N x {2 * k} x H x W, got {tuple(logits.shape)}")
        if target.ndim != 4 or target.shape[1] != 2:
            raise DataError(None, f"amodal loss: target must be N x 2 x H x W, got {tuple(target.shape)}")
        return self.base(logits[:, :k], target[:, 0]), self.base(logits[:, k:], target[:, 1])

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        left, right = self.per_hand(logits, target)
        total = left + right
        return total if self.reduction == "sum" else total / 2


def amodal_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split kwargs into (AmodalLoss kwargs, base-loss kwargs)."""
    outer = {k: kwargs.pop(k) for k in ("num_parts", "reduction") if k in kwargs}
    return outer, kwargs
