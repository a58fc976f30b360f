"""Sub-pixel color-to-depth registration: a similarity transform that puts colour edges on the depth band's edges."""

from __future__ import annotations

import cv2
import numpy as np

from handseg.annotate.config import AnnotateConfig
from handseg.annotate.repair import estimate_shift, shifted_crop

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


_SQUARE3 = np.ones((3, 3), np.uint8)
_SOBEL_X = np.array([-1, 0, 1, -2, 0, 2, -1, 0, 1], np.float32)
_SOBEL_Y = np.array([-1, -2, -1, 0, 0, 0, 1, 2, 1], np.float32)


def boundary_points(band: np.ndarray, margin: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to `limit` points (x, y) on the smoothed band's outline and their outward unit normals (float32 N x 2)."""
    x, y, w, h = cv2.boundingRect(band.view(np.uint8))
    rows, cols = band.shape
    y0, x0 = max(y - 3, 0), max(x - 3, 0)
    crop = band[y0 : min(y + h + 3, rows), x0 : min(x + w + 3, cols)].view(np.uint8)
    soft = cv2.blur(cv2.compare(crop, 0, cv2.CMP_GT), (5, 5))  # a smooth outline: ragged dropouts average out
    inside = cv2.compare(soft, 128, cv2.CMP_GE)
    edge = cv2.subtract(inside, cv2.erode(inside, _SQUARE3))
    edge[: max(margin - y0, 0)], edge[max(rows - margin - y0, 0) :] = 0, 0  # only points margin away from the border
    edge[:, : max(margin - x0, 0)], edge[:, max(cols - margin - x0, 0) :] = 0, 0
    found = cv2.findNonZero(edge)  # row by row, like np.nonzero
    if found is None:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    xy = found.reshape(-1, 2)
    if len(xy) > limit:
        xy = xy[:: len(xy) // limit + 1]
    width = soft.shape[1]
    offsets = np.array([-width - 1, -width, -width + 1, -1, 0, 1, width - 1, width, width + 1])
    around = soft.ravel()[(xy[:, 1] * width + xy[:, 0])[:, None] + offsets].astype(np.float32)  # 3x3 neighbourhoods
    gx, gy = around @ _SOBEL_X, around @ _SOBEL_Y
    norm = np.sqrt(gx * gx + gy * gy)
    ok = norm > 1e-3
    normals = -np.stack([gx[ok], gy[ok]], axis=1) / norm[ok, None]  # the gradient points inwards
    points = (xy[ok] + (x0, y0)).astype(np.float32)
    return points, normals.astype(np.float32)


CHROMA_OFFSET = 8.0  # added to RGB before taking its direction: dark pixels have no reliable hue
SHADING_WEIGHT = 0.1  # weight of brightness changes along the colour's own direction (shading), against hue changes


def edge_profiles(
    color: np.ndarray, moved: np.ndarray, normals: np.ndarray, radius: float, step: float
) -> tuple[np.ndarray, np.ndarray]:
    """Colour-edge strength between samples spaced `step` along each normal within +-radius (N x S) and the offsets.

    The strength of a change dc between neighbouring samples c1, c2 is the part of dc across the colour's direction
    c1 + c2 (a change of hue: albedo edges) plus SHADING_WEIGHT times the part along it (a change of brightness,
    which shading also makes: the dark rim of a rounded surface must not pull the match inwards).
    """
    t = np.arange(-radius - step / 2, radius + step / 2 + 1e-3, step, dtype=np.float32)
    map_x = moved[:, 0:1] + normals[:, 0:1] * t
    map_y = moved[:, 1:2] + normals[:, 1:2] * t
    profile = cv2.remap(color, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # N x S x 3
    r, g, b = (channel.astype(np.float32) for channel in cv2.split(profile))
    dr, dg, db = r[:, 1:] - r[:, :-1], g[:, 1:] - g[:, :-1], b[:, 1:] - b[:, :-1]
    offset = np.float32(2 * CHROMA_OFFSET)
    sr, sg, sb = r[:, 1:] + r[:, :-1] + offset, g[:, 1:] + g[:, :-1] + offset, b[:, 1:] + b[:, :-1] + offset
    along = dr * sr + dg * sg + db * sb
    along2 = along * along / (sr * sr + sg * sg + sb * sb)
    across = np.sqrt(np.maximum(dr * dr + dg * dg + db * db - along2, 0))
    return across + np.float32(SHADING_WEIGHT) * np.sqrt(along2), (t[1:] + t[:-1]) / 2


def _similarity_rows(points: np.ndarray, normals: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Rows of n . (M p) + e for M = [[a, -b, tx], [b, a, ty]] on centred points: coefficients of a, b, tx, ty, e.

    e moves the whole outline along its normals: the band's outline sits inside the colour edge by a fraction of
    a pixel (dropouts at depth edges), which must not be read as a change of scale."""
    x, y = points[:, 0] - centre[0], points[:, 1] - centre[1]
    nx, ny = normals[:, 0], normals[:, 1]
    return np.stack([nx * x + ny * y, ny * x - nx * y, nx, ny, np.ones_like(nx)], axis=1).astype(np.float64)


COARSE_EVERY = 2  # the first (widest) search stage looks at every 2nd outline point
PRIOR_SCALE = 0.005  # expected size of rotation (radians) and scale errors; a weak prior keeps them near 0
RESIDUAL_PX = 0.7  # typical error of one edge match
CENTROID_PX = 1.0  # an edge's position: the mean offset within this distance of its peak, weighted by strength
# above half the peak's (a neighbouring edge or a flat profile does not pull it)


def _solve(rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least squares for (a, b, tx, ty, e) with a weak prior a ~ 1, b ~ 0 (small objects barely constrain them)."""
    k2 = (RESIDUAL_PX / PRIOR_SCALE) ** 2  # one pseudo-observation each: a - 1 and b cost like RESIDUAL_PX
    lhs, rhs = rows.T @ rows, rows.T @ target  # normal equations: 5 x 5
    lhs[0, 0] += k2
    lhs[1, 1] += k2
    rhs[0] += k2
    try:
        return np.linalg.solve(lhs, rhs)
    except np.linalg.LinAlgError:  # an outline without spread in its normals: the minimum-norm solution
        return np.linalg.lstsq(lhs, rhs, rcond=None)[0]


def _median(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """np.median along an axis by partitioning (same value, less overhead)."""
    n = values.shape[axis]
    k = n // 2
    if n % 2:
        return np.take(np.partition(values, k, axis=axis), k, axis=axis)
    part = np.partition(values, [k - 1, k], axis=axis)
    return (np.take(part, k - 1, axis=axis) + np.take(part, k, axis=axis)) / 2


def _lower_quartile(values: np.ndarray) -> float:
    """np.percentile(values, 25) of a 1-D array (linear interpolation) by partitioning."""
    pos = 0.25 * (len(values) - 1)
    lo = int(pos)
    if lo + 1 >= len(values):
        return float(np.partition(values, lo)[lo])
    part = np.partition(values, [lo, lo + 1])
    return float(part[lo] + (pos - lo) * (part[lo + 1] - part[lo]))


def depth_edge_points(points: np.ndarray, normals: np.ndarray, depth_m: np.ndarray, step_m: float = 0.03) -> np.ndarray:
    """Which outline points lie on a real depth edge: outside them depth is missing or at least step_m farther.

    Where the band is cut across a continuous surface there is no colour edge to find.
    """
    h, w = depth_m.shape
    out = np.rint(points + 3 * normals).astype(np.int32)
    inn = np.rint(points - 2 * normals).astype(np.int32)
    out[:, 0], out[:, 1] = out[:, 0].clip(0, w - 1), out[:, 1].clip(0, h - 1)
    inn[:, 0], inn[:, 1] = inn[:, 0].clip(0, w - 1), inn[:, 1].clip(0, h - 1)
    d_out, d_in = depth_m[out[:, 1], out[:, 0]], depth_m[inn[:, 1], inn[:, 0]]
    return (d_out <= 0) | (d_in <= 0) | (d_out - d_in > step_m)


def estimate_alignment(
    color: np.ndarray, band: np.ndarray, cfg: AnnotateConfig, depth_m: np.ndarray | None = None
) -> np.ndarray:
    """2x3 matrix M: the colour pixel M . (x, y, 1) lies on depth pixel (x, y) (a similarity; identity if unsure).

    Each outline point of the band looks along its normal for the strongest colour edge (hue changes count more
    than brightness changes, see `edge_profiles`) and takes its sub-pixel centre; a robust least-squares fit of a
    similarity transform (shift, rotation, scale) to these matches, repeated with a shrinking window and finer steps.
    """
    r = float(cfg.align_search_px)
    if r <= 0:
        return IDENTITY.copy()
    h, w = band.shape
    margin = int(np.ceil(r)) + 8
    points, normals = boundary_points(band, margin, cfg.align_points)
    if depth_m is not None:
        keep = depth_edge_points(points, normals, depth_m)
        points, normals = points[keep], normals[keep]
    if len(points) < 30:
        return IDENTITY.copy()
    x0, y0 = (points.min(axis=0) - margin - 1).astype(int).clip(0)
    x1, y1 = (points.max(axis=0) + margin + 2).astype(int)
    crop = color[y0 : min(y1, h), x0 : min(x1, w)]
    if crop.ndim == 2:  # grey: only brightness edges
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB)
    centre = np.array([w / 2, h / 2])
    rows = _similarity_rows(points, normals, centre)
    params = np.array([1.0, 0.0, 0.0, 0.0, 0.0])  # a, b, tx, ty around the image centre; outline offset e
    local = points - centre  # centred coordinates
    for stage, (radius, step) in enumerate(((r, 1.0), (max(r / 2, 1.5), 0.5), (1.5, 0.25))):
        a, b, tx, ty, _ = params
        use = slice(None, None, COARSE_EVERY if stage == 0 else 1)  # the coarse search needs fewer points
        moved = (local[use] @ np.array([[a, b], [-b, a]]) + (centre + (tx - x0, ty - y0))).astype(np.float32)  # M p
        strength, offsets = edge_profiles(crop, moved, normals[use], radius, step)
        best = strength.argmax(axis=1)
        k = round(CENTROID_PX / step)
        near = (best[:, None] + np.arange(-k, k + 1)).clip(0, len(offsets) - 1)
        peak = strength[np.arange(len(best)), best]
        weight = np.maximum(np.take_along_axis(strength, near, axis=1) - 0.5 * peak[:, None], 0)
        found = (offsets[near] * weight).sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-6)  # centre of the edge
        contrast = peak - _median(strength, axis=1)
        target = rows[use] @ params + found  # wanted n . (M p - c) + e
        good = (best > 0) & (best < len(offsets) - 1) & (contrast > _lower_quartile(contrast))
        if np.count_nonzero(good) < 30:
            break
        rows_good, target_good = rows[use][good], target[good]
        fit = _solve(rows_good, target_good)
        residual = np.abs(rows_good @ fit - target_good)
        inlier = residual < max(1.0, 2.0 * float(_median(residual)))
        if np.count_nonzero(inlier) >= 30:
            fit = _solve(rows_good[inlier], target_good[inlier])
        params = fit
    a, b, tx, ty, _ = params
    if abs(np.hypot(a, b) - 1) > 0.03 or np.hypot(tx, ty) > 2 * r:
        return IDENTITY.copy()
    m = np.array([[a, -b, 0.0], [b, a, 0.0]])
    m[:, 2] = centre + np.array([tx, ty]) - m[:, :2] @ centre  # M p = R (p - c) + c + t
    return m


def warp_crop(color: np.ndarray, m: np.ndarray, rows: slice, cols: slice, keep_alpha: bool = False) -> np.ndarray:
    """The colour image resampled on the depth grid inside the box (rows, cols): out[y, x] = color(M (x, y)).

    RGB is warped as RGBA (OpenCV's 4-channel path is ~2.5x faster); only the source box the crop reads is converted.
    With keep_alpha the result may stay RGBA (alpha 255) where it was warped that way.
    """
    if np.allclose(m, IDENTITY, atol=1e-4):
        return shifted_crop(color, rows, cols, 0, 0)
    shifted = m.copy()
    shifted[:, 2] += m[:, :2] @ np.array([cols.start, rows.start], np.float64)
    size = (cols.stop - cols.start, rows.stop - rows.start)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    h, w = color.shape[:2]
    corners = np.array([[0, 0], [size[0], 0], [0, size[1]], [size[0], size[1]]]) @ shifted[:, :2].T + shifted[:, 2]
    lo, hi = np.floor(corners.min(axis=0)).astype(int) - 2, np.ceil(corners.max(axis=0)).astype(int) + 3
    x0, y0, x1, y1 = max(lo[0], 0), max(lo[1], 0), min(hi[0], w), min(hi[1], h)  # the source box the crop reads
    if color.ndim != 3 or color.shape[2] != 3 or x1 - x0 < 2 or y1 - y0 < 2:
        return cv2.warpAffine(color, shifted, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    shifted[:, 2] -= (x0, y0)  # sample from the source box only (the image border stays the box's border there)
    rgba = cv2.cvtColor(color[y0:y1, x0:x1], cv2.COLOR_RGB2RGBA)
    out = cv2.warpAffine(rgba, shifted, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return out if keep_alpha else cv2.cvtColor(out, cv2.COLOR_RGBA2RGB)


def register(color: np.ndarray, band: np.ndarray, cfg: AnnotateConfig, depth_m: np.ndarray | None = None) -> np.ndarray:
    """The configured registration repair: sub-pixel similarity, integer shift search, or none (identity)."""
    if cfg.align_search_px == 0:
        return IDENTITY.copy()
    if cfg.align_subpixel:
        return estimate_alignment(color, band, cfg, depth_m)

    dx, dy = estimate_shift(color, band, cfg)
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
