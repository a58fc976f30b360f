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
    return _corners_box(*lo.tolist(), *hi.tolist(), intr)


def _corners_box(
    x0: float, y0: float, z0: float, x1: float, y1: float, z1: float, intr: Intrinsics
) -> tuple[int, int, int, int] | None:
    """Pixel box covering the projection of the axis-aligned box (x0, y0, z0)-(x1, y1, z1); see `screen_box`."""
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


def _sphere_box(c: list[float], r: float, intr: Intrinsics) -> tuple[int, int, int, int] | None:
    """`screen_box` of a sphere."""
    return _corners_box(c[0] - r, c[1] - r, c[2] - r, c[0] + r, c[1] + r, c[2] + r, intr)


def _segment_box(a: list[float], b: list[float], r: float, intr: Intrinsics) -> tuple[int, int, int, int] | None:
    """`screen_box` of a capsule (segment a-b swept by a sphere of radius r)."""
    lo = [min(p, q) - r for p, q in zip(a, b)]
    hi = [max(p, q) + r for p, q in zip(a, b)]
    return _corners_box(*lo, *hi, intr)


Item = tuple[Prim, tuple[int, int, int, int]]


def visible_pieces(prims: list[Prim], intr: Intrinsics) -> list[Item]:
    """The pieces (see `pieces`) of primitives in front of the camera, in drawing order, with their screen boxes."""
    out = []
    for prim in prims:
        p = prim.params
        if prim.kind == "capsule":  # inline `pieces` and `screen_box`: most primitives of a hand are capsules
            r = float(p["r"])
            a, b = p["a"].tolist(), p["b"].tolist()
            box = _segment_box(a, b, r, intr)
            if box is not None:
                out.append((Prim("capsule_side", p, prim.group, prim.pid, prim.material), box))
            for key, c in (("a", a), ("b", b)):
                if key == "a" and prim.meta.get("no_cap_a"):
                    continue
                box = _sphere_box(c, r, intr)
                if box is not None:
                    out.append((Prim("sphere", {"c": p[key], "r": p["r"]}, prim.group, prim.pid, prim.material), box))
            continue
        for piece in pieces(prim):
            box = screen_box(piece, intr)
            if box is not None:
                out.append((piece, box))
    return out


def union_box(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int] | None:
    """The smallest box holding all `boxes` (None when there are none)."""
    if not boxes:
        return None
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


# Depth buffers hold keys (bits of the float32 depth << 16 | drawing order): their minimum is the nearest hit and,
# on a tie, the primitive drawn first, so primitives can be drawn in any order and in batches.
_ORDER_BITS = 16
_EMPTY = np.int64(int(np.array(INF).view(np.int32)) << _ORDER_BITS)  # drawing order 0: nothing (misses key higher)


@dataclass
class _Batch:
    """Small primitives of one kind intersected together: boxes, per-primitive scalars, drawing order."""

    boxes: list[tuple[int, int, int, int]]
    params: list[tuple[float, ...]]
    order: list[int]


def _sphere_params(c: np.ndarray, r: float) -> tuple[float, ...]:
    c0, c1, c2 = c.tolist()
    return c0, c1, c2, c0 * c0 + c1 * c1 + c2 * c2 - r * r


def _side_params(a: np.ndarray, b: np.ndarray, r: float) -> tuple[float, ...]:
    ba = b - a
    baba, baoa, oaoa = float(ba @ ba), -float(ba @ a), float(a @ a)
    return (*ba.tolist(), *a.tolist(), baba, baoa, baba * oaoa - baoa * baoa - r * r * baba)


