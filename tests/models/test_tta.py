"""Test-time augmentation: mirrored and rescaled views averaged as probabilities, hands swapped on a mirror."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from handseg.errors import ConfigError
from handseg.loading import TTAPredictor
from handseg.models.tta import TestTimeAugmentation, TTASpec
from handseg.tasks import get_task


class Ramp(nn.Module):
    """K logit channels that depend on the pixel's column and on the input: not mirror-symmetric."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 1)
        torch.manual_seed(0)
        nn.init.normal_(self.conv.weight)
        self.ramp = nn.Parameter(torch.randn(channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        columns = torch.linspace(-1, 1, x.shape[-1]).view(1, 1, 1, -1)
        return self.conv(x) + self.ramp * columns


def test_flip_averages_the_two_views_probabilities_by_hand() -> None:
    model = Ramp(3).eval()
    x = torch.rand(2, 1, 9, 13)
    got = get_task("segmentation").test_time_augmentation(model, TTASpec(flip=True))(x)
    with torch.no_grad():
        plain = model(x).softmax(1)
        mirrored = model(x.flip(-1)).flip(-1).softmax(1)
    torch.testing.assert_close(got.exp(), (plain + mirrored) / 2)
    assert not torch.allclose(plain, mirrored, atol=1e-3)  # the two views differ, so the average is a real test


def test_no_views_returns_the_model_itself() -> None:
    model = Ramp(3)
    assert get_task("segmentation").test_time_augmentation(model, TTASpec()) is model


class HandSides(nn.Module):
    """Amodal logits: the left hand's part 1 on the image's left half, the right hand's part 1 on its right half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, height, width = x.shape
        logits = torch.zeros(n, 34, height, width)
        left = torch.arange(width) < width // 2
        logits[:, 1, :, left] = 5.0  # left hand, part 1
        logits[:, 0, :, ~left] = 5.0  # left hand, none
        logits[:, 17 + 1, :, ~left] = 5.0  # right hand, part 1
        logits[:, 17, :, left] = 5.0  # right hand, none
        return logits


def test_a_mirrored_view_swaps_the_hands_of_amodal_logits() -> None:
    task = get_task("amodal")
    x = torch.rand(1, 1, 6, 8)
    plain = task.labels(HandSides()(x))
    swapped = task.labels(task.test_time_augmentation(HandSides(), TTASpec(flip=True))(x))
    torch.testing.assert_close(swapped, plain)  # a mirrored left hand is read back as a right hand: agreement
    unswapped = TestTimeAugmentation(HandSides(), TTASpec(flip=True), groups=task.softmax_groups())(x)
    assert not torch.equal(task.labels(unswapped), plain)  # without the swap the two views contradict each other


def test_scales_come_back_at_the_input_size() -> None:
    model = Ramp(3).eval()
    x = torch.rand(1, 1, 37, 53)  # odd sizes: 0.75 x 37 is not a whole number
    spec = TTASpec(flip=True, scales=(0.75, 1.0, 1.25))
    out = get_task("segmentation").test_time_augmentation(model, spec)(x)
    assert out.shape == (1, 3, 37, 53) and spec.views == 6
    torch.testing.assert_close(out.exp().sum(1), torch.ones(1, 37, 53))


def test_spec_parsing_and_names() -> None:
    assert TTASpec.parse(flip=True, scales="0.75,1,1.25") == TTASpec(True, (0.75, 1.0, 1.25))
    assert TTASpec.parse().describe() == "none" and not TTASpec.parse().active
    assert TTASpec(True, (0.75, 1.0)).describe() == "flip + scales 0.75/1"
    with pytest.raises(ConfigError, match=r"--tta-scales 'a,1': expected comma-separated numbers"):
        TTASpec.parse(scales="a,1")
    with pytest.raises(ConfigError, match="scale 10.0 is outside"):
        TTASpec.parse(scales="1,10")


class NumpyPredictor:
    """A graph-runtime stand-in: numpy in, numpy logits out."""

    modality, task = "depth", "segmentation"

    def __init__(self, model: nn.Module) -> None:
        self.model, self.config = model, {"task": "segmentation"}

    def logits(self, batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.model(torch.from_numpy(batch)).numpy()


def test_any_backend_gets_the_same_views_as_pytorch() -> None:
    model = Ramp(3).eval()
    spec = TTASpec(flip=True, scales=(0.5, 1.0))
    x = np.random.default_rng(0).random((2, 1, 16, 20), dtype=np.float32)
    wrapped = TTAPredictor(NumpyPredictor(model), spec)
    with torch.no_grad():
        want = get_task("segmentation").test_time_augmentation(model, spec)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(wrapped.logits(x), want, rtol=1e-5, atol=1e-6)
