"""CE and contour loss against hand arithmetic and the properties the paper relies on."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from handseg.errors import ConfigError, DataError
from handseg.losses import build_loss, contour_loss_from_probs, contour_map, sobel_edges

LN3 = math.log(3.0)


def tiny_example() -> tuple[torch.Tensor, torch.Tensor]:
    """2 classes on 2x2 pixels: softmax gives (1/2, 1/2), (1/4, 3/4), (3/4, 1/4); the 4th pixel is ignored."""
    logits = torch.tensor([[[0.0, 0.0], [LN3, 5.0]], [[0.0, LN3], [0.0, -5.0]]]).unsqueeze(0)
    target = torch.tensor([[[0, 1], [1, 255]]])
    return logits, target


def test_weighted_ce_matches_hand_arithmetic() -> None:
    logits, target = tiny_example()
    # -log p_y: pixel a (y=0, p=1/2) ln 2; b (y=1, p=3/4) ln 4/3; c (y=1, p=1/4) ln 4; weights (1, 5).
    expected = (1 * math.log(2) + 5 * math.log(4 / 3) + 5 * math.log(4)) / (1 + 5 + 5)
    assert float(build_loss("ce", weights=[1, 5])(logits, target)) == pytest.approx(expected, rel=1e-6)
    plain = (math.log(2) + math.log(4 / 3) + math.log(4)) / 3
    assert float(build_loss("ce", weights=None)(logits, target)) == pytest.approx(plain, rel=1e-6)


def test_ce_defaults_to_paper_weights_and_checks_them() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 8, 8, generator=g)
    target = torch.randint(0, 3, (2, 8, 8), generator=g)
    ref = F.cross_entropy(logits, target, weight=torch.tensor([1.0, 5.0, 5.0]))
    assert float(build_loss("ce")(logits, target)) == pytest.approx(float(ref), rel=1e-6)
    with pytest.raises(ConfigError, match="class weights"):
        build_loss("ce")(torch.randn(1, 4, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long))
    with pytest.raises(DataError, match="target labels"):
        build_loss("ce")(logits, target + 3)
    with pytest.raises(ConfigError, match="unknown loss"):
        build_loss("nope")


def square(size: int = 48, side: int = 16, dx: int = 0, dy: int = 0) -> torch.Tensor:
    """Labels size x size with class 1 on a side x side square (shifted by dx, dy) and class 2 on a bar."""
    y = torch.zeros(size, size, dtype=torch.long)
    y[16 + dy : 16 + dy + side, 12 + dx : 12 + dx + side] = 1
    y[40:44, 5:40] = 2
    return y


def hot(labels: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W one-hot float of labels H x W."""
    return F.one_hot(labels, 3).permute(2, 0, 1).unsqueeze(0).float()


def test_sobel_definition_on_a_step() -> None:
    step = torch.zeros(1, 1, 5, 6)
    step[..., 3:] = 1.0
    edges = sobel_edges(step, eps=0.0)
    # gx = [-1 0 1; -2 0 2; -1 0 1] * x: 1 + 2 + 1 = 4 on the two columns beside the step, 0 elsewhere.
    assert torch.allclose(edges[0, 0, :, 2:4], torch.full((5, 2), 4.0))
    assert float(edges[0, 0, :, :2].abs().max()) == 0.0 and float(edges[0, 0, :, 4:].abs().max()) == 0.0
    assert float(contour_map(torch.ones(1, 2, 9, 9)).std()) < 1e-6


def test_contour_is_zero_for_a_perfect_prediction() -> None:
    y = hot(square())
    assert float(contour_loss_from_probs(y[:, 1:], y[:, 1:])) == 0.0
    target = square().unsqueeze(0)
    loss = build_loss("contour")(20.0 * hot(square()), target)
    assert 0.0 <= float(loss) < 1e-8


def test_contour_grows_with_boundary_displacement() -> None:
    truth = hot(square())[:, 1:]
    losses = [float(contour_loss_from_probs(hot(square(dx=s, dy=s))[:, 1:], truth)) for s in (0, 1, 2, 4)]
    assert losses[0] == 0.0
    assert losses[0] < losses[1] < losses[2] < losses[3], losses
    through_logits = [
        float(build_loss("contour")(10.0 * hot(square(dx=s)), square().unsqueeze(0))) for s in (0, 1, 2, 4)
    ]
    assert through_logits[0] < through_logits[1] < through_logits[2] < through_logits[3], through_logits


def test_contour_ignores_background_channel() -> None:
    # Class 1 and 2 maps equal to the truth, background map arbitrary: only channels 1.. are compared.
    target = square().unsqueeze(0)
    probs = hot(square())
    probs[:, 0] = torch.rand(48, 48)
    assert float(contour_loss_from_probs(probs[:, 1:], hot(square())[:, 1:])) == 0.0
    assert float(build_loss("contour")(20.0 * hot(square()), target)) < 1e-8


def test_ce_contour_is_the_weighted_sum() -> None:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 3, 32, 32, generator=g)
    target = square(32, 8).unsqueeze(0)
    ce = float(build_loss("ce")(logits, target))
    contour = float(build_loss("contour")(logits, target))
    total = float(build_loss("ce_contour", alpha=0.5, beta=2.0)(logits, target))
    assert total == pytest.approx(0.5 * ce + 2.0 * contour, rel=1e-5)
    default = float(build_loss("ce_contour")(logits, target))
    assert default == pytest.approx(ce + 0.005 * contour, rel=1e-5)


def test_contour_map_matches_opencv_sobel_and_gaussian() -> None:
    import cv2
    import numpy as np

    g = torch.Generator().manual_seed(4)
    img = torch.rand(1, 1, 23, 31, generator=g)
    img[..., 5:15, 8:20] += 1.0
    a = img[0, 0].double().numpy()
    gx = cv2.Sobel(a, cv2.CV_64F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(a, cv2.CV_64F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    edges = np.sqrt(gx**2 + gy**2 + 1e-6)
    blurred = cv2.GaussianBlur(edges, (5, 5), 2.121, borderType=cv2.BORDER_REPLICATE)
    assert np.allclose(sobel_edges(img, eps=1e-6)[0, 0].numpy(), edges, atol=1e-5)
    assert np.allclose(contour_map(img, eps=1e-6)[0, 0].numpy(), blurred, atol=1e-5)
