"""Our additions to the paper's steps: plane removal, band growth, depth-hole fill, colour shift, colour refinement."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from handseg.annotate.config import AnnotateConfig

PLANE_STRIDE = 4  # RANSAC looks at every 4th pixel in each direction


@lru_cache(maxsize=4)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Column and row index images (float32), cached per size."""
    vv, uu = np.mgrid[:h, :w].astype(np.float32)
    uu.flags.writeable = vv.flags.writeable = False
    return uu, vv


def ellipse(size: int) -> np.ndarray:
    """Elliptic structuring element of the given diameter."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def find_planes(depth_m: np.ndarray, cfg: AnnotateConfig, samples: int = 400) -> np.ndarray:
    """Pixels on up to plane_count large planes (table, wall): RANSAC on inverse depth, affine in (u, v) on a plane."""
    h, w = depth_m.shape
    removed = np.zeros((h, w), bool)
    if cfg.plane_count == 0:
        return removed
    rng = np.random.default_rng(0)  # deterministic per frame
    s = PLANE_STRIDE
    small = depth_m[::s, ::s]
    valid_small = (small > cfg.min_depth_m) & (small < cfg.max_depth_m)
    min_px = cfg.plane_min_share * small.size
    taken = np.zeros(small.shape, bool)
    for _ in range(cfg.plane_count):
        ys, xs = np.nonzero(valid_small & ~taken)  # look for the next plane among pixels not yet explained
        if ys.size < max(min_px, 50):
            break
        pick = rng.choice(ys.size, samples) if ys.size > samples else np.arange(ys.size)  # with replacement: O(samples)
        uv1 = np.stack([xs[pick] * s, ys[pick] * s, np.ones(pick.size)], axis=1).astype(np.float64)
        z = small[ys[pick], xs[pick]].astype(np.float64)
        triples = rng.integers(0, pick.size, (cfg.plane_iterations, 3))
        a = uv1[triples]
        ok = np.abs(np.linalg.det(a)) > 1e-6
        if not ok.any():
            break
        coef = np.linalg.solve(a[ok], (1.0 / z[triples[ok]])[..., None])[..., 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            pred = 1.0 / (coef @ uv1.T)
        inliers = np.abs(pred - z) < cfg.plane_tol_m + cfg.plane_tol_rel * z
        best = int(np.argmax(inliers.sum(axis=1)))
        if inliers[best].sum() * ys.size / pick.size < min_px:
            break
        coef = np.linalg.lstsq(uv1[inliers[best]], 1.0 / z[inliers[best]], rcond=None)[0]  # refit on inliers
        uu, vv = _pixel_grid(h, w)
        on_small = _on_plane(small, uu[::s, ::s], vv[::s, ::s], coef, cfg)
        taken |= on_small
        border = np.concatenate([on_small[0], on_small[-1], on_small[:, 0], on_small[:, -1]])
        if border.mean() < cfg.plane_min_border:  # a table or wall runs out of the view; a held box does not
            continue
        removed |= _on_plane(depth_m, uu, vv, coef, cfg)
    return removed


def _on_plane(depth_m: np.ndarray, uu: np.ndarray, vv: np.ndarray, coef: np.ndarray, cfg: AnnotateConfig) -> np.ndarray:
    """Pixels within tolerance of the plane whose inverse depth is coef . (u, v, 1)."""
    inv = np.float32(coef[0]) * uu + np.float32(coef[1]) * vv + np.float32(coef[2])
    with np.errstate(divide="ignore", invalid="ignore"):
        plane_z = 1.0 / inv
    tol = np.float32(cfg.plane_tol_m) + np.float32(cfg.plane_tol_rel) * depth_m
    return (cv2.absdiff(plane_z, depth_m) < tol) & (depth_m > cfg.min_depth_m)


def grow_band(depth_m: np.ndarray, band: np.ndarray, near_m: float, cfg: AnnotateConfig) -> np.ndarray:
    """The band plus every depth-continuous surface touching it, up to grow_max_m behind the nearest surface."""
    if cfg.grow_max_m <= cfg.band_m:
        return band
    valid = (depth_m > cfg.min_depth_m) & (depth_m <= near_m + cfg.grow_max_m)
    x, y, bw, bh = cv2.boundingRect(valid.view(np.uint8))
    if bw == 0:
        return band
    box = slice(y, y + bh), slice(x, x + bw)  # work inside the candidates' box
    d, v = depth_m[box], valid[box].copy()
    thr = np.float32(cfg.grow_jump_m) + np.float32(cfg.grow_jump_rel) * d
    jump_x = cv2.absdiff(d[:, 1:], d[:, :-1]) > thr[:, 1:]
    jump_y = cv2.absdiff(d[1:], d[:-1]) > thr[1:]
    v[:, 1:] &= ~jump_x  # a pixel next to a depth jump separates the two sides
    v[:, :-1] &= ~jump_x
    v[1:] &= ~jump_y
    v[:-1] &= ~jump_y
    count, labels, stats, _ = cv2.connectedComponentsWithStats(v.view(np.uint8), connectivity=4)
    overlap = np.bincount(labels[band[box]], minlength=count)
    size = stats[:, cv2.CC_STAT_AREA]
    joined = (overlap >= cfg.grow_min_overlap) & (overlap >= cfg.grow_min_share * size)
    if cfg.grow_contact_px > 0:  # surfaces behind the band that it occludes (a forearm whose hand is behind the object)
        square = np.ones((2 * cfg.grow_contact_px + 1,) * 2, np.uint8)  # a square dilates ~10x faster than a disc
        near_band = cv2.dilate(band[box].view(np.uint8), square).view(bool)
        contact = np.bincount(labels[near_band & ~band[box]], minlength=count)
        joined |= (contact >= cfg.grow_min_overlap) & (size <= cfg.grow_contact_max_share * depth_m.size)
    joined[0] = False
    out = band.copy()
    out[box] |= joined[labels] & valid[box]
    return out


def fill_depth_holes(depth_m: np.ndarray, band: np.ndarray, size: int) -> np.ndarray:
    """Add pixels without depth that a closing of the band covers (dropouts inside and between band pixels)."""
    if size <= 1:
        return band
    closed = cv2.morphologyEx(band.view(np.uint8), cv2.MORPH_CLOSE, ellipse(size)).view(bool)
    return band | (closed & (depth_m <= 0))


def boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of `mask` with a 4-neighbour outside it (outside the image counts as outside)."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    m = mask.view(np.uint8)
    inner = cv2.erode(m, cross, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return (m > inner).view(bool)


def _edge_strength(color: np.ndarray) -> np.ndarray:
    """Gradient magnitude of an RGB image (sum of |Sobel| over channels, slightly blurred)."""
    gx = cv2.Sobel(color, cv2.CV_16S, 1, 0, ksize=3)
    gy = cv2.Sobel(color, cv2.CV_16S, 0, 1, ksize=3)
    mag = cv2.add(cv2.convertScaleAbs(gx, alpha=0.25), cv2.convertScaleAbs(gy, alpha=0.25))
    return cv2.GaussianBlur(mag.astype(np.float32).sum(axis=2), (3, 3), 0)


def estimate_shift(color: np.ndarray, band: np.ndarray, cfg: AnnotateConfig) -> tuple[int, int]:
    """Shift (dx, dy) so that color[y + dy, x + dx] lies on depth pixel (y, x): color edges on band edges."""
    r, step = cfg.align_search_px, cfg.align_step_px
    if r == 0 or not band.any():
        return 0, 0
    h, w = band.shape
    edge = boundary(band)
    edge[:r, :] = edge[h - r :, :] = edge[:, :r] = edge[:, w - r :] = False  # keep shifted lookups in the image
    ys, xs = np.nonzero(edge)
    if ys.size < 20:
        return 0, 0
    if ys.size > 4000:  # a regular subsample is plenty
        ys, xs = ys[:: ys.size // 4000 + 1], xs[:: xs.size // 4000 + 1]
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
    return shifted_crop(image, slice(0, h), slice(0, w), dx, dy)


def shifted_crop(image: np.ndarray, rows: slice, cols: slice, dx: int, dy: int) -> np.ndarray:
    """image[rows + dy, cols + dx], replicating the image border where the shifted box leaves it."""
    h, w = image.shape[:2]
    y0, y1, x0, x1 = rows.start + dy, rows.stop + dy, cols.start + dx, cols.stop + dx
    top, bottom, left, right = max(-y0, 0), max(y1 - h, 0), max(-x0, 0), max(x1 - w, 0)
    inner = image[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
    if top or bottom or left or right:
        return cv2.copyMakeBorder(inner, top, bottom, left, right, cv2.BORDER_REPLICATE)
    return inner


def _lab_bins(pixels: np.ndarray) -> np.ndarray:
    """Quantised CIELAB of N x 3 RGB pixels: bin index (L >> 3) * 1024 + (a >> 3) * 32 + (b >> 3)."""
    lab = cv2.cvtColor(pixels.reshape(-1, 1, 3), cv2.COLOR_RGB2Lab).reshape(-1, 3) >> 3
    return (lab[:, 0].astype(np.int32) << 10) | (lab[:, 1].astype(np.int32) << 5) | lab[:, 2]


_BIN_CENTRES = (np.stack(np.meshgrid(*[np.arange(32)] * 3, indexing="ij"), -1).reshape(-1, 3) * 8 + 4).astype(
    np.float64
)


def _gaussian_loglik(points: np.ndarray, counts: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Log-density at `at` of a Gaussian fitted to weighted `points` (up to a shared constant)."""
    weights = counts / counts.sum()
    mean = weights @ points
    d = points - mean
    cov = (d * weights[:, None]).T @ d + np.eye(3) * 16.0  # floor: about half a bin of noise
    inv = np.linalg.inv(cov)
    e = at - mean
    return -0.5 * np.sum((e @ inv) * e, axis=1) - 0.5 * np.log(np.linalg.det(cov))


