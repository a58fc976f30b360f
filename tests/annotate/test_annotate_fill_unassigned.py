"""fill_unassigned: band pixels left as background join the hand or object segment within reach."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from handseg.annotate.repair import ellipse, fill_unassigned


def _reference(label: np.ndarray, band: np.ndarray, skin: np.ndarray, radius: int) -> np.ndarray:
    """The whole-image formula: dilate each class, then skin decides where both reach."""
    kernel = ellipse(2 * radius + 1)
    todo = band & (label == 0)
    near_hand = cv2.dilate((label == 1).view(np.uint8), kernel).view(bool) & todo
    near_obj = cv2.dilate((label == 2).view(np.uint8), kernel).view(bool) & todo
    out = label.copy()
    out[near_obj & ~(near_hand & skin)] = 2
    out[near_hand & ~(near_obj & ~skin)] = 1
    return out


@pytest.mark.parametrize("holes", [0.0005, 0.2])  # few pixels to fill (neighbourhood path), many (dilation path)
def test_fill_matches_the_whole_image_formula(holes: float) -> None:
    rng = np.random.default_rng(1)
    label = np.zeros((120, 160), np.uint8)
    label[5:100, 5:80], label[20:118, 70:158] = 1, 2  # hand and object touching; the image border is near
    band = label > 0
    label[rng.random(label.shape) < holes] = 0  # unassigned band pixels
    label[30:90:3, 69:71] = 0  # and some next to both classes: skin decides
    band[8:20, 152:156] = True  # unlabelled band above the object: rows 17..19 are within reach, the rest not
    skin = rng.random(label.shape) < 0.5
    todo = np.count_nonzero(band & (label == 0))
    assert (todo * 37 > label.size // 4) == (holes > 0.01)  # 37 pixels in the 7 x 7 ellipse: the path taken
    expected = _reference(label, band, skin, 3)
    out = fill_unassigned(label, band, skin, 3)
    assert (expected != label).sum() >= 5 and (expected[8:16, 152:156] == 0).all()
    assert np.array_equal(out, expected)
    assert fill_unassigned(label, band, skin, 0) is label
    assert fill_unassigned(expected, expected > 0, skin, 3) is expected  # nothing to fill
