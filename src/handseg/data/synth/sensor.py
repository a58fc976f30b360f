"""An SR300-like sensor: noisy, quantised depth with holes at edges and projector shadows; a lit colour image."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from handseg.data.format import Intrinsics
from handseg.data.synth.render import Render

PROJECTOR_BASELINE = 0.021  # metres between IR camera and projector (projector to the right)
_BANK_SIZE = 1 << 21


@lru_cache(maxsize=1)
def _banks() -> tuple[np.ndarray, np.ndarray]:
    """Fixed banks of standard normal and uniform noise (same in every process); frames take random windows."""
    rng = np.random.default_rng(20240611)
    return rng.standard_normal(_BANK_SIZE, dtype=np.float32), rng.random(_BANK_SIZE, dtype=np.float32)


def _window(bank: np.ndarray, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A random contiguous window of a noise bank, as an array of `shape` (read-only view when it fits)."""
    size = shape[0] * shape[1]
    if size > len(bank) // 2:
        reps = -(-size // (len(bank) // 2)) + 1
        bank = np.tile(bank, reps)
    start = int(rng.integers(0, len(bank) - size))
    return bank[start : start + size].reshape(shape)


def normal_noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Standard normal noise (float32) of a shape, cheaply drawn from the fixed bank."""
    return _window(_banks()[0], rng, shape)


def uniform_noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Uniform [0, 1) noise (float32) of a shape, cheaply drawn from the fixed bank."""
    return _window(_banks()[1], rng, shape)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise of about unit amplitude, made by upsampling a coarse random grid."""
    h, w = shape
    coarse = rng.standard_normal((max(2, cells * h // w) + 1, cells + 1), dtype=np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)


def projector_shadow(
    depth: np.ndarray,
    intr: Intrinsics,
    baseline: float = PROJECTOR_BASELINE,
    box: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Pixels the projector cannot light because a nearer surface to their right blocks its ray (depth 0 = none).

    With `box` (u0, v0, u1, v1), only the rows v0..v1 left of u1 are searched: the background planes alone cast no
    shadow (their projector column grows along every row), so only pixels left of a foreground box can be shadowed.
    """
    shadow = np.zeros(depth.shape, bool)
    h, w = depth.shape
    v0, v1, u1 = (0, h, w) if box is None else (box[1], box[3], min(box[2] + 1, w))
    if v0 >= v1:
        return shadow
    depth = depth[v0:v1, :u1]
    u = np.arange(u1, dtype=np.float32)[None, :]
    with np.errstate(divide="ignore"):
        up = u - np.float32(intr.fx * baseline) / depth  # projector column of each pixel (no surface: -inf)
    up[depth == 0] = np.inf  # nothing there: casts no shadow
    right_min = np.minimum.accumulate(up[:, ::-1], axis=1)[:, ::-1]
    np.less(right_min[:, 1:], up[:, :-1] - np.float32(0.5), out=shadow[v0:v1, : u1 - 1])
    return shadow


def shading_normals(depth: np.ndarray, intr: Intrinsics, step: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Approximate unit normals (nx, ny, nz; camera frame, facing the camera) on every `step`-th depth pixel."""
    depth = np.ascontiguousarray(depth[::step, ::step])
    gx = np.zeros_like(depth)
    gy = np.zeros_like(depth)
    np.subtract(depth[:, 2:], depth[:, :-2], out=gx[:, 1:-1])
    np.subtract(depth[2:], depth[:-2], out=gy[1:-1])
    scale = np.float32(-0.5) / np.maximum(depth, np.float32(1e-3))
    nx = np.clip(gx * scale * np.float32(intr.fx / step), -8, 8)
    ny = np.clip(gy * scale * np.float32(intr.fy / step), -8, 8)
    inv = 1.0 / np.sqrt(nx * nx + ny * ny + np.float32(1.0))
    return nx * inv, ny * inv, -inv


def depth_image(render: Render, intr: Intrinsics, rng: np.random.Generator, nz: np.ndarray) -> tuple[np.ndarray, dict]:
    """Sensor depth in millimetres (uint16, 0 = missing) and the noise settings used.

    `nz` is the normal's z component on every second pixel (see `shading_normals`).
    """
    z = render.depth
    h, w = z.shape
    z = z + multipath(z, rng, px=w / 640.0)  # the coded-light projector's light bounces in concave corners
    max_range = float(rng.uniform(1.2, 2.2))
    sigma_at_1m = float(rng.uniform(0.0015, 0.0035))
    noise = np.multiply(z, np.float32(sigma_at_1m))  # sigma 0.4 mm + sigma_at_1m * z^2
    noise *= z
    noise += np.float32(0.0004)
    noise *= normal_noise(rng, (h, w))
    mm = _smooth_noise(rng, (h, w), 8)  # slow error of the depth calibration, +-0.15%
    mm *= np.float32(0.0015)
    mm += np.float32(1.0)
    mm *= z
    mm += noise
    mm *= np.float32(1000.0)
    missing = z > max_range
    missing |= z < 0.2
    missing |= projector_shadow(z, intr, box=render.box)
    # depth jumps lose pixels on both sides, raggedly; grazing surfaces return too little light
    thr = np.multiply(z, np.float32(0.02))
    thr += np.float32(0.012)
    far = np.where(z > 0, z, np.float32(10.0))
    jump = np.zeros((h, w), bool)
    np.greater(cv2.absdiff(far[:, 1:], far[:, :-1]), thr[:, 1:], out=jump[:, 1:])
    jump[1:] |= cv2.absdiff(far[1:], far[:-1]) > thr[1:]
    edge = cv2.dilate(jump.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    rand = uniform_noise(rng, (h, w))
    missing |= edge & (rand < 0.55)
    # facing = -nz < 0.25: dropped with probability (0.25 - facing) * 4 (computed on the half-size grid)
    grazing = (np.float32(0.25) + nz) * 4
    missing |= rand < cv2.resize(grazing, (w, h), interpolation=cv2.INTER_NEAREST)
    missing |= rand > 0.9985  # isolated dropouts
    out = cv2.multiply(mm, 1.0, dtype=cv2.CV_16U)  # rounded to nearest (even) and clipped to 0..65535
    np.multiply(out, ~missing, out=out)
    info = {"max_range_m": round(max_range, 3), "noise_sigma_at_1m_m": round(sigma_at_1m, 5)}
    return out, {**info, "projector_baseline_m": PROJECTOR_BASELINE}


def color_image(
    render: Render,
    materials: np.ndarray,
    planes: list[dict],
    rng: np.random.Generator,
    normals: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, dict]:
    """RGB image aligned to depth up to a small shift/rotation/scale, with lit materials and textures.

    Materials (albedo) are looked up at full resolution, so colour edges sit exactly on the label edges before the
    registration warp; shading, which varies smoothly, is computed on every second pixel (`normals`) and upsampled.
    The final warp models the colour camera's registration error (recorded in the returned info).
    """
    h, w = render.depth.shape
    hh, hw = normals[0].shape
    # one colour table: materials, then background planes, then the far room where nothing was hit
    lut = np.zeros((256, 3), np.float32)
    lut[: len(materials)] = materials
    for k, plane in enumerate(planes):
        lut[200 + k] = plane["color"]
    lut[255] = rng.uniform(40, 110, 3)
    on_plane = cv2.compare(render.plane_index, 255, cv2.CMP_NE)
    index = cv2.add(render.plane_index, 200, dst=render.material.copy(), mask=on_plane)  # planes: 200 + k
    table = np.clip(lut, 0, 255).round().astype(np.uint8).reshape(256, 1, 3)
    albedo = cv2.LUT(cv2.cvtColor(index, cv2.COLOR_GRAY2RGB), table)  # H x W x 3 uint8
    # direction towards the light (camera frame): above and in front of the scene
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.9, -0.1), -1.0])
    light /= np.linalg.norm(light)
    nx, ny, nz = normals
    lambert = np.clip(nx * np.float32(light[0]) + ny * np.float32(light[1]) + nz * np.float32(light[2]), 0, 1)
    ambient = float(rng.uniform(0.35, 0.55))
    gain = float(rng.uniform(0.8, 1.15))
    shade = np.float32(ambient * gain) + np.float32((1 - ambient) * gain) * lambert
    shade[render.depth[::2, ::2] == 0] = np.float32(0.8 * gain)
    shade *= np.float32(1.0) + np.float32(0.08) * _smooth_noise(rng, (hh, hw), 24)  # surface texture
    shade += normal_noise(rng, (hh, hw)) * np.float32(0.015)  # sensor noise
    # shading sample i was computed at full-resolution pixel 2i (normals of depth[::2, ::2]): put it back there
    upsample = np.array([[w / hw, 0, 0], [0, h / hh, 0]], np.float64)
    shade = cv2.warpAffine(shade, upsample, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    img = cv2.multiply(albedo, cv2.cvtColor(shade, cv2.COLOR_GRAY2RGB), dtype=cv2.CV_8U)  # saturates at 0 and 255
    dx, dy = rng.uniform(-3.0, 3.0), rng.uniform(-2.0, 2.0)
    angle, scale = rng.uniform(-0.6, 0.6), 1.0 + rng.uniform(-0.008, 0.008)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += (dx, dy)
    rgba = cv2.cvtColor(img, cv2.COLOR_RGB2RGBA)  # OpenCV warps 4 channels ~2x faster than 3
    rgba = cv2.warpAffine(rgba, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    img = cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    info = {"shift_px": [round(dx, 3), round(dy, 3)], "rotation_deg": round(angle, 3), "scale": round(scale, 5),
            "light_dir": np.round(light, 4).tolist(), "ambient": round(ambient, 3)}  # fmt: skip
    return img, info


# ----- version 3: sensor families ------------------------------------------------------------------------------
# Nominal depth cameras at 640x480 (fx in pixels; baseline between the stereo imagers or camera and projector).
CAMERAS = {
    "sr300": {"fx": 475.0, "baseline": PROJECTOR_BASELINE, "min_z": 0.2},  # coded light, also SR305
    "d415": {"fx": 615.0, "baseline": 0.055, "min_z": 0.28},  # active stereo, narrow field of view
    "d435": {"fx": 385.0, "baseline": 0.050, "min_z": 0.2},  # active stereo, wide field of view
}


def dark_mask(render: Render, materials: np.ndarray, planes: list[dict], below: float = 45.0) -> np.ndarray:
    """Pixels of dark surfaces (albedo luminance under `below`): stereo finds little texture on them."""
    lut = np.zeros(256, np.uint8)
    lum = np.asarray(materials, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lut[: len(lum)] = lum < below
    for k, plane in enumerate(planes):
        lut[200 + k] = float(np.asarray(plane["color"], np.float32) @ np.array([0.299, 0.587, 0.114])) < below
    index = np.where(render.plane_index != 255, render.plane_index.astype(np.int32) + 200, render.material)
    return lut[index].astype(bool)


def _edges(far: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Pixels next to a depth jump (more than 1.2 cm + 2 % of the depth to a 4-neighbour)."""
    h, w = far.shape
    thr = np.multiply(z, np.float32(0.02)) + np.float32(0.012)
    jump = np.zeros((h, w), bool)
    np.greater(cv2.absdiff(far[:, 1:], far[:, :-1]), thr[:, 1:], out=jump[:, 1:])
    jump[1:] |= cv2.absdiff(far[1:], far[:-1]) > thr[1:]
    return jump


def stereo_depth_image(
    render: Render,
    intr: Intrinsics,
    rng: np.random.Generator,
    nz: np.ndarray,
    *,
    baseline: float,
    min_z: float,
    dark: np.ndarray,
    window: bool = False,
) -> tuple[np.ndarray, dict]:
    """D400-like active-stereo depth in millimetres (uint16, 0 = missing) and the settings used.

    With `window`, the matching window also low-passes the surfaces (`matching_window`): fingers and the gaps
    between them blur into one rounded shape, as D400 depth shows them at arm's length.

    Disparity noise of `subpixel` pixels gives depth noise z^2 * subpixel / (fx * baseline), partly correlated over
    the matching window; the window also fattens near surfaces into the background at depth edges; the band left
    of near objects that the right imager cannot see is invalid, and so are the leftmost fx * baseline / z columns
    (no partner in the right image); dark and grazing surfaces lose pixels in blobs;
    some edge pixels fly between the two depths.
    """
    z = render.depth
    h, w = z.shape
    px = w / 640.0  # effects are sized for 640x480 and scale with the image
    max_range = float(rng.uniform(3.0, 6.5))
    subpixel = float(rng.uniform(0.05, 0.13))
    fb = np.float32(intr.fx * baseline)
    window_info = matching_window(z, rng, px=px) if window else None
    if window_info is not None:
        z, window_info = window_info
    z = z + multipath(z, rng, px=px)  # the IR projector's light bounces in concave corners too
    noise = normal_noise(rng, (h, w)) * np.float32(0.6)
    noise += _smooth_noise(rng, (h, w), max(4, int(w / 12))) * np.float32(0.8)  # window-correlated matching error
    sigma = np.multiply(z, z) * np.float32(subpixel / fb)
    zn = z + sigma * noise
    far = np.where(z > 0, z, np.float32(20.0))
    radius = max(1, round(float(rng.uniform(1.0, 3.0)) * px))
    near = cv2.erode(far, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))
    edge_band = (far - near) > (np.float32(0.02) * near + np.float32(0.015))
    rand = uniform_noise(rng, (h, w))
    fatten = edge_band & (rand < 0.85) & (near < 20)
    np.copyto(zn, near, where=fatten)
    jump = _edges(far, z)
    flying = cv2.dilate(jump.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool) & ~fatten & (rand > 0.9)
    mix = uniform_noise(rng, (h, w))
    np.copyto(zn, near + (np.minimum(far, np.float32(8.0)) - near) * mix, where=flying & (near < 20))
    missing = (z > max_range) | (z < min_z) | (z == 0)
    missing |= projector_shadow(z, intr, baseline=baseline, box=render.box)  # left of near objects
    # the leftmost columns have no partner in the right imager: a surface at depth z needs fx * B / z of them
    u = np.arange(w, dtype=np.float32)[None, :]
    missing |= u < fb / np.maximum(far, np.float32(0.05))
    missing |= jump & (rand < 0.5)
    blobs = _smooth_noise(rng, (h, w), max(6, int(w / 20)))
    missing |= dark & (blobs > rng.uniform(1.2, 2.5))  # little texture on dark surfaces
    missing |= (blobs > 1.6) & (z > 2.0)  # patchy far field
    grazing = (np.float32(0.12) + nz) * 6
    missing |= rand < cv2.resize(grazing, (w, h), interpolation=cv2.INTER_NEAREST)
    missing |= rand > 0.999
    out = cv2.multiply(zn * np.float32(1000.0), 1.0, dtype=cv2.CV_16U)
    np.multiply(out, ~missing, out=out)
    info = {"model": "d400", "max_range_m": round(max_range, 3), "subpixel_px": round(subpixel, 4),
            "baseline_m": baseline, "edge_fattening_px": radius}  # fmt: skip
    if window_info is not None:
        info["matching_window"] = window_info
    return out, info


def matching_window(z: np.ndarray, rng: np.random.Generator, *, px: float) -> tuple[np.ndarray, dict]:
    """True depth (metres, 0 = no surface) as a stereo matcher's window sees it, and the settings drawn.

    Block matching reports about the window's mean surface, so relief smaller than the window (a finger's width,
    the gap between two fingers, a hand resting on a table) is rounded off, while jumps much larger than
    `depth_sigma` (a hand in front of a wall) stay sharp: an edge-preserving (bilateral) low-pass of the depth,
    its spatial scale a 7-15 px window at 640x480."""
    space = float(rng.uniform(1.2, 3.5)) * px
    depth_sigma = float(rng.uniform(0.008, 0.03))
    far = np.where(z > 0, z, np.float32(20.0)).astype(np.float32)  # no surface: far away, never averaged in
    diameter = 2 * round(2 * space) + 1
    smooth = cv2.bilateralFilter(far, diameter, depth_sigma, space)
    out = np.where(z > 0, smooth, np.float32(0)).astype(np.float32)
    return out, {"space_px": round(space, 3), "depth_sigma_m": round(depth_sigma, 4)}


def multipath(z: np.ndarray, rng: np.random.Generator, *, px: float) -> np.ndarray:
    """Extra depth (metres) near concave creases (a table meeting a wall, a hand resting on a surface): light that
    bounced off the other surface arrives late, so active sensors read such corners too far. The bias is a share of
    how far the crease lies behind its blurred neighbourhood; pixels within the blur's reach of a depth jump get
    none (a jump is an occlusion, not a corner). Computed on every second pixel (the bias is smooth) and upsampled."""
    h, w = z.shape
    half = np.ascontiguousarray(z[::2, ::2])
    sigma = max(1.0, 3.0 * px)  # 6 px at 640x480, on the half grid
    blurred = cv2.GaussianBlur(half, (0, 0), sigma)
    behind = half - blurred
    r = int(2 * sigma) + 1
    jumps = _edges(np.where(half > 0, half, np.float32(20.0)), half).view(np.uint8)
    near_jump = cv2.dilate(jumps, np.ones((2 * r + 1, 2 * r + 1), np.uint8)).view(bool)  # the blur reaches across
    valid = (half > 0) & (blurred > 0) & ~near_jump & (behind > 0)
    out = np.where(valid, behind * np.float32(rng.uniform(0.5, 1.5)), np.float32(0)).astype(np.float32)
    # the blur's mirrored border makes every slope look like a crease at the image edge
    out[:r], out[-r:], out[:, :r], out[:, -r:] = 0, 0, 0, 0
    out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    out[z <= 0] = 0
    return out


def flying_pixels(depth_mm: np.ndarray, render: Render, rng: np.random.Generator, share: float = 0.15) -> None:
    """In place: a share of the still-valid pixels at depth edges take a depth between the two surfaces."""
    z = render.depth
    far = np.where(z > 0, z, np.float32(20.0))
    jump = _edges(far, z) & (depth_mm > 0)
    if not jump.any():
        return
    near = cv2.erode(far, np.ones((3, 3), np.uint8))
    back = cv2.dilate(np.where(z > 0, z, 0).astype(np.float32), np.ones((3, 3), np.uint8))
    pick = jump & (uniform_noise(rng, z.shape) < share) & (back < 8)
    mix = uniform_noise(rng, z.shape)
    values = (near + (back - near) * mix) * np.float32(1000.0)
    depth_mm[pick] = np.clip(values[pick], 0, 65535).astype(np.uint16)
