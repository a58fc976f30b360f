"""Grasps: place an object against the palm or between the fingertips and close the fingers until they touch it.

Everything here works in the right-hand frame (see hand.py); a left hand uses the mirror image of the same grasp.
Fingers close like GraspIt's auto-grasp: all joints of a finger flex together; when a segment touches the object,
the joints up to that segment stop and the more distal ones keep closing.
"""

from __future__ import annotations

import numpy as np

from handseg.data.synth.geometry import rot_axis, rot_x, rot_y, rot_z
from handseg.data.synth.hand import FINGERS, JOINT_LIMITS, FingerChain, HandPose, HandShape, chains, palm_points
from handseg.data.synth.objects import SceneObject
from handseg.data.synth.primitives import Prim, sdf_union

CONTACT_GAP = 0.0005  # metres between a touching segment's surface and the object's surface
_STEPS = 16
_SAMPLES = np.linspace(0.0, 1.0, 5)


def _placed(prims: list[Prim], rot: np.ndarray, trans: np.ndarray) -> list[Prim]:
    return [p.transformed(rot, trans) for p in prims]


def _segment_clearance(chain: FingerChain, angles: np.ndarray, prims: list[Prim]) -> np.ndarray:
    """Clearance (object distance minus segment radius) of each segment for angle sets (n, 3): shape (n, 3)."""
    joints = chain.joints(angles)  # (n, 4, 3)
    a, b = joints[:, :3], joints[:, 1:]
    tip_short = np.array([1.0, 1.0, max(1.0 - chain.radii[2] / chain.lengths[2], 0.3)])
    pts = a[:, :, None] + (b - a)[:, :, None] * (_SAMPLES[None, None, :, None] * tip_short[None, :, None, None])
    dist = sdf_union(prims, pts.reshape(-1, 3)).reshape(len(angles), 3, len(_SAMPLES))
    return dist.min(axis=2) - chain.radii[None, :]


def close_finger(
    chain: FingerChain, start: np.ndarray, target: np.ndarray, prims: list[Prim]
) -> tuple[np.ndarray, list[int]]:
    """Flex a finger from `start` towards `target` until its segments touch; returns angles and touching segments."""
    current = start.astype(np.float64).copy()
    frozen = 0
    touching: list[int] = []
    if prims and (_segment_clearance(chain, current[None], prims)[0] < 0).any():
        return current, touching  # already inside the object: leave it (caller may reject)
    while frozen < 3 and prims:
        s = np.linspace(0.0, 1.0, _STEPS + 1)[1:]
        cand = np.repeat(current[None], len(s), axis=0)
        cand[:, frozen:] += s[:, None] * (target[frozen:] - current[frozen:])[None]
        clear = _segment_clearance(chain, cand, prims)
        hit = (clear[:, frozen:] <= CONTACT_GAP).any(axis=1)
        if not hit.any():
            current = cand[-1]
            break
        i = int(np.argmax(hit))
        lo, hi = (0.0 if i == 0 else s[i - 1]), s[i]
        fine = np.linspace(lo, hi, 9)[1:-1]  # refine the contact between the last free and the first touching step
        sub = np.repeat(current[None], len(fine), axis=0)
        sub[:, frozen:] += fine[:, None] * (target[frozen:] - current[frozen:])[None]
        sub_hit = (_segment_clearance(chain, sub, prims)[:, frozen:] <= CONTACT_GAP).any(axis=1)
        if sub_hit.any():
            j = int(np.argmax(sub_hit))
            lo, hi = (lo if j == 0 else fine[j - 1]), fine[j]
        else:
            lo = fine[-1]
        trial = current.copy()
        trial[frozen:] += lo * (target[frozen:] - current[frozen:])
        touch = current.copy()
        touch[frozen:] += hi * (target[frozen:] - current[frozen:])
        seg = frozen + int(np.argmin(_segment_clearance(chain, touch[None], prims)[0, frozen:]))
        current = trial
        touching.append(seg)
        frozen = seg + 1
    return current, touching


def _clearance(points: np.ndarray, radii: np.ndarray, prims: list[Prim], rot: np.ndarray, centers: np.ndarray):
    """For each object centre (n, 3): smallest gap between the object (rotated by rot) and the balls (points, radii)."""
    local = (points[None, :, :] - centers[:, None, :]) @ rot
    d = sdf_union(prims, local.reshape(-1, 3)).reshape(len(centers), -1)
    return (d - radii[None, :]).min(axis=1)


def _contact_offset(points: np.ndarray, radii: np.ndarray, prims: list[Prim], rot: np.ndarray, xy: np.ndarray):
    """Height z of the object centre at which the object, lowered along -z onto the balls, first touches them."""
    heights = np.arange(0.3, -0.05, -0.003)
    centers = np.stack([np.full_like(heights, xy[0]), np.full_like(heights, xy[1]), heights], 1)
    gap = _clearance(points, radii, prims, rot, centers)
    touch = np.nonzero(gap <= 0)[0]
    if not touch.size or touch[0] == 0:
        return None
    hi, lo = heights[touch[0] - 1], heights[touch[0]]
    for _ in range(10):
        mid = (hi + lo) / 2
        if _clearance(points, radii, prims, rot, np.array([[xy[0], xy[1], mid]]))[0] <= 0:
            lo = mid
        else:
            hi = mid
    return float(hi)


