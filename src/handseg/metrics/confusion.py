"""Streaming confusion matrix and the FCN scores (pixel acc, mean acc, mean IU, f.w. IU) computed from it."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from handseg.data.format import IGNORE_INDEX, NUM_CLASSES
from handseg.errors import ConfigError, DataError

# Targets and predictions (checked to lie in 0..C-1) are combined as index = target * C + pred and counted with
# one bincount of 256 * C bins: every target value 0..255 has its own row, so the ignore row and invalid target
# labels can be told apart afterwards; larger targets make the count longer, negative ones make bincount fail.
_BINS = 256


def scores_from_confusion(hist: np.ndarray) -> dict[str, Any]:
    """FCN scores of a confusion matrix hist[i, j] = pixels of true class i predicted as j (DESIGN section 4).

    With n_ii the diagonal, t_i = sum_j n_ij (truth) and p_i = sum_j n_ji (prediction):
    pixel_acc = sum_i n_ii / sum_i t_i; acc_i = n_ii / t_i; mean_acc = nanmean_i acc_i;
    iu_i = n_ii / (t_i + p_i - n_ii); mean_iu = nanmean_i iu_i; fw_iu = sum_{i: t_i > 0} t_i * iu_i / sum_i t_i;
    miou_hand_object = nanmean(iu_1 .. iu_{C-1}) (the non-background classes: hand and object for 3 classes).
    As in FCN's score.py, 0/0 is NaN and left out of the nanmeans: acc_i of a class absent from the truth and
    iu_i of a class absent from truth and prediction (a class predicted but absent from the truth has iu_i = 0).
    An empty matrix gives NaN everywhere.
    """
    hist = np.asarray(hist, dtype=np.float64)
    if hist.ndim != 2 or hist.shape[0] != hist.shape[1]:
        raise DataError(None, f"confusion matrix must be square, got shape {hist.shape}")
    diag = np.diag(hist)
    truth = hist.sum(axis=1)
    predicted = hist.sum(axis=0)
    total = hist.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = diag / truth
        iu = diag / (truth + predicted - diag)
        pixel_acc = diag.sum() / total if total > 0 else np.nan
        present = truth > 0
        fw_iu = (truth[present] * iu[present]).sum() / total if total > 0 else np.nan
    return {
        "pixel_acc": float(pixel_acc),
        "mean_acc": _nanmean(acc),
        "mean_iu": _nanmean(iu),
        "fw_iu": float(fw_iu),
        "miou_hand_object": _nanmean(iu[1:]),
        "iu": [float(v) for v in iu],
        "acc": [float(v) for v in acc],
        "pixels": int(total),
    }


def _nanmean(values: np.ndarray) -> float:
    """Mean of the non-NaN values; NaN (without a warning) when there are none."""
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values)
    return float(values[keep].mean()) if keep.any() else float("nan")


def labels_from_logits(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Index of the largest logit along `dim` (first one on ties); max().indices is ~10x faster than argmax on CPU."""
    return logits.max(dim=dim).indices


def _as_labels(x: Any, num_classes: int, name: str) -> torch.Tensor:
    """A LongTensor/IntTensor N x H x W of labels; logits N x C x H x W are reduced by argmax over C."""
    x = torch.as_tensor(x)
    if x.is_floating_point():
        if x.ndim != 4 or x.shape[1] != num_classes:
            raise DataError(None, f"{name}: float input must be logits N x {num_classes} x H x W, got {tuple(x.shape)}")
        return labels_from_logits(x)
    if x.dtype == torch.bool or x.dtype == torch.uint8 or x.dtype == torch.int8 or x.dtype == torch.int16:
        return x.to(torch.int32)
    return x


