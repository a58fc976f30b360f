"""Analytic ray hits agree with signed distances; the depth sensor's projector shadow has the expected width."""

from __future__ import annotations

import numpy as np
import pytest

from handseg.data.format import Intrinsics
from handseg.data.synth.geometry import random_rotation
from handseg.data.synth.grasp import grasp
from handseg.data.synth.hand import HandShape, hand_prims
from handseg.data.synth.objects import OBJECT_TYPES, make_object
from handseg.data.synth.primitives import Prim, hit, pieces, sdf_union
from handseg.data.synth.sensor import projector_shadow

RNG = np.random.default_rng(0)
R = random_rotation(RNG)
C = np.array([0.01, -0.02, 0.5])
SHAPES = [
    Prim("sphere", {"c": C, "r": 0.05}),
    Prim("capsule", {"a": C - np.array([0.05, 0.02, 0]), "b": C + np.array([0.04, 0.03, 0.05]), "r": 0.02}),
    Prim("ellipsoid", {"c": C, "rot": R, "s": np.array([0.06, 0.03, 0.04])}),
    Prim("box", {"c": C, "rot": R, "s": np.array([0.05, 0.03, 0.02])}),
    Prim("cylinder", {"a": C - R[:, 2] * 0.05, "b": C + R[:, 2] * 0.05, "r": 0.03}),
    Prim("cup", {"a": C - R[:, 2] * 0.05, "b": C + R[:, 2] * 0.05, "r": 0.04, "r_in": 0.035, "bottom": 0.01}),
]


@pytest.mark.parametrize("prim", SHAPES, ids=lambda p: p.kind)
def test_hits_lie_on_the_surface(prim: Prim) -> None:
    xs = np.linspace(-0.2, 0.2, 41, dtype=np.float32)[None, :]
    ys = np.linspace(-0.2, 0.2, 41, dtype=np.float32)[:, None]
    dd = xs * xs + ys * ys + 1
    depth = np.min([hit(piece, xs, ys, dd) for piece in pieces(prim)], axis=0)
    hits = np.isfinite(depth)
    assert hits.sum() > 20
    depth = np.where(hits, depth, 0)
    pts = np.stack(np.broadcast_arrays(xs * depth, ys * depth, depth), -1)[hits].astype(np.float64)
    assert np.abs(sdf_union([prim], pts)).max() < 2e-4
    # a point just before each hit is outside the shape: the hit is the nearest one
    before = pts * (1 - 1e-3)
    assert (sdf_union([prim], before) > -1e-4).all()


def test_projector_shadow_width() -> None:
    intr = Intrinsics(200, 10, 100.0, 100.0, 99.5, 4.5)
    depth = np.full((10, 200), 1.0, np.float32)
    depth[:, 100:] = 0.5  # a near surface on the right
    shadow = projector_shadow(depth, intr, baseline=0.02)
    expected = 100.0 * 0.02 * (1 / 0.5 - 1 / 1.0)  # = 2 pixels
    width = int(shadow[5].sum())
    assert abs(width - expected) <= 1
    assert shadow[5, 100 - width : 100].all() and not shadow[5, 100:].any()


@pytest.mark.parametrize("kind", OBJECT_TYPES)
def test_grasp_touches_without_cutting_in(kind: str) -> None:
    rng = np.random.default_rng(OBJECT_TYPES.index(kind))
    obj = make_object(kind, rng)
    shape = HandShape("right", 1.0)
    pose, rot, trans, info = grasp(shape, obj, rng)
    placed = [p.transformed(rot, trans) for p in obj.prims]
    assert sum(len(v) for v in info["touching_segments"].values()) >= 2, info
    for prim in hand_prims(shape, pose):
        if prim.kind == "capsule" and 2 <= prim.pid <= 16:
            a, b, r = prim.params["a"], prim.params["b"], prim.params["r"]
            pts = a + (b - a) * np.linspace(0, 1, 9)[:, None]
            assert (sdf_union(placed, pts) - r).min() > -0.003, (kind, prim.pid)
