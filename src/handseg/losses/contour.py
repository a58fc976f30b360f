"""Contour loss: L2 between blurred Sobel edge maps of the predicted and true non-background channels."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from handseg.errors import ConfigError
from handseg.losses.ce import PAPER_WEIGHTS, CrossEntropyLoss
from handseg.losses.common import check_inputs, one_hot, valid_target, zero_loss

SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
GAUSS_SIZE = 5
GAUSS_SIGMA = 2.121
EDGE_EPS = 1e-6
# Sobel (3x3) then Gaussian (5x5): an output pixel sees inputs up to this many pixels away.
REACH = 1 + GAUSS_SIZE // 2


def gaussian_kernel(size: int = GAUSS_SIZE, sigma: float = GAUSS_SIGMA) -> torch.Tensor:
    """Normalised 2-D Gaussian size x size: g(x, y) = exp(-(x^2 + y^2) / (2 sigma^2)) / sum."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g1 = torch.exp(-(r**2) / (2 * sigma**2))
    g2 = torch.outer(g1, g1)
    return (g2 / g2.sum()).float()


def _depthwise(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve every channel of x with one 2-D kernel, replicate padding (same size out)."""
    c = x.shape[1]
    k = kernel.to(device=x.device, dtype=x.dtype).expand(c, 1, *kernel.shape)
    pad = kernel.shape[-1] // 2
    return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), k, groups=c)


def sobel_edges(x: torch.Tensor, eps: float = EDGE_EPS) -> torch.Tensor:
    """Edge magnitude per channel: sqrt(gx^2 + gy^2 + eps) with gx = Sobel_x * x, gy = Sobel_x^T * x.

    Sobel_x = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] (unnormalised, as cv2.Sobel ksize=3), replicate padding,
    so a 0 -> 1 step gives magnitude 4 and a constant map gives sqrt(eps) (eps keeps the gradient finite).
    """
    kx = torch.tensor(SOBEL_X)
    gx = _depthwise(x, kx)
    gy = _depthwise(x, kx.t().contiguous())
    return torch.sqrt(gx * gx + gy * gy + eps)


def contour_map(x: torch.Tensor, eps: float = EDGE_EPS) -> torch.Tensor:
    """Gaussian-blurred (5x5, sigma 2.121) Sobel edge magnitude of every channel of x (N x C x H x W)."""
    return _depthwise(sobel_edges(x, eps), gaussian_kernel())


def contour_loss_from_probs(
    probs: torch.Tensor, target_onehot: torch.Tensor, valid: torch.Tensor | None = None, eps: float = EDGE_EPS
) -> torch.Tensor:
    """Contour term on given maps: mean over channels and kept pixels of (B(E(probs)) - B(E(target_onehot)))^2.

    probs and target_onehot are N x K x H x W (the channels to compare, e.g. the non-background ones); E is
    sobel_edges, B the 5x5 Gaussian. A pixel is kept when no pixel within REACH (3 px, the 7x7 window that
    Sobel + Gaussian read) is invalid, so ignored pixels have no influence at all. 0 when nothing is kept.
    """
    diff = (contour_map(probs.float(), eps) - contour_map(target_onehot.float(), eps)) ** 2
    if valid is None:
        return diff.mean()
    invalid = (~valid).float().unsqueeze(1)
    keep = 1.0 - F.max_pool2d(invalid, kernel_size=2 * REACH + 1, stride=1, padding=REACH)
    kept = keep.sum() * diff.shape[1]
    if kept.item() == 0:
        return zero_loss(probs)
    return (diff * keep).sum() / kept


class ContourLoss(nn.Module):
    """Contour loss: mean_{c >= 1, i kept} (B(E(softmax(logits)_c)) - B(E(onehot(y)_c)))_i^2.

    E = per-channel Sobel magnitude sqrt(gx^2 + gy^2 + eps), B = 5x5 Gaussian with sigma 2.121, both fixed
    (no parameters, replicate padding), over the non-background channels c = 1..C-1 only. Pixels labelled
    ignore_index and every pixel within 3 px of one are left out (see contour_loss_from_probs). float32 inside.
    """

    def __init__(self, ignore_index: int = 255, eps: float = EDGE_EPS) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.eps = eps

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_inputs(logits, target, "contour")
        c = logits.shape[1]
        if c < 2:
            raise ConfigError("contour: needs at least 2 classes (background + one more)")
        valid, safe = valid_target(target, c, self.ignore_index)
        probs = torch.softmax(logits.float(), dim=1)
        # Ignored pixels set to 0 in both maps: only to keep values finite, they are masked out anyway.
        probs = probs * valid.unsqueeze(1)
        hot = one_hot(safe, valid, c, probs.dtype)
        return contour_loss_from_probs(probs[:, 1:], hot[:, 1:], valid, self.eps)


class CEContourLoss(nn.Module):
    """Fine-tuning loss alpha * CE + beta * contour (alpha 1, beta 0.005; CE weights default 1/5/5)."""

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 0.005,
        weights: Sequence[float] | None = PAPER_WEIGHTS,
        ignore_index: int = 255,
        eps: float = EDGE_EPS,
    ) -> None:
        super().__init__()
        if not (math.isfinite(alpha) and math.isfinite(beta)) or alpha < 0 or beta < 0:
            raise ConfigError(f"ce_contour: alpha and beta must be finite and >= 0, got {alpha}, {beta}")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.ce = CrossEntropyLoss(weights=weights, ignore_index=ignore_index)
        self.contour = ContourLoss(ignore_index=ignore_index, eps=eps)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.alpha * self.ce(logits, target) + self.beta * self.contour(logits, target)
