"""Shared checks for every loss: logits/target shapes, the ignore mask, one-hot targets."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

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
    """(valid mask N x H x W bool, target with ignored pixels set to 0 as int64); rejects labels outside 0..C-1."""
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target)).long()
    if safe.numel() and (safe.min().item() < 0 or safe.max().item() >= num_classes):
        raise DataError(None, f"target labels must be in 0..{num_classes - 1} or {ignore_index}")
    return valid, safe


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
