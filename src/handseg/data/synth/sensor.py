"""An SR300-like sensor: noisy, quantised depth with holes at edges and projector shadows; a lit colour image."""

from __future__ import annotations

import cv2
import numpy as np

from handseg.data.format import Intrinsics
from handseg.data.synth.render import Render

PROJECTOR_BASELINE = 0.021  # metres between IR camera and projector (projector to the right)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int, channels: int = 1) -> np.ndarray:
    """Low-frequency noise in about [-1, 1] made by upsampling a coarse random grid."""
    h, w = shape
    coarse = rng.standard_normal((cells * 3 // 4 + 2, cells + 2, channels), dtype=np.float32)
    out = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return out.reshape(h, w, channels) if channels > 1 else out.reshape(h, w)


def projector_shadow(depth: np.ndarray, intr: Intrinsics, baseline: float = PROJECTOR_BASELINE) -> np.ndarray:
    """Pixels the projector cannot light because a nearer surface to their right blocks its ray."""
    u = np.arange(depth.shape[1], dtype=np.float32)[None, :]
    with np.errstate(divide="ignore"):
        up = u - np.float32(intr.fx * baseline) / depth  # projector column of each pixel (inf depth -> u)
    right_min = np.minimum.accumulate(up[:, ::-1], axis=1)[:, ::-1]
    shadow = np.zeros(depth.shape, bool)
    shadow[:, :-1] = right_min[:, 1:] < up[:, :-1] - 0.5
    return shadow


def normals(depth: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """Approximate unit surface normals (HxWx3, camera frame) from a depth map; 0 where depth is missing."""
    z = np.where(np.isfinite(depth), depth, 0).astype(np.float32)
    gx = np.zeros_like(z)
    gy = np.zeros_like(z)
    gx[:, 1:-1] = (z[:, 2:] - z[:, :-2]) * 0.5
    gy[1:-1] = (z[2:] - z[:-2]) * 0.5
    safe = np.maximum(z, 1e-3)
    nx = -gx * np.float32(intr.fx) / safe
    ny = -gy * np.float32(intr.fy) / safe
    # a depth jump (silhouette) bends the normal fully sideways; keep it finite
    np.clip(nx, -8, 8, out=nx)
    np.clip(ny, -8, 8, out=ny)
    inv = 1.0 / np.sqrt(nx * nx + ny * ny + 1.0)
    return np.stack([nx * inv, ny * inv, -inv], axis=-1)


def depth_image(render: Render, intr: Intrinsics, rng: np.random.Generator, n: np.ndarray) -> tuple[np.ndarray, dict]:
    """Sensor depth in millimetres (uint16, 0 = missing) and the noise settings used."""
    depth = render.depth
    h, w = depth.shape
    max_range = float(rng.uniform(1.2, 2.2))
    sigma_at_1m = float(rng.uniform(0.002, 0.004))
    z = np.where(np.isfinite(depth), depth, 0).astype(np.float32)
    noisy = z + (0.0004 + sigma_at_1m * z * z) * rng.standard_normal((h, w), dtype=np.float32)
    noisy += z * 0.0015 * _smooth_noise(rng, (h, w), 8)  # slow wobble of the depth calibration
    missing = ~np.isfinite(depth) | (z > max_range) | (z < 0.2)
    missing |= projector_shadow(depth, intr)
    # edges: depth jumps lose pixels on both sides, ragged
    zz = np.where(np.isfinite(depth), depth, 10.0).astype(np.float32)
    jump = np.zeros((h, w), bool)
    thr = 0.012 + 0.02 * zz
    jump[:, 1:] |= np.abs(zz[:, 1:] - zz[:, :-1]) > thr[:, 1:]
    jump[1:] |= np.abs(zz[1:] - zz[:-1]) > thr[1:]
    edge = cv2.dilate(jump.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    rand = rng.random((h, w), dtype=np.float32)
    missing |= edge & (rand < 0.55)
    # grazing surfaces return little light
    facing = -n[..., 2]
    missing |= (facing < 0.25) & (rand < (0.25 - facing) * 4.0)
    missing |= rand > 0.9985  # isolated dropouts
    mm = np.rint(noisy * 1000.0)
    mm[missing] = 0
    out = np.clip(mm, 0, 65535).astype(np.uint16)
    return out, {"max_range_m": round(max_range, 3), "noise_sigma_at_1m_m": round(sigma_at_1m, 5),
                 "projector_baseline_m": PROJECTOR_BASELINE}  # fmt: skip


def color_image(
    render: Render, intr: Intrinsics, materials: np.ndarray, planes: list[dict], rng: np.random.Generator, n: np.ndarray
) -> tuple[np.ndarray, dict]:
    """RGB image aligned to depth up to a small shift/rotation/scale, with lit materials and textures."""
    h, w = render.depth.shape
    room = np.array(rng.uniform(40, 110, 3), np.float32)
    albedo = np.empty((h, w, 3), np.float32)
    albedo[:] = room
    texture = _smooth_noise(rng, (h, w), 12, 3) * 10.0
    for k, plane in enumerate(planes):
        sel = render.plane_index == k
        albedo[sel] = np.asarray(plane["color"], np.float32)
    table = np.zeros((len(materials) + 1, 3), np.float32)
    table[: len(materials)] = materials
    mat = render.material
    sel = mat != 255
    albedo[sel] = table[mat[sel]]
    albedo += texture
    # direction towards the light (camera frame): above and in front of the scene
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.9, -0.1), -1.0], np.float32)
    light /= np.linalg.norm(light)
    lambert = np.clip(n @ light, 0, 1)
    ambient = float(rng.uniform(0.35, 0.55))
    shade = ambient + (1 - ambient) * lambert
    shade = np.where(np.isfinite(render.depth), shade, 0.8)
    img = albedo * shade[..., None] * float(rng.uniform(0.8, 1.15))
    img += rng.standard_normal((h, w, 3), dtype=np.float32) * 3.0
    dx, dy = rng.uniform(-3.0, 3.0), rng.uniform(-2.0, 2.0)
    angle, scale = rng.uniform(-0.6, 0.6), 1.0 + rng.uniform(-0.008, 0.008)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += (dx, dy)
    img = np.clip(img, 0, 255).astype(np.uint8)
    img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    info = {"shift_px": [round(dx, 3), round(dy, 3)], "rotation_deg": round(angle, 3), "scale": round(scale, 5),
            "light_dir": np.round(light, 4).tolist(), "ambient": round(ambient, 3)}  # fmt: skip
    return img, info
