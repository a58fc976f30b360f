"""Soft Jaccard (IoU) loss, no Lovasz extension."""

from __future__ import annotations

import torch

from handseg.data.format import IGNORE_INDEX
from handseg.errors import ConfigError
from handseg.losses.common import CheckedLoss
from handseg.losses.dice import SMOOTH, soft_overlaps


class JaccardLoss(CheckedLoss):
    """Soft Jaccard: 1 - mean_c (I_c + s) / (P_c + Y_c - I_c + s), with I, P, Y as in DiceLoss (batch sums).

    p = softmax(logits), y = one-hot target, pixels labelled ignore_index left out; s = smooth (default 1e-5).
    """

    name = "jaccard"

    def __init__(
        self, smooth: float = SMOOTH, include_background: bool = True, ignore_index: int = IGNORE_INDEX
    ) -> None:
        super().__init__()
        if smooth <= 0:
            raise ConfigError(f"jaccard: smooth must be > 0, got {smooth}")
        self.smooth = float(smooth)
        self.include_background = include_background
        self.ignore_index = ignore_index

    def compute(self, logits: torch.Tensor, valid: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
        inter, pred, true = soft_overlaps(logits, valid, safe, self.include_background)
        return 1.0 - ((inter + self.smooth) / (pred + true - inter + self.smooth)).mean()
