"""Our additions to the paper's steps: plane removal, band growth, depth-hole fill, colour shift, colour refinement."""

from __future__ import annotations

import cv2
import numpy as np

from handseg.annotate.config import AnnotateConfig
from handseg.annotate.fastops import grown_box, least_squares

PLANE_STRIDE = 4  # RANSAC looks at every 4th pixel in each direction
STRIP_PIXELS = 32768  # full-resolution tests go through the image in strips of rows this large (stay in cache)


def ellipse(size: int) -> np.ndarray:
    """Elliptic structuring element of the given diameter."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def find_planes(depth_m: np.ndarray, cfg: AnnotateConfig, samples: int = 400) -> np.ndarray:
    """Pixels on up to plane_count large planes (table, wall): RANSAC on inverse depth, affine in (u, v) on a plane."""
    h, w = depth_m.shape
    removed = np.zeros((h, w), np.uint8)
    if cfg.plane_count == 0:
        return removed.view(bool)
    rng = np.random.default_rng(0)  # deterministic per frame
    s = PLANE_STRIDE
    small = np.ascontiguousarray(depth_m[::s, ::s])
    free = ((small > cfg.min_depth_m) & (small < cfg.max_depth_m)).view(np.uint8)  # valid and not yet explained
    min_px = cfg.plane_min_share * small.size
    for _ in range(cfg.plane_count):
        found = cv2.findNonZero(free)  # look for the next plane among pixels not yet explained
        if found is None or len(found) < max(min_px, 50):
            break
        xs, ys = found.reshape(-1, 2).T
        pick = rng.integers(0, ys.size, samples) if ys.size > samples else np.arange(ys.size)  # with replacement
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
        coef = least_squares(uv1[inliers[best]], 1.0 / z[inliers[best]])  # refit on inliers
        on_small = _on_plane(small, coef, cfg, s)
        free &= on_small ^ 1
        border = np.concatenate([on_small[0], on_small[-1], on_small[:, 0], on_small[:, -1]])
        if border.mean() < cfg.plane_min_border:  # a table or wall runs out of the view; a held box does not
            continue
        cv2.bitwise_or(removed, _on_plane(depth_m, coef, cfg), dst=removed)
    return removed.view(bool)


def _on_plane(depth_m: np.ndarray, coef: np.ndarray, cfg: AnnotateConfig, step: int = 1) -> np.ndarray:
    """Pixels (uint8 0/1) within tolerance of the plane whose inverse depth is coef . (u, v, 1); pixel (i, j) of
    depth_m sits at (u, v) = (step j, step i). Works in strips of rows that stay in the CPU cache."""
    h, w = depth_m.shape
    c0, c1, c2 = (float(c) for c in coef)
    largest_inv = max(abs(c0 * u * step + c1 * v * step + c2) for u in (0, w - 1) for v in (0, h - 1))  # at a corner
    # missing depth (0) and depth <= min_depth_m can only pass if the plane comes that close somewhere in the view
    check_valid = largest_inv * (cfg.min_depth_m * (1 + cfg.plane_tol_rel) + cfg.plane_tol_m) >= 0.999
    out = np.empty((h, w), np.uint8)
    rows = max(1, min(h, STRIP_PIXELS // w))
    along_u = np.arange(w, dtype=np.float32) * np.float32(c0 * step)  # the plane's inverse depth is separable:
    along_v = (np.arange(h, dtype=np.float32) * np.float32(c1 * step) + np.float32(c2))[:, None]  # u part + v part
    plane_z, tol = np.empty((rows, w), np.float32), np.empty((rows, w), np.float32)
    with np.errstate(divide="ignore"):
        for y in range(0, h, rows):
            n = min(rows, h - y)
            d, on, z, t = depth_m[y : y + n], out[y : y + n], plane_z[:n], tol[:n]
            np.add(along_u, along_v[y : y + n], out=z)  # plane's inverse depth
            np.reciprocal(z, out=z)  # ... and its depth
            cv2.absdiff(z, d, dst=z)
            cv2.addWeighted(d, cfg.plane_tol_rel, d, 0.0, cfg.plane_tol_m, dst=t)
            cv2.compare(z, t, cv2.CMP_LT, dst=on)
            if check_valid:
                on &= d > cfg.min_depth_m
            cv2.bitwise_and(on, 1, dst=on)  # 0 / 1
    return out


def grow_band(depth_m: np.ndarray, band: np.ndarray, near_m: float, cfg: AnnotateConfig) -> np.ndarray:
    """The band plus every depth-continuous surface touching it, up to grow_max_m behind the nearest surface."""
    if cfg.grow_max_m <= cfg.band_m:
        return band
    valid = (depth_m > cfg.min_depth_m) & (depth_m <= near_m + cfg.grow_max_m)
    box = grown_box(valid, 0)  # work inside the candidates' box
    if box is None:
        return band
    d = depth_m[box]
    thr = cv2.addWeighted(d, cfg.grow_jump_rel, d, 0.0, cfg.grow_jump_m)
    jump_x = cv2.absdiff(d[:, 1:], d[:, :-1]) > thr[:, 1:]
    jump_y = cv2.absdiff(d[1:], d[:-1]) > thr[1:]
    cut = np.zeros(d.shape, bool)  # a pixel next to a depth jump separates the two sides
    cut[:, 1:] = jump_x
    cut[:, :-1] |= jump_x
    cut[1:] |= jump_y
    cut[:-1] |= jump_y
    count, labels = _components(cv2.subtract(valid[box].view(np.uint8), cut.view(np.uint8)))
    near = grown_box(band[box], cfg.grow_contact_px)  # overlap and contact only happen around the band
    if near is None:
        return band
    b, near_labels = band[box][near], labels[near]
    overlap = _label_counts(near_labels, b, count)
    joinable = overlap >= cfg.grow_min_overlap
    contact = np.zeros(count, np.int64)
    if cfg.grow_contact_px > 0:  # surfaces behind the band that it occludes (a forearm whose hand is behind the object)
        square = np.ones((2 * cfg.grow_contact_px + 1,) * 2, np.uint8)  # a square dilates ~10x faster than a disc
        ring = cv2.subtract(cv2.dilate(b.view(np.uint8), square), b.view(np.uint8))
        contact = _label_counts(near_labels, ring.view(bool), count)
        joinable |= contact >= cfg.grow_min_overlap
    joinable[0] = False
    joined = np.zeros(labels.shape, np.uint8)
    for i in np.nonzero(joinable)[0]:  # few candidates: each one's pixels by one comparison
        own = cv2.compare(labels, int(i), cv2.CMP_EQ)
        size = cv2.countNonZero(own)
        by_overlap = overlap[i] >= cfg.grow_min_overlap and overlap[i] >= cfg.grow_min_share * size
        by_contact = contact[i] >= cfg.grow_min_overlap and size <= cfg.grow_contact_max_share * depth_m.size
        if (by_overlap or by_contact) and size > overlap[i]:  # (a surface inside the band adds nothing)
            cv2.bitwise_or(joined, own, dst=joined)
    out = band.copy()
    out[box] |= joined.view(bool)
    return out


def _label_counts(labels: np.ndarray, mask: np.ndarray, count: int) -> np.ndarray:
    """Pixels per label (0 .. count - 1) where mask is True (a masked histogram for 16-bit labels: no gather)."""
    if labels.dtype != np.uint16:
        return np.bincount(labels[mask], minlength=count)
    hist = cv2.calcHist([labels], [0], mask.view(np.uint8), [count], [0, count])
    return hist.ravel().astype(np.int64)


def _components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """4-connected components of a mask: (count, labels), 16-bit labels when they fit."""
    try:
        return cv2.connectedComponentsWithAlgorithm(mask, 4, cv2.CV_16U, cv2.CCL_DEFAULT)
    except cv2.error:  # more than 65535 components
        return cv2.connectedComponents(mask, connectivity=4, ltype=cv2.CV_32S)


def fill_depth_holes(depth_m: np.ndarray, band: np.ndarray, size: int) -> np.ndarray:
    """Add pixels without depth that a closing of the band covers (dropouts inside and between band pixels)."""
    box = grown_box(band, size + 1) if size > 1 else None  # a margin of size + 1 keeps the closing exact
    if box is None:
        return band
    closed = cv2.morphologyEx(band[box].view(np.uint8), cv2.MORPH_CLOSE, ellipse(size))
    out = band.copy()
    out[box] |= closed.view(bool) & (depth_m[box] <= 0)
    return out


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
    found = cv2.findNonZero(todo.view(np.uint8))
    if found is None:
        return label
    kernel = ellipse(2 * radius + 1)
    out = label.copy()
    if len(found) * np.count_nonzero(kernel) > label.size // 4:  # many pixels to fill: dilate the whole image
        near_hand = cv2.dilate((label == 1).view(np.uint8), kernel).view(bool) & todo
        near_obj = cv2.dilate((label == 2).view(np.uint8), kernel).view(bool) & todo
        out[near_obj & ~(near_hand & skin)] = 2
        out[near_hand & ~(near_obj & ~skin)] = 1
        return out
    # few (the usual case): look at each one's neighbourhood only
    xs, ys = found.reshape(-1, 2).T
    padded = cv2.copyMakeBorder(label, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0)
    dy, dx = np.nonzero(kernel)
    offsets = dy * padded.shape[1] + dx
    around = np.take(padded, (ys * padded.shape[1] + xs)[:, None] + offsets)  # todo pixels x kernel offsets
    near_hand, near_obj, s = (around == 1).any(axis=1), (around == 2).any(axis=1), skin[ys, xs]
    to_obj, to_hand = near_obj & ~(near_hand & s), near_hand & ~(near_obj & ~s)
    out[ys[to_obj], xs[to_obj]] = 2
    out[ys[to_hand], xs[to_hand]] = 1
    return out


def fill_edge_dropouts(depth_m: np.ndarray, band: np.ndarray, radius: int, share: float) -> np.ndarray:
    """The band plus pixels without depth whose (2 radius + 1)^2 window is at least `share` band (ragged edges)."""
    if radius <= 0:
        return band
    win = 2 * radius + 1
    full = cv2.compare(band.view(np.uint8), 0, cv2.CMP_GT)  # 0 / 255
    around = cv2.blur(full, (win, win), borderType=cv2.BORDER_REPLICATE)
    return band | ((around >= round(share * 255)) & (depth_m <= 0))


def fill_depth_neighbours(depth_m: np.ndarray, band: np.ndarray, radius: int, tol_m: float) -> np.ndarray:
    """The band plus pixels within `radius` of it whose depth is within tol_m of the band's mean depth around them.

    Grazing surfaces (the sides of a forearm) have depth steps too large for the growth's continuity test. The mean
    is over the (4 radius + 1)^2 window (reflected at the image border), from integral images, at ring pixels only.
    """
    box = grown_box(band, 2 * radius) if radius > 0 else None
    if box is None:
        return band
    b, d = band[box].view(np.uint8), depth_m[box]
    found = cv2.findNonZero(cv2.subtract(cv2.dilate(b, ellipse(2 * radius + 1)), b))
    if found is None:
        return band
    xs, ys = found.reshape(-1, 2).T
    keep = d[ys, xs] > 0
    xs, ys = xs[keep], ys[keep]
    p = 2 * radius
    count = cv2.integral(cv2.copyMakeBorder(b, p, p, p, p, cv2.BORDER_REFLECT_101))
    total = cv2.integral(cv2.copyMakeBorder(cv2.copyTo(d, b), p, p, p, p, cv2.BORDER_REFLECT_101), sdepth=cv2.CV_64F)
    y1, x1 = ys + 2 * p + 1, xs + 2 * p + 1  # window rows ys .. y1 - 1 of the padded images
    n = (count[y1, x1] - count[ys, x1] - count[y1, xs] + count[ys, xs]).astype(np.float32)
    mean = (total[y1, x1] - total[ys, x1] - total[y1, xs] + total[ys, xs]).astype(np.float32) / n
    ok = np.abs(d[ys, xs] - mean) < tol_m
    out = band.copy()
    out[ys[ok] + box[0].start, xs[ok] + box[1].start] = True
    return out
