"""Class-weighted softmax cross-entropy (the paper's 1/5/5 weights by default)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from handseg.data.format import IGNORE_INDEX
from handseg.losses.common import CheckedLoss, check_weights, class_weights, zero_loss

PAPER_WEIGHTS = (1.0, 5.0, 5.0)


def pixel_ce(logits: torch.Tensor, safe: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Per-pixel w_{y} * -log softmax(logits)_{y} as N x H x W float32 (no reduction)."""
    w = None if weights is None else weights.to(logits.device)
    return F.cross_entropy(logits.float(), safe, weight=w, reduction="none")


class CrossEntropyLoss(CheckedLoss):
    """Weighted softmax cross-entropy: sum_i w_{y_i} * -log p_{i, y_i} / sum_i w_{y_i} over pixels i != ignore.

    p = softmax(logits) over channels; weights w default to the paper's (1, 5, 5) for background/hand/object;
    weights=None gives the plain mean. Computed in float32 (safe under AMP); 0 when every pixel is ignored.
    """

    name = "ce"

    def __init__(self, weights: Sequence[float] | None = PAPER_WEIGHTS, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.register_buffer("weights", class_weights(weights, "ce"), persistent=False)

    def check(self, logits: torch.Tensor) -> None:
        check_weights(self.weights, logits.shape[1], "ce")

    def compute(self, logits: torch.Tensor, valid: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
        if not bool(valid.any()):
            return zero_loss(logits)
        per_pixel = pixel_ce(logits, safe, self.weights) * valid
        if self.weights is None:
            denom = valid.sum().float()
        else:
            denom = (self.weights.to(logits.device)[safe] * valid).sum()
        return per_pixel.sum() / denom.clamp_min(1e-12)