class ConfusionMatrix:
    """Streaming num_classes x num_classes confusion matrix (true i, predicted j); pixels labelled ignore_index skipped.

    update() counts with one torch.bincount on the device of its inputs. sync() sums the matrices of all DDP ranks
    into a global matrix (idempotent: it always reduces the local counts); update() after sync() resumes local
    counting and the next sync() reduces again.
    """

    def __init__(
        self, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_INDEX, device: torch.device | str | None = None
    ):
        if not 1 <= num_classes < _BINS:
            raise ConfigError(f"ConfusionMatrix: num_classes must be in 1..{_BINS - 1}, got {num_classes}")
        if not num_classes <= ignore_index < _BINS:
            raise ConfigError(
                f"ConfusionMatrix: ignore_index must be in {num_classes}..{_BINS - 1}, got {ignore_index}"
            )
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.device = None if device is None else torch.device(device)
        self.reset()

    def reset(self) -> None:
        """Forget every count."""
        self._local: torch.Tensor | None = None
        self._synced: torch.Tensor | None = None
        if self.device is not None:
            self._local = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64, device=self.device)

    @torch.no_grad()
    def update(self, pred: Any, target: Any) -> None:
        """Add a batch: pred labels N x H x W (or logits N x C x H x W), target labels N x H x W."""
        c = self.num_classes
        pred = _as_labels(pred, c, "pred")
        target = _as_labels(target, c, "target")
        if target.is_floating_point():
            raise DataError(None, "target must hold integer labels")
        if pred.shape != target.shape:
            raise DataError(None, f"pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
        if pred.device != target.device:
            pred = pred.to(target.device)
        if pred.numel() == 0:
            return
        lo, hi = torch.aminmax(pred)
        if lo.item() < 0 or hi.item() >= c:
            raise DataError(None, f"predicted labels must be in 0..{c - 1}, got {lo.item()}..{hi.item()}")
        if pred.dtype != target.dtype:
            pred = pred.to(target.dtype)
        index = torch.add(pred, target, alpha=c).reshape(-1)
        try:
            counts = torch.bincount(index, minlength=_BINS * c)
        except RuntimeError as err:  # negative target labels
            raise DataError(None, f"target labels must be in 0..{c - 1} or {self.ignore_index}: {err}") from None
        if counts.numel() > _BINS * c:
            raise DataError(None, f"target labels must be in 0..{c - 1} or {self.ignore_index}, found larger values")
        full = counts.view(_BINS, c)
        hist = full[:c, :c]
        stray = counts.sum() - hist.sum() - full[self.ignore_index].sum()
        if stray.item() != 0:
            bad = torch.unique(target[(target >= c) & (target != self.ignore_index)])[:5].tolist()
            raise DataError(None, f"target labels must be in 0..{c - 1} or {self.ignore_index}, found {bad}")
        if self._local is None:
            self._local = torch.zeros(c, c, dtype=torch.int64, device=hist.device)
        elif self._local.device != hist.device:
            hist = hist.to(self._local.device)
        self._local += hist
        self._synced = None

    @torch.no_grad()
    def sync(self, fabric: Any = None) -> ConfusionMatrix:
        """Sum the matrix over DDP ranks: fabric.all_reduce if given, else torch.distributed if initialised."""
        local = self._local_or_zeros()
        if fabric is not None:
            self._synced = fabric.all_reduce(local.clone(), reduce_op="sum")
        elif torch.distributed.is_available() and torch.distributed.is_initialized():
            total = local.clone()
            torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.SUM)
            self._synced = total
        else:
            self._synced = None
        return self

    def _local_or_zeros(self) -> torch.Tensor:
        if self._local is None:
            return torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64, device=self.device)
        return self._local

    @property
    def matrix(self) -> torch.Tensor:
        """hist[i, j] = pixels of true class i predicted as j (the global sum after sync())."""
        return self._synced if self._synced is not None else self._local_or_zeros()

    def compute(self) -> dict[str, Any]:
        """The FCN scores of the current matrix (see scores_from_confusion) plus the matrix itself as a list."""
        hist = self.matrix.detach().cpu().numpy()
        scores = scores_from_confusion(hist)
        scores["confusion"] = hist.tolist()
        return scores
