"""Amodal hand-part mIoU: per image and hand, parts 1..16 with at least 20 true pixels, nanmean of nanmeans."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from handseg.data.format import IGNORE_INDEX, NUM_PARTS
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


def amodal_part_iou(pred_hand: Any, target_hand: Any, min_pixels: int = 20, num_parts: int = NUM_PARTS) -> np.ndarray:
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
    if int(counts.sum() - hist.sum() - counts[:, :, IGNORE_INDEX].sum()) != 0:
        raise DataError(None, f"target part labels must be in 0..{num_parts} or 255, found values in {k}..254")
    return hist.cpu().numpy()


def _nanmean(values: np.ndarray, axis: int | None = None) -> Any:
    """nanmean without the empty-slice warning (all-NaN gives NaN)."""
    values = np.asarray(values, dtype=np.float64)
    kept = (~np.isnan(values)).sum(axis=axis)
    total = np.nansum(values, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(kept > 0, total / kept, np.nan)


def hidden_mask(parts: Any, visible: Any) -> Any:
    """Hidden part pixels of each hand: amodal part > 0 where that hand's visible part map shows another id or 0.

    parts, visible: ... x 2 x H x W (numpy or torch, same kind); 255 in either (ignore / unknown) is never hidden.
    """
    return (parts > 0) & (parts != IGNORE_INDEX) & (visible != parts) & (visible != IGNORE_INDEX)


def _restrict(target: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The target with every pixel outside `keep` set to 255 (ignored)."""
    return torch.where(keep, target, torch.full_like(target, IGNORE_INDEX))


class AmodalPartIoU:
    """Streaming amodal part mIoU (per image, per hand, parts 1..num_parts, min_pixels rule).

    Per image-hand: m = nanmean_k IoU_k (NaN when no part has min_pixels true pixels). miou = nanmean of m over
    all image-hands (NaN image-hands skipped); miou_left / miou_right over one hand; per_part[k] = nanmean over
    image-hands of IoU_k.

    With the visible part maps (`update(..., visible=)`), the same scores on two complementary regions of each
    image-hand: hidden = the pixels of `hidden_mask` (the hand's amodal part there is not what is seen), visible =
    every other pixel (the seen parts and everything that is not this hand). The truth outside the region is
    ignored (255), so IoU_k = |pred k and true k| / |pred k or true k| over the region's pixels only, and the
    20-pixel rule counts the region's true pixels of part k: hidden_miou scores the parts of which at least 20
    pixels are hidden. hidden_share = hidden part pixels / amodal part pixels over the images with visible maps.
    A visible value of 255 marks a pixel whose visibility is unknown: it is in neither region.
    """

    def __init__(self, num_parts: int = NUM_PARTS, min_pixels: int = 20) -> None:
        self.num_parts = num_parts
        self.min_pixels = min_pixels
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        self._ious: list[np.ndarray] = []  # one (N, 3, 2, num_parts) array per update: all, hidden, visible
        self._counts: list[np.ndarray] = []  # one (N, 2, 2) array per update: hidden and amodal part pixels
        self._ids: list[str] = []
        self._gathered: tuple[list[np.ndarray], list[np.ndarray], list[str]] | None = None  # after sync()

    def update(self, pred: Any, target: Any, ids: Sequence[str] | None = None, *, visible: Any = None) -> None:
        """Add part maps pred, target N x 2 x H x W (ints 0..num_parts); pred may be logits N x 2(K+1) x H x W.

        visible: the visible part maps N x 2 x H x W (0 where the hand is not seen, 255 unknown), for the hidden
        and visible scores; without them those scores are NaN for these images.
        """
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
        n = target.shape[0]
        ious = np.full((n, 3, 2, self.num_parts), np.nan)
        counts = np.full((n, 2, 2), -1, np.int64)  # -1: no visible maps for this image
        ious[:, 0] = _part_ious(_confusions(pred, target, self.num_parts), self.min_pixels)
        if visible is not None:
            visible = torch.as_tensor(visible).to(target.device).long()
            if visible.shape != target.shape:
                raise DataError(
                    None, f"AmodalPartIoU: visible {tuple(visible.shape)} must match target {tuple(target.shape)}"
                )
            target = target.long()
            hidden = hidden_mask(target, visible)
            seen = ~hidden & (visible != IGNORE_INDEX)
            ious[:, 1] = _part_ious(_confusions(pred, _restrict(target, hidden), self.num_parts), self.min_pixels)
            ious[:, 2] = _part_ious(_confusions(pred, _restrict(target, seen), self.num_parts), self.min_pixels)
            counts[:, :, 0] = hidden.sum(dim=(2, 3)).cpu().numpy()
            counts[:, :, 1] = (
                ((target > 0) & (target != IGNORE_INDEX) & (visible != IGNORE_INDEX)).sum(dim=(2, 3)).cpu().numpy()
            )
        self._ious.append(ious)
        self._counts.append(counts)
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
        dist.all_gather_object(parts, (self._ious, self._counts, self._ids))
        self._gathered = (
            [a for ious, _, _ in parts for a in ious],
            [c for _, counts, _ in parts for c in counts],
            [i for _, _, ids in parts for i in ids],
        )
        return self

    def compute(self) -> dict[str, Any]:
        """miou, miou_left, miou_right, per_part (num_parts values), per_image [{id, left, right}], images;
        the same with prefixes hidden_ and visible_ (per_image: hidden_left ... where visible maps were given),
        and hidden_share (NaN without visible maps)."""
        gathered = self._gathered if self._gathered is not None else (self._ious, self._counts, self._ids)
        all_ious, all_counts, all_ids = gathered
        ious = np.concatenate(all_ious) if all_ious else np.full((0, 3, 2, self.num_parts), np.nan)
        counts = np.concatenate(all_counts) if all_counts else np.zeros((0, 2, 2), np.int64)
        per_hand = _nanmean(ious, axis=3)  # (images, 3, 2)
        result: dict[str, Any] = {}
        for region, prefix in enumerate(("", "hidden_", "visible_")):
            hands = per_hand[:, region]
            result[f"{prefix}miou"] = float(_nanmean(hands))
            result[f"{prefix}miou_left"] = float(_nanmean(hands[:, 0]))
            result[f"{prefix}miou_right"] = float(_nanmean(hands[:, 1]))
            result[f"{prefix}per_part"] = [
                float(v) for v in _nanmean(ious[:, region].reshape(-1, self.num_parts), axis=0)
            ]
        known = counts[:, 0, 1] >= 0
        amodal = int(counts[known, :, 1].sum())
        result["hidden_share"] = float(counts[known, :, 0].sum() / amodal) if amodal else float("nan")
        result["per_image"] = []
        for name, h, has_visible in zip(all_ids, per_hand, known):
            image = {"id": name, "left": float(h[0, 0]), "right": float(h[0, 1])}
            if has_visible:  # the region scores only where they could be computed
                image.update(hidden_left=float(h[1, 0]), hidden_right=float(h[1, 1]))
                image.update(visible_left=float(h[2, 0]), visible_right=float(h[2, 1]))
            result["per_image"].append(image)
        result["images"] = len(all_ids)
        result["valid_image_hands"] = int((~np.isnan(per_hand[:, 0])).sum())
        return result


