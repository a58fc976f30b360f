"""The auto-annotation steps of the paper, one function each: depth band, HSV skin, morphology, contour filter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from handseg.annotate.config import AnnotateConfig

BACKGROUND, HAND, OBJECT = 0, 1, 2


def find_planes(depth_m: np.ndarray, cfg: AnnotateConfig, samples: int = 3000) -> np.ndarray:
    """Pixels on up to plane_count large planes (table, wall), found by RANSAC on inverse depth."""
    h, w = depth_m.shape
    removed = np.zeros((h, w), bool)
    if cfg.plane_count == 0:
        return removed
    rng = np.random.default_rng(0)  # deterministic per frame
    valid = (depth_m > cfg.min_depth_m) & (depth_m < cfg.max_depth_m)
    min_px = cfg.plane_min_share * h * w
    uu = vv = None
    for _ in range(cfg.plane_count):
        ys, xs = np.nonzero(valid & ~removed)
        if ys.size < max(min_px, 100):
            break
        pick = rng.choice(ys.size, min(samples, ys.size), replace=False)
        uv1 = np.stack([xs[pick], ys[pick], np.ones(pick.size)], axis=1).astype(np.float64)
        z = depth_m[ys[pick], xs[pick]].astype(np.float64)
        tol = cfg.plane_tol_m + cfg.plane_tol_rel * z
        triples = rng.integers(0, pick.size, (cfg.plane_iterations, 3))
        a = uv1[triples]  # iterations x 3 x 3
        ok = np.abs(np.linalg.det(a)) > 1e-6
        if not ok.any():
            break
        coef = np.linalg.solve(a[ok], (1.0 / z[triples[ok]])[..., None])[..., 0]  # inverse depth = coef . (u, v, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            pred = 1.0 / (coef @ uv1.T)
        inliers = np.abs(pred - z) < tol
        best = int(np.argmax(inliers.sum(axis=1)))
        if inliers[best].sum() * ys.size / pick.size < min_px:
            break
        sel = inliers[best]
        coef = np.linalg.lstsq(uv1[sel], 1.0 / z[sel], rcond=None)[0]  # refit on the inliers
        if uu is None:
            vv, uu = np.mgrid[:h, :w].astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            plane_z = 1.0 / (np.float32(coef[0]) * uu + np.float32(coef[1]) * vv + np.float32(coef[2]))
        removed |= valid & (np.abs(plane_z - depth_m) < cfg.plane_tol_m + cfg.plane_tol_rel * depth_m)
    return removed


def nearest_surface(depth_m: np.ndarray, cfg: AnnotateConfig) -> float | None:
    """Depth of the nearest surface: a low quantile of the valid depth (None if nothing is valid)."""
    valid = depth_m[(depth_m > cfg.min_depth_m) & (depth_m < cfg.max_depth_m)]
    if valid.size == 0:
        return None
    k = max(int(cfg.near_quantile * valid.size), cfg.near_min_pixels - 1)
    k = min(k, valid.size - 1)
    return float(np.partition(valid, k)[k])


def depth_band(depth_m: np.ndarray, near_m: float, cfg: AnnotateConfig) -> np.ndarray:
    """Pixels within band_m behind (and front_margin_m in front of) the nearest surface."""
    lo = max(near_m - cfg.front_margin_m, cfg.min_depth_m)
    return (depth_m >= lo) & (depth_m <= near_m + cfg.band_m)


def grow_band(depth_m: np.ndarray, band: np.ndarray, near_m: float, cfg: AnnotateConfig) -> np.ndarray:
    """The band plus every depth-continuous surface touching it, up to grow_max_m behind the nearest surface."""
    if cfg.grow_max_m <= cfg.band_m:
        return band
    valid = (depth_m > cfg.min_depth_m) & (depth_m <= near_m + cfg.grow_max_m)
    thr = np.float32(cfg.grow_jump_m) + np.float32(cfg.grow_jump_rel) * depth_m
    smooth = valid.copy()
    jump_x = np.abs(depth_m[:, 1:] - depth_m[:, :-1]) > thr[:, 1:]
    jump_y = np.abs(depth_m[1:] - depth_m[:-1]) > thr[1:]
    smooth[:, 1:] &= ~jump_x  # a pixel next to a depth jump separates the two sides
    smooth[:, :-1] &= ~jump_x
    smooth[1:] &= ~jump_y
    smooth[:-1] &= ~jump_y
    count, labels = cv2.connectedComponents(smooth.view(np.uint8), connectivity=4)
    overlap = np.bincount(labels[band], minlength=count)
    size = np.bincount(labels.ravel(), minlength=count)
    joined = (overlap >= cfg.grow_min_overlap) & (overlap >= cfg.grow_min_share * size)
    joined[0] = False
    return band | (joined[labels] & valid)


def fill_depth_holes(depth_m: np.ndarray, band: np.ndarray, size: int) -> np.ndarray:
    """Add pixels without depth that a closing of the band covers (dropouts inside and between band pixels)."""
    if size <= 1:
        return band
    closed = cv2.morphologyEx(band.view(np.uint8), cv2.MORPH_CLOSE, _ellipse(size)).view(bool)
    return band | (closed & (depth_m <= 0))


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of `mask` with a 4-neighbour outside it (outside the image counts as outside)."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    m = mask.view(np.uint8)
    inner = cv2.erode(m, cross, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return (m > inner).view(bool)


def _edge_strength(color: np.ndarray) -> np.ndarray:
    """Gradient magnitude of an RGB image (sum of |Sobel| over channels, slightly blurred)."""
    gx = cv2.Sobel(color, cv2.CV_16S, 1, 0, ksize=3)
    gy = cv2.Sobel(color, cv2.CV_16S, 0, 1, ksize=3)
    mag = (np.abs(gx).astype(np.float32) + np.abs(gy).astype(np.float32)).sum(axis=2)
    return cv2.GaussianBlur(mag, (3, 3), 0)


def estimate_shift(color: np.ndarray, band: np.ndarray, cfg: AnnotateConfig) -> tuple[int, int]:
    """Shift (dx, dy) so that color[y + dy, x + dx] lies on depth pixel (y, x): color edges on band edges."""
    r, step = cfg.align_search_px, cfg.align_step_px
    if r == 0 or not band.any():
        return 0, 0
    h, w = band.shape
    edge = _boundary(band)
    edge[:r, :] = edge[h - r :, :] = edge[:, :r] = edge[:, w - r :] = False  # keep shifted lookups in the image
    ys, xs = np.nonzero(edge)
    if ys.size < 20:
        return 0, 0
    y0, y1, x0, x1 = ys.min() - r, ys.max() + r + 1, xs.min() - r, xs.max() + r + 1
    strength = _edge_strength(color[y0:y1, x0:x1])
    ys, xs = ys - y0, xs - x0
    best, best_score = (0, 0), float(strength[ys, xs].mean()) * 1.02  # (0, 0) wins ties
    for dy in range(-r, r + 1, step):
        for dx in range(-r, r + 1, step):
            score = float(strength[ys + dy, xs + dx].mean())
            if score > best_score:
                best, best_score = (dx, dy), score
    return best


def shift_image(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """out[y, x] = image[y + dy, x + dx], replicating the border."""
    if dx == 0 and dy == 0:
        return image
    h, w = image.shape[:2]
    matrix = np.float32([[1, 0, -dx], [0, 1, -dy]])
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)


def skin_mask(color: np.ndarray, cfg: AnnotateConfig) -> np.ndarray:
    """Skin-coloured pixels by HSV thresholds (OpenCV hue 0..179; hue_lo > hue_hi wraps around red)."""
    hsv = cv2.cvtColor(color, cv2.COLOR_RGB2HSV)
    if cfg.hue_lo <= cfg.hue_hi:
        mask = cv2.inRange(hsv, (cfg.hue_lo, cfg.sat_lo, cfg.val_lo), (cfg.hue_hi, cfg.sat_hi, cfg.val_hi))
    else:
        upper = cv2.inRange(hsv, (cfg.hue_lo, cfg.sat_lo, cfg.val_lo), (179, cfg.sat_hi, cfg.val_hi))
        lower = cv2.inRange(hsv, (0, cfg.sat_lo, cfg.val_lo), (cfg.hue_hi, cfg.sat_hi, cfg.val_hi))
        mask = cv2.bitwise_or(upper, lower)
    return mask.view(bool)


def _ellipse(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def open_close(mask: np.ndarray, open_px: int, close_px: int) -> np.ndarray:
    """Morphological opening (removes specks) then closing (fills pinholes) of a boolean mask."""
    m = mask.view(np.uint8)
    if open_px > 1:
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, _ellipse(open_px))
    if close_px > 1:
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, _ellipse(close_px))
    return m.view(bool)


def filter_segments(mask: np.ndarray, theta: float, phi: float) -> tuple[np.ndarray, int, int]:
    """Keep 8-connected segments s with N(s) > theta and perimeter(s)^2 / N(s) < phi; return (mask, kept, dropped).

    perimeter(s) is the number of pixels on the segment's outer boundary (the contour OpenCV traces).
    """
    m = mask.view(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if count <= 1:
        return mask.copy(), 0, 0
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    perimeter = np.zeros(count)  # pixels on each segment's outer contour (holes do not count)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    for contour in contours:
        x, y = contour[0, 0]
        perimeter[labels[y, x]] += len(contour)
    keep = (area > theta) & (perimeter**2 < phi * area)
    keep[0] = False
    kept = int(keep.sum())
    return keep[labels], kept, count - 1 - kept


def fill_unassigned(label: np.ndarray, band: np.ndarray, skin: np.ndarray, radius: int) -> np.ndarray:
    """Band pixels left as background within `radius` of a hand or object segment join it (skin decides ties)."""
    if radius <= 0:
        return label
    todo = band & (label == BACKGROUND)
    if not todo.any():
        return label
    kernel = _ellipse(2 * radius + 1)
    near_hand = cv2.dilate((label == HAND).view(np.uint8), kernel).view(bool) & todo
    near_obj = cv2.dilate((label == OBJECT).view(np.uint8), kernel).view(bool) & todo
    out = label.copy()
    out[near_obj & ~(near_hand & skin)] = OBJECT
    out[near_hand & ~(near_obj & ~skin)] = HAND
    return out


@dataclass
class Annotation:
    """Result of annotating one frame: labels, the repaired color and per-frame diagnostics."""

    label: np.ndarray  # uint8 HxW: 0 background, 1 hand, 2 object
    color: np.ndarray | None  # color shifted onto the depth grid
    diagnostics: dict[str, Any] = field(default_factory=dict)


def _crop_box(band: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Bounding box of the band grown by `margin` pixels, clipped to the image."""
    x, y, w, h = cv2.boundingRect(band.view(np.uint8))
    rows, cols = band.shape
    return slice(max(y - margin, 0), min(y + h + margin, rows)), slice(max(x - margin, 0), min(x + w + margin, cols))


