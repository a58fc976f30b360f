"""Real-sensor repairs: colour decides the band's depth edges, thick border-cut surfaces (a torso) leave the band,
and object segments must touch the hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from handseg.annotate.config import AnnotateConfig
from handseg.annotate.edges import colour_edges, keep_held, thick_surfaces
from handseg.annotate.pipeline import annotate_frame

SKIN, WALL, SHIRT, BOX = (210, 150, 120), (90, 95, 100), (40, 60, 170), (40, 160, 60)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _disc_scene(h: int = 120, w: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(depth, color, disc): a skin disc at 0.5 m on a grey wall at 1.0 m, with mild colour noise."""
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - 60) ** 2 + (xx - 80) ** 2 < 30**2
    depth = np.where(disc, 0.5, 1.0).astype(np.float32)
    color = np.empty((h, w, 3), np.uint8)
    color[:] = WALL
    color[disc] = SKIN
    rng = np.random.default_rng(0)
    color = np.clip(color + rng.normal(0, 3, color.shape), 0, 255).astype(np.uint8)
    return depth, color, disc


def test_colour_trims_a_fattened_depth_edge() -> None:
    import cv2

    depth, color, disc = _disc_scene()
    fat = cv2.dilate(disc.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)  # stereo edge fattening: 2 px
    depth[fat] = 0.5
    out = colour_edges(color, depth, fat, rim_px=2, shadow_px=0)
    assert _iou(fat, disc) < 0.9 < 0.97 < _iou(out, disc)
    assert np.array_equal(colour_edges(color, depth, fat, rim_px=0, shadow_px=0), fat)  # off


def test_depthless_pixels_beside_the_band_join_it_only_where_they_look_like_it() -> None:
    depth, color, disc = _disc_scene()
    shadow = np.zeros_like(disc)
    shadow[:, 44:54] = True  # a 10 px stripe without depth over the disc's left edge and the wall beside it
    depth[shadow] = 0
    band = disc & ~shadow
    out = colour_edges(color, depth, band, rim_px=0, shadow_px=8)
    assert out[disc & shadow].mean() > 0.9  # the disc's own pixels in the shadow come back ...
    assert not out[~disc & shadow].any()  # ... the wall's do not


def _held_scene() -> tuple[np.ndarray, np.ndarray]:
    """A label map with a hand at 0.5 m, a held object touching it, one apart and one far behind it."""
    label = np.zeros((100, 160), np.uint8)
    depth = np.full(label.shape, 1.2, np.float32)
    label[40:60, 20:60], depth[40:60, 20:60] = 1, 0.50  # hand
    label[40:60, 60:80], depth[40:60, 60:80] = 2, 0.53  # held: touches the fingers
    label[10:20, 120:150], depth[10:20, 120:150] = 2, 0.55  # apart in the image
    label[60:80, 20:55], depth[60:80, 20:55] = 2, 0.75  # beside the hand in the image, 25 cm behind it
    return label, depth


def test_object_segments_that_do_not_touch_the_hand_become_background() -> None:
    label, depth = _held_scene()
    out = keep_held(label, depth, contact_px=4, contact_m=0.1)
    assert (out[40:60, 60:80] == 2).all()
    assert (out[10:20, 120:150] == 0).all() and (out[60:80, 20:55] == 0).all()
    assert (out[40:60, 20:60] == 1).all()
    assert np.array_equal(keep_held(label, depth, contact_px=0, contact_m=0.1), label)  # off
    no_hand = np.where(label == 1, 0, label).astype(np.uint8)
    assert np.array_equal(keep_held(no_hand, depth, contact_px=4, contact_m=0.1), no_hand)  # nothing to touch


def _torso_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(depth, color, truth, fx) at 320x240: a torso cut by the image corner at 0.45 m, nearer than a hand at 0.7 m
    holding a box (0.72 m) in front of a wall (1.6 m)."""
    h, w, fx = 240, 320, 300.0
    yy, xx = np.mgrid[:h, :w]
    depth = np.full((h, w), 1.6, np.float32)
    color = np.empty((h, w, 3), np.uint8)
    color[:] = WALL
    truth = np.zeros((h, w), np.uint8)
    r2 = (yy - 260) ** 2 / 130**2 + (xx - 330) ** 2 / 150**2
    torso = r2 < 1  # 0.2 m and more across, 0.45 m away at its nearest, curved (not a plane)
    depth[torso], color[torso] = 0.45 + 0.12 * r2[torso], SHIRT
    box = (yy > 60) & (yy < 100) & (xx > 95) & (xx < 125)
    depth[box], color[box], truth[box] = 0.72, BOX, 2
    hand = (yy - 80) ** 2 + (xx - 80) ** 2 < 17**2  # 4 cm radius at 0.7 m
    depth[hand], color[hand], truth[hand] = 0.70, SKIN, 1
    rng = np.random.default_rng(1)
    depth += rng.normal(0, 0.001, depth.shape).astype(np.float32)
    color = np.clip(color + rng.normal(0, 3, color.shape), 0, 255).astype(np.uint8)
    return depth, color, truth, fx


def test_a_thick_surface_cut_by_the_border_is_found_and_a_hand_is_not() -> None:
    depth, _, truth, fx = _torso_scene()
    body = thick_surfaces(depth, 0.075, fx, jump_m=0.008, jump_rel=0.02)
    torso = (depth > 0.4) & (depth < 0.6)
    assert body[torso].mean() > 0.9 and not body[truth > 0].any()
    assert not thick_surfaces(depth, 0.0, fx, jump_m=0.008, jump_rel=0.02).any()  # off
    floating = np.full_like(depth, 1.6)
    floating[60:180, 100:220] = 0.6  # as thick, but inside the view: not a body nearer than the hand
    assert not thick_surfaces(floating, 0.075, fx, jump_m=0.008, jump_rel=0.02)[60:180, 100:220].any()


def test_annotate_finds_the_hand_behind_a_nearer_torso() -> None:
    depth, color, truth, fx = _torso_scene()
    cfg = AnnotateConfig(align_search_px=0, plane_count=0)  # the body rule alone (RANSAC would take part of it)
    with_rule = annotate_frame(depth, color, cfg, fx=fx).label
    without = annotate_frame(depth, color, replace(cfg, body_radius_m=0), fx=fx).label
    assert _iou(with_rule == 1, truth == 1) > 0.9 and _iou(with_rule == 2, truth == 2) > 0.9
    assert _iou(without == 1, truth == 1) < 0.1  # the band sat on the torso
