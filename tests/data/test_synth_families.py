"""Generator version 3: scene families, their label rules, and the D400 stereo sensor model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handseg.data.format import Intrinsics
from handseg.data.synth import render_frame
from handseg.data.synth.families import FAMILIES, parse_weights, sample_family_scene
from handseg.data.synth.primitives import Prim
from handseg.data.synth.render import render_scene
from handseg.data.synth.sensor import matching_window, stereo_depth_image
from handseg.errors import ConfigError

W, H = 160, 120


def _sphere(center, r: float, group: int, material: int = 0) -> Prim:
    return Prim("sphere", {"c": np.asarray(center, np.float64), "r": r}, group=group, pid=1, material=material)


def _wall(z: float) -> dict:
    return {"kind": "wall", "n": np.array([0.0, 0.0, -1.0]), "k": -z, "color": [200, 200, 200]}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_renders_deterministically_with_its_name(family: str) -> None:
    a = render_frame(3, 1, W, H, scenes=family)
    b = render_frame(3, 1, W, H, scenes=family)
    assert a["scene"]["family"] == family and a["scene"]["generator_version"] == 3
    assert a["depth"].tobytes() == b["depth"].tobytes() and a["label"].tobytes() == b["label"].tobytes()
    assert set(np.unique(a["label"])) <= {0, 1, 2}
    json.dumps(a["scene"])


def test_background_shapes_are_background_and_hide_what_is_behind() -> None:
    intr = Intrinsics().scaled(W, H)
    hand = [_sphere([0.0, 0.0, 0.6], 0.08, group=1)]
    torso = [_sphere([0.03, 0.0, 0.5], 0.05, group=3, material=7)]  # a body part in front of part of the hand
    alone = render_scene(hand, [_wall(1.5)], intr)
    covered = render_scene(hand, [_wall(1.5)], intr, background=torso)
    hidden = (alone.label == 1) & (covered.label == 0)
    assert hidden.sum() > 50, "the body part hides part of the hand"
    assert (covered.label[covered.material == 7] == 0).all()
    assert ((covered.label == 1) & (covered.material == 7)).sum() == 0
    assert (covered.depth[hidden] < alone.depth[hidden]).all()
    assert (covered.parts[1][hidden] > 0).all(), "amodal parts still hold the hidden hand"


def test_lying_object_is_background_touched_object_is_object() -> None:
    intr = Intrinsics().scaled(W, H)
    lying = render_scene([], [_wall(1.5)], intr, background=[_sphere([0.0, 0.05, 0.7], 0.05, group=3)])
    assert (lying.label == 0).all() and (lying.depth[lying.material != 255] < 0.7).all()
    held = render_scene([_sphere([0.0, 0.05, 0.7], 0.05, group=2)], [_wall(1.5)], intr)
    assert (held.label == 2).sum() > 100


def test_tabletop_reach_frames_have_no_object_and_scenes_record_their_background() -> None:
    rng_seen = {"reach": 0, "hold": 0}
    for index in range(40):
        frame = render_frame(1, index, W, H, scenes="tabletop")
        mode = frame["scene"]["mode"]
        kinds = {b["kind"] for b in frame["scene"]["background"]}
        assert "table" in kinds and "lying object" in kinds
        if mode == "reach":
            rng_seen["reach"] += 1
            assert not (frame["label"] == 2).any(), "an object no hand touches is background"
            assert frame["scene"]["object"]["touched"] is False
        elif mode == "hold":
            rng_seen["hold"] += 1
            assert frame["scene"]["object"]["touched"] is True
        if rng_seen["reach"] >= 2 and rng_seen["hold"] >= 2:
            break
    assert rng_seen["reach"] >= 1 and rng_seen["hold"] >= 1


def test_frontal_scene_has_a_body_behind_the_hands() -> None:
    intr = Intrinsics().scaled(W, H)
    scene = sample_family_scene(np.random.default_rng(4), intr, family="frontal")
    kinds = {b["kind"] for b in scene.info["background"]}
    assert {"torso", "neck and head", "upper arm"} <= kinds
    torso = np.mean([p.params["c"][2] for p in scene.background if p.kind == "ellipsoid"])
    assert all(h.trans[2] < torso for h in scene.hands), "hands are in front of the body"


def test_hand_size_in_pixels_follows_the_cameras_focal_length() -> None:
    hand = [_sphere([0.0, 0.0, 0.8], 0.06, group=1)]
    narrow = render_scene(hand, [], Intrinsics(fx=615.0, fy=615.0).scaled(W, H))
    wide = render_scene(hand, [], Intrinsics(fx=385.0, fy=385.0).scaled(W, H))
    ratio = (narrow.label == 1).sum() / (wide.label == 1).sum()
    assert ratio == pytest.approx((615 / 385) ** 2, rel=0.1)


def _stereo(render, intr, seed=0, **kw):
    nz = -np.ones((H // 2, W // 2), np.float32)
    kw = {"baseline": 0.055, "min_z": 0.28, "dark": np.zeros((H, W), bool), **kw}
    return stereo_depth_image(render, intr, np.random.default_rng(seed), nz, **kw)[0]


def test_stereo_invalid_band_lies_left_of_near_objects() -> None:
    intr = Intrinsics(fx=615.0, fy=615.0).scaled(W, H)
    render = render_scene([], [_wall(1.2)], intr, background=[_sphere([0.0, 0.0, 0.45], 0.06, group=3)])
    depth = _stereo(render, intr)
    cols = np.nonzero(render.material[H // 2] != 255)[0]
    left, right = cols.min(), cols.max()
    band = round(intr.fx * 0.055 * (1 / 0.45 - 1 / 1.2))
    assert (depth[H // 2, left - band + 2 : left - 1] == 0).all(), "occlusion band left of the object"
    assert (depth[H // 2, right + 3 : right + band] > 0).mean() > 0.8, "no band on the right"


def test_stereo_noise_grows_with_depth_squared() -> None:
    intr = Intrinsics(fx=615.0, fy=615.0).scaled(W, H)
    spread = []
    for z in (1.0, 2.0):
        render = render_scene([], [_wall(z)], intr)
        d = _stereo(render, intr, seed=1).astype(np.float64)
        d = d[d > 0] / 1000 - z
        spread.append(d.std())
    assert spread[1] / spread[0] == pytest.approx(4.0, rel=0.35)


def test_scene_weights_are_checked() -> None:
    assert parse_weights("tabletop:3,frontal") == {"tabletop": 3.0, "frontal": 1.0}
    with pytest.raises(ConfigError, match="unknown scene family 'kitchen'"):
        render_frame(0, 0, W, H, scenes="kitchen")
    with pytest.raises(ConfigError, match="unknown sensor"):
        render_frame(0, 0, W, H, sensor="kinect")


def test_stereo_left_border_band_shrinks_with_depth() -> None:
    intr = Intrinsics(fx=615.0, fy=615.0).scaled(W, H)
    widths = []
    for z in (0.6, 1.8):
        depth = _stereo(render_scene([], [_wall(z)], intr), intr)
        widths.append(int((depth[H // 2] == 0)[: W // 2].argmin()))  # first valid column from the left
    expected = [intr.fx * 0.055 / z for z in (0.6, 1.8)]
    assert widths[0] == pytest.approx(expected[0], abs=2) and widths[1] == pytest.approx(expected[1], abs=2)


def test_sr300_depth_unit_of_an_eighth_millimetre(tmp_path) -> None:
    from handseg.data.format import HandsegDataset
    from handseg.data.synth import generate_dataset

    mm = render_frame(2, 0, W, H, sensor="sr300")
    eighth = render_frame(2, 0, W, H, sensor="sr300", depth_scale_m=0.000125)
    valid = mm["depth"] > 0
    assert eighth["intrinsics"].depth_scale_m == 0.000125
    assert np.array_equal(eighth["depth"][valid], mm["depth"][valid].astype(np.uint32) * 8)
    root = generate_dataset(tmp_path / "d", 2, size=(W, H), render_options={"depth_scale_m": 0.000125},
                            val_fraction=0.5, progress=False)  # fmt: skip
    sample = HandsegDataset(root, split=None)[0]
    assert HandsegDataset(root, split=None).intrinsics.depth_scale_m == 0.000125
    assert 0.15 < float(sample["depth"][sample["depth"] > 0].min()) < 3.0, "read back in metres"
    with pytest.raises(ConfigError, match="depth_scale_m"):
        render_frame(2, 0, W, H, depth_scale_m=0.01)


def test_multipath_pushes_concave_creases_away_only() -> None:
    from handseg.data.synth.sensor import multipath

    x = np.abs(np.linspace(-1, 1, W, dtype=np.float32))[None].repeat(H, 0)
    valley = np.float32(1.0) + np.float32(0.2) * (1 - x)  # the crease (centre column) is the farthest point
    ridge = np.float32(1.0) + np.float32(0.2) * x  # the crease is the nearest point
    rng = np.random.default_rng(0)
    extra = multipath(valley, rng, px=W / 640)
    assert extra[H // 4 : -H // 4, W // 2].min() > 0.0005, "a concave crease reads too far (away from the border)"
    assert extra[:, : W // 4].max() < 1e-4 and extra[:, -W // 4 :].max() < 1e-4, "flat parts are untouched"
    assert multipath(ridge, rng, px=W / 640).max() < 1e-4, "a convex ridge gets no multipath"
    step = np.where(np.arange(W) < W // 2, np.float32(0.5), np.float32(1.5))[None].repeat(H, 0)
    assert multipath(step.astype(np.float32), rng, px=W / 640).max() < 1e-4, "depth jumps are not corners (< 0.1 mm)"


def test_matching_window_rounds_small_relief_and_keeps_large_jumps() -> None:
    z = np.full((120, 160), 0.8, np.float32)
    z[:, 78:81] = 0.79  # a 3 px wide ridge 1 cm proud of the surface (a finger at arm's length)
    z[:, 120:] = 0.5  # a 30 cm jump (a hand before a wall)
    z[:10, :10] = 0  # no surface: stays missing and is never averaged in
    out, info = matching_window(z, np.random.default_rng(0), px=1.0)
    assert 0.8 - out[60, 79] < 0.6 * (0.8 - z[60, 79]), f"ridge kept: {out[60, 79]} ({info})"
    assert abs(out[60, 118] - 0.8) < 0.003 and abs(out[60, 122] - 0.5) < 0.003, "the jump is blurred"
    assert (out[:10, :10] == 0).all() and (out[20:, 20:60] > 0.79).all()


def test_stereo_window_is_a_render_option() -> None:
    plain = render_frame(3, 0, 64, 48, scenes="tabletop", sensor="d415")
    windowed = render_frame(3, 0, 64, 48, scenes="tabletop", sensor="d415", stereo_window=True)
    assert "matching_window" in windowed["scene"]["depth_sensor"]
    assert "matching_window" not in plain["scene"]["depth_sensor"]
    assert (plain["label"] == windowed["label"]).all() and (plain["depth"] != windowed["depth"]).any()


def test_near_range_share_counts_hand_and_object_pixels_nearer_than_the_minimum() -> None:
    from handseg.data.synth.generate import near_range_share

    depth = np.full((4, 5), 0.5, np.float32)
    label = np.zeros((4, 5), np.uint8)
    label[:2] = 1  # 10 hand pixels
    label[2, :2] = 2  # 2 object pixels
    depth[0, :3] = 0.1  # 3 hand pixels too near
    depth[2, 0] = 0.0  # no surface: not "too near"
    depth[3] = 0.05  # background: not counted
    assert near_range_share(depth, label, 0.28) == pytest.approx(3 / 12)
    assert near_range_share(depth, np.zeros_like(label), 0.28) == 0.0


def test_in_range_draws_again_only_scenes_whose_hands_are_too_near() -> None:
    # egocentric D415 frames at seed 3: frame 2's first scene holds the hands nearer than 0.28 m, frame 0's does not
    kept = render_frame(3, 0, 64, 48, scenes="egocentric", sensor="d415", in_range=True)
    plain = render_frame(3, 0, 64, 48, scenes="egocentric", sensor="d415")
    assert kept["scene"]["in_range_draws"] == 1 and "in_range_draws" not in plain["scene"]
    assert (kept["depth"] == plain["depth"]).all() and (kept["label"] == plain["label"]).all()
    redrawn = render_frame(3, 2, 64, 48, scenes="egocentric", sensor="d415", in_range=True)
    near = render_frame(3, 2, 64, 48, scenes="egocentric", sensor="d415")
    assert redrawn["scene"]["in_range_draws"] > 1
    holes = {}
    for name, frame in (("near", near), ("redrawn", redrawn)):
        fg = (frame["label"] == 1) | (frame["label"] == 2)
        assert fg.any()
        holes[name] = (frame["depth"][fg] == 0).mean()
    assert holes["near"] > 0.2 and holes["redrawn"] < holes["near"] / 2, holes
