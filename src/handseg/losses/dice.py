"""Soft multi-class Dice and Dice + cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from handseg.data.format import IGNORE_INDEX
from handseg.errors import ConfigError
from handseg.losses.ce import CrossEntropyLoss
from handseg.losses.common import CheckedLoss, one_hot

SMOOTH = 1e-5


def soft_overlaps(
    logits: torch.Tensor, valid: torch.Tensor, safe: torch.Tensor, include_background: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per class c: (I_c = sum_i p_ic y_ic, P_c = sum_i p_ic, Y_c = sum_i y_ic) over valid pixels of the batch."""
    c = logits.shape[1]
    probs = torch.softmax(logits.float(), dim=1) * valid.unsqueeze(1)
    hot = one_hot(safe, valid, c, probs.dtype)
    if not include_background:
        probs, hot = probs[:, 1:], hot[:, 1:]
    dims = (0, 2, 3)
    return (probs * hot).sum(dims), probs.sum(dims), hot.sum(dims)


class DiceLoss(CheckedLoss):
    """Soft Dice: 1 - mean_c (2 I_c + s) / (P_c + Y_c + s), p = softmax(logits), y = one-hot target.

    I_c = sum_i p_ic y_ic, P_c = sum_i p_ic, Y_c = sum_i y_ic over the pixels i != ignore of the whole batch;
    s = smooth (default 1e-5); classes c = 0..C-1, or 1..C-1 with include_background=False.
    """

    name = "dice"

    def __init__(
        self, smooth: float = SMOOTH, include_background: bool = True, ignore_index: int = IGNORE_INDEX
    ) -> None:
        super().__init__()
        if smooth <= 0:
            raise ConfigError(f"dice: smooth must be > 0, got {smooth}")
        self.smooth = float(smooth)
        self.include_background = include_background
        self.ignore_index = ignore_index

    def compute(self, logits: torch.Tensor, valid: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
        inter, pred, true = soft_overlaps(logits, valid, safe, self.include_background)
        dice = (2 * inter + self.smooth) / (pred + true + self.smooth)
        return 1.0 - dice.mean()


class DiceCELoss(CheckedLoss):
    """ce_weight * CE + dice_weight * Dice (both 1 by default; CE class weights default None = unweighted)."""

    name = "ce"

    def __init__(
        self,
        *,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        weights: Sequence[float] | None = None,
        smooth: float = SMOOTH,
        include_background: bool = True,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.ce_weight = float(ce_weight)
        self.dice_weight = float(dice_weight)
        self.ce = CrossEntropyLoss(weights=weights, ignore_index=ignore_index)
        self.dice = DiceLoss(smooth=smooth, include_background=include_background, ignore_index=ignore_index)

    def check(self, logits: torch.Tensor) -> None:
        self.ce.check(logits)

    def compute(self, logits: torch.Tensor, valid: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
        ce, dice = self.ce.compute(logits, valid, safe), self.dice.compute(logits, valid, safe)
        return self.ce_weight * ce + self.dice_weight * dice
