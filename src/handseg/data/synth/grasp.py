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


def _batch_clearance(chain_list: list[FingerChain], angles: np.ndarray, prims: list[Prim]) -> np.ndarray:
    """Clearance of each segment of several fingers for angle sets (F, S, 3): shape (F, S, 3)."""
    base = np.stack([c.base for c in chain_list])[:, None, None, :]
    y_axis = np.stack([c.frame[:, 1] for c in chain_list])[:, None, None, :]
    z_axis = np.stack([c.frame[:, 2] for c in chain_list])[:, None, None, :]
    lengths = np.stack([c.lengths for c in chain_list])
    radii = np.stack([c.radii for c in chain_list])
    phi = np.cumsum(angles, axis=-1)[..., None]
    steps = (np.cos(phi) * y_axis + np.sin(phi) * z_axis) * lengths[:, None, :, None]
    ends = base + np.cumsum(steps, axis=2)  # (F, S, 3, 3): end of each segment
    starts = ends - steps
    tip = np.maximum(1.0 - radii[:, 2] / lengths[:, 2], 0.3)  # the last capsule stops one radius short of the tip
    steps = steps.copy()
    steps[:, :, 2] *= tip[:, None, None]
    pts = starts[:, :, :, None, :] + steps[:, :, :, None, :] * _SAMPLES[None, None, None, :, None]
    dist = sdf_union(prims, pts.reshape(-1, 3)).reshape(*angles.shape[:2], 3, len(_SAMPLES))
    return dist.min(axis=3) - radii[:, None, :]


def close_fingers(
    chain_list: list[FingerChain], starts: np.ndarray, targets: np.ndarray, prims: list[Prim]
) -> tuple[np.ndarray, list[list[int]]]:
    """Flex fingers (F, 3) from `starts` towards `targets` until their segments touch; angles and touching segments."""
    n = len(chain_list)
    current = starts.astype(np.float64).copy()
    frozen = np.zeros(n, int)
    touching: list[list[int]] = [[] for _ in range(n)]
    active = (_batch_clearance(chain_list, current[:, None], prims)[:, 0] >= 0).all(axis=1)  # inside: leave it
    s = np.linspace(0.0, 1.0, _STEPS + 1)[1:]
    fine = np.linspace(0.0, 1.0, 9)[1:-1]
    rows = np.arange(n)
    for _ in range(3):
        if not active.any():
            break
        moving = (np.arange(3)[None, :] >= frozen[:, None]) & active[:, None]
        delta = (targets - current) * moving
        cand = current[:, None, :] + s[None, :, None] * delta[:, None, :]
        hit = ((_batch_clearance(chain_list, cand, prims) <= CONTACT_GAP) & moving[:, None, :]).any(axis=2)
        first = np.argmax(hit, axis=1)
        free = active & ~hit.any(axis=1)
        current[free] = cand[free, -1]
        active &= ~free
        lo = np.where(first > 0, s[np.maximum(first - 1, 0)], 0.0)
        hi = s[first]
        steps = lo[:, None] + (hi - lo)[:, None] * fine[None, :]  # refine between the last free and the first hit
        sub = current[:, None, :] + steps[:, :, None] * delta[:, None, :]
        sub_hit = ((_batch_clearance(chain_list, sub, prims) <= CONTACT_GAP) & moving[:, None, :]).any(axis=2)
        j = np.argmax(sub_hit, axis=1)
        found = sub_hit.any(axis=1)
        hi = np.where(found, steps[rows, j], hi)
        lo = np.where(found, np.where(j > 0, steps[rows, np.maximum(j - 1, 0)], lo), steps[:, -1])
        at_hi = _batch_clearance(chain_list, (current + hi[:, None] * delta)[:, None], prims)[:, 0]
        seg = np.argmin(np.where(moving, at_hi, np.inf), axis=1)
        for f in np.nonzero(active)[0]:
            current[f] = current[f] + lo[f] * delta[f]
            touching[f].append(int(seg[f]))
            frozen[f] = seg[f] + 1
        active &= frozen < 3
    return current, touching


def _segment_clearance(chain: FingerChain, angles: np.ndarray, prims: list[Prim]) -> np.ndarray:
    """Clearance of each segment of one finger for angle sets (n, 3): shape (n, 3)."""
    return _batch_clearance([chain], angles[None], prims)[0]


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
    fine = np.linspace(heights[touch[0] - 1], heights[touch[0]], 31)  # 0.1 mm steps between free and touching
    centers = np.stack([np.full_like(fine, xy[0]), np.full_like(fine, xy[1]), fine], 1)
    gap = _clearance(points, radii, prims, rot, centers)
    return float(fine[np.argmax(gap <= 0) - 1])


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
    targets = []
    for f in FINGERS:
        lims = np.radians(np.array(JOINT_LIMITS[f], np.float64))
        target = lims[:, 1] * rng.uniform(0.85, 1.0, 3)
        if f == "thumb":
            target = np.radians([45, 50, 70]) * rng.uniform(0.8, 1.1, 3)
        if f in ("ring", "little") and kind == "precision" and rng.random() < 0.5:
            target = target * rng.uniform(0.1, 0.5)  # relaxed fingers that do not take part
        targets.append(target)
    starts = np.stack([pose.flex[f] for f in FINGERS])
    angles, touching = close_fingers([hand_chains[f] for f in FINGERS], starts, np.stack(targets), placed)
    for k, f in enumerate(FINGERS):
        pose.flex[f], touches[f] = angles[k], touching[k]
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
