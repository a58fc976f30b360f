"""Boundary F-score at a pixel tolerance (our addition to the paper's metrics)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch

from handseg.data.format import IGNORE_INDEX
from handseg.errors import DataError
from handseg.metrics.confusion import labels_from_logits

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a binary mask: mask pixels with a 4-neighbour outside it (the image edge is not one)."""
    m = mask.astype(np.uint8)
    # cv2.erode treats the outside of the image as foreground, so the image edge does not count as a boundary.
    return (m - cv2.erode(m, _CROSS)).astype(bool)


def _distance_to(boundary: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest pixel of `boundary` (exact, cv2.DIST_MASK_PRECISE)."""
    src = np.where(boundary, 0, 255).astype(np.uint8)
    return cv2.distanceTransform(src, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def boundary_counts(
    pred: np.ndarray, target: np.ndarray, cls: int, tol: float = 2, ignore_index: int = IGNORE_INDEX
) -> tuple[int, int, int, int]:
    """(matched predicted, predicted, matched true, true) boundary pixels of class `cls` at distance <= tol.

    Boundary pixels are those of boundary_map(labels == cls); a predicted one is matched when a true boundary pixel
    lies within Euclidean distance tol, and the other way round. Boundary pixels lying on ignored target pixels
    are not counted (neither predicted nor true).
    """
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.shape != target.shape or pred.ndim != 2:
        raise DataError(None, f"boundary F-score needs two H x W label maps, got {pred.shape} and {target.shape}")
    keep = target != ignore_index
    pb = boundary_map(pred == cls) & keep
    tb = boundary_map(target == cls) & keep
    n_pred, n_true = int(pb.sum()), int(tb.sum())
    if n_pred == 0 or n_true == 0:
        return 0, n_pred, 0, n_true
    matched_pred = int((_distance_to(tb)[pb] <= tol).sum())
    matched_true = int((_distance_to(pb)[tb] <= tol).sum())
    return matched_pred, n_pred, matched_true, n_true


def f_from_counts(matched_pred: int, n_pred: int, matched_true: int, n_true: int) -> tuple[float, float, float]:
    """(F, precision, recall) with P = matched_pred / n_pred, R = matched_true / n_true, F = 2PR / (P + R).

    NaN for all three when neither side has a boundary pixel; when only one side has some, F = 0 (the
    undefined one of P and R is NaN).
    """
    if n_pred == 0 and n_true == 0:
        return float("nan"), float("nan"), float("nan")
    precision = matched_pred / n_pred if n_pred else float("nan")
    recall = matched_true / n_true if n_true else float("nan")
    if n_pred == 0 or n_true == 0 or precision + recall == 0:
        return 0.0, precision, recall
    return 2 * precision * recall / (precision + recall), precision, recall


def boundary_fscore(pred: Any, target: Any, cls: int, tol: float = 2, ignore_index: int = IGNORE_INDEX) -> float:
    """Boundary F-score of class `cls` between two H x W label maps at a tol-pixel tolerance (NaN: no boundary)."""
    return f_from_counts(*boundary_counts(_numpy(pred), _numpy(target), cls, tol, ignore_index))[0]


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class BoundaryFScore:
    """Streaming boundary F-score: matched/total boundary counts of each class summed over frames, F at the end."""

    def __init__(self, classes: Sequence[int] = (1, 2), tol: float = 2, ignore_index: int = IGNORE_INDEX) -> None:
        self.classes = tuple(int(c) for c in classes)
        self.tol = tol
        self.ignore_index = ignore_index
        self.reset()

    def reset(self) -> None:
        """Forget every count."""
        self.counts = np.zeros((len(self.classes), 4), dtype=np.int64)

    def update(self, pred: Any, target: Any) -> None:
        """Add label maps N x H x W or H x W (pred may be logits N x C x H x W)."""
        pred = labels_from_logits(pred) if isinstance(pred, torch.Tensor) and pred.is_floating_point() else pred
        p, t = _numpy(pred), _numpy(target)
        if p.ndim == 2:
            p, t = p[None], t[None]
        if p.shape != t.shape or p.ndim != 3:
            raise DataError(None, f"BoundaryFScore: pred {p.shape} and target {t.shape} must be N x H x W")
        for pi, ti in zip(p, t):
            for k, cls in enumerate(self.classes):
                self.counts[k] += boundary_counts(pi, ti, cls, self.tol, self.ignore_index)

    def compute(self) -> dict[str, Any]:
        """classes, f / precision / recall per class (lists) and mean_f (nanmean of f)."""
        fpr = [f_from_counts(*map(int, row)) for row in self.counts]
        f = [v[0] for v in fpr]
        kept = [v for v in f if not np.isnan(v)]
        return {
            "classes": list(self.classes),
            "tol": self.tol,
            "f": f,
            "precision": [v[1] for v in fpr],
            "recall": [v[2] for v in fpr],
            "mean_f": float(np.mean(kept)) if kept else float("nan"),
        }
