"""Hidden- and visible-part IoU of AmodalPartIoU against a hand-computed two-hand frame."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from handseg.metrics import AmodalPartIoU
from handseg.metrics.amodal import hidden_mask


def two_hand_frame() -> tuple[np.ndarray, np.ndarray]:
    """40 x 40 frame: left palm (rows 0-9, cols 0-9) and thumb_1 (rows 10-14, cols 0-9); the right palm
    (rows 5-14, cols 5-14) lies in front and hides 25 left palm and 25 left thumb pixels."""
    parts = np.zeros((2, 40, 40), np.int64)
    parts[0, 0:10, 0:10] = 1
    parts[0, 10:15, 0:10] = 2
    parts[1, 5:15, 5:15] = 1
    visible = parts.copy()
    visible[0, 5:15, 5:15] = 0
    return parts, visible


def test_hidden_mask_is_the_covered_part_of_the_left_hand() -> None:
    parts, visible = two_hand_frame()
    mask = hidden_mask(parts, visible)
    expected = np.zeros_like(mask)
    expected[0, 5:15, 5:10] = True
    assert np.array_equal(mask, expected)
    assert not mask[1].any()
    unknown = visible.copy()
    unknown[0, 5:10, 5:10] = 255  # visibility unknown: never hidden
    assert hidden_mask(parts, unknown).sum() == 25


def test_hidden_and_visible_iou_match_the_hand_computed_values() -> None:
    parts, visible = two_hand_frame()
    pred = parts.copy()
    pred[0, 10:15, 5:10] = 0  # the hidden half of the thumb is missed
    pred[0, 15:20, 0:10] = 1  # 50 palm pixels on the background (visible region)
    metric = AmodalPartIoU()
    metric.update(torch.from_numpy(pred[None]), torch.from_numpy(parts[None]), visible=visible[None])
    result = metric.compute()
    # all pixels: left palm 100 / 150, thumb 25 / 50; right palm 1
    assert result["miou_left"] == pytest.approx((100 / 150 + 25 / 50) / 2)
    assert result["miou"] == pytest.approx(((100 / 150 + 0.5) / 2 + 1) / 2)
    # hidden (50 left pixels): palm 25 / 25, thumb 0 / 25; the right hand has nothing hidden
    assert result["hidden_miou_left"] == pytest.approx(0.5)
    assert math.isnan(result["hidden_miou_right"])
    assert result["hidden_miou"] == pytest.approx(0.5)
    assert result["hidden_per_part"][:2] == pytest.approx([1.0, 0.0])
    # visible (everything else): palm 75 / 125 (the 50 background pixels count), thumb 25 / 25; right 1
    assert result["visible_miou_left"] == pytest.approx((75 / 125 + 1) / 2)
    assert result["visible_miou"] == pytest.approx(((75 / 125 + 1) / 2 + 1) / 2)
    assert result["hidden_share"] == pytest.approx(50 / 250)
    image = result["per_image"][0]
    assert image["hidden_left"] == pytest.approx(0.5) and math.isnan(image["hidden_right"])


def test_twenty_pixel_rule_counts_the_hidden_truth_only() -> None:
    parts, visible = two_hand_frame()
    visible[0, 5:15, 5:15] = parts[0, 5:15, 5:15]
    visible[0, 10:15, 5:9] = 0  # 20 hidden thumb pixels ...
    visible[0, 5:10, 6:10] = 1  # ... and 5 hidden palm pixels (rows 5-9, col 5): below the rule
    visible[0, 5:10, 5] = 0
    metric = AmodalPartIoU()
    metric.update(parts[None], parts[None], visible=visible[None])
    result = metric.compute()
    assert math.isnan(result["hidden_per_part"][0])
    assert result["hidden_per_part"][1] == 1.0
    assert result["per_part"][0] == 1.0


def test_without_visible_maps_the_region_scores_are_nan() -> None:
    parts, _ = two_hand_frame()
    metric = AmodalPartIoU()
    metric.update(parts[None], parts[None])
    result = metric.compute()
    assert result["miou"] == 1.0
    assert math.isnan(result["hidden_miou"]) and math.isnan(result["visible_miou"])
    assert math.isnan(result["hidden_share"])
    with pytest.raises(Exception, match="visible"):
        metric.update(parts[None], parts[None], visible=parts[None, :, :20])
