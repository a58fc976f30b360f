"""Sample a close-up scene in camera coordinates (one or two hands, a held object, a table and a wall) and the
`Scene` every scene family fills (see `families.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from handseg.data.format import Intrinsics
from handseg.data.synth.geometry import align, random_rotation, rot_axis, rot_x, rot_z, unit
from handseg.data.synth.grasp import free_pose, grasp
from handseg.data.synth.hand import HandPose, HandShape, hand_prims
from handseg.data.synth.objects import LONG_KINDS, OBJECT_TYPES, SceneObject, make_object
from handseg.data.synth.primitives import Prim, sdf_union

MIRROR = np.diag([-1.0, 1.0, 1.0])
SKIN_TONES = ((236, 196, 168), (224, 172, 138), (198, 145, 110), (160, 110, 80), (120, 80, 56), (90, 60, 42))
GROUP_LEFT, GROUP_RIGHT, GROUP_OBJECT, GROUP_BACKGROUND = 0, 1, 2, 3
MAT_SKIN = (0, 1)  # material ids of the left and right hand
MAT_OBJECT = 2  # first material id of the object


@dataclass
class Hand:
    """A hand placed in the camera frame."""

    shape: HandShape
    pose: HandPose
    rot: np.ndarray  # hand frame -> camera
    trans: np.ndarray  # wrist position
    holding: bool
    grasp_info: dict = field(default_factory=dict)

    def prims(self) -> list[Prim]:
        """Primitives in the camera frame."""
        group = GROUP_LEFT if self.shape.side == "left" else GROUP_RIGHT
        out = []
        for prim in hand_prims(self.shape, self.pose):
            moved = prim.transformed(self.rot, self.trans)
            moved.group, moved.material = group, MAT_SKIN[group]
            out.append(moved)
        return out

    def forearm_dir(self) -> np.ndarray:
        """Direction of the forearm (wrist towards elbow) in the camera frame."""
        back = np.array([0.0, -1.0, 0.0])
        bend = rot_x(self.pose.wrist[0]) @ rot_z(self.pose.wrist[1])
        local = bend @ back
        if self.shape.side == "left":
            local = MIRROR @ local
        return self.rot @ local

    def to_dict(self) -> dict:
        """JSON-able description."""
        return {
            "side": self.shape.side,
            "scale": round(self.shape.scale, 4),
            "thickness": round(self.shape.thickness, 4),
            "skin_rgb": list(self.shape.skin),
            "rotation": np.round(self.rot, 5).tolist(),
            "wrist_m": np.round(self.trans, 5).tolist(),
            "holding": self.holding,
            "grasp": self.grasp_info,
            **self.pose.to_dict(),
        }


@dataclass
class Scene:
    """Everything a frame shows."""

    hands: list[Hand]
    obj: SceneObject
    obj_rot: np.ndarray
    obj_trans: np.ndarray
    planes: list[dict]  # {"n", "k", "kind", "color"}: points x with n.x = k
    materials: np.ndarray  # (M, 3) uint8 RGB per material id
    info: dict
    touched: bool = True  # the object is in a hand's grasp (label "object"); else it is background
    background: list[Prim] = field(default_factory=list)  # body parts, lying objects, furniture (label background)
    _cache: list[Prim] | None = field(default=None, repr=False)

    def prims(self) -> list[Prim]:
        """Every hand primitive and, when a hand touches it, the object's, in the camera frame (computed once)."""
        if self._cache is not None:
            return self._cache
        out = [p for hand in self.hands for p in hand.prims()]
        if self.touched:
            out += self.object_prims()
        self._cache = out
        return out

    def object_prims(self) -> list[Prim]:
        """The object's primitives in the camera frame."""
        out = []
        for prim in self.obj.prims:
            moved = prim.transformed(self.obj_rot, self.obj_trans)
            moved.group = GROUP_OBJECT if self.touched else GROUP_BACKGROUND
            moved.material = MAT_OBJECT + prim.material
            out.append(moved)
        return out

    def background_prims(self) -> list[Prim]:
        """Primitives labelled background: body parts, lying objects, furniture, and an untouched object."""
        return self.background + ([] if self.touched else self.object_prims())


