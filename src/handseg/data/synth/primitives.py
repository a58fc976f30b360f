"""Analytic shapes of the synthetic scenes: ray hits (depth along the optical axis) and signed distances.

Rays leave the camera centre along d = (x, y, 1) with x = (u - cx) / fx, y = (v - cy) / fy, so the ray parameter of a
hit is its depth z. Every `hit_*` takes the ray components of an image crop (X of shape 1xW, Y of shape Hx1, and
DD = X^2 + Y^2 + 1 of shape HxW) and returns the depth of the nearest hit in front of the camera, inf where it misses.
Every `sdf_*` takes Nx3 points and returns their signed distance (negative inside).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

INF = np.float32(np.inf)


@dataclass
class Prim:
    """One shape in camera coordinates (metres): kind, its parameters, scene group and id within the group."""

    kind: str  # sphere, capsule, ellipsoid, box, cylinder, cup, cone
    params: dict[str, np.ndarray | float]
    group: int = 0  # 0 left hand, 1 right hand, 2 object, 3 background shape
    pid: int = 0  # part id for hands (1..16, 17 forearm), material index otherwise
    material: int = 0
    meta: dict = field(default_factory=dict)

    def transformed(self, rot: np.ndarray, trans: np.ndarray) -> Prim:
        """The same shape moved by x -> rot @ x + trans."""
        p = dict(self.params)
        for key in ("a", "b", "c"):
            if key in p:
                p[key] = rot @ np.asarray(p[key], np.float64) + trans
        if "rot" in p:
            p["rot"] = rot @ np.asarray(p["rot"], np.float64)
        return Prim(self.kind, p, self.group, self.pid, self.material, dict(self.meta))

    def aabb(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box (lo, hi) in the current frame."""
        p = self.params
        if self.kind == "sphere":
            r = float(p["r"])
            return p["c"] - r, p["c"] + r
        if self.kind in ("capsule", "capsule_side", "cylinder", "cup"):
            r = float(p["r"])
            lo, hi = np.minimum(p["a"], p["b"]), np.maximum(p["a"], p["b"])
            return lo - r, hi + r
        if self.kind in ("ellipsoid", "box"):
            ext = np.abs(np.asarray(p["rot"])) @ np.asarray(p["s"])
            return p["c"] - ext, p["c"] + ext
        if self.kind == "cone":
            grow = float(p.get("g0", 1.0)) + float(p["k"]) * float(np.linalg.norm(p["b"] - p["a"]))
            r = max(p["s"]) * grow
            lo, hi = np.minimum(p["a"], p["b"]), np.maximum(p["a"], p["b"])
            return lo - r, hi + r
        raise ValueError(f"unknown primitive {self.kind}")


