"""Depth snapping: pixels near the colour boundary join the surface (hand in front, object behind) they lie on."""

from __future__ import annotations

import cv2
import numpy as np

from handseg.annotate.boundary import snap_to_depth
from handseg.annotate.repair import ellipse


def _scene(step_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A hand (columns < 30, 0.50 m) in front of an object (0.50 m + step); the colour split is 2 px too far left."""
    depth = np.full((40, 60), 0.5, np.float32)
    depth[:, 30:] += step_m
    depth += np.random.default_rng(0).normal(0, 0.0007, depth.shape).astype(np.float32)
    skin = np.zeros((40, 60), bool)
    skin[:, :28] = True  # the finger's dark rim (columns 28, 29) was called object by colour
    return skin, np.ones((40, 60), bool), depth


def test_snapping_moves_the_boundary_onto_the_depth_step() -> None:
    skin, band, depth = _scene(0.02)
    out = snap_to_depth(skin, band, depth, zone_px=2, window_px=9, min_step_m=0.005)
    assert out[:, :30].all() and not out[:, 30:].any()
    assert snap_to_depth(skin, band, depth, zone_px=0, window_px=9, min_step_m=0.005) is skin  # 0 = off


def test_no_step_no_change_and_missing_depth_is_left_alone() -> None:
    skin, band, depth = _scene(0.0)  # hand and object on one surface: depth cannot tell
    assert np.array_equal(snap_to_depth(skin, band, depth, zone_px=2, window_px=9, min_step_m=0.005), skin)
    skin, band, depth = _scene(0.02)
    depth[:, 26:32] = 0  # no depth around the boundary: colour decides
    assert np.array_equal(snap_to_depth(skin, band, depth, zone_px=2, window_px=9, min_step_m=0.005), skin)


def _snap_reference(skin, band, depth, zone_px, window_px, min_step_m):
    """The definition, pixel by pixel over the whole image."""
    hand, obj, valid = band & skin, band & ~skin, band & (depth > 0)
    kernel = ellipse(2 * zone_px + 1)
    zone = cv2.dilate(hand.view(np.uint8), kernel).view(bool) & cv2.dilate(obj.view(np.uint8), kernel).view(bool)
    zone &= valid
    out, r = skin.copy(), window_px // 2
    for y, x in zip(*np.nonzero(zone)):
        win = slice(max(y - r, 0), y + r + 1), slice(max(x - r, 0), x + r + 1)
        sure, d = valid[win] & ~zone[win], depth[win].astype(np.float64)
        h, o = d[hand[win] & sure], d[obj[win] & sure]
        if len(h) >= 3 and len(o) >= 3 and abs(h.mean() - o.mean()) > min_step_m:
            out[y, x] = abs(depth[y, x] - h.mean()) < abs(depth[y, x] - o.mean())
    return out


def test_snapping_matches_the_pixel_by_pixel_definition() -> None:
    rng = np.random.default_rng(3)
    ys, xs = np.mgrid[:50, :70]
    edge = 35 + 8 * np.sin(ys / 6)  # a wavy hand outline in front of an object
    depth = np.where(xs < edge, 0.5, 0.53) + rng.normal(0, 0.002, xs.shape)
    depth = depth.astype(np.float32)
    depth[rng.random(depth.shape) < 0.05] = 0  # dropouts
    skin = xs < edge - rng.integers(-2, 4, (50, 1))  # the colour boundary off by -2..3 px per row
    skin ^= rng.random(skin.shape) < 0.01  # and scattered colour mistakes
    band = np.ones(skin.shape, bool)
    band[:, :4] = False
    expected = _snap_reference(skin, band, depth, 2, 9, 0.005)
    assert (expected != skin).sum() > 20  # snapping changes something here
    assert np.array_equal(snap_to_depth(skin, band, depth, zone_px=2, window_px=9, min_step_m=0.005), expected)
