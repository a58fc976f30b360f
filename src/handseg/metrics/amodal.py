"""Amodal hand-part mIoU: per image and hand, parts 1..16 with at least 20 true pixels, nanmean of nanmeans."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from handseg.errors import DataError
from handseg.metrics.confusion import labels_from_logits

HANDS = ("left", "right")


def _part_ious(hist: np.ndarray, min_pixels: int) -> np.ndarray:
    """IoU of parts 1..K from (..., K+1, K+1) confusion matrices; NaN where a part has < min_pixels true pixels."""
    hist = hist.astype(np.float64)
    inter = np.diagonal(hist, axis1=-2, axis2=-1)[..., 1:]
    true = hist.sum(axis=-1)[..., 1:]
    pred = hist.sum(axis=-2)[..., 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (true + pred - inter)
    return np.where(true >= min_pixels, iou, np.nan)


def amodal_part_iou(pred_hand: Any, target_hand: Any, min_pixels: int = 20, num_parts: int = 16) -> np.ndarray:
    """IoU of parts 1..num_parts of one hand in one image (H x W label maps 0..num_parts; target 255 ignored).

    IoU_k = |pred == k and true == k| / |pred == k or true == k| over non-ignored pixels; a part with fewer than
    min_pixels true pixels is NaN, also when it was predicted (it is neither rewarded nor penalised).
    """
    p = torch.as_tensor(np.asarray(pred_hand) if not isinstance(pred_hand, torch.Tensor) else pred_hand)
    t = torch.as_tensor(np.asarray(target_hand) if not isinstance(target_hand, torch.Tensor) else target_hand)
    if p.shape != t.shape or p.ndim != 2:
        raise DataError(None, f"amodal_part_iou needs two H x W part maps, got {tuple(p.shape)} and {tuple(t.shape)}")
    hist = _confusions(p[None, None], t[None, None], num_parts)
    return _part_ious(hist[0, 0], min_pixels)


def _confusions(pred: torch.Tensor, target: torch.Tensor, num_parts: int) -> np.ndarray:
    """(N, 2, K+1, K+1) confusion matrices of part maps N x 2 x H x W, one bincount; target 255 ignored.

    index = image_hand * 256 * K1 + target * K1 + pred (K1 = K + 1, pred checked to lie in 0..K): every target value
    0..255 gets its own row, so the ignore row (255) is dropped and other rows >= K1 are reported as bad labels.
    """
    k = num_parts + 1
    n, hands = target.shape[:2]
    pred, target = pred.to(target.device).long(), target.long()
    if pred.numel() == 0:
        return np.zeros((n, hands, k, k), dtype=np.int64)
    lo, hi = (int(v) for v in torch.aminmax(pred))
    if lo < 0 or hi >= k:
        raise DataError(None, f"predicted part labels must be in 0..{num_parts}, got {lo}..{hi}")
    t_lo, t_hi = (int(v) for v in torch.aminmax(target))
    if t_lo < 0 or t_hi > 255:
        raise DataError(None, f"target part labels must be in 0..{num_parts} or 255, got {t_lo}..{t_hi}")
    offset = torch.arange(n * hands, device=target.device, dtype=target.dtype).view(n, hands, 1, 1) * (256 * k)
    index = torch.add(pred, target, alpha=k).add_(offset).reshape(-1)
    counts = torch.bincount(index, minlength=n * hands * 256 * k).view(n, hands, 256, k)
    hist = counts[:, :, :k]
    if int(counts.sum() - hist.sum() - counts[:, :, 255].sum()) != 0:
        raise DataError(None, f"target part labels must be in 0..{num_parts} or 255, found values in {k}..254")
    return hist.cpu().numpy()


def _nanmean(values: np.ndarray, axis: int | None = None) -> Any:
    """nanmean without the empty-slice warning (all-NaN gives NaN)."""
    values = np.asarray(values, dtype=np.float64)
    kept = (~np.isnan(values)).sum(axis=axis)
    total = np.nansum(values, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(kept > 0, total / kept, np.nan)


class AmodalPartIoU:
    """Streaming amodal part mIoU (per image, per hand, parts 1..num_parts, min_pixels rule).

    Per image-hand: m = nanmean_k IoU_k (NaN when no part has min_pixels true pixels). miou = nanmean of m over
    all image-hands (NaN image-hands skipped); miou_left / miou_right over one hand; per_part[k] = nanmean over
    image-hands of IoU_k.
    """

    def __init__(self, num_parts: int = 16, min_pixels: int = 20) -> None:
        self.num_parts = num_parts
        self.min_pixels = min_pixels
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        self._ious: list[np.ndarray] = []  # one (N, 2, num_parts) array per update
        self._ids: list[str] = []
        self._gathered: tuple[list[np.ndarray], list[str]] | None = None  # every rank's, after sync()

    def update(self, pred: Any, target: Any, ids: Sequence[str] | None = None) -> None:
        """Add part maps pred, target N x 2 x H x W (ints 0..num_parts); pred may be logits N x 2(K+1) x H x W."""
        k = self.num_parts + 1
        pred = torch.as_tensor(pred)
        target = torch.as_tensor(target)
        if pred.is_floating_point():
            if pred.ndim != 4 or pred.shape[1] != 2 * k:
                raise DataError(None, f"AmodalPartIoU: logits must be N x {2 * k} x H x W, got {tuple(pred.shape)}")
            pred = torch.stack([labels_from_logits(pred[:, :k]), labels_from_logits(pred[:, k:])], dim=1)
        if pred.shape != target.shape or target.ndim != 4 or target.shape[1] != 2:
            raise DataError(
                None, f"AmodalPartIoU: pred {tuple(pred.shape)} and target {tuple(target.shape)} must be N x 2 x H x W"
            )
        names = list(ids) if ids is not None else [str(len(self._ids) + i) for i in range(target.shape[0])]
        if len(names) != target.shape[0]:
            raise DataError(None, f"AmodalPartIoU: {len(names)} ids for {target.shape[0]} images")
        ious = _part_ious(_confusions(pred, target, self.num_parts), self.min_pixels)
        self._ious.append(ious)
        self._ids += names
        self._gathered = None

    def sync(self, fabric: Any = None) -> AmodalPartIoU:
        """Gather every DDP rank's per-image IoUs (rank order) when torch.distributed runs; no-op otherwise.

        `fabric` is accepted for symmetry with ConfusionMatrix.sync; Fabric's DDP initialises torch.distributed.
        Calling it again re-gathers the local results, never the gathered ones.
        """
        dist = torch.distributed
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            self._gathered = None
            return self
        parts: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, (self._ious, self._ids))
        self._gathered = ([a for ious, _ in parts for a in ious], [i for _, ids in parts for i in ids])
        return self

    def compute(self) -> dict[str, Any]:
        """miou, miou_left, miou_right, per_part (num_parts values), per_image [{id, left, right}], images."""
        all_ious, all_ids = self._gathered if self._gathered is not None else (self._ious, self._ids)
        ious = np.concatenate(all_ious) if all_ious else np.full((0, 2, self.num_parts), np.nan)
        per_hand = _nanmean(ious, axis=2)  # (images, 2)
        return {
            "miou": float(_nanmean(per_hand)),
            "miou_left": float(_nanmean(per_hand[:, 0])),
            "miou_right": float(_nanmean(per_hand[:, 1])),
            "per_part": [float(v) for v in _nanmean(ious.reshape(-1, self.num_parts), axis=0)],
            "per_image": [{"id": i, "left": float(lr[0]), "right": float(lr[1])} for i, lr in zip(all_ids, per_hand)],
            "images": len(all_ids),
            "valid_image_hands": int((~np.isnan(per_hand)).sum()),
        }
