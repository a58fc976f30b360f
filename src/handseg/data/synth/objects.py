"""Hand-held objects built from primitives in their own frame (centred, main axis along z), metres."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from handseg.data.synth.geometry import align, rot_x, rot_z, unit
from handseg.data.synth.primitives import Prim

OBJECT_TYPES = ("sphere", "cylinder", "cup", "box", "torus", "capsule", "pen", "ellipsoid", "mug", "bottle")
EXTRA_TYPES = ("composite",)  # only where named (train_objects / val_objects): not in the default mix
ALL_OBJECT_TYPES = OBJECT_TYPES + EXTRA_TYPES
PALETTE = (
    (200, 40, 40), (40, 90, 200), (240, 200, 40), (40, 160, 70), (235, 120, 30), (140, 60, 170),
    (230, 230, 225), (30, 30, 35), (120, 200, 220), (170, 110, 60), (220, 90, 150), (90, 100, 110),
)  # fmt: skip


@dataclass
class SceneObject:
    """An object: its primitives (object frame), kind, sizes, colours and how hands may hold it."""

    kind: str
    prims: list[Prim]
    dims: dict[str, float]
    colors: list[tuple[int, int, int]]
    elongated: bool  # has a long axis (z) that a power grasp wraps around
    symmetric_z: bool  # rotating about z and sliding along z keeps the surface (two hands can share it)

    def to_dict(self) -> dict:
        """JSON-able description."""
        return {"type": self.kind, "dims_m": {k: round(v, 4) for k, v in self.dims.items()}, "colors": self.colors}


def _color(rng: np.random.Generator) -> tuple[int, int, int]:
    base = np.array(PALETTE[int(rng.integers(len(PALETTE)))], np.float64)
    return tuple(int(v) for v in np.clip(base * rng.uniform(0.85, 1.15) + rng.normal(0, 8, 3), 0, 255))


def _z(v: float) -> np.ndarray:
    return np.array([0.0, 0.0, v])


def _ring(radius: float, tube: float, n: int, material: int, arc: float = 2 * np.pi, start: float = 0.0) -> list[Prim]:
    """A torus (or an arc of one) in the x-y plane made of n capsules."""
    angles = start + np.linspace(0, arc, n + 1)
    pts = np.stack([radius * np.cos(angles), radius * np.sin(angles), np.zeros_like(angles)], axis=1)
    return [Prim("capsule", {"a": pts[i], "b": pts[i + 1], "r": tube}, material=material) for i in range(n)]


def make_sphere(rng: np.random.Generator) -> SceneObject:
    r = rng.uniform(0.03, 0.055)
    return SceneObject("sphere", [Prim("sphere", {"c": np.zeros(3), "r": r})], {"r": r}, [_color(rng)], False, True)


def make_cylinder(rng: np.random.Generator, long: bool = False) -> SceneObject:
    r, h = rng.uniform(0.022, 0.04), rng.uniform(0.2, 0.28) if long else rng.uniform(0.1, 0.2)
    prims = [Prim("cylinder", {"a": _z(-h / 2), "b": _z(h / 2), "r": r})]
    return SceneObject("cylinder", prims, {"r": r, "h": h}, [_color(rng)], True, True)


def make_cup(rng: np.random.Generator) -> SceneObject:
    r, h = rng.uniform(0.03, 0.045), rng.uniform(0.08, 0.12)
    wall = rng.uniform(0.003, 0.006)
    prims = [Prim("cup", {"a": _z(-h / 2), "b": _z(h / 2), "r": r, "r_in": r - wall, "bottom": 0.008})]
    return SceneObject("cup", prims, {"r": r, "h": h, "wall": wall}, [_color(rng)], True, False)


def make_mug(rng: np.random.Generator) -> SceneObject:
    obj = make_cup(rng)
    r, h = obj.dims["r"], obj.dims["h"]
    tube = rng.uniform(0.005, 0.008)
    loop = rng.uniform(0.022, 0.03)
    handle = _ring(loop, tube, 7, material=1, arc=np.pi * 1.25, start=-np.pi * 0.625)
    place = rot_z(np.pi / 2) @ rot_x(np.pi / 2)  # ring in the y-z plane, bulging out along +y from the wall
    for prim in handle:
        for key in ("a", "b"):
            prim.params[key] = place @ prim.params[key] + np.array([0.0, r + loop * 0.35, 0.0])
    return SceneObject("mug", obj.prims + handle, {"r": r, "h": h, "handle": loop}, obj.colors * 2, True, False)


def make_bottle(rng: np.random.Generator) -> SceneObject:
    r, h = rng.uniform(0.03, 0.04), rng.uniform(0.14, 0.2)
    neck_r, neck_h = r * rng.uniform(0.35, 0.5), rng.uniform(0.03, 0.05)
    body = Prim("cylinder", {"a": _z(-h / 2), "b": _z(h / 2 - 0.02), "r": r})
    shoulder = Prim("ellipsoid", {"c": _z(h / 2 - 0.02), "rot": np.eye(3), "s": np.array([r, r, 0.025])})
    neck = Prim("cylinder", {"a": _z(h / 2), "b": _z(h / 2 + neck_h), "r": neck_r})
    cap = Prim("cylinder", {"a": _z(h / 2 + neck_h), "b": _z(h / 2 + neck_h + 0.015), "r": neck_r * 1.15}, material=1)
    colors = [_color(rng), _color(rng)]
    return SceneObject("bottle", [body, shoulder, neck, cap], {"r": r, "h": h, "neck": neck_h}, colors, True, False)


def make_box(rng: np.random.Generator, long: bool = False) -> SceneObject:
    s = np.sort(rng.uniform([0.015, 0.025, 0.05], [0.035, 0.05, 0.1]))
    if long:
        s[2] = rng.uniform(0.1, 0.14)
    prims = [Prim("box", {"c": np.zeros(3), "rot": np.eye(3), "s": s})]
    dims = {"sx": 2 * s[0], "sy": 2 * s[1], "sz": 2 * s[2]}
    return SceneObject("box", prims, dims, [_color(rng)], True, True)


def make_torus(rng: np.random.Generator) -> SceneObject:
    radius, tube = rng.uniform(0.035, 0.055), rng.uniform(0.01, 0.018)
    return SceneObject("torus", _ring(radius, tube, 16, 0), {"R": radius, "r": tube}, [_color(rng)], False, False)


def make_capsule(rng: np.random.Generator, long: bool = False) -> SceneObject:
    r, h = rng.uniform(0.015, 0.028), rng.uniform(0.16, 0.24) if long else rng.uniform(0.08, 0.16)
    prims = [Prim("capsule", {"a": _z(-h / 2), "b": _z(h / 2), "r": r})]
    return SceneObject("capsule", prims, {"r": r, "h": h}, [_color(rng)], True, True)


def make_pen(rng: np.random.Generator) -> SceneObject:
    r, h = rng.uniform(0.004, 0.007), rng.uniform(0.12, 0.16)
    body = Prim("capsule", {"a": _z(-h / 2), "b": _z(h / 2 - 0.02), "r": r})
    tip = Prim("capsule", {"a": _z(h / 2 - 0.02), "b": _z(h / 2), "r": r * 0.45}, material=1)
    return SceneObject("pen", [body, tip], {"r": r, "h": h}, [_color(rng), (40, 40, 40)], True, False)


def make_ellipsoid(rng: np.random.Generator) -> SceneObject:
    s = np.sort(rng.uniform(0.025, 0.06, 3))
    prims = [Prim("ellipsoid", {"c": np.zeros(3), "rot": np.eye(3), "s": s})]
    return SceneObject("ellipsoid", prims, {"a": s[0], "b": s[1], "c": s[2]}, [_color(rng)], True, False)


def _part(kind: str, center: np.ndarray, axis: np.ndarray, half_length: float, radius: float, material: int) -> Prim:
    """One primitive of `kind` centred at `center`, its long axis along `axis`."""
    if kind in ("cylinder", "capsule"):
        return Prim(
            kind, {"a": center - axis * half_length, "b": center + axis * half_length, "r": radius}, material=material
        )
    rot = align(np.array([0.0, 0, 1]), axis)
    return Prim(kind, {"c": center, "rot": rot, "s": np.array([radius, radius * 0.8, half_length])}, material=material)


def make_composite(rng: np.random.Generator) -> SceneObject:
    """A random rigid assembly: a main part along z with 1-3 smaller parts sticking out (no other type's shape)."""
    kinds = ("box", "cylinder", "ellipsoid", "capsule")
    half, radius = rng.uniform(0.03, 0.09), rng.uniform(0.015, 0.035)
    prims = [_part(str(rng.choice(kinds)), np.zeros(3), np.array([0.0, 0, 1]), half, radius, 0)]
    for _ in range(int(rng.integers(1, 4))):
        angle, z = rng.uniform(0, 2 * np.pi), rng.uniform(-half, half) * 0.8
        out = np.array([np.cos(angle), np.sin(angle), 0.0])
        axis = unit(out + rng.normal(0, 0.6, 3))
        if axis @ out < 0.2:  # keep the part pointing away from the main part
            axis = unit(axis + out)
        part_half, part_radius = rng.uniform(0.015, 0.045), rng.uniform(0.006, 0.018)
        anchor = out * radius * 0.5 + np.array([0.0, 0, z])  # inside every kind of main part
        center = anchor + axis * part_half * 0.8  # the part holds the anchor: one rigid body
        prims.append(_part(str(rng.choice(kinds)), center, axis, part_half, part_radius, int(rng.integers(2))))
    dims = {"h": 2 * half, "r": radius}  # metres only: grasp() reads the largest as the size
    return SceneObject("composite", prims, dims, [_color(rng), _color(rng)], True, False)


BUILDERS: dict[str, Callable[..., SceneObject]] = {
    "sphere": make_sphere,
    "cylinder": make_cylinder,
    "cup": make_cup,
    "box": make_box,
    "torus": make_torus,
    "capsule": make_capsule,
    "pen": make_pen,
    "ellipsoid": make_ellipsoid,
    "mug": make_mug,
    "bottle": make_bottle,
    "composite": make_composite,
}
LONG_KINDS = ("cylinder", "box", "capsule")  # kinds two hands can hold side by side


def make_object(kind: str, rng: np.random.Generator, long: bool = False) -> SceneObject:
    """Build an object of a kind with random size and colour."""
    if kind not in BUILDERS:
        raise ValueError(f"unknown object type {kind!r} (choose from {', '.join(ALL_OBJECT_TYPES)})")
    return BUILDERS[kind](rng, long=True) if long and kind in LONG_KINDS else BUILDERS[kind](rng)
