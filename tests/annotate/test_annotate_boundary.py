"""Depth snapping: pixels near the colour boundary join the surface (hand in front, object behind) they lie on."""

from __future__ import annotations

import numpy as np

from handseg.annotate.boundary import snap_to_depth


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
    assert snap_to_depth(skin, band, depth, 0, 9, 0.005) is skin  # 0 = off


def test_no_step_no_change_and_missing_depth_is_left_alone() -> None:
    skin, band, depth = _scene(0.0)  # hand and object on one surface: depth cannot tell
    assert np.array_equal(snap_to_depth(skin, band, depth, 2, 9, 0.005), skin)
    skin, band, depth = _scene(0.02)
    depth[:, 26:32] = 0  # no depth around the boundary: colour decides
    assert np.array_equal(snap_to_depth(skin, band, depth, 2, 9, 0.005), skin)