def _sqrt_pos(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Square root of the positive part of h and the mask h >= 0."""
    ok = h >= 0
    return np.sqrt(np.where(ok, h, 0)), ok


def _infinite_cylinder(a: np.ndarray, b: np.ndarray, r: float, X: np.ndarray, Y: np.ndarray, DD: np.ndarray):
    """Terms of the ray / infinite-cylinder (axis a-b, radius r) quadratic: baba, baoa, bard, qa, qb, sqrt, ok."""
    ba = b - a
    baba, baoa, oaoa = float(ba @ ba), -float(ba @ a), float(a @ a)
    (b0, b1, b2), (a0, a1, a2) = ba.tolist(), a.tolist()
    bard = b0 * X + b1 * Y + b2
    rdoa = -(a0 * X + a1 * Y + a2)
    qa = baba * DD - bard * bard
    qb = baba * rdoa - baoa * bard
    qc = baba * oaoa - baoa * baoa - r * r * baba
    sq, ok = _sqrt_pos(qb * qb - qa * qc)
    return baba, baoa, bard, qa, qb, sq, ok


def hit_sphere(c: np.ndarray, r: float, X: np.ndarray, Y: np.ndarray, DD: np.ndarray) -> np.ndarray:
    """Nearest hit of a sphere."""
    c0, c1, c2 = c.tolist()
    b = -(c0 * X + c1 * Y + c2)
    cc = c0 * c0 + c1 * c1 + c2 * c2 - r * r
    sq, ok = _sqrt_pos(b * b - DD * cc)
    t = (-b - sq) / DD
    return np.where(ok & (t > 0), t, INF)


def hit_capsule_side(
    a: np.ndarray, b: np.ndarray, r: float, X: np.ndarray, Y: np.ndarray, DD: np.ndarray
) -> np.ndarray:
    """Nearest hit of the side of a capsule (segment a-b swept by a sphere of radius r), without its end spheres."""
    baba, baoa, bard, qa, qb, sq, ok = _infinite_cylinder(a, b, r, X, Y, DD)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (-qb - sq) / qa
    y = baoa + t * bard
    return np.where(ok & (y > 0) & (y < baba) & (t > 0), t, INF)


def _local_rays(c: np.ndarray, m: np.ndarray, X: np.ndarray, Y: np.ndarray):
    """Ray origin and direction components in a local frame x' = m @ (x - c)."""
    o = (m @ (-c)).tolist()
    rows = m.tolist()
    d = [row[0] * X + row[1] * Y + row[2] for row in rows]
    return o, d


def hit_ellipsoid(
    c: np.ndarray, rot: np.ndarray, s: np.ndarray, X: np.ndarray, Y: np.ndarray, DD: np.ndarray
) -> np.ndarray:
    """Nearest hit of an ellipsoid with centre c, axes the columns of rot and semi-axes s."""
    m = (rot / s[None, :]).T
    o, d = _local_rays(c, m, X, Y)
    qa = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    qb = o[0] * d[0] + o[1] * d[1] + o[2] * d[2]
    qc = o[0] * o[0] + o[1] * o[1] + o[2] * o[2] - 1.0
    sq, ok = _sqrt_pos(qb * qb - qa * qc)
    t = (-qb - sq) / qa
    return np.where(ok & (t > 0), t, INF)


def hit_box(c: np.ndarray, rot: np.ndarray, s: np.ndarray, X: np.ndarray, Y: np.ndarray, DD: np.ndarray) -> np.ndarray:
    """Nearest hit of an oriented box with centre c, axes the columns of rot and half sizes s."""
    o, d = _local_rays(c, rot.T, X, Y)
    s = np.asarray(s).tolist()
    near = np.full(DD.shape, -np.inf, np.float32)
    far = np.full(DD.shape, np.inf, np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(3):
            inv = 1.0 / d[i]
            t1 = (-s[i] - o[i]) * inv
            t2 = (s[i] - o[i]) * inv
            near = np.maximum(near, np.minimum(t1, t2))
            far = np.minimum(far, np.maximum(t1, t2))
    return np.where((near <= far) & (near > 0), near, INF)


def _cylinder_interval(a: np.ndarray, b: np.ndarray, r: float, X: np.ndarray, Y: np.ndarray, DD: np.ndarray):
    """Entry and exit depth of a capped cylinder (inf, -inf where the ray misses)."""
    baba, baoa, bard, qa, qb, sq, ok = _infinite_cylinder(a, b, r, X, Y, DD)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-qb - sq) / qa
        t2 = (-qb + sq) / qa
        s1 = -baoa / bard
        s2 = (baba - baoa) / bard
    lo = np.maximum(t1, np.minimum(s1, s2))
    hi = np.minimum(t2, np.maximum(s1, s2))
    good = ok & (lo <= hi)
    return np.where(good, lo, INF), np.where(good, hi, -INF)


def hit_cylinder(a: np.ndarray, b: np.ndarray, r: float, X: np.ndarray, Y: np.ndarray, DD: np.ndarray) -> np.ndarray:
    """Nearest hit of a capped cylinder with axis a-b."""
    lo, _ = _cylinder_interval(a, b, r, X, Y, DD)
    return np.where(lo > 0, lo, INF)


def hit_cup(
    a: np.ndarray, b: np.ndarray, r: float, r_in: float, bottom: float, X: np.ndarray, Y: np.ndarray, DD: np.ndarray
) -> np.ndarray:
    """Nearest hit of a cup: a cylinder (bottom a, open top b) minus an inner cylinder above a floor of `bottom`."""
    axis = (b - a) / np.linalg.norm(b - a)
    o_lo, o_hi = _cylinder_interval(a, b, r, X, Y, DD)
    i_lo, i_hi = _cylinder_interval(a + axis * bottom, b + axis * (r + 0.05), r_in, X, Y, DD)
    in_hole = (i_lo <= o_lo) & (o_lo <= i_hi)
    t = np.where(in_hole, np.where(i_hi < o_hi, i_hi, INF), o_lo)
    return np.where(t > 0, t, INF)


def hit_cone(
    a: np.ndarray, b: np.ndarray, rot: np.ndarray, s: np.ndarray, k: float, g0: float, X: np.ndarray, Y: np.ndarray
) -> np.ndarray:
    """Nearest hit of the side of a tapered elliptic cylinder from a to b (no end caps).

    Cross-section semi-axes s * (g0 + k * distance from a) along rot's first two columns.
    """
    length = float(np.linalg.norm(b - a))
    m = (rot / np.array([s[0], s[1], 1.0])[None, :]).T
    o, d = _local_rays(a, m, X, Y)
    g = g0 + k * o[2]
    qa = d[0] * d[0] + d[1] * d[1] - (k * k) * d[2] * d[2]
    qb = o[0] * d[0] + o[1] * d[1] - (k * g) * d[2]
    qc = o[0] * o[0] + o[1] * o[1] - g * g
    sq, ok = _sqrt_pos(qb * qb - qa * qc)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-qb - sq) / qa
        t2 = (-qb + sq) / qa
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    z_near, z_far = o[2] + near * d[2], o[2] + far * d[2]
    good_near = ok & (near > 0) & (z_near >= 0) & (z_near <= length)
    good_far = ok & (far > 0) & (z_far >= 0) & (z_far <= length)
    return np.where(good_near, near, np.where(good_far, far, INF)).astype(np.float32)