def _hits_sphere(q: list[np.ndarray], X: np.ndarray, Y: np.ndarray, DD: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depth and hit mask of spheres, one per ray (same arithmetic as `hit_sphere`)."""
    c0, c1, c2, cc = q
    b = c0 * X
    b += c1 * Y
    b += c2
    np.negative(b, out=b)
    h = b * b
    h -= DD * cc
    ok = h >= 0
    sq = np.sqrt(np.where(ok, h, 0))
    t = -b
    t -= sq
    t /= DD
    return t, ok & (t > 0)


def _hits_side(q: list[np.ndarray], X: np.ndarray, Y: np.ndarray, DD: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depth and hit mask of capsule sides, one per ray (same arithmetic as `hit_capsule_side`)."""
    b0, b1, b2, a0, a1, a2, baba, baoa, qc = q
    bard = b0 * X
    bard += b1 * Y
    bard += b2
    rdoa = a0 * X
    rdoa += a1 * Y
    rdoa += a2
    np.negative(rdoa, out=rdoa)
    qa = baba * DD
    qa -= bard * bard
    qb = baba * rdoa
    qb -= baoa * bard
    h = qb * qb
    h -= qa * qc
    ok = h >= 0
    sq = np.sqrt(np.where(ok, h, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -qb
        t -= sq
        t /= qa
    y = t * bard
    y += baoa
    return t, ok & (y > 0) & (y < baba) & (t > 0)


_BATCHED = {"sphere": _hits_sphere, "capsule_side": _hits_side}


def _draw_batch(keys: np.ndarray, roi: tuple[int, int, int, int], batch: _Batch, kind: str, r: Rays) -> None:
    """Intersect a batch with the rays of all its boxes at once and keep the nearest keys."""
    boxes = np.array(batch.boxes, np.int64)
    u0, v0, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    area = w * h
    which = np.repeat(np.arange(len(boxes)), area)
    local = np.arange(len(which))
    local -= np.repeat(np.cumsum(area) - area, area)
    row, col = np.divmod(local, np.repeat(w, area))
    row += np.repeat(v0, area)
    col += np.repeat(u0, area)
    params = np.array(batch.params, np.float32).T  # float64 scalars rounded as numpy rounds Python floats
    q = [np.repeat(values, area) for values in params]
    flat = row * r.DD.shape[1]
    flat += col
    t, ok = _BATCHED[kind](q, r.X[0].take(col), r.Y[:, 0].take(row), r.DD.take(flat))
    key = t[ok].view(np.int32).astype(np.int64) << _ORDER_BITS
    key |= np.array(batch.order, np.int64)[which[ok]]
    width = roi[2] - roi[0]
    np.minimum.at(keys.reshape(-1), (row[ok] - roi[1]) * width + (col[ok] - roi[0]), key)


def _draw(
    items: list[Item], intr: Intrinsics, roi: tuple[int, int, int, int], ids: str
) -> tuple[np.ndarray, np.ndarray]:
    """Depth (inf = empty) and id (`pid` or `material`) of the nearest of `items` over the pixels `roi`."""
    r = rays(intr)
    keys = np.full((roi[3] - roi[1], roi[2] - roi[0]), _EMPTY, np.int64)
    id_of = np.zeros(len(items) + 1, np.uint8)
    batches = {kind: _Batch([], [], []) for kind in _BATCHED}
    for order, (prim, box) in enumerate(items, start=1):
        id_of[order] = getattr(prim, ids)
        p = prim.params
        if prim.kind == "sphere":
            batches["sphere"].params.append(_sphere_params(p["c"], float(p["r"])))
        elif prim.kind == "capsule_side":
            batches["capsule_side"].params.append(_side_params(p["a"], p["b"], float(p["r"])))
        else:  # bigger shapes, one at a time over their box
            u0, v0, u1, v1 = box
            t = hit(prim, r.X[:, u0:u1], r.Y[v0:v1], r.DD[v0:v1, u0:u1])
            key = t.view(np.int32).astype(np.int64) << _ORDER_BITS
            key |= order
            region = keys[v0 - roi[1] : v1 - roi[1], u0 - roi[0] : u1 - roi[0]]
            np.minimum(region, key, out=region)
            continue
        batches[prim.kind].boxes.append(box)
        batches[prim.kind].order.append(order)
    for kind, batch in batches.items():
        if batch.boxes:
            _draw_batch(keys, roi, batch, kind, r)
    depth = (keys >> _ORDER_BITS).astype(np.int32).view(np.float32)
    return depth, id_of[keys & ((1 << _ORDER_BITS) - 1)]


def zbuffer(
    prims: list[Prim], intr: Intrinsics, ids: str = "pid"
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int] | None]:
    """Depth (inf = empty), the id (`pid` or `material`) of the nearest primitive, and the box of drawn pixels."""
    items = visible_pieces(prims, intr)
    depth, index = _draw(items, intr, (0, 0, intr.width, intr.height), ids)
    return depth, index, union_box([box for _, box in items])


def plane_depth(planes: list[dict], intr: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Depth of the nearest background plane and its index (0-based; 255 where none)."""
    r = rays(intr)
    depth = np.full((intr.height, intr.width), INF, np.float32)
    index = np.full((intr.height, intr.width), 255, np.uint8)
    for k, plane in enumerate(planes):
        n0, n1, n2 = np.asarray(plane["n"], np.float64).tolist()
        denom = n0 * r.X + n1 * r.Y
        denom += n2
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.divide(np.float32(plane["k"]), denom, out=denom)
        nearer = t < depth  # inf, nan and negative depths are never nearer than that of no plane
        nearer &= t > 0
        np.copyto(depth, t, where=nearer)
        np.copyto(index, k, where=nearer)
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
    box: tuple[int, int, int, int] | None = None  # pixels (u0, v0, u1, v1) holding every hand and object pixel


def render_scene(
    prims: list[Prim], planes: list[dict], intr: Intrinsics, skin_materials=(0, 1), background: list[Prim] = ()
) -> Render:
    """Render hands, object, background shapes and planes into depth, labels, amodal parts and materials.

    `background` shapes (body parts, lying objects, furniture) are labelled background and hide what is behind them.
    """
    depth, plane_index = plane_depth(planes, intr)
    shape = depth.shape
    label = np.zeros(shape, np.uint8)
    material = np.full(shape, 255, np.uint8)
    bg_items = visible_pieces(list(background), intr)
    bg_box = union_box([box for _, box in bg_items])
    if bg_box is not None:  # background shapes join the planes: nearest wins, material instead of plane colour
        zs, ms = _draw(bg_items, intr, bg_box, "material")
        roi = np.s_[bg_box[1] : bg_box[3], bg_box[0] : bg_box[2]]
        nearer = zs < depth[roi]
        np.copyto(depth[roi], zs, where=nearer)
        np.copyto(plane_index[roi], 255, where=nearer)
        np.copyto(material[roi], ms, where=nearer)
    parts = np.zeros((2, *shape), np.uint8)
    visible = np.zeros((2, *shape), np.uint8)
    items = visible_pieces(prims, intr)
    roi_box = union_box([box for _, box in items])
    if roi_box is not None:  # draw and compose the foreground only where something is
        zl, pl = _draw([item for item in items if item[0].group == 0], intr, roi_box, "pid")
        zr, pr = _draw([item for item in items if item[0].group == 1], intr, roi_box, "pid")
        zo, mo = _draw([item for item in items if item[0].group == 2], intr, roi_box, "material")
        u0, v0, u1, v1 = roi_box
        roi = np.s_[v0:v1, u0:u1]
        zb = depth[roi]
        left = (zl < np.inf) & (zl <= zr) & (zl <= zo) & (zl <= zb)
        right = (zr < np.inf) & ~left & (zr <= zo) & (zr <= zb)
        obj = (zo < np.inf) & ~left & ~right & (zo <= zb)
        fg = left | right | obj
        np.copyto(zb, np.minimum(np.minimum(zl, zr), zo), where=fg)
        np.copyto(plane_index[roi], 255, where=fg)
        label[roi] = (left | right).view(np.uint8) + (obj.view(np.uint8) << 1)
        np.multiply(pl, left, out=visible[0][roi])
        np.multiply(pr, right, out=visible[1][roi])
        mat = material[roi]
        np.copyto(mat, skin_materials[0], where=left)
        np.copyto(mat, skin_materials[1], where=right)
        np.copyto(mat, mo, where=obj)
        np.multiply(pl, pl != FOREARM, out=parts[0][roi])
        np.multiply(pr, pr != FOREARM, out=parts[1][roi])
    depth[~(depth < np.inf)] = 0
    # the sensor looks for shadows and edges around everything that stands in front of the planes
    box = union_box([b for b in (roi_box, bg_box) if b is not None])
    return Render(depth, label, parts, visible, material, plane_index, box)
