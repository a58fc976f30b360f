"""Top-k cross-entropy: the mean CE of the k% hardest valid pixels."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from handseg.data.format import IGNORE_INDEX
from handseg.errors import ConfigError
from handseg.losses.ce import pixel_ce
from handseg.losses.common import CheckedLoss, check_weights, class_weights, zero_loss


class TopKCrossEntropyLoss(CheckedLoss):
    """Top-k CE: mean of the K largest values of l_i = w_{y_i} * -log p_{i, y_i} over the valid pixels of the batch.

    K = max(1, ceil(k / 100 * number of pixels != ignore)); k in (0, 100] (percent, default 10);
    weights default None (l_i unweighted). 0 when every pixel is ignored.
    """

    name = "topk_ce"

    def __init__(
        self, k: float = 10.0, weights: Sequence[float] | None = None, ignore_index: int = IGNORE_INDEX
    ) -> None:
        super().__init__()
        if not 0 < k <= 100:
            raise ConfigError(f"topk_ce: k is a percentage in (0, 100], got {k}")
        self.k = float(k)
        self.ignore_index = ignore_index
        self.register_buffer("weights", class_weights(weights, "topk_ce"), persistent=False)

    def check(self, logits: torch.Tensor) -> None:
        check_weights(self.weights, logits.shape[1], "topk_ce")

    def compute(self, logits: torch.Tensor, valid: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
        values = pixel_ce(logits, safe, self.weights)[valid]
        if values.numel() == 0:
            return zero_loss(logits)
        count = max(1, math.ceil(self.k / 100.0 * values.numel()))
        return torch.topk(values, count, sorted=False).values.mean()
