"""Soft multi-class Dice and Dice + cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from handseg.errors import ConfigError
from handseg.losses.ce import CrossEntropyLoss
from handseg.losses.common import check_inputs, one_hot, valid_target

SMOOTH = 1e-5


def soft_overlaps(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int, include_background: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per class c: (I_c = sum_i p_ic y_ic, P_c = sum_i p_ic, Y_c = sum_i y_ic) over valid pixels of the batch."""
    c = logits.shape[1]
    valid, safe = valid_target(target, c, ignore_index)
    probs = torch.softmax(logits.float(), dim=1) * valid.unsqueeze(1)
    hot = one_hot(safe, valid, c, probs.dtype)
    if not include_background:
        probs, hot = probs[:, 1:], hot[:, 1:]
    dims = (0, 2, 3)
    return (probs * hot).sum(dims), probs.sum(dims), hot.sum(dims)


class DiceLoss(nn.Module):
    """Soft Dice: 1 - mean_c (2 I_c + s) / (P_c + Y_c + s), p = softmax(logits), y = one-hot target.

    I_c = sum_i p_ic y_ic, P_c = sum_i p_ic, Y_c = sum_i y_ic over the pixels i != ignore of the whole batch;
    s = smooth (default 1e-5); classes c = 0..C-1, or 1..C-1 with include_background=False.
    """

    def __init__(self, smooth: float = SMOOTH, include_background: bool = True, ignore_index: int = 255) -> None:
        super().__init__()
        if smooth <= 0:
            raise ConfigError(f"dice: smooth must be > 0, got {smooth}")
        self.smooth = float(smooth)
        self.include_background = include_background
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_inputs(logits, target, "dice")
        inter, pred, true = soft_overlaps(logits, target, self.ignore_index, self.include_background)
        dice = (2 * inter + self.smooth) / (pred + true + self.smooth)
        return 1.0 - dice.mean()


class DiceCELoss(nn.Module):
    """ce_weight * CE + dice_weight * Dice (both 1 by default; CE class weights default None = unweighted)."""

    def __init__(
        self,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        weights: Sequence[float] | None = None,
        smooth: float = SMOOTH,
        include_background: bool = True,
        ignore_index: int = 255,
    ) -> None:
        super().__init__()
        self.ce_weight = float(ce_weight)
        self.dice_weight = float(dice_weight)
        self.ce = CrossEntropyLoss(weights=weights, ignore_index=ignore_index)
        self.dice = DiceLoss(smooth=smooth, include_background=include_background, ignore_index=ignore_index)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.ce_weight * self.ce(logits, target) + self.dice_weight * self.dice(logits, target)
