"""Small rotation helpers (3x3 matrices acting on column vectors)."""

from __future__ import annotations

import numpy as np


def rot_axis(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation by `angle` radians about a unit `axis` (Rodrigues)."""
    axis = np.asarray(axis, np.float64)
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def rot_x(angle: float) -> np.ndarray:
    """Rotation about x (turns +y towards +z for a positive angle)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(angle: float) -> np.ndarray:
    """Rotation about y."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(angle: float) -> np.ndarray:
    """Rotation about z (turns +x towards +y for a positive angle)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """A rotation taking unit vector `src` onto unit vector `dst`."""
    src = src / np.linalg.norm(src)
    dst = dst / np.linalg.norm(dst)
    axis = np.cross(src, dst)
    sin = np.linalg.norm(axis)
    cos = float(src @ dst)
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        ortho = np.cross(src, [1.0, 0, 0] if abs(src[0]) < 0.9 else [0, 1.0, 0])
        return rot_axis(ortho, np.pi)
    return rot_axis(axis / sin, float(np.arctan2(sin, cos)))


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def unit(v: np.ndarray) -> np.ndarray:
    """v scaled to length 1."""
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)
