"""Scene families (generator version 3): where the camera is, who holds what, and what else is in view.

Label rules of every family (DESIGN section 3): "hand" is a hand and its forearm within view; "object" is the
object a hand holds or touches; everything else is background: the head, neck, torso and upper arms of a person,
objects lying on a surface that no hand touches (also the object a hand is only reaching for), tables, walls,
shelves and clutter. Amodal part maps cover both hands only.

- `closeup`: the version 2 scenes, a held object 0.3-0.65 m away, a table and/or a wall.
- `tabletop`: a third-person camera 0.5-1.3 m from a table seen obliquely (as in DexYCB); one hand (sometimes two)
  reaches in with its forearm from the image border and holds, lifts or reaches for an object; other objects lie
  on the table; the room (floor, wall, furniture) lies beyond the table's far edge; the reaching person's upper
  arm and torso may show at the border.
- `egocentric`: a head-mounted camera (as in FPHA); forearms enter from the bottom, hands 0.2-0.6 m away above a
  cluttered work surface.
- `frontal`: a person facing the camera at 0.4-1.5 m; torso, shoulders, neck, head and upper arms behind and
  beside the hands; one hand holds an object in front of the body, the other is in front too or hangs at the side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from handseg.data.format import Intrinsics
from handseg.data.synth.geometry import align, rot_axis, rot_z, unit
from handseg.data.synth.grasp import free_pose, grasp
from handseg.data.synth.objects import OBJECT_TYPES, make_object
from handseg.data.synth.primitives import Prim
from handseg.data.synth.scene import (
    GROUP_BACKGROUND,
    Hand,
    Scene,
    _fit_forearm,
    _orient,
    _place_holder,
    _shape,
    assemble,
    sample_scene,
    scene_info,
)

FAMILIES = ("closeup", "tabletop", "egocentric", "frontal")
DEFAULT_WEIGHTS = {"closeup": 0.2, "tabletop": 0.4, "egocentric": 0.2, "frontal": 0.2}
CLOTHES = ((40, 40, 45), (200, 200, 205), (60, 80, 140), (140, 30, 40), (90, 110, 70), (180, 150, 110))
FURNITURE = ((70, 60, 50), (150, 120, 90), (200, 200, 200), (40, 40, 40), (110, 110, 120))


class _Background:
    """Background shapes of a scene with their colours; material ids continue after the scene's materials."""

    def __init__(self, first_material: int) -> None:
        self.first = first_material
        self.prims: list[Prim] = []
        self.colors: list[tuple[int, int, int]] = []
        self.described: list[dict] = []

    def add(self, prims: list[Prim], color, what: str) -> None:
        """Add shapes of one colour (for up to 190 materials in all: ids 200+ are the planes')."""
        if self.first + len(self.colors) >= 199:
            return
        material = self.first + len(self.colors)
        self.colors.append(tuple(int(v) for v in np.clip(color, 0, 255)))
        for prim in prims:
            prim.group, prim.material = GROUP_BACKGROUND, material
            self.prims.append(prim)
        self.described.append({"kind": what, "color": list(self.colors[-1])})

    def add_object(self, obj, rot: np.ndarray, trans: np.ndarray, what: str) -> None:
        """Add an object (all its materials) placed by rot, trans."""
        for k, color in enumerate(obj.colors):
            self.add([p.transformed(rot, trans) for p in obj.prims if p.material == k], color, what)
        self.described[-1]["type"] = obj.kind

    def finish(self, scene: Scene) -> Scene:
        """Attach the shapes to `scene` and append their colours to its materials."""
        scene.background = self.prims
        if self.colors:
            scene.materials = np.concatenate([scene.materials, np.array(self.colors, np.uint8)])
        return scene


def _jitter(color, rng: np.random.Generator, spread: float = 0.25) -> np.ndarray:
    return np.asarray(color, np.float64) * rng.uniform(1 - spread, 1 + spread, 3)


