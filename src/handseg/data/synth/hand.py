"""An articulated kinematic hand: palm, thumb and four fingers of three segments each, forearm; left or right.

Hand frame (metres): origin at the wrist, +y towards the fingers, +z out of the palm (fingers flex towards +z).
A right hand has its thumb at -x; a left hand is the mirror image (thumb at +x).
Part ids follow the handseg-v1 format: 1 palm, thumb 2-4, index 5-7, middle 8-10, ring 11-13, little 14-16;
the forearm is FOREARM (17), labelled hand but without a part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from handseg.data.synth.geometry import rot_axis, rot_x, rot_z, unit
from handseg.data.synth.primitives import Prim

FOREARM = 17
FINGERS = ("thumb", "index", "middle", "ring", "little")
# Joint limits in degrees per finger: (joint 1, joint 2, joint 3); thumb joints are CMC flexion, MCP, IP.
JOINT_LIMITS = {
    "thumb": ((-40, 60), (-5, 60), (-15, 85)),
    "index": ((-20, 92), (0, 110), (-5, 85)),
    "middle": ((-20, 92), (0, 110), (-5, 85)),
    "ring": ((-20, 92), (0, 110), (-5, 85)),
    "little": ((-25, 92), (0, 110), (-5, 85)),
}
SPREAD_LIMITS = {"thumb": (-20, 35), "index": (-15, 12), "middle": (-8, 8), "ring": (-10, 10), "little": (-12, 20)}
# Base geometry of a right hand in cm: knuckle position, segment lengths, segment radii, resting spread (deg).
_FINGER_GEOMETRY = {
    "index": ((-2.55, 9.0, 0.0), (3.9, 2.3, 2.0), (0.93, 0.84, 0.76), -6.0),
    "middle": ((-0.75, 9.45, 0.0), (4.4, 2.75, 2.1), (0.96, 0.87, 0.78), 0.0),
    "ring": ((1.05, 9.1, 0.0), (4.1, 2.6, 2.0), (0.91, 0.82, 0.74), 6.0),
    "little": ((2.7, 8.25, 0.0), (3.3, 1.95, 1.85), (0.81, 0.72, 0.66), 14.0),
}
_THUMB_BASE = (-2.1, 2.0, 0.5)
# Thumb pre-shapes: resting direction of the metacarpal and the direction it flexes towards (right-hand frame).
THUMB_MODES = {
    "oppose": ((-0.62, 0.74, 0.26), (0.55, 0.2, 0.8)),  # towards the fingertips (pinch, relaxed hands)
    "wrap": ((-0.42, 0.3, 0.86), (0.3, 0.95, -0.1)),  # standing out of the palm, closing over a held object
}
_THUMB_LENGTHS = (4.4, 3.2, 2.6)
_THUMB_RADII = (1.15, 1.02, 0.92)
PALM_RADIUS = 1.18  # cm, half thickness of the palm


@dataclass
class HandShape:
    """Size and look of one hand."""

    side: str = "right"  # "left" or "right"
    scale: float = 1.0
    skin: tuple[int, int, int] = (205, 160, 130)
    thickness: float = 1.0  # radius multiplier (slim .. chunky)

    @property
    def mirror(self) -> float:
        """-1 for a left hand (x mirrored), +1 for a right hand."""
        return -1.0 if self.side == "left" else 1.0


@dataclass
class HandPose:
    """Joint angles (radians) and wrist bend of one hand."""

    flex: dict[str, np.ndarray] = field(default_factory=lambda: {f: np.zeros(3) for f in FINGERS})
    spread: dict[str, float] = field(default_factory=lambda: {f: 0.0 for f in FINGERS})
    wrist: tuple[float, float] = (0.0, 0.0)  # flexion, deviation
    forearm_length: float = 0.3
    thumb_mode: str = "oppose"

    def clamp(self) -> HandPose:
        """Clip every joint to its limit."""
        for f in FINGERS:
            lims = np.radians(np.array(JOINT_LIMITS[f], np.float64))
            self.flex[f] = np.clip(self.flex[f], lims[:, 0], lims[:, 1])
            lo, hi = np.radians(SPREAD_LIMITS[f])
            self.spread[f] = float(np.clip(self.spread[f], lo, hi))
        return self

    def to_dict(self) -> dict:
        """JSON-able joint angles in degrees."""
        return {
            "flex_deg": {f: np.round(np.degrees(self.flex[f]), 2).tolist() for f in FINGERS},
            "spread_deg": {f: round(float(np.degrees(self.spread[f])), 2) for f in FINGERS},
            "wrist_deg": [round(float(np.degrees(a)), 2) for a in self.wrist],
            "forearm_length_m": round(float(self.forearm_length), 4),
            "thumb_mode": self.thumb_mode,
        }


@dataclass
class FingerChain:
    """Kinematic chain of one finger in the (unmirrored, right) hand frame, metres."""

    base: np.ndarray  # knuckle position
    frame: np.ndarray  # columns: flexion axis, distal direction at zero flexion, flexion direction
    lengths: np.ndarray
    radii: np.ndarray
    first_part: int

    def joints(self, angles: np.ndarray) -> np.ndarray:
        """Joint positions (..., 4, 3) for flexion angles (..., 3); cumulative flexion in the chain's plane."""
        phi = np.cumsum(angles, axis=-1)
        dirs = np.cos(phi)[..., None] * self.frame[:, 1] + np.sin(phi)[..., None] * self.frame[:, 2]
        steps = dirs * self.lengths[:, None]
        pts = self.base + np.cumsum(steps, axis=-2)
        return np.concatenate([np.broadcast_to(self.base, (*pts.shape[:-2], 1, 3)), pts], axis=-2)

    def segments(self, angles: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Capsule (a, b, r) per segment; the last one ends one radius short of the fingertip."""
        j = self.joints(angles)
        out = []
        for k in range(3):
            a, b = j[k], j[k + 1]
            if k == 2:
                b = a + (b - a) * max(1.0 - self.radii[2] / self.lengths[2], 0.3)
            out.append((a, b, float(self.radii[k])))
        return out


def finger_chain(shape: HandShape, finger: str, spread: float, thumb_mode: str = "oppose") -> FingerChain:
    """Chain of one finger with a given sideways spread (radians), in the right-hand frame."""
    s = shape.scale * 0.01
    if finger == "thumb":
        base = np.array(_THUMB_BASE) * s
        distal, towards = (unit(np.array(v)) for v in THUMB_MODES[thumb_mode])
        towards = unit(towards - (towards @ distal) * distal)
        turn = rot_axis(towards, -spread)  # abduction moves the thumb away from the index
        distal, towards = turn @ distal, turn @ towards
        axis = np.cross(distal, towards)
        frame = np.stack([axis, distal, towards], axis=1)
        lengths, radii, first = np.array(_THUMB_LENGTHS), np.array(_THUMB_RADII), 2
    else:
        knuckle, lengths, radii, rest = _FINGER_GEOMETRY[finger]
        base = np.array(knuckle) * s
        frame = rot_z(-np.radians(rest) - spread)
        lengths, radii = np.array(lengths), np.array(radii)
        first = 2 + 3 * FINGERS.index(finger)
    return FingerChain(base, frame, lengths * s, radii * s * shape.thickness, first)


def chains(shape: HandShape, pose: HandPose) -> dict[str, FingerChain]:
    """Every finger's chain for a pose's spreads."""
    return {f: finger_chain(shape, f, pose.spread[f], pose.thumb_mode) for f in FINGERS}


def palm_prims(shape: HandShape) -> list[Prim]:
    """Palm (metacarpal capsules, heel and thenar bulge) in the right-hand frame."""
    s = shape.scale * 0.01
    r = PALM_RADIUS * s * shape.thickness
    out = []
    for finger in ("index", "middle", "ring", "little"):
        knuckle = np.array(_FINGER_GEOMETRY[finger][0]) * s
        base = np.array([knuckle[0] * 0.62, 1.7 * s, 0.0])
        out.append(Prim("capsule", {"a": base, "b": knuckle, "r": r * (1.0 if finger != "little" else 0.9)}, pid=1))
    out.append(
        Prim(
            "capsule",
            {"a": np.array([-2.0 * s, 1.5 * s, 0]), "b": np.array([1.9 * s, 1.5 * s, 0]), "r": r * 1.12},
            pid=1,
        )
    )
    thenar = {
        "c": np.array([-1.7, 3.4, 0.45]) * s,
        "rot": rot_z(0.5),
        "s": np.array([1.45, 2.5, 1.25]) * s * shape.thickness,
    }
    out.append(Prim("ellipsoid", thenar, pid=1))
    return out


def forearm_prims(shape: HandShape, pose: HandPose) -> list[Prim]:
    """Wrist and forearm: a tapered elliptic tube leaving the wrist along the bent forearm direction."""
    s = shape.scale * 0.01 * shape.thickness
    bend = rot_x(pose.wrist[0]) @ rot_z(pose.wrist[1])
    back, side, up = bend @ np.array([0.0, -1.0, 0.0]), bend @ np.array([1.0, 0.0, 0.0]), bend[:, 2]
    frame = np.stack([side, up, back], axis=1)
    semi = np.array([2.75, 1.85]) * s
    start = back * 0.4 * s
    end = start + back * max(pose.forearm_length, 0.05)
    k = 1.3  # cross-section growth per metre towards the elbow
    grow = 1.0 + k * float(np.linalg.norm(end - start))
    return [
        Prim("ellipsoid", {"c": start, "rot": frame, "s": np.array([semi[0], semi[1], 1.6 * s])}, pid=FOREARM),
        Prim("cone", {"a": start, "b": end, "rot": frame, "s": semi, "k": k}, pid=FOREARM),
        Prim("ellipsoid", {"c": end, "rot": frame, "s": np.array([*(semi * grow), semi[0]])}, pid=FOREARM),
    ]


def hand_prims(shape: HandShape, pose: HandPose) -> list[Prim]:
    """Every primitive of a posed hand in its own (mirrored for a left hand) frame."""
    prims = palm_prims(shape) + forearm_prims(shape, pose)
    for f, chain in chains(shape, pose).items():
        for k, (a, b, r) in enumerate(chain.segments(pose.flex[f])):
            # the sphere at a segment's start lies inside the bigger one ending the previous segment (or metacarpal)
            hidden_start = k > 0 or f != "thumb"
            prims.append(
                Prim("capsule", {"a": a, "b": b, "r": r}, pid=chain.first_part + k, meta={"no_cap_a": hidden_start})
            )
    if shape.mirror < 0:
        flip = np.diag([-1.0, 1.0, 1.0])
        for prim in prims:
            for key in ("a", "b", "c"):
                if key in prim.params:
                    prim.params[key] = flip @ prim.params[key]
            if "rot" in prim.params:
                prim.params["rot"] = flip @ prim.params["rot"] @ flip
    return prims


def palm_points(shape: HandShape) -> tuple[np.ndarray, np.ndarray]:
    """Points along the palm's capsules and thenar bulge with the radius around each (right-hand frame)."""
    pts, radii = [], []
    for prim in palm_prims(shape):
        p = prim.params
        if prim.kind == "capsule":
            a, b, r = p["a"], p["b"], float(p["r"])
        else:  # thenar ellipsoid: its long axis, with the thickness as radius
            axis = p["rot"][:, 1] * p["s"][1] * 0.7
            a, b, r = p["c"] - axis, p["c"] + axis, float(p["s"][2])
        for t in np.linspace(0, 1, 7):
            pts.append(a + (b - a) * t)
            radii.append(r)
    return np.array(pts), np.array(radii)