def refine_skin(color: np.ndarray, band: np.ndarray, skin: np.ndarray, cfg: AnnotateConfig) -> np.ndarray:
    """Re-assign band pixels to hand or object by Gaussian colour models of this frame, started from `skin`.

    After the first round every pixel of a colour bin gets the same class, so later rounds work on bin counts.
    """
    if cfg.refine_rounds == 0:
        return skin
    bins = _lab_bins(color[band])
    total = np.bincount(bins, minlength=32768)
    used = np.nonzero(total)[0]  # only bins that occur in the band
    total = total[used].astype(np.float64)
    hand = np.bincount(bins[skin[band]], minlength=32768)[used].astype(np.float64)
    at = _BIN_CENTRES[used] * np.array([cfg.refine_lightness_weight, 1.0, 1.0])
    is_hand_bin = None
    for _ in range(cfg.refine_rounds):
        obj = total - hand
        n_hand, n_obj = hand.sum(), obj.sum()
        if min(n_hand, n_obj) < cfg.refine_min_pixels:
            break
        ratio = _gaussian_loglik(at[hand > 0], hand[hand > 0], at) - _gaussian_loglik(at[obj > 0], obj[obj > 0], at)
        new = ratio + np.log(n_hand / n_obj) > 0
        if is_hand_bin is not None and np.array_equal(new, is_hand_bin):
            break  # converged
        is_hand_bin = new
        hand = total * is_hand_bin
    if is_hand_bin is None:
        return skin
    lookup = np.zeros(32768, bool)
    lookup[used[is_hand_bin]] = True
    out = skin.copy()
    out[band] = lookup[bins]
    return out


