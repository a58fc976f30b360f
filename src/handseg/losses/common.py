"""Shared checks for every loss: logits/target shapes, the ignore mask, one-hot targets."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from handseg.data.format import IGNORE_INDEX
from handseg.errors import ConfigError, DataError


def check_inputs(logits: torch.Tensor, target: torch.Tensor, name: str) -> None:
    """Raise DataError unless logits are float N x C x H x W and target is integer N x H x W."""
    if not logits.is_floating_point() or logits.ndim != 4:
        raise DataError(None, f"{name}: logits must be float N x C x H x W, got {logits.dtype} {tuple(logits.shape)}")
    if target.is_floating_point() or target.ndim != 3:
        raise DataError(None, f"{name}: target must be integer N x H x W, got {target.dtype} {tuple(target.shape)}")
    if target.shape[0] != logits.shape[0] or target.shape[1:] != logits.shape[2:]:
        raise DataError(None, f"{name}: target {tuple(target.shape)} does not match logits {tuple(logits.shape)}")


def valid_target(target: torch.Tensor, num_classes: int, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(valid mask N x H x W bool, target with ignored pixels set to 0 as int64); rejects labels outside 0..C-1.

    The range check reads one bool back from the device: the only host sync of a loss's input checks.
    """
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target)).long()
    if safe.numel() and bool(((safe < 0) | (safe >= num_classes)).any()):
        raise DataError(None, f"target labels must be in 0..{num_classes - 1} or {ignore_index}")
    return valid, safe


class CheckedLoss(nn.Module):
    """Base of the pixel losses: forward checks logits and target once, then calls compute(logits, valid, safe).

    A loss made of others (Dice+CE, CE+contour) checks once and calls its parts' compute, so the label check and
    its host sync run once per step whatever the number of parts.
    """

    name = "loss"  # names the loss in input errors
    ignore_index: int = IGNORE_INDEX

    def check(self, logits: torch.Tensor) -> None:
        """Checks of this loss's options against the logits (class weights, channels), before the labels are read."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_inputs(logits, target, self.name)
        self.check(logits)
        valid, safe = valid_target(target, logits.shape[1], self.ignore_index)
        return self.compute(logits, valid, safe)

    def compute(self, logits: torch.Tensor, valid: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
        """The loss of checked inputs: valid = not ignored (N x H x W bool), safe = labels with ignored set to 0."""
        raise NotImplementedError


def one_hot(safe: torch.Tensor, valid: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """One-hot N x C x H x W of labels, all zeros at ignored pixels."""
    hot = F.one_hot(safe, num_classes).permute(0, 3, 1, 2).to(dtype)
    return hot * valid.unsqueeze(1).to(dtype)


def class_weights(weights: Sequence[float] | torch.Tensor | None, name: str) -> torch.Tensor | None:
    """Class weights as a float32 tensor (or None); rejects negative or empty weights."""
    if weights is None:
        return None
    w = torch.as_tensor(weights, dtype=torch.float32).flatten()
    if w.numel() == 0 or bool((w < 0).any()):
        raise ConfigError(f"{name}: class weights must be non-negative and non-empty, got {w.tolist()}")
    return w


def check_weights(weights: torch.Tensor | None, num_classes: int, name: str) -> None:
    """Raise ConfigError when the number of class weights differs from the number of logit channels."""
    if weights is not None and weights.numel() != num_classes:
        raise ConfigError(
            f"{name}: {weights.numel()} class weights for logits with {num_classes} channels "
            "(pass weights=None or one weight per class)"
        )


def zero_loss(logits: torch.Tensor) -> torch.Tensor:
    """A zero that stays in the graph (used when every pixel is ignored)."""
    return logits.float().sum() * 0.0