def object_rotation(obj: SceneObject, rng: np.random.Generator, power: bool) -> np.ndarray:
    """Orientation of the object in the hand frame: long axis across the palm for power grasps, else random."""
    spin = rot_z(rng.uniform(0, 2 * np.pi))
    if obj.elongated and (power or rng.random() < 0.6):
        across = rot_y(np.pi / 2 * (1 if rng.random() < 0.5 else -1))  # object z -> hand +-x
        tilt = rot_z(rng.normal(0, 0.3)) @ rot_x(rng.normal(0, 0.15))
        return tilt @ across @ spin
    return rot_axis(rng.normal(size=3), rng.uniform(0, np.pi)) @ spin


def grasp(
    shape: HandShape, obj: SceneObject, rng: np.random.Generator, kind: str | None = None
) -> tuple[HandPose, np.ndarray, np.ndarray, dict]:
    """A grasp of `obj` by a hand: its pose and the object's rotation and position in the right-hand frame."""
    s = shape.scale
    small = obj.kind in ("pen",) or max(obj.dims.values()) < 0.03
    if kind is None:
        kind = "precision" if (small and rng.random() < 0.7) or rng.random() < 0.2 else "power"
    pose = HandPose(thumb_mode="wrap" if kind == "power" else "oppose")
    for f in FINGERS:
        pose.spread[f] = rng.normal(0, 0.06)
        pose.flex[f] = np.radians(rng.uniform(-5, 10, 3))
    pose.spread["thumb"] = rng.uniform(-0.2, 0.3)
    pose.flex["thumb"] = np.radians([rng.uniform(-10, 5), rng.uniform(0, 10), rng.uniform(0, 10)])
    rot = object_rotation(obj, rng, kind == "power")
    hand_chains = chains(shape, pose)
    thumb = hand_chains["thumb"]
    thumb_back = np.array([np.radians(JOINT_LIMITS["thumb"][0][0]), 0.0, 0.0])  # swung fully back
    if kind == "power":
        xy = np.array([rng.uniform(-0.012, 0.012), rng.uniform(0.07, 0.088) * s])
        points, radii = palm_points(shape)
    else:
        xy = np.array([rng.uniform(-0.02, 0.01), rng.uniform(0.11, 0.14) * s])
        gx, gy = np.meshgrid(np.linspace(-0.028, 0.028, 6) * s, np.linspace(0.08, 0.16, 7) * s)
        height = rng.uniform(0.012, 0.025)
        points = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, height)], 1)
        radii = np.zeros(len(points))
    joints = thumb.joints(thumb_back)
    for k in range(3):  # the object must also clear the swung-back thumb
        points = np.concatenate([points, joints[k] + (joints[k + 1] - joints[k]) * np.linspace(0, 1, 5)[:, None]])
        radii = np.concatenate([radii, np.full(5, thumb.radii[k])])
    z = _contact_offset(points, radii, obj.prims, rot, xy)
    trans = np.array([xy[0], xy[1], (0.05 if z is None else z) + 2 * CONTACT_GAP])
    placed = _placed(obj.prims, rot, trans)
    touches = {}
    start = pose.flex["thumb"].copy()
    for mix in np.linspace(0.0, 1.0, 6):  # swing the thumb back until it is clear of the object
        trial = start * (1 - mix) + thumb_back * mix
        if (_segment_clearance(thumb, trial[None], placed)[0] > 0).all():
            pose.flex["thumb"] = trial
            break
    for f, chain in hand_chains.items():
        lims = np.radians(np.array(JOINT_LIMITS[f], np.float64))
        target = lims[:, 1] * rng.uniform(0.85, 1.0, 3)
        if f == "thumb":
            target = np.radians([45, 50, 70]) * rng.uniform(0.8, 1.1, 3)
        if f in ("ring", "little") and kind == "precision" and rng.random() < 0.5:
            target = target * rng.uniform(0.1, 0.5)  # relaxed fingers that do not take part
        pose.flex[f], touches[f] = close_finger(chain, pose.flex[f], target, placed)
    pose.clamp()
    info = {"kind": kind, "touching_segments": touches}
    return pose, rot, trans, info


def free_pose(rng: np.random.Generator) -> HandPose:
    """A hand holding nothing: open, relaxed, pointing or a fist."""
    style = rng.choice(["open", "relaxed", "point", "fist"], p=[0.3, 0.4, 0.15, 0.15])
    pose = HandPose()
    amount = {"open": (0.0, 0.15), "relaxed": (0.15, 0.6), "point": (0.8, 1.0), "fist": (0.85, 1.0)}[style]
    for f in FINGERS:
        lims = np.radians(np.array(JOINT_LIMITS[f], np.float64))
        pose.flex[f] = lims[:, 1] * rng.uniform(*amount, 3)
        pose.spread[f] = rng.normal(0, 0.12 if style == "open" else 0.05)
    if style == "point":
        pose.flex["index"] = np.radians(rng.uniform(-5, 15, 3))
    pose.spread["thumb"] = rng.uniform(0.0, 0.6)
    return pose.clamp()