def fill_unassigned(label: np.ndarray, band: np.ndarray, skin: np.ndarray, radius: int) -> np.ndarray:
    """Band pixels left as background within `radius` of a hand or object segment join it (skin decides ties)."""
    if radius <= 0:
        return label
    todo = band & (label == 0)
    if not todo.any():
        return label
    kernel = ellipse(2 * radius + 1)
    near_hand = cv2.dilate((label == 1).view(np.uint8), kernel).view(bool) & todo
    near_obj = cv2.dilate((label == 2).view(np.uint8), kernel).view(bool) & todo
    out = label.copy()
    out[near_obj & ~(near_hand & skin)] = 2
    out[near_hand & ~(near_obj & ~skin)] = 1
    return out


def fill_edge_dropouts(depth_m: np.ndarray, band: np.ndarray, radius: int, share: float) -> np.ndarray:
    """The band plus pixels without depth whose (2 radius + 1)^2 window is at least `share` band (ragged edges)."""
    if radius <= 0:
        return band
    win = 2 * radius + 1
    around = cv2.blur(band.astype(np.uint8) * np.uint8(255), (win, win), borderType=cv2.BORDER_REPLICATE)
    return band | ((around >= round(share * 255)) & (depth_m <= 0))


def fill_depth_neighbours(depth_m: np.ndarray, band: np.ndarray, radius: int, tol_m: float) -> np.ndarray:
    """The band plus pixels within `radius` of it whose depth is within tol_m of the band's mean depth around them.

    Grazing surfaces (the sides of a forearm) have depth steps too large for the growth's continuity test.
    """
    if radius <= 0 or not band.any():
        return band
    x, y, w, h = cv2.boundingRect(band.view(np.uint8))
    m = 2 * radius
    box = slice(max(y - m, 0), y + h + m), slice(max(x - m, 0), x + w + m)
    b, d = band[box], depth_m[box]
    ring = cv2.dilate(b.view(np.uint8), ellipse(2 * radius + 1)).view(bool) & ~b & (d > 0)
    window = (4 * radius + 1, 4 * radius + 1)
    fg = b.astype(np.float32)
    count = cv2.boxFilter(fg, -1, window, normalize=False)
    mean = cv2.boxFilter(d * fg, -1, window, normalize=False) / np.maximum(count, 1)
    out = band.copy()
    out[box] |= ring & (cv2.absdiff(d, mean) < tol_m)
    return out
