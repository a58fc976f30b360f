"""Every loss: hand-computed values on a 2x2 example, ignore_index really ignored, gradients, AMP, amodal split."""

from __future__ import annotations

import math

import pytest
import torch

from handseg.errors import DataError
from handseg.losses import build_loss, list_losses

LN3 = math.log(3.0)
SEGMENTATION = [n for n in list_losses() if not n.startswith("amodal")]
AMODAL = [n for n in list_losses() if n.startswith("amodal")]


def tiny_example() -> tuple[torch.Tensor, torch.Tensor]:
    """2 classes on 2x2 pixels: a (y=0) p = (1/2, 1/2); b (y=1) p = (1/4, 3/4); c (y=1) p = (3/4, 1/4); d ignored."""
    logits = torch.tensor([[[0.0, 0.0], [LN3, 5.0]], [[0.0, LN3], [0.0, -5.0]]]).unsqueeze(0)
    return logits, torch.tensor([[[0, 1], [1, 255]]])


def test_dice_ce_matches_hand_computation() -> None:
    logits, target = tiny_example()
    # CE (unweighted mean over a, b, c) = (ln 2 + ln 4/3 + ln 4) / 3 = ln(32/3) / 3.
    ce = math.log(32 / 3) / 3
    # Class 0: I = 1/2 (pixel a), P = 1/2 + 1/4 + 3/4 = 3/2, Y = 1 -> D0 = 2 * 1/2 / (3/2 + 1) = 2/5.
    # Class 1: I = 3/4 + 1/4 = 1, P = 1/2 + 3/4 + 1/4 = 3/2, Y = 2 -> D1 = 2 * 1 / (3/2 + 2) = 4/7.
    dice = 1 - (2 / 5 + 4 / 7) / 2
    assert float(build_loss("dice", smooth=1e-9)(logits, target)) == pytest.approx(dice, rel=1e-6)
    got = float(build_loss("dice_ce", smooth=1e-9)(logits, target))
    assert got == pytest.approx(ce + dice, rel=1e-6)
    # Without the background class only D1 counts.
    no_bg = float(build_loss("dice", smooth=1e-9, include_background=False)(logits, target))
    assert no_bg == pytest.approx(1 - 4 / 7, rel=1e-6)


def test_jaccard_focal_topk_match_hand_computation() -> None:
    logits, target = tiny_example()
    # Jaccard: class 0 I/(P+Y-I) = (1/2)/(3/2+1-1/2) = 1/4; class 1: 1/(3/2+2-1) = 2/5.
    jac = float(build_loss("jaccard", smooth=1e-9)(logits, target))
    assert jac == pytest.approx(1 - (1 / 4 + 2 / 5) / 2, rel=1e-6)
    # Focal gamma 2: (1 - p)^2 * -ln p: a (1/2)^2 ln 2, b (1/4)^2 ln 4/3, c (3/4)^2 ln 4; mean of three.
    focal = (0.25 * math.log(2) + math.log(4 / 3) / 16 + 9 / 16 * math.log(4)) / 3
    assert float(build_loss("focal", gamma=2.0)(logits, target)) == pytest.approx(focal, rel=1e-6)
    assert float(build_loss("focal", gamma=0.0)(logits, target)) == pytest.approx(math.log(32 / 3) / 3, rel=1e-6)
    # Top-k with k = 34 %: ceil(0.34 * 3) = 2 hardest pixels, c (ln 4) and a (ln 2).
    topk = float(build_loss("topk_ce", k=34)(logits, target))
    assert topk == pytest.approx((math.log(4) + math.log(2)) / 2, rel=1e-6)
    assert float(build_loss("topk_ce", k=100)(logits, target)) == pytest.approx(math.log(32 / 3) / 3, rel=1e-6)


def random_case(c: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, c, 24, 20, generator=g)
    target = torch.randint(0, c, (2, 24, 20), generator=g)
    target[0, 5:12, 4:9] = 255
    target[1, :, 15:] = 255
    return logits, target


@pytest.mark.parametrize("name", SEGMENTATION)
def test_ignored_pixels_do_not_change_the_loss(name: str) -> None:
    logits, target = random_case()
    loss = build_loss(name)
    changed = logits.clone()
    ignored = (target == 255).unsqueeze(1).expand_as(logits)
    changed[ignored] = torch.randn(int(ignored.sum())) * 50.0
    assert float(loss(changed, target)) == pytest.approx(float(loss(logits, target)), abs=1e-6)
    # ... and changing a valid pixel does change it.
    other = logits.clone()
    other[:, :, 0, 0] += torch.tensor([5.0, -5.0, 0.0])
    assert float(loss(other, target)) != pytest.approx(float(loss(logits, target)), abs=1e-7)


@pytest.mark.parametrize("name", list_losses())
def test_losses_are_differentiable_and_finite(name: str) -> None:
    if name.startswith("amodal"):
        g = torch.Generator().manual_seed(1)
        logits = torch.randn(2, 34, 16, 12, generator=g)
        target = torch.randint(0, 17, (2, 2, 16, 12), generator=g)
        target[:, 1, :4] = 255
    else:
        logits, target = random_case()
    logits.requires_grad_(True)
    loss = build_loss(name)(logits, target)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert logits.grad is not None and bool(torch.isfinite(logits.grad).all())
    assert float(logits.grad.abs().sum()) > 0
    if not name.startswith("amodal"):
        assert float(logits.grad[(target == 255).unsqueeze(1).expand_as(logits)].abs().max()) == 0.0


@pytest.mark.parametrize("name", SEGMENTATION)
def test_losses_run_under_autocast_and_when_all_ignored(name: str) -> None:
    logits, target = random_case()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = build_loss(name)(logits.bfloat16(), target)
    assert half.dtype == torch.float32 and torch.isfinite(half)
    assert float(half) == pytest.approx(float(build_loss(name)(logits, target)), rel=0.05, abs=0.02)
    empty = build_loss(name)(logits.requires_grad_(True), torch.full_like(target, 255))
    empty.backward()
    assert torch.isfinite(empty)


def test_amodal_losses_are_the_sum_of_the_two_hands() -> None:
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 34, 16, 12, generator=g)
    target = torch.randint(0, 17, (2, 2, 16, 12), generator=g)
    for amodal, single in (("amodal_ce", build_loss("ce", weights=None)), ("amodal_dice_ce", build_loss("dice_ce"))):
        left = float(single(logits[:, :17], target[:, 0]))
        right = float(single(logits[:, 17:], target[:, 1]))
        assert float(build_loss(amodal)(logits, target)) == pytest.approx(left + right, rel=1e-6)
        assert float(build_loss(amodal, reduction="mean")(logits, target)) == pytest.approx((left + right) / 2)
    assert AMODAL == ["amodal_ce", "amodal_dice_ce"]
    with pytest.raises(DataError, match="N x 34"):
        build_loss("amodal_ce")(logits[:, :33], target)
    with pytest.raises(DataError, match="N x 2"):
        build_loss("amodal_ce")(logits, target[:, :1])