def _box(center: np.ndarray, axes: np.ndarray, half: Sequence[float]) -> Prim:
    """An oriented box (columns of `axes` are its local x, y, z) of half-sizes `half`."""
    return Prim("box", {"c": np.asarray(center, np.float64), "rot": axes, "s": np.asarray(half, np.float64)})


def _ellipsoid(center, axes: np.ndarray, half: Sequence[float]) -> Prim:
    return Prim("ellipsoid", {"c": np.asarray(center, np.float64), "rot": axes, "s": np.asarray(half, np.float64)})


def _capsule(a, b, r: float) -> Prim:
    return Prim("capsule", {"a": np.asarray(a, np.float64), "b": np.asarray(b, np.float64), "r": float(r)})


def _ray(intr: Intrinsics, u: float, v: float) -> np.ndarray:
    """Unit viewing direction of pixel (u, v)."""
    return unit(np.array([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, 1.0]))


def _surface_frame(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In-plane directions of a surface with up-normal n: `right` (like the camera's x) and `away` (from us)."""
    right = unit(np.array([1.0, 0, 0]) - n[0] * n)
    away = unit(np.cross(right, n))
    if away[2] < 0:
        away = -away
    return right, away


def _lowest(prims: list[Prim], n: np.ndarray) -> float:
    """Smallest n.x over the bounding-box corners of `prims` (how far down along n they reach)."""
    corners = np.concatenate([np.stack(p.aabb()) for p in prims])
    return float((corners @ n).min())


def _object_extent(prims: list[Prim]) -> float:
    """Half the diagonal of the prims' bounding box (a radius for spacing objects apart)."""
    corners = np.concatenate([np.stack(p.aabb()) for p in prims])
    return float(np.linalg.norm(corners.max(0) - corners.min(0)) / 2)


def _scatter_objects(
    bg: _Background,
    rng: np.random.Generator,
    intr: Intrinsics,
    surface: tuple[np.ndarray, float],
    count: int,
    avoid: list[tuple[np.ndarray, float]],
    object_types: Sequence[str],
    v_range: tuple[float, float] = (0.3, 1.0),
) -> None:
    """Lay `count` objects on the surface n.x = k at random visible points, standing or lying, none touched."""
    n, k = surface
    for _ in range(count * 3):
        if count <= 0:
            return
        u, v = rng.uniform(0.02, 0.98) * intr.width, rng.uniform(*v_range) * intr.height
        ray = _ray(intr, u, v)
        denom = float(n @ ray)
        if abs(denom) < 1e-3 or k / denom <= 0.15:
            continue
        point = ray * (k / denom)
        obj = make_object(str(object_types[int(rng.integers(len(object_types)))]), rng)
        if rng.random() < 0.6:  # standing on its base, turned about the surface normal
            rot = align(np.array([0.0, 0, 1]), n) @ rot_z(rng.uniform(0, 2 * np.pi))
        else:  # lying on its side
            rot = rot_axis(n, rng.uniform(0, 2 * np.pi)) @ align(np.array([0.0, 0, 1]), _surface_frame(n)[0])
        placed = [p.transformed(rot, point) for p in obj.prims]
        radius = _object_extent(placed)
        if any(np.linalg.norm(point - c) < radius + r + 0.02 for c, r in avoid):
            continue
        lift = k - _lowest(placed, n)  # rest on the surface
        bg.add_object(obj, rot, point + n * lift, "lying object")
        avoid.append((point, radius))
        count -= 1


def _room(bg: _Background, rng: np.random.Generator, n: np.ndarray, k: float, far: float) -> list[dict]:
    """Floor below the surface n.x = k, a wall `far` metres behind, and furniture in between."""
    right, away = _surface_frame(n)
    floor_k = k - rng.uniform(0.65, 0.8)
    wall_n = unit(-away + rng.normal(0, 0.1) * right)
    planes = [
        {"kind": "floor", "n": n, "k": floor_k, "color": _jitter((120, 110, 100), rng, 0.4).astype(int).tolist()},
        {"kind": "wall", "n": wall_n, "k": -far, "color": _jitter((200, 200, 195), rng, 0.3).astype(int).tolist()},
    ]
    for _ in range(int(rng.integers(0, 4))):  # shelves, cabinets, chairs: boxes standing on the floor
        half = rng.uniform([0.15, 0.15, 0.2], [0.5, 0.3, 0.9])
        spot = away * rng.uniform(far * 0.5, far * 0.95) + right * rng.uniform(-1.5, 1.5) * far / 2
        spot = spot + n * (floor_k - float(n @ spot))
        axes = np.stack([right, away, n], axis=1) @ rot_z(rng.normal(0, 0.3))
        bg.add([_box(spot + n * half[2], axes, half)], _jitter(FURNITURE[int(rng.integers(len(FURNITURE)))], rng),
               "furniture")  # fmt: skip
    return planes


def _table(bg: _Background, rng, n: np.ndarray, k: float, anchor: np.ndarray, far_edge: float) -> None:
    """A table top (a slab) whose top is n.x = k, reaching `far_edge` metres beyond `anchor` and past the camera."""
    right, away = _surface_frame(n)
    top = anchor + n * (k - float(n @ anchor))
    near, w0, w1 = 2.5, rng.uniform(0.4, 1.3), rng.uniform(0.4, 1.3)
    thick = rng.uniform(0.025, 0.05)
    center = top + away * (far_edge - near) / 2 + right * (w1 - w0) / 2 - n * thick / 2
    axes = np.stack([right, away, n], axis=1)
    dark = rng.random() < 0.4
    color = _jitter((30, 30, 32) if dark else (150, 120, 90), rng, 0.4)
    bg.add([_box(center, axes, ((w0 + w1) / 2, (far_edge + near) / 2, thick / 2))], color, "table")


def _body_beyond(bg: _Background, hand: Hand, rng, skin, clothes, *, torso: bool = True) -> None:
    """The upper arm (and maybe torso) of the person whose forearm leaves the image: beyond the elbow."""
    f = hand.forearm_dir()
    elbow = hand.trans + f * hand.pose.forearm_length
    up = unit(np.cross(f, np.cross(np.array([0.0, -1, 0]), f)) + 1e-6)
    shoulder = elbow + unit(f + rng.uniform(0.3, 0.9) * up) * rng.uniform(0.25, 0.32)
    sleeve = clothes if rng.random() < 0.6 else skin
    bg.add([_capsule(elbow, shoulder, 0.045 * hand.shape.scale)], sleeve, "upper arm")
    if torso:
        center = shoulder + f * 0.15 + up * 0.1
        axes = np.stack([unit(np.cross(up, f)), up, f], axis=1)
        bg.add([_ellipsoid(center, axes, (0.2, 0.3, 0.12))], clothes, "torso")


# ----- families ------------------------------------------------------------------------------------------------


def closeup(rng: np.random.Generator, intr: Intrinsics, object_types: Sequence[str]) -> Scene:
    """The version 2 close-up scene: a held object 0.3-0.65 m away, a table and/or a wall."""
    return sample_scene(rng, intr, object_types)


def tabletop(rng: np.random.Generator, intr: Intrinsics, object_types: Sequence[str]) -> Scene:
    """A third-person view of a table: a hand reaching in from the border holds, lifts or reaches for an object."""
    pitch = rng.uniform(0.45, 1.05)  # the camera looks down at the table by 26-60 degrees
    n = rot_z(rng.normal(0, 0.08)) @ np.array([0.0, -np.cos(pitch), -np.sin(pitch)])
    right, away = _surface_frame(n)
    dist = rng.uniform(0.5, 1.3)
    target = _ray(intr, rng.uniform(0.3, 0.7) * intr.width, rng.uniform(0.35, 0.7) * intr.height) * dist
    k = float(n @ target)
    kind = str(object_types[int(rng.integers(len(object_types)))])
    obj = make_object(kind, rng)
    side = "right" if rng.random() < 0.6 else "left"
    shape = _shape(side, rng)
    pose, rot_oh, t_oh, info = grasp(shape, obj, rng)
    pose.wrist = (rng.uniform(-0.4, 0.4), rng.uniform(-0.25, 0.25))
    hand = Hand(shape, pose, np.eye(3), np.zeros(3), True, info)
    sign = 1.0 if side == "right" else -1.0

    def reach(_side: str, r: np.random.Generator) -> np.ndarray:  # along the table towards a border, rising
        phi = r.uniform(-1.3, 0.9)
        return unit(sign * right * np.cos(phi) + away * np.sin(phi) + n * r.uniform(0.05, 0.45))

    mode = rng.choice(["hold", "touch", "reach"], p=[0.5, 0.25, 0.25])
    center = target + n * (rng.uniform(0.03, 0.15) if mode == "hold" else 0.0)
    obj_rot, obj_trans = _place_holder(hand, rot_oh, t_oh, center, rng, reach)
    obj_prims = [p.transformed(obj_rot, obj_trans) for p in obj.prims]
    if mode == "reach":  # the hand stops short of the object: it is still background
        hand.trans = hand.trans + hand.forearm_dir() * rng.uniform(0.04, 0.15) + n * rng.uniform(0.0, 0.06)
        hand.pose = free_pose(rng) if rng.random() < 0.5 else hand.pose
        hand.holding = False
    _fit_forearm(hand, intr)
    # a forearm is 24-30 cm long (x hand size): beyond the elbow the upper arm is background
    elbow_in_view = hand.pose.forearm_length > (forearm := rng.uniform(0.24, 0.3) * shape.scale)
    hand.pose.forearm_length = min(hand.pose.forearm_length, forearm)
    scene = assemble([hand], obj, obj_rot, obj_trans, touched=mode != "reach")
    hand_low, obj_low = _lowest(hand.prims(), n), _lowest(obj_prims, n)
    if mode == "hold":  # lifted: the table lies a little below hand and object
        k = min(k, obj_low, hand_low) - rng.uniform(0.005, 0.03)
    else:  # the object rests on the table (fingers never sink into it)
        k = min(obj_low, hand_low - 0.002)
    bg = _Background(len(scene.materials))
    far_edge = rng.uniform(0.15, 0.9)
    _table(bg, rng, n, k, target, far_edge)
    skin, clothes = np.array(shape.skin, np.float64), _jitter(CLOTHES[int(rng.integers(len(CLOTHES)))], rng)
    if elbow_in_view or rng.random() < 0.5:
        _body_beyond(bg, hand, rng, skin, clothes, torso=rng.random() < 0.7)
    avoid = [(obj_trans, _object_extent(obj_prims)), (hand.trans, 0.1)]
    _scatter_objects(bg, rng, intr, (n, k), int(rng.integers(1, 6)), avoid, object_types, (0.15, 1.0))
    far = float(np.linalg.norm(target)) + far_edge + rng.uniform(0.3, 3.0)
    scene.planes = _room(bg, rng, n, k, far)
    scene = bg.finish(scene)
    scene.info = {**scene_info(scene), "mode": str(mode), "background": bg.described}
    return scene


def _from_bottom(side: str, rng: np.random.Generator) -> np.ndarray:
    """Forearm direction of an egocentric view: towards the image bottom and the camera."""
    x = rng.uniform(0.0, 0.6) * (1 if side == "right" else -1)
    return unit(np.array([x, 1.0, -rng.uniform(0.2, 0.9)]))


def egocentric(rng: np.random.Generator, intr: Intrinsics, object_types: Sequence[str]) -> Scene:
    """A head-mounted view: forearms from the bottom, hands 0.2-0.6 m away above a cluttered work surface."""
    scene = sample_scene(rng, intr, object_types, distance=(0.2, 0.55), forearm=_from_bottom)
    pitch = rng.uniform(0.6, 1.2)
    n = rot_z(rng.normal(0, 0.12)) @ np.array([0.0, -np.cos(pitch), -np.sin(pitch)])
    k = _lowest(scene.prims(), n) - rng.uniform(0.02, 0.25)
    bg = _Background(len(scene.materials))
    anchor = scene.obj_trans
    _table(bg, rng, n, k, anchor, rng.uniform(0.3, 1.2))
    avoid = [(scene.obj_trans, _object_extent(scene.object_prims()))] + [(h.trans, 0.12) for h in scene.hands]
    _scatter_objects(bg, rng, intr, (n, k), int(rng.integers(2, 7)), avoid, object_types, (0.05, 1.0))
    scene.planes = _room(bg, rng, n, k, float(np.linalg.norm(anchor)) + rng.uniform(1.0, 3.0))
    scene = bg.finish(scene)
    scene.info = {**scene_info(scene), "background": bg.described}
    return scene


def frontal(rng: np.random.Generator, intr: Intrinsics, object_types: Sequence[str]) -> Scene:
    """A person facing the camera: body behind and beside the hands, one hand holding an object in front."""
    depth = rng.uniform(0.45, 1.5)  # camera to the front of the torso
    x0 = rng.uniform(-0.2, 0.2) * depth
    ys = rng.uniform(-0.1, 0.25) * depth - 0.1  # shoulder height (y points down)
    yaw = rng.normal(0, 0.25)
    body = rot_axis(np.array([0.0, 1, 0]), yaw)  # the person turned a little about the vertical
    origin = np.array([x0, ys, depth + 0.11])
    side_x = body @ np.array([1.0, 0, 0])

    def at(offset) -> np.ndarray:
        return origin + body @ np.asarray(offset, np.float64)

    holder_side = "right" if rng.random() < 0.5 else "left"
    # a right hand is the person's right, on the image's left when they face us
    sx = {"right": -1.0, "left": 1.0}
    kind = str(object_types[int(rng.integers(len(object_types)))])
    obj = make_object(kind, rng)
    shape = _shape(holder_side, rng)
    pose, rot_oh, t_oh, info = grasp(shape, obj, rng)
    pose.wrist = (rng.uniform(-0.4, 0.4), rng.uniform(-0.25, 0.25))
    hand = Hand(shape, pose, np.eye(3), np.zeros(3), True, info)
    elbow_goal = at((sx[holder_side] * rng.uniform(0.18, 0.28), rng.uniform(0.22, 0.34), -rng.uniform(0.05, 0.2)))
    front = rng.uniform(0.2, 0.45)
    center = at((sx[holder_side] * rng.uniform(-0.05, 0.2), rng.uniform(0.0, 0.3), -0.11 - front))
    center[2] = max(center[2], 0.22)
    direction = unit(elbow_goal - center)
    for _ in range(2):  # aim the forearm at the elbow, from where the wrist ends up
        obj_rot, obj_trans = _place_holder(hand, rot_oh, t_oh, center, rng, lambda s, r, d=direction: d)
        direction = unit(elbow_goal - hand.trans)
    hands, elbows = [hand], [elbow_goal]
    if rng.random() < 0.5:  # the other hand hangs at the side
        side = "left" if holder_side == "right" else "right"
        other = Hand(_shape(side, rng), free_pose(rng), np.eye(3), np.zeros(3), False)
        other.shape.skin = shape.skin
        elbow2 = at((sx[side] * rng.uniform(0.22, 0.28), rng.uniform(0.25, 0.32), rng.uniform(-0.05, 0.05)))
        wrist2 = elbow2 + body @ np.array([sx[side] * rng.uniform(0.0, 0.06), rng.uniform(0.22, 0.27), -0.03])
        other.rot = _orient(other, unit(elbow2 - wrist2), rng)
        other.trans = wrist2
        hands.append(other)
        elbows.append(elbow2)
    for h, elbow in zip(hands, elbows):  # forearms end at the elbow
        h.pose.forearm_length = float(np.clip(np.linalg.norm(elbow - h.trans), 0.15, 0.32))
    scene = assemble(hands, obj, obj_rot, obj_trans)
    bg = _Background(len(scene.materials))
    skin = np.array(shape.skin, np.float64)
    clothes = _jitter(CLOTHES[int(rng.integers(len(CLOTHES)))], rng)
    torso_axes = body
    bg.add([_ellipsoid(at((0, 0.3, 0)), torso_axes, (0.19, 0.32, 0.11)),
             _ellipsoid(at((0, 0.02, 0)), torso_axes, (0.2, 0.07, 0.09))], clothes, "torso")  # fmt: skip
    bg.add([_capsule(at((0, -0.02, -0.01)), at((0, -0.13, -0.01)), 0.055),
            _ellipsoid(at((0, -0.23, -0.02)), torso_axes, (0.08, 0.11, 0.095))], skin, "neck and head")  # fmt: skip
    hair = _jitter(((40, 30, 25), (90, 60, 30), (160, 130, 80))[int(rng.integers(3))], rng)
    bg.add([_ellipsoid(at((0, -0.27, 0.01)), torso_axes, (0.085, 0.08, 0.09))], hair, "hair")
    sleeve = clothes if rng.random() < 0.6 else skin
    for h in hands:
        s = "right" if h.shape.side == "right" else "left"
        shoulder = at((sx[s] * 0.19, 0.03, 0.0))
        elbow = h.trans + h.forearm_dir() * h.pose.forearm_length
        bg.add([_capsule(shoulder, elbow, 0.045 * h.shape.scale)], sleeve, "upper arm")
    if len(hands) == 1:  # the free arm hangs down beside the torso, its hand below the view or hidden
        s = "left" if holder_side == "right" else "right"
        shoulder = at((sx[s] * 0.19, 0.03, 0.0))
        bg.add([_capsule(shoulder, shoulder + side_x * sx[s] * 0.05 + body @ np.array([0, 0.3, 0]), 0.045)], sleeve,
               "upper arm")  # fmt: skip
    wall = depth + 0.11 + rng.uniform(0.3, 2.5)
    scene.planes = [{"kind": "wall", "n": unit(np.array([rng.normal(0, 0.15), rng.normal(0, 0.08), -1.0])),
                     "k": -wall, "color": _jitter((200, 200, 195), rng, 0.3).astype(int).tolist()}]  # fmt: skip
    scene = bg.finish(scene)
    scene.info = {**scene_info(scene), "background": bg.described}
    return scene


SAMPLERS: dict[str, Callable[[np.random.Generator, Intrinsics, Sequence[str]], Scene]] = {
    "closeup": closeup,
    "tabletop": tabletop,
    "egocentric": egocentric,
    "frontal": frontal,
}


def parse_weights(scenes: str | Sequence[str] | dict[str, float] | None) -> dict[str, float]:
    """Family weights from "tabletop,frontal", "tabletop:2,closeup:1", a list or a dict (None: the defaults)."""
    if scenes is None:
        return dict(DEFAULT_WEIGHTS)
    if isinstance(scenes, dict):
        items = list(scenes.items())
    else:
        names = scenes.split(",") if isinstance(scenes, str) else list(scenes)
        items = []
        for name in names:
            key, _, weight = str(name).strip().partition(":")
            try:
                items.append((key, float(weight) if weight else 1.0))
            except ValueError:
                raise ValueError(f"scene weight {weight!r} of {key!r} is not a number") from None
    out = {}
    for key, weight in items:
        if key not in SAMPLERS:
            raise ValueError(f"unknown scene family {key!r}; choose from {', '.join(FAMILIES)}")
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"scene weight of {key!r} must be a non-negative number, got {weight}")
        out[key] = float(weight)
    if not out or sum(out.values()) <= 0:
        raise ValueError("scenes: give at least one family with a positive weight")
    return out


def sample_family_scene(
    rng: np.random.Generator, intr: Intrinsics, object_types: Sequence[str] = OBJECT_TYPES, family: str = "closeup"
) -> Scene:
    """A scene of the given family."""
    scene = SAMPLERS[family](rng, intr, object_types)
    scene.info["family"] = family
    return scene


__all__ = ["DEFAULT_WEIGHTS", "FAMILIES", "SAMPLERS", "parse_weights", "sample_family_scene"]
