"""Sub-pixel color-to-depth registration recovers a known shift, rotation and scale."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from handseg.annotate.align import IDENTITY, edge_profiles, estimate_alignment, warp_crop
from handseg.annotate.config import AnnotateConfig


def _scene(h: int = 120, w: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """A mask (an ellipse and a box) and an RGB image of it, aligned."""
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (62, 55), (30, 18), 20, 0, 360, 1, -1)
    cv2.rectangle(mask, (88, 30), (130, 92), 1, -1)
    color = np.full((h, w, 3), (60, 120, 60), np.uint8)
    color[mask > 0] = (220, 170, 140)
    return mask.astype(bool), color


def _mean_error(m_true: np.ndarray, m_est: np.ndarray, mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    p = np.stack([xs, ys, np.ones_like(xs)], axis=1).astype(np.float64)
    return float(np.linalg.norm(p @ m_true.T - p @ m_est.T, axis=1).mean())


@pytest.mark.parametrize("shift, angle, scale", [((2.3, -1.4), 0.5, 1.006), ((-3.0, 1.7), -0.6, 0.993), ((0, 0), 0, 1)])
def test_similarity_is_recovered_to_a_fraction_of_a_pixel(shift, angle, scale) -> None:
    mask, color = _scene()
    h, w = mask.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += shift
    warped = cv2.warpAffine(color, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    est = estimate_alignment(warped, mask, AnnotateConfig(align_search_px=6))
    assert _mean_error(m, est, mask) < 0.35
    if shift != (0, 0):
        assert _mean_error(m, IDENTITY, mask) > 1.5  # the repair matters
    repaired = warp_crop(warped, est, slice(0, h), slice(0, w))
    inner = cv2.erode(mask.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    assert np.abs(repaired[inner].astype(int) - color[inner]).max() < 40  # colour back on the mask


def test_no_outline_means_identity() -> None:
    mask, color = _scene()
    assert np.array_equal(estimate_alignment(color, np.zeros_like(mask), AnnotateConfig()), IDENTITY)
    assert np.array_equal(estimate_alignment(color, mask, AnnotateConfig(align_search_px=0)), IDENTITY)


def test_a_dark_rim_inside_the_outline_does_not_pull_the_match_in() -> None:
    """Shading darkens a rounded object's rim (a brightness edge); the albedo edge (a change of hue) is matched."""
    mask, _ = _scene()
    h, w = mask.shape
    color = np.full((h, w, 3), (60, 80, 100), np.float32)  # a bluish grey background
    color[mask] = (230, 160, 130)  # skin-like, close in brightness to the rim below
    rim = mask & ~cv2.erode(mask.view(np.uint8), np.ones((7, 7), np.uint8)).view(bool)
    rim[: h // 2] = False  # lit from above: only the lower rim is dark
    color[rim] *= 0.3  # there the strongest brightness step is 3 px inside the outline
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.3, 1.0)
    m[:, 2] += (1.6, -1.2)
    warped = cv2.warpAffine(color.astype(np.uint8), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    est = estimate_alignment(warped, mask, AnnotateConfig(align_search_px=6))
    assert _mean_error(m, est, mask) < 0.25  # strongest-brightness-edge matching: 0.37


def test_edge_profiles_ignore_brightness_steps_of_one_hue() -> None:
    row = np.zeros((1, 40, 3), np.uint8)
    row[0, :20], row[0, 20:] = (200, 100, 50), (100, 50, 25)  # a shading step: same hue, half the brightness
    hue = row.copy()
    hue[0, 20:] = (50, 100, 200)  # an albedo step: another hue
    points, normals = np.array([[19.5, 0.0]], np.float32), np.array([[1.0, 0.0]], np.float32)
    shading, offsets = edge_profiles(row, points, normals, 4.0, 0.25)
    albedo, _ = edge_profiles(hue, points, normals, 4.0, 0.25)
    assert albedo.max() > 5 * shading.max()
    assert abs(offsets[albedo[0].argmax()]) <= 0.5  # the step lies half-way between pixels 19 and 20