def annotate_frame(depth_m: np.ndarray, color: np.ndarray, cfg: AnnotateConfig) -> Annotation:
    """Label one aligned depth (metres) + RGB frame as background / hand / object."""
    h, w = depth_m.shape
    label = np.zeros((h, w), np.uint8)
    diag: dict[str, Any] = dict.fromkeys(
        ("near_m", "plane_px", "band_px", "hand_px", "object_px", "shift_dx", "shift_dy"), 0
    ) | dict.fromkeys(("hand_kept", "hand_dropped", "object_kept", "object_dropped"), 0)
    planes = find_planes(depth_m, cfg)
    diag["plane_px"] = int(np.count_nonzero(planes))
    scene_depth = np.where(planes, np.float32(0), depth_m) if diag["plane_px"] else depth_m
    near = nearest_surface(scene_depth, cfg)
    if near is None:
        diag["near_m"] = float("nan")
        return Annotation(label, color, diag)
    band = grow_band(scene_depth, depth_band(scene_depth, near, cfg), near, cfg)
    band = fill_depth_holes(depth_m, band, cfg.hole_close_px)
    diag["near_m"], diag["band_px"] = round(near, 4), int(np.count_nonzero(band))
    dx, dy = estimate_shift(color, band, cfg)
    color = shift_image(color, dx, dy)
    diag["shift_dx"], diag["shift_dy"] = dx, dy

    margin = 2 + max(cfg.hand_close_px, cfg.object_close_px, cfg.fill_unassigned_px * 2 + 1)
    rows, cols = _crop_box(band, margin)
    band_c = band[rows, cols]
    skin = skin_mask(color[rows, cols], cfg)
    hand = open_close(band_c & skin, cfg.hand_open_px, cfg.hand_close_px) & band_c
    obj = open_close(band_c & ~skin, cfg.object_open_px, cfg.object_close_px) & band_c
    hand, diag["hand_kept"], diag["hand_dropped"] = filter_segments(hand, cfg.theta, cfg.phi)
    obj, diag["object_kept"], diag["object_dropped"] = filter_segments(obj, cfg.theta, cfg.phi)
    crop = np.zeros(band_c.shape, np.uint8)
    crop[obj] = OBJECT
    crop[hand & (skin | ~obj)] = HAND  # closing can make the masks overlap: the pixel's own colour decides
    crop = fill_unassigned(crop, band_c, skin, cfg.fill_unassigned_px)
    label[rows, cols] = crop
    diag["hand_px"] = int(np.count_nonzero(crop == HAND))
    diag["object_px"] = int(np.count_nonzero(crop == OBJECT))
    return Annotation(label, color, diag)
