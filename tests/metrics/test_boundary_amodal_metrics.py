"""Boundary F-score against a brute-force matcher; amodal part mIoU NaN rules and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from handseg.errors import DataError
from handseg.metrics import AmodalPartIoU, BoundaryFScore, amodal_part_iou, boundary_fscore, boundary_map


def brute_boundary_counts(pred: np.ndarray, target: np.ndarray, cls: int, tol: float) -> tuple[int, int, int, int]:
    """Boundary = class pixel with a 4-neighbour inside the image of another class; match by all pairwise distances."""

    def edge(m: np.ndarray) -> np.ndarray:
        out = np.zeros_like(m)
        h, w = m.shape
        for y in range(h):
            for x in range(w):
                if m[y, x]:
                    nbrs = [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)]
                    out[y, x] = any(0 <= a < h and 0 <= b < w and not m[a, b] for a, b in nbrs)
        return out

    pb, tb = np.argwhere(edge(pred == cls)), np.argwhere(edge(target == cls))
    if len(pb) == 0 or len(tb) == 0:
        return 0, len(pb), 0, len(tb)
    d = np.sqrt(((pb[:, None, :] - tb[None, :, :]) ** 2).sum(-1))
    return int((d.min(1) <= tol).sum()), len(pb), int((d.min(0) <= tol).sum()), len(tb)


def blob(h: int = 30, w: int = 36, dx: int = 0, cls: int = 1) -> np.ndarray:
    y = np.zeros((h, w), np.uint8)
    y[8:20, 6 + dx : 20 + dx] = cls
    y[12:16, 22 + dx : 30 + dx] = 2
    return y


def test_boundary_map_is_the_inner_4_neighbour_boundary() -> None:
    m = np.zeros((8, 8), bool)
    m[2:6, 2:6] = True
    assert boundary_map(m).sum() == 12  # 4x4 square: 16 pixels minus the 2x2 interior
    assert boundary_map(np.ones((5, 5), bool)).sum() == 0  # the image edge is not a boundary


@pytest.mark.parametrize("dx", [0, 1, 2, 3, 5])
def test_boundary_fscore_matches_brute_force(dx: int) -> None:
    truth, pred = blob(), blob(dx=dx)
    pred[25:28, 30:33] = 1  # a stray false-positive blob
    for cls in (1, 2):
        mp, npred, mt, nt = brute_boundary_counts(pred, truth, cls, tol=2)
        p, r = mp / npred, mt / nt
        expected = 2 * p * r / (p + r) if p + r else 0.0
        assert boundary_fscore(pred, truth, cls, tol=2) == pytest.approx(expected)
    assert boundary_fscore(blob(), blob(), 1) == 1.0


def test_boundary_fscore_nan_and_zero_cases() -> None:
    empty = np.zeros((20, 36), np.uint8)
    assert math.isnan(boundary_fscore(empty, empty, 1))
    assert boundary_fscore(blob(20, 36), empty, 1) == 0.0
    assert boundary_fscore(empty, blob(20, 36), 1) == 0.0
    with pytest.raises(DataError):
        boundary_fscore(empty, empty[:5], 1)


def test_streaming_boundary_fscore_sums_counts_over_frames() -> None:
    truths = np.stack([blob(), blob(dx=2)])
    preds = np.stack([blob(dx=3), blob(dx=2)])
    metric = BoundaryFScore(classes=(1, 2), tol=2)
    metric.update(torch.from_numpy(preds), torch.from_numpy(truths))
    out = metric.compute()
    for k, cls in enumerate((1, 2)):
        counts = np.sum([brute_boundary_counts(p, t, cls, 2) for p, t in zip(preds, truths)], axis=0)
        p, r = counts[0] / counts[1], counts[2] / counts[3]
        assert out["f"][k] == pytest.approx(2 * p * r / (p + r))
        assert out["precision"][k] == pytest.approx(p) and out["recall"][k] == pytest.approx(r)
    assert out["mean_f"] == pytest.approx(np.mean(out["f"]))


def hand(parts: dict[int, tuple[slice, slice]], shape: tuple[int, int] = (20, 20)) -> np.ndarray:
    m = np.zeros(shape, np.int64)
    for part, region in parts.items():
        m[region] = part
    return m


def test_min_pixels_rule() -> None:
    truth = np.zeros((20, 20), np.int64)
    truth.flat[:19] = 3  # 19 true pixels of part 3
    truth.flat[100:120] = 5  # 20 true pixels of part 5
    pred = truth.copy()
    pred[15:, 15:] = 9  # part 9 predicted but absent from the truth
    iou = amodal_part_iou(pred, truth)
    assert iou.shape == (16,)
    assert math.isnan(iou[3 - 1])  # 19 pixels: NaN even though predicted perfectly
    assert iou[5 - 1] == 1.0  # 20 pixels: counted
    assert math.isnan(iou[9 - 1])  # predicted, no truth: NaN, not 0
    assert int(np.isnan(iou).sum()) == 15


def test_amodal_miou_is_a_nanmean_of_nanmeans() -> None:
    # Image 0 left: part 1 has 40 true pixels (rows 0..1), prediction covers 30 of them + 10 others
    # -> IoU = 30 / (40 + 40 - 30) = 0.6. Image 0 right: only a 10-pixel part -> no valid part -> NaN.
    t0l = hand({1: (slice(0, 2), slice(0, 20))})
    p0l = hand({1: (slice(0, 2), slice(0, 15))})
    p0l[5, 0:10] = 1
    t0r = hand({4: (slice(0, 1), slice(0, 10))})
    # Image 1 left: perfect on part 2 (IoU 1). Image 1 right: part 7 IoU 1, part 8 (40 px) predicted nowhere -> 0.
    t1l = hand({2: (slice(3, 6), slice(0, 20))})
    t1r = hand({7: (slice(0, 2), slice(0, 20)), 8: (slice(10, 12), slice(0, 20))})
    p1r = hand({7: (slice(0, 2), slice(0, 20))})
    target = torch.from_numpy(np.stack([[t0l, t0r], [t1l, t1r]]))
    pred = torch.from_numpy(np.stack([[p0l, t0r], [t1l, p1r]]))
    metric = AmodalPartIoU()
    metric.update(pred, target, ids=["a", "b"])
    out = metric.compute()
    assert out["per_image"][0]["id"] == "a" and out["per_image"][0]["left"] == pytest.approx(0.6)
    assert math.isnan(out["per_image"][0]["right"])
    assert out["per_image"][1]["left"] == 1.0 and out["per_image"][1]["right"] == pytest.approx(0.5)
    # Three valid image-hands: (0.6 + 1 + 0.5) / 3 = 0.7 (the NaN one is skipped, not counted as 0).
    assert out["miou"] == pytest.approx(0.7)
    assert out["miou_left"] == pytest.approx(0.8) and out["miou_right"] == pytest.approx(0.5)
    assert out["per_part"][0] == pytest.approx(0.6) and out["per_part"][7] == 0.0
    assert math.isnan(out["per_part"][3]) and out["valid_image_hands"] == 3


def test_amodal_logits_and_a_loop_reference_agree() -> None:
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 17, (3, 2, 24, 24), generator=g)
    pred = torch.where(torch.rand(target.shape, generator=g) < 0.7, target, torch.randint(0, 17, target.shape))
    logits = torch.cat([torch.nn.functional.one_hot(pred[:, h], 17).permute(0, 3, 1, 2).float() for h in (0, 1)], 1)
    a, b = AmodalPartIoU(), AmodalPartIoU()
    a.update(pred, target)
    b.update(logits, target)
    assert a.compute()["per_image"] == b.compute()["per_image"]
    for n in range(3):
        for h, name in enumerate(("left", "right")):
            ious = []
            for k in range(1, 17):
                t, p = target[n, h] == k, pred[n, h] == k
                if int(t.sum()) >= 20:
                    ious.append(float((t & p).sum() / (t | p).sum()))
            expected = np.mean(ious) if ious else np.nan
            assert a.compute()["per_image"][n][name] == pytest.approx(expected, nan_ok=True)
    with pytest.raises(DataError):
        a.update(pred + 17, target)


def test_amodal_bad_labels_and_small_dtypes() -> None:
    target = torch.zeros(2, 2, 8, 8, dtype=torch.uint8)
    target[:, :, :5] = 16  # 40 pixels of part 16 per image-hand
    metric = AmodalPartIoU()
    metric.update(target.clone(), target)  # uint8 must not overflow in the index arithmetic
    assert metric.compute()["miou"] == 1.0
    for bad in (17, 254, 256, -1):
        wrong = target.long()
        wrong[1, 1, 7, 7] = bad
        with pytest.raises(DataError, match="target part labels"):
            metric.update(target.long(), wrong)
    ignored = target.long()
    ignored[1, 1, 7] = 255
    metric.update(target.long(), ignored)
    assert metric.compute()["images"] == 4


def test_labels_from_logits_equals_argmax() -> None:
    from handseg.metrics.confusion import labels_from_logits

    g = torch.Generator().manual_seed(5)
    logits = torch.randn(2, 17, 9, 11, generator=g)
    logits[0, 3:6, 2, 2] = 10.0  # a tie: the first maximum wins, like argmax
    assert torch.equal(labels_from_logits(logits), logits.argmax(1))


def test_boundary_pixels_on_ignored_target_pixels_are_not_counted() -> None:
    truth, pred = blob(), blob()
    pred[25:28, 30:33] = 1  # a false-positive blob ...
    assert boundary_fscore(pred, truth, 1) < 1.0
    truth[24:29, 29:34] = 255  # ... inside an ignored region
    assert boundary_fscore(pred, truth, 1) == 1.0