def pieces(prim: Prim, cone_piece: float = 0.06) -> list[Prim]:
    """Parts with tighter screen boxes: a capsule's side and end spheres, a long cone's pieces; others as is."""
    p = prim.params
    if prim.kind == "cone":
        length = float(np.linalg.norm(p["b"] - p["a"]))
        cuts = np.linspace(0.0, 1.0, max(1, int(np.ceil(length / cone_piece))) + 1)
        g0, k = float(p.get("g0", 1.0)), float(p["k"])
        out = []
        for c0, c1 in itertools.pairwise(cuts):
            part = {**p, "a": p["a"] + (p["b"] - p["a"]) * c0, "b": p["a"] + (p["b"] - p["a"]) * c1}
            part["g0"] = g0 + k * length * c0
            out.append(Prim("cone", part, prim.group, prim.pid, prim.material))
        return out
    if prim.kind != "capsule":
        return [prim]
    side = Prim("capsule_side", p, prim.group, prim.pid, prim.material)
    keys = ("b",) if prim.meta.get("no_cap_a") else ("a", "b")
    ends = [Prim("sphere", {"c": p[key], "r": p["r"]}, prim.group, prim.pid, prim.material) for key in keys]
    return [side, *ends]


def hit(prim: Prim, X: np.ndarray, Y: np.ndarray, DD: np.ndarray) -> np.ndarray:
    """Nearest hit depth of any primitive (capsules: see `pieces`) over a crop of rays."""
    p = prim.params
    if prim.kind == "sphere":
        return hit_sphere(p["c"], float(p["r"]), X, Y, DD)
    if prim.kind == "capsule_side":
        return hit_capsule_side(p["a"], p["b"], float(p["r"]), X, Y, DD)
    if prim.kind == "ellipsoid":
        return hit_ellipsoid(p["c"], p["rot"], p["s"], X, Y, DD)
    if prim.kind == "box":
        return hit_box(p["c"], p["rot"], p["s"], X, Y, DD)
    if prim.kind == "cylinder":
        return hit_cylinder(p["a"], p["b"], float(p["r"]), X, Y, DD)
    if prim.kind == "cone":
        return hit_cone(p["a"], p["b"], p["rot"], p["s"], float(p["k"]), float(p.get("g0", 1.0)), X, Y)
    if prim.kind == "cup":
        return hit_cup(p["a"], p["b"], float(p["r"]), float(p["r_in"]), float(p["bottom"]), X, Y, DD)
    raise ValueError(f"unknown primitive {prim.kind}")


