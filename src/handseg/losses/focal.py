"""Focal loss (Lin et al.): cross-entropy down-weighted on easy pixels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from handseg.data.format import IGNORE_INDEX
from handseg.errors import ConfigError
from handseg.losses.common import CheckedLoss, check_weights, class_weights, zero_loss


class FocalLoss(CheckedLoss):
    """Focal loss: sum_i w_{y_i} * -(1 - p_{i,y_i})^gamma * log p_{i,y_i} / sum_i w_{y_i} over pixels i != ignore.

    gamma >= 0 (default 2; gamma = 0 is the weighted CE); weights default None (all 1). 0 when all pixels ignored.
    """

    name = "focal"

    def __init__(
        self, gamma: float = 2.0, weights: Sequence[float] | None = None, ignore_index: int = IGNORE_INDEX
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ConfigError(f"focal: gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)
        self.ignore_index = ignore_index
        self.register_buffer("weights", class_weights(weights, "focal"), persistent=False)

    def check(self, logits: torch.Tensor) -> None:
        check_weights(self.weights, logits.shape[1], "focal")

    def compute(self, logits: torch.Tensor, valid: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
        if not bool(valid.any()):
            return zero_loss(logits)
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
        focal = -((1.0 - log_p.exp()).clamp_min(0.0) ** self.gamma) * log_p
        w = valid.float()
        if self.weights is not None:
            w = w * self.weights.to(logits.device)[safe]
        return (focal * w).sum() / w.sum().clamp_min(1e-12)