def _shape(side: str, rng: np.random.Generator) -> HandShape:
    tone = np.array(SKIN_TONES[int(rng.integers(len(SKIN_TONES)))], np.float64)
    tone = np.clip(tone * rng.uniform(0.92, 1.06) + rng.normal(0, 5, 3), 0, 255)
    return HandShape(side, float(rng.uniform(0.85, 1.12)), tuple(int(v) for v in tone), float(rng.uniform(0.92, 1.1)))


def _forearm_target(side: str, rng: np.random.Generator) -> np.ndarray:
    """Forearm direction in the camera frame: towards a border (bottom or the hand's side), mostly away from us."""
    psi = rng.uniform(-0.5, 2.0) if side == "right" else rng.uniform(np.pi - 2.0, np.pi + 0.5)
    return unit(np.array([np.cos(psi), np.sin(psi), rng.uniform(-0.15, 0.9)]))


def _orient(hand: Hand, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hand rotation putting its forearm along `target` with a random roll about it."""
    hand.rot = np.eye(3)
    current = hand.forearm_dir()
    return rot_axis(target, rng.uniform(0, 2 * np.pi)) @ align(current, target)


def _grasp_frame(hand: Hand, rot_oh: np.ndarray, t_oh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Object rotation and position in the (mirrored) hand frame."""
    if hand.shape.side == "left":
        return MIRROR @ rot_oh @ MIRROR, MIRROR @ t_oh
    return rot_oh, t_oh


def _hand_points(hand: Hand) -> tuple[np.ndarray, np.ndarray]:
    """Points along every capsule axis of a hand in its own frame, with their radii."""
    pts, radii = [], []
    for prim in hand_prims(hand.shape, hand.pose):
        if prim.kind == "capsule":
            a, b = prim.params["a"], prim.params["b"]
            pts.append(a + (b - a) * np.linspace(0, 1, 4)[:, None])
            radii.append(np.full(4, float(prim.params["r"])))
    return np.concatenate(pts), np.concatenate(radii)


def _collides(hand: Hand, others: list[Prim], local: tuple[np.ndarray, np.ndarray], margin: float = 0.002) -> bool:
    """Whether a hand's capsules (`local`: points and radii from _hand_points) cut into any of `others`."""
    if not others:
        return False
    pts, radii = local
    return bool((sdf_union(others, pts @ hand.rot.T + hand.trans) < radii + margin).any())


def _fit_forearm(hand: Hand, intr: Intrinsics) -> None:
    """Lengthen the forearm until it leaves the image (or comes too close to the camera)."""
    direction = hand.forearm_dir()
    lengths = np.arange(0.12, 0.8, 0.02)
    pts = hand.trans[None] + lengths[:, None] * direction[None]
    z = np.maximum(pts[:, 2], 1e-3)
    u = intr.fx * pts[:, 0] / z + intr.cx
    v = intr.fy * pts[:, 1] / z + intr.cy
    margin = intr.fx * 0.035 / z
    outside = (u < -margin) | (u > intr.width + margin) | (v < -margin) | (v > intr.height + margin)
    too_near = pts[:, 2] < 0.15
    stop = np.nonzero(outside | too_near)[0]
    k = int(stop[0]) if stop.size else len(lengths) - 1
    if too_near[k] and k > 0:
        k -= 1
    hand.pose.forearm_length = float(lengths[k] + 0.06)


def _place_holder(hand: Hand, rot_oh: np.ndarray, t_oh: np.ndarray, center: np.ndarray, rng, forearm=None) -> tuple:
    """Orient a holding hand by its forearm and put the object centre at `center`; returns object pose.

    `forearm(side, rng)` draws the forearm direction (default: towards a side or the bottom, away from us)."""
    hand.rot = _orient(hand, (forearm or _forearm_target)(hand.shape.side, rng), rng)
    r_g, t_g = _grasp_frame(hand, rot_oh, t_oh)
    obj_rot = hand.rot @ r_g
    hand.trans = center - hand.rot @ t_g
    return obj_rot, center


def _second_holder(first: Hand, obj: SceneObject, obj_rot, obj_trans, rng, blockers) -> tuple[Hand | None, float]:
    """A second hand holding the same object elsewhere on it (object must be symmetric about its axis)."""
    side = "left" if first.shape.side == "right" else "right"
    shape = _shape(side, rng)
    pose, rot_oh, t_oh, info = grasp(shape, obj, rng, kind="power")
    pose.wrist = (rng.uniform(-0.4, 0.4), rng.uniform(-0.2, 0.2))
    hand = Hand(shape, pose, np.eye(3), np.zeros(3), True, info)
    r_g, t_g = _grasp_frame(hand, rot_oh, t_oh)
    local = _hand_points(hand)
    best, best_score = None, -np.inf
    for _ in range(16):
        if obj.kind == "sphere":
            sym, shift = random_rotation(rng), np.zeros(3)
        else:
            angle = rng.uniform(0, 2 * np.pi) if obj.kind != "box" else np.pi * int(rng.integers(2))
            half = obj.dims.get("h", obj.dims.get("sz", 0.1)) / 2
            sym, shift = rot_z(angle), np.array([0, 0, rng.uniform(0.4, 0.75) * half * rng.choice([-1, 1])])
        hand.rot = obj_rot @ sym @ r_g.T
        hand.trans = obj_rot @ (sym @ (-r_g.T @ t_g) + shift) + obj_trans
        f = hand.forearm_dir()
        if f[2] < -0.4 or _collides(hand, blockers, local):
            continue
        score = f[2] + rng.uniform(0, 0.5)
        if score > best_score:
            best, best_score = (hand.rot.copy(), hand.trans.copy()), score
    if best is None:
        return None, 0.0
    hand.rot, hand.trans = best
    return hand, best_score


def _free_hand(first: Hand, near: np.ndarray, rng, blockers: list[Prim], forearm=None) -> Hand | None:
    """A second hand holding nothing, near the first (often overlapping it in the image)."""
    side = "left" if first.shape.side == "right" else "right"
    hand = Hand(_shape(side, rng), free_pose(rng), np.eye(3), np.zeros(3), False)
    hand.pose.wrist = (rng.uniform(-0.5, 0.5), rng.uniform(-0.25, 0.25))
    palm = np.array([0.0, 0.05 * hand.shape.scale, 0.0])
    local = _hand_points(hand)
    for _ in range(12):
        hand.rot = _orient(hand, (forearm or _forearm_target)(side, rng), rng)
        offset = unit(rng.normal(size=3)) * rng.uniform(0.07, 0.18)
        offset[2] *= 0.6
        hand.trans = near + offset - hand.rot @ palm
        if hand.trans[2] > 0.25 and not _collides(hand, blockers, local, margin=0.005):
            return hand
    return None


def _planes(prims: list[Prim], rng: np.random.Generator) -> list[dict]:
    """A table under everything and/or a wall behind it."""
    corners = np.array([c for p in prims for c in p.aabb()])
    planes = []
    if rng.random() < 0.65:
        pitch = rng.uniform(0.15, 1.0)
        n = rot_z(rng.normal(0, 0.12)) @ np.array([0.0, -np.cos(pitch), -np.sin(pitch)])
        k = float((corners @ n).min()) - rng.uniform(0.005, 0.2)
        color = np.clip(np.array([150, 120, 90]) * rng.uniform(0.5, 1.4, 3), 0, 255)
        planes.append({"kind": "table", "n": n, "k": k, "color": color.astype(int).tolist()})
    if rng.random() < 0.75 or not planes:
        n = unit(np.array([rng.normal(0, 0.25), rng.normal(0, 0.15), -1.0]))
        k = float((corners @ n).min()) - rng.uniform(0.2, 1.6)
        color = np.clip(np.array([200, 200, 195]) * rng.uniform(0.55, 1.1, 3), 0, 255)
        planes.append({"kind": "wall", "n": n, "k": k, "color": color.astype(int).tolist()})
    return planes


def sample_scene(
    rng: np.random.Generator,
    intr: Intrinsics,
    object_types: Sequence[str] = OBJECT_TYPES,
    *,
    distance: tuple[float, float] = (0.3, 0.65),
    forearm=None,
) -> Scene:
    """A close-up scene: an object held by one hand at `distance` metres, maybe a second hand holding it or nearby.

    `forearm(side, rng)` draws forearm directions (see `_place_holder`); planes are not added here."""
    scene = _sample_holding(rng, intr, object_types, distance, forearm)
    scene.planes = _planes(scene.prims(), rng)
    scene.info = scene_info(scene)
    return scene


def _sample_holding(rng, intr: Intrinsics, object_types: Sequence[str], distance, forearm) -> Scene:
    """Hands and the held object of a close-up or egocentric scene (no planes yet)."""
    kind = str(object_types[int(rng.integers(len(object_types)))])
    two = rng.random() < 0.55
    both_hold = two and kind in (*LONG_KINDS, "sphere") and rng.random() < 0.8
    obj = make_object(kind, rng, long=both_hold)
    side = "right" if rng.random() < 0.5 else "left"
    shape = _shape(side, rng)
    pose, rot_oh, t_oh, info = grasp(shape, obj, rng, kind="power" if both_hold else None)
    pose.wrist = (rng.uniform(-0.5, 0.5), rng.uniform(-0.25, 0.25))
    hand = Hand(shape, pose, np.eye(3), np.zeros(3), True, info)
    z = rng.uniform(*distance)
    u, v = rng.uniform(0.3, 0.7) * intr.width, rng.uniform(0.3, 0.65) * intr.height
    center = np.array([(u - intr.cx) / intr.fx * z, (v - intr.cy) / intr.fy * z, z])
    obj_rot, obj_trans = _place_holder(hand, rot_oh, t_oh, center, rng, forearm)
    hands = [hand]
    placed_obj = [p.transformed(obj_rot, obj_trans) for p in obj.prims]
    if both_hold:
        second, _ = _second_holder(hand, obj, obj_rot, obj_trans, rng, hand.prims())
        if second is not None:
            hands.append(second)
    elif two:
        second = _free_hand(hand, center, rng, hand.prims() + placed_obj, forearm)
        if second is not None:
            hands.append(second)
    for h in hands:
        _fit_forearm(h, intr)
    return assemble(hands, obj, obj_rot, obj_trans)


def assemble(hands: list[Hand], obj: SceneObject, obj_rot: np.ndarray, obj_trans: np.ndarray, **kw) -> Scene:
    """A Scene of placed hands and object, with the materials table (skins, then object colours)."""
    materials = [hands[0].shape.skin, hands[0].shape.skin, *obj.colors]
    for h in hands:
        materials[0 if h.shape.side == "left" else 1] = h.shape.skin
    return Scene(hands, obj, obj_rot, obj_trans, [], np.array(materials, np.uint8), {}, **kw)


def scene_info(scene: Scene) -> dict:
    """JSON-able description of a scene's hands, object and planes."""
    hands, obj = scene.hands, scene.obj
    return {"object": {**obj.to_dict(), "rotation": np.round(scene.obj_rot, 5).tolist(),
                       "center_m": np.round(scene.obj_trans, 5).tolist(), "touched": scene.touched},
            "hands": [h.to_dict() for h in hands],
            "both_hands_hold": len(hands) == 2 and hands[1].holding,
            "planes": [{"kind": p["kind"], "normal": np.round(p["n"], 5).tolist(), "offset_m": round(p["k"], 5),
                        "color": p["color"]} for p in scene.planes]}  # fmt: skip
