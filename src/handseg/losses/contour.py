"""Contour loss: L2 between blurred Sobel edge maps of the predicted and true non-background channels."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from handseg.data.format import IGNORE_INDEX
from handseg.errors import ConfigError
from handseg.losses.ce import PAPER_WEIGHTS, CrossEntropyLoss
from handseg.losses.common import CheckedLoss, one_hot, zero_loss

SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))  # = outer(SMOOTH_TAPS, DIFF_TAPS)
SMOOTH_TAPS = (1.0, 2.0, 1.0)
DIFF_TAPS = (-1.0, 0.0, 1.0)
GAUSS_SIZE = 5
GAUSS_SIGMA = 2.121
EDGE_EPS = 1e-6
# Sobel (3x3) then Gaussian (5x5): an output pixel sees inputs up to this many pixels away.
REACH = 1 + GAUSS_SIZE // 2


def gaussian_taps(size: int = GAUSS_SIZE, sigma: float = GAUSS_SIGMA) -> tuple[float, ...]:
    """Normalised 1-D Gaussian taps g(x) = exp(-x^2 / (2 sigma^2)) / sum; the 2-D kernel is their outer product."""
    r = [i - (size - 1) / 2 for i in range(size)]
    g = [math.exp(-(x * x) / (2 * sigma * sigma)) for x in r]
    return tuple(v / sum(g) for v in g)


def _filter1d(x: torch.Tensor, taps: Sequence[float], dim: int) -> torch.Tensor:
    """Correlate x (N x C x H x W) with 1-D taps along dim 2 (H) or 3 (W), replicate padding, same size out.

    Written as a weighted sum of shifted slices: the same result as a fixed depthwise conv2d, several times faster
    on the CPU, differentiable, and with no parameters.
    """
    r = len(taps) // 2
    pad = (r, r, 0, 0) if dim == 3 else (0, 0, r, r)
    xp = F.pad(x, pad, mode="replicate")
    length = x.shape[dim]
    out = None
    for i, w in enumerate(taps):
        if w == 0:
            continue
        term = xp.narrow(dim, i, length)
        term = term if w == 1 else term * w
        out = term if out is None else out + term
    assert out is not None
    return out


def sobel_edges(x: torch.Tensor, eps: float = EDGE_EPS) -> torch.Tensor:
    """Edge magnitude per channel: sqrt(gx^2 + gy^2 + eps) with gx = Sobel_x * x, gy = Sobel_x^T * x.

    Sobel_x = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] (unnormalised, as cv2.Sobel ksize=3; applied as the separable
    [1, 2, 1]^T (x) [-1, 0, 1]), replicate padding, so a 0 -> 1 step gives magnitude 4 and a constant map gives
    sqrt(eps) (eps keeps the gradient of sqrt finite).
    """
    gx = _filter1d(_filter1d(x, SMOOTH_TAPS, 2), DIFF_TAPS, 3)
    gy = _filter1d(_filter1d(x, SMOOTH_TAPS, 3), DIFF_TAPS, 2)
    return torch.sqrt(gx * gx + gy * gy + eps)


def contour_map(x: torch.Tensor, eps: float = EDGE_EPS) -> torch.Tensor:
    """Gaussian-blurred (5x5, sigma 2.121, separable) Sobel edge magnitude of every channel of x (N x C x H x W)."""
    taps = gaussian_taps()
    return _filter1d(_filter1d(sobel_edges(x, eps), taps, 2), taps, 3)


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
    if bool(valid.all()):
        return diff.mean()
    # keep = no invalid pixel in the (2 REACH + 1)^2 window: a separable box sum of the invalid mask is 0.
    box = (1.0,) * (2 * REACH + 1)
    near_invalid = _filter1d(_filter1d((~valid).float().unsqueeze(1), box, 2), box, 3)
    keep = (near_invalid < 0.5).float()
    kept = keep.sum() * diff.shape[1]
    if kept.item() == 0:
        return zero_loss(probs)
    return (diff * keep).sum() / kept


class ContourLoss(CheckedLoss):
    """Contour loss: mean_{c >= 1, i kept} (B(E(softmax(logits)_c)) - B(E(onehot(y)_c)))_i^2.

    E = per-channel Sobel magnitude sqrt(gx^2 + gy^2 + eps), B = 5x5 Gaussian with sigma 2.121, both fixed
    (no parameters, replicate padding, plain tensor ops, so CPU, GPU and AMP all work), over the non-background
    channels c = 1..C-1 only. Pixels labelled ignore_index and every pixel within 3 px of one are left out
    (see contour_loss_from_probs). Computed in float32.
    """

    name = "contour"

    def __init__(self, ignore_index: int = IGNORE_INDEX, eps: float = EDGE_EPS) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.eps = eps

    def check(self, logits: torch.Tensor) -> None:
        if logits.shape[1] < 2:
            raise ConfigError("contour: needs at least 2 classes (background + one more)")

    def compute(self, logits: torch.Tensor, valid: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
        c = logits.shape[1]
        probs = torch.softmax(logits.float(), dim=1)
        # Ignored pixels set to 0 in both maps: only to keep values finite, they are masked out anyway.
        probs = probs * valid.unsqueeze(1)
        hot = one_hot(safe, valid, c, probs.dtype)
        return contour_loss_from_probs(probs[:, 1:], hot[:, 1:], valid, self.eps)


class CEContourLoss(CheckedLoss):
    """Fine-tuning loss alpha * CE + beta * contour (alpha 1, beta 0.005; CE weights default 1/5/5)."""

    name = "ce"

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 0.005,
        weights: Sequence[float] | None = PAPER_WEIGHTS,
        ignore_index: int = IGNORE_INDEX,
        eps: float = EDGE_EPS,
    ) -> None:
        super().__init__()
        if not (math.isfinite(alpha) and math.isfinite(beta)) or alpha < 0 or beta < 0:
            raise ConfigError(f"ce_contour: alpha and beta must be finite and >= 0, got {alpha}, {beta}")
        self.ignore_index = ignore_index
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.ce = CrossEntropyLoss(weights=weights, ignore_index=ignore_index)
        self.contour = ContourLoss(ignore_index=ignore_index, eps=eps)

    def check(self, logits: torch.Tensor) -> None:
        self.ce.check(logits)
        self.contour.check(logits)

    def compute(self, logits: torch.Tensor, valid: torch.Tensor, safe: torch.Tensor) -> torch.Tensor:
        ce, contour = self.ce.compute(logits, valid, safe), self.contour.compute(logits, valid, safe)
        return self.alpha * ce + self.beta * contour