# ---- signed distances (used to place grasps and check collisions) ----


def _norm(v: np.ndarray) -> np.ndarray:
    """Length of each row of an Nx3 array (np.linalg.norm(v, axis=1), without its overhead)."""
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    return np.sqrt(x * x + y * y + z * z)


def _sdf_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of points to a segment and their clamped axial coordinate in [0, 1]."""
    ba = b - a
    h = np.clip(((p - a) @ ba) / max(float(ba @ ba), 1e-12), 0.0, 1.0)
    return _norm(p - a - h[:, None] * ba), h


def _sdf_cylinder(p: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> np.ndarray:
    """Signed distance to a capped cylinder."""
    ba = b - a
    length = float(np.linalg.norm(ba))
    axis = ba / length
    pa = p - a
    y = pa @ axis
    radial = _norm(pa - y[:, None] * axis)
    dx = radial - r
    dy = np.abs(y - length / 2) - length / 2
    outside = np.hypot(np.maximum(dx, 0), np.maximum(dy, 0))
    return outside + np.minimum(np.maximum(dx, dy), 0)


def sdf(prim: Prim, pts: np.ndarray) -> np.ndarray:
    """Signed distance of Nx3 points to a primitive (exact except for ellipsoids, which are close)."""
    p = prim.params
    if prim.kind == "sphere":
        return _norm(pts - p["c"]) - float(p["r"])
    if prim.kind == "capsule":
        return _sdf_segment(pts, p["a"], p["b"])[0] - float(p["r"])
    if prim.kind == "ellipsoid":
        q = (pts - p["c"]) @ p["rot"]
        s = np.asarray(p["s"])
        k0 = _norm(q / s)
        k1 = _norm(q / (s * s))
        return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)
    if prim.kind == "box":
        q = np.abs((pts - p["c"]) @ p["rot"]) - np.asarray(p["s"])
        return _norm(np.maximum(q, 0)) + np.minimum(q.max(axis=1), 0)
    if prim.kind == "cylinder":
        return _sdf_cylinder(pts, p["a"], p["b"], float(p["r"]))
    if prim.kind == "cone":  # approximated by a capsule of the mean radius (collision checks only)
        grow = 1.0 + 0.5 * float(p["k"]) * float(np.linalg.norm(p["b"] - p["a"]))
        return _sdf_segment(pts, p["a"], p["b"])[0] - float(np.mean(p["s"])) * grow
    if prim.kind == "cup":
        axis = (p["b"] - p["a"]) / np.linalg.norm(p["b"] - p["a"])
        outer = _sdf_cylinder(pts, p["a"], p["b"], float(p["r"]))
        inner = _sdf_cylinder(pts, p["a"] + axis * float(p["bottom"]), p["b"] + axis * 0.05, float(p["r_in"]))
        return np.maximum(outer, -inner)
    raise ValueError(f"unknown primitive {prim.kind}")


def sdf_union(prims: list[Prim], pts: np.ndarray) -> np.ndarray:
    """Signed distance of points to a union of primitives (capsules batched together)."""
    out = np.full(len(pts), np.inf)
    caps = [p.params for p in prims if p.kind == "capsule"]
    if caps:  # coordinates one at a time: numpy is slow at reducing axes of length 3
        a = np.array([c["a"] for c in caps]).T
        ba = np.array([c["b"] for c in caps]).T - a
        r = np.array([float(c["r"]) for c in caps])
        pa = [pts[:, i, None] - a[i] for i in range(3)]
        h = pa[0] * ba[0] + pa[1] * ba[1] + pa[2] * ba[2]
        h /= np.maximum(ba[0] * ba[0] + ba[1] * ba[1] + ba[2] * ba[2], 1e-12)
        np.clip(h, 0.0, 1.0, out=h)
        dist = np.zeros_like(h)
        for i in range(3):
            diff = pa[i] - h * ba[i]
            dist += diff * diff
        out = (np.sqrt(dist) - r).min(axis=1)
    for prim in prims:
        if prim.kind != "capsule":
            out = np.minimum(out, sdf(prim, pts))
    return out