def occlusion_stats(samples: Iterable[dict[str, Any]], *, min_pixels: int = 20) -> dict[str, Any]:
    """How much of the hands' amodal parts is hidden, over samples that carry visible part maps.

    hidden_share = hidden part pixels (`hidden_mask`) / amodal part pixels; occluded_frames = frames where a hand has
    at least `min_pixels` hidden pixels; by_hand / by_object / by_other split the hidden pixels by the visible label
    seen there (the other hand, the object, background or ignore). Frames without visible maps count in `skipped`.
    """
    totals = dict.fromkeys(("frames", "skipped", "amodal", "hidden", "occluded", "hand", "object", "other"), 0)
    for sample in samples:
        parts, visible = sample.get("parts"), sample.get("visible_parts")
        if parts is None or visible is None:
            totals["skipped"] += 1
            continue
        parts, visible = np.asarray(parts), np.asarray(visible)
        hidden = hidden_mask(parts, visible)
        per_hand = hidden.sum(axis=(1, 2))
        totals["frames"] += 1
        totals["amodal"] += int(((parts > 0) & (parts != IGNORE_INDEX)).sum())
        totals["hidden"] += int(per_hand.sum())
        totals["occluded"] += int((per_hand >= min_pixels).any())
        label = sample.get("label")
        if label is not None:
            seen = np.broadcast_to(np.asarray(label), hidden.shape)[hidden]  # per hand: both hands count
            under = np.bincount(seen.astype(np.int64).clip(0, 3), minlength=4)
            totals["hand"] += int(under[1])
            totals["object"] += int(under[2])
            totals["other"] += int(under[0] + under[3])
    hidden = totals["hidden"]
    return {
        "frames": totals["frames"],
        "skipped": totals["skipped"],
        "amodal_pixels": totals["amodal"],
        "hidden_pixels": hidden,
        "hidden_share": hidden / totals["amodal"] if totals["amodal"] else float("nan"),
        "occluded_frames": totals["occluded"] / totals["frames"] if totals["frames"] else float("nan"),
        "by_hand": totals["hand"] / hidden if hidden else float("nan"),
        "by_object": totals["object"] / hidden if hidden else float("nan"),
        "by_other": totals["other"] / hidden if hidden else float("nan"),
    }
