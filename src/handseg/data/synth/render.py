"""A z-buffer of analytic primitives: each primitive is intersected only over its screen bounding box.

Each hand and the object get their own depth buffer, so the amodal part map of a hand (the hand as if nothing
else were there, self-occlusion resolved by depth) and the visible labels come out of one pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from handseg.data.format import Intrinsics
from handseg.data.synth.hand import FOREARM
from handseg.data.synth.primitives import INF, Prim, hit, pieces

NEAR = 0.03  # metres: primitives reaching closer than this are intersected over the whole image


@dataclass
class Rays:
    """Ray components of every pixel: x (1xW), y (Hx1), and x^2 + y^2 + 1 (HxW)."""

    X: np.ndarray
    Y: np.ndarray
    DD: np.ndarray


@lru_cache(maxsize=8)
def rays(intr: Intrinsics) -> Rays:
    """Pixel rays of a camera (cached)."""
    xs = ((np.arange(intr.width) - intr.cx) / intr.fx).astype(np.float32)[None, :]
    ys = ((np.arange(intr.height) - intr.cy) / intr.fy).astype(np.float32)[:, None]
    dd = (xs * xs + ys * ys + 1.0).astype(np.float32)
    return Rays(xs, ys, dd)


def screen_box(prim: Prim, intr: Intrinsics) -> tuple[int, int, int, int] | None:
    """Pixel box (u0, v0, u1, v1) covering a primitive's projection, None when it is off screen or behind."""
    lo, hi = prim.aabb()
    x0, y0, z0 = lo.tolist()
    x1, y1, z1 = hi.tolist()
    if z1 <= NEAR:
        return None
    if z0 <= NEAR:
        return 0, 0, intr.width, intr.height
    # x / z over the box is extreme at its corners
    us = (x0 / z0, x0 / z1, x1 / z0, x1 / z1)
    vs = (y0 / z0, y0 / z1, y1 / z0, y1 / z1)
    u0 = max(math.floor(intr.fx * min(us) + intr.cx), 0)
    u1 = min(math.ceil(intr.fx * max(us) + intr.cx) + 1, intr.width)
    v0 = max(math.floor(intr.fy * min(vs) + intr.cy), 0)
    v1 = min(math.ceil(intr.fy * max(vs) + intr.cy) + 1, intr.height)
    if u0 >= u1 or v0 >= v1:
        return None
    return u0, v0, u1, v1


def zbuffer(
    prims: list[Prim], intr: Intrinsics, ids: str = "pid"
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int] | None]:
    """Depth (inf = empty), the id (`pid` or `material`) of the nearest primitive, and the box of drawn pixels."""
    r = rays(intr)
    depth = np.full((intr.height, intr.width), INF, np.float32)
    index = np.zeros((intr.height, intr.width), np.uint8)
    drawn = None
    for prim in (piece for whole in prims for piece in pieces(whole)):
        box = screen_box(prim, intr)
        if box is None:
            continue
        u0, v0, u1, v1 = box
        t = hit(prim, r.X[:, u0:u1], r.Y[v0:v1], r.DD[v0:v1, u0:u1])
        region = depth[v0:v1, u0:u1]
        nearer = t < region
        np.copyto(region, t, where=nearer)
        np.copyto(index[v0:v1, u0:u1], getattr(prim, ids), where=nearer)
        drawn = box if drawn is None else (min(drawn[0], u0), min(drawn[1], v0), max(drawn[2], u1), max(drawn[3], v1))
    return depth, index, drawn


def plane_depth(planes: list[dict], intr: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Depth of the nearest background plane and its index (0-based; 255 where none)."""
    r = rays(intr)
    depth = np.full((intr.height, intr.width), INF, np.float32)
    index = np.full((intr.height, intr.width), 255, np.uint8)
    for k, plane in enumerate(planes):
        n0, n1, n2 = np.asarray(plane["n"], np.float64).tolist()
        denom = n0 * r.X + n1 * r.Y + n2
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.float32(plane["k"]) / denom
        t[~(t > 0)] = INF
        nearer = t < depth
        depth[nearer] = t[nearer]
        index[nearer] = k
    return depth, index


@dataclass
class Render:
    """Clean render of one scene."""

    depth: np.ndarray  # float32 HxW metres, 0 where nothing
    label: np.ndarray  # uint8 HxW: 0 background, 1 hand, 2 object
    parts: np.ndarray  # uint8 2xHxW amodal parts (left, right)
    visible_parts: np.ndarray  # uint8 2xHxW parts where that hand is visible (forearm 17 kept)
    material: np.ndarray  # uint8 HxW material id (255 = nothing)
    plane_index: np.ndarray  # uint8 HxW background plane index (255 = none)


def render_scene(prims: list[Prim], planes: list[dict], intr: Intrinsics, skin_materials=(0, 1)) -> Render:
    """Render hands, object and background planes into depth, labels, amodal parts and materials."""
    z_left, p_left, box_l = zbuffer([q for q in prims if q.group == 0], intr, ids="pid")
    z_right, p_right, box_r = zbuffer([q for q in prims if q.group == 1], intr, ids="pid")
    z_obj, m_obj, box_o = zbuffer([q for q in prims if q.group == 2], intr, ids="material")
    depth, plane_index = plane_depth(planes, intr)
    shape = depth.shape
    label = np.zeros(shape, np.uint8)
    material = np.full(shape, 255, np.uint8)
    visible = np.zeros((2, *shape), np.uint8)
    boxes = [b for b in (box_l, box_r, box_o) if b is not None]
    if boxes:  # compose the foreground only where something was drawn
        u0, v0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        u1, v1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        roi = np.s_[v0:v1, u0:u1]
        zl, zr, zo, zb = z_left[roi], z_right[roi], z_obj[roi], depth[roi]
        left = (zl < np.inf) & (zl <= zr) & (zl <= zo) & (zl <= zb)
        right = (zr < np.inf) & ~left & (zr <= zo) & (zr <= zb)
        obj = (zo < np.inf) & ~left & ~right & (zo <= zb)
        fg = left | right | obj
        zb[fg] = np.minimum(np.minimum(zl, zr), zo)[fg]
        plane_index[roi][fg] = 255
        label[roi][left | right] = 1
        label[roi][obj] = 2
        visible[0][roi][left] = p_left[roi][left]
        visible[1][roi][right] = p_right[roi][right]
        mat = material[roi]
        mat[left] = skin_materials[0]
        mat[right] = skin_materials[1]
        mat[obj] = m_obj[roi][obj]
    p_left[p_left == FOREARM] = 0
    p_right[p_right == FOREARM] = 0
    depth[~(depth < np.inf)] = 0
    return Render(depth, label, np.stack([p_left, p_right]), visible, material, plane_index)
