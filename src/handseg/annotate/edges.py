"""Real-sensor repairs found on D415 frames: colour decides the band's depth-edge pixels, and the held object must
touch the hand.

Stereo depth cameras (RealSense D400, and the paper's SR300 less so) misplace depth edges: the foreground is a
pixel or two too fat where the matcher's window straddles the edge, and a strip beside the foreground has no depth
at all (the stereo shadow: the background there is hidden from one of the two imagers; it is a few pixels wide,
baseline * fx * (1/z_near - 1/z_far)). The colour image has neither artefact, so at the band's edge each pixel goes
to the side (band or background) whose nearby colour it resembles.
"""

from __future__ import annotations

import cv2
import numpy as np

_FAR = np.float32(1e12)


def _local_mean(lab: np.ndarray, mask: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean colour of `mask` pixels in a (2 radius + 1)^2 window around every pixel, and their count there."""
    size = (2 * radius + 1, 2 * radius + 1)
    m = mask.astype(np.float32)
    count = cv2.boxFilter(m, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    total = cv2.boxFilter(lab * m[..., None], -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count[..., None]
    return mean, count


def _distance(lab: np.ndarray, mean: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Colour distance of every pixel to a local mean (far where the window held no pixel of that side)."""
    d = np.sqrt(((lab - mean) ** 2).sum(axis=2))
    return np.where(count > 0, d, _FAR).astype(np.float32)


def colour_edges(
    color: np.ndarray,
    depth_m: np.ndarray,
    band: np.ndarray,
    *,
    rim_px: int,
    shadow_px: int,
    radius_px: int = 5,
    lightness_weight: float = 0.5,
) -> np.ndarray:
    """The band with its rim and the depth-less pixels beside it assigned by colour (see the module docstring).

    Rim pixels (band pixels within `rim_px` of its edge) leave the band when their colour is nearer the local mean
    of the sure background (pixels with depth, more than `rim_px` outside the band) than that of the sure band
    (more than `rim_px` inside); pixels without depth join the band, growing from it at most `shadow_px` pixels,
    when their colour is nearer the band's. Local means are taken in `radius_px` (band) and 2 * radius_px + rim_px
    (background) windows in CIELAB with lightness weighted down (shading changes it, not the material).
    """
    if (rim_px <= 0 and shadow_px <= 0) or not band.any():
        return band
    lab = cv2.cvtColor(np.ascontiguousarray(color[..., :3]), cv2.COLOR_RGB2Lab).astype(np.float32)
    lab[..., 0] *= lightness_weight
    k = 2 * max(rim_px, 1) + 1
    square = np.ones((k, k), np.uint8)
    b = band.view(np.uint8)
    inner = cv2.erode(b, square, borderType=cv2.BORDER_CONSTANT, borderValue=1).view(bool)
    outer = cv2.dilate(b, square).view(bool)
    background = ~outer & (depth_m > 0)
    fg_mean, fg_n = _local_mean(lab, inner, radius_px)
    bg_mean, bg_n = _local_mean(lab, background, 2 * radius_px + rim_px)
    d_fg, d_bg = _distance(lab, fg_mean, fg_n), _distance(lab, bg_mean, bg_n)
    # decide only where both sides were seen nearby
    looks_fg = (d_fg < d_bg) & (fg_n > 0) & (bg_n > 0)
    looks_bg = (d_bg < d_fg) & (fg_n > 0) & (bg_n > 0)
    out = band.copy()
    if rim_px > 0:
        out &= ~(looks_bg & ~inner)
    if shadow_px > 0:
        candidates = (depth_m <= 0) & looks_fg & ~out
        cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
        grown = out.view(np.uint8).copy()
        for _ in range(shadow_px):  # grow through accepted pixels only, one pixel per step
            front = cv2.dilate(grown, cross).view(bool) & candidates
            if not front.any():
                break
            grown[front] = 1
            candidates &= ~front
        out = grown.view(bool)
    return out


def keep_held(
    label: np.ndarray, depth_m: np.ndarray, *, contact_px: int, contact_m: float, hand: int = 1, obj: int = 2
) -> np.ndarray:
    """Drop object segments that do not touch the hand in 3-D (clutter in the band: objects left on the table).

    An object segment is kept if some of its pixels lie within `contact_px` of a hand pixel whose depth (the mean
    of the hand's depths around it) is within `contact_m` of its own: a held object touches the fingers, an object
    the arm passes over lies well behind them. Segments without any measured depth near the hand are kept (no
    evidence either way), and so is every object when the frame shows no hand.
    """
    if contact_px <= 0:
        return label
    objects = (label == obj).view(np.uint8) if label.dtype == np.uint8 else (label == obj).astype(np.uint8)
    count, segments = cv2.connectedComponents(objects, connectivity=8)
    if count <= 1:
        return label
    hand_mask = (label == hand) & (depth_m > 0)
    if not hand_mask.any():  # no hand to touch (an object alone in view): nothing to tell clutter by
        return label
    size = (2 * contact_px + 1, 2 * contact_px + 1)
    n = cv2.boxFilter(hand_mask.astype(np.float32), -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    s = cv2.boxFilter(np.where(hand_mask, depth_m, 0).astype(np.float32), -1, size, normalize=False,
                      borderType=cv2.BORDER_CONSTANT)  # fmt: skip
    near_hand = (objects > 0) & (n > 0)
    measured = near_hand & (depth_m > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        touching = measured & (np.abs(s / np.maximum(n, 1) - depth_m) < contact_m)
    seg = segments.ravel()
    has_touch = np.bincount(seg[touching.ravel()], minlength=count) > 0
    has_measured = np.bincount(seg[measured.ravel()], minlength=count) > 0
    has_near = np.bincount(seg[near_hand.ravel()], minlength=count) > 0
    keep = has_touch | (has_near & ~has_measured)
    keep[0] = True
    if keep.all():
        return label
    out = label.copy()
    out[~keep[segments] & (objects > 0)] = 0
    return out


def thick_surfaces(
    depth_m: np.ndarray, radius_m: float, fx: float, *, jump_m: float, jump_rel: float, stride: int = 2
) -> np.ndarray:
    """Pixels of surfaces too thick to be a hand or a held object: a torso or head nearer than the hand.

    The band starts at the nearest surface, which is the hand only if nothing else is nearer; a person's torso (or
    a large piece of furniture) often is. Surfaces are cut at depth jumps (as in grow_band); a pixel whose distance
    to its surface's edge is more than `radius_m` (metres at its depth, through the focal length `fx` in pixels)
    lies inside something wider than 2 radius_m: a palm is about 9 cm wide, an object held in one hand rarely wider
    than 14 cm, a torso 35 cm or more. The cores of surfaces that also reach the image border (a body nearer than
    the hand is larger than the view), grown back by the radius within their surface (a morphological opening with
    a disc of that metric size), are returned; arms and hands, thinner than the disc, stay out. The image border is
    not an edge: a body cut by it stays thick.
    """
    h, w = depth_m.shape
    if radius_m <= 0:
        return np.zeros((h, w), bool)
    d = cv2.medianBlur(np.ascontiguousarray(depth_m[::stride, ::stride]), 5)  # speckle dropouts would cut surfaces
    valid = d > 0
    thr = cv2.addWeighted(d, jump_rel, d, 0.0, jump_m)
    jump_x = cv2.absdiff(d[:, 1:], d[:, :-1]) > thr[:, 1:]
    jump_y = cv2.absdiff(d[1:], d[:-1]) > thr[1:]
    inside = valid.copy()
    inside[:, 1:] &= ~jump_x
    inside[:, :-1] &= ~jump_x
    inside[1:] &= ~jump_y
    inside[:-1] &= ~jump_y
    dist = cv2.distanceTransform(inside.view(np.uint8), cv2.DIST_L2, 3)
    radius_px = radius_m * fx / stride / np.maximum(d, 1e-3)  # the radius in (strided) pixels at each depth
    core = (dist > radius_px) & inside
    if not core.any():
        return np.zeros((h, w), bool)
    count, segments = cv2.connectedComponents(inside.view(np.uint8), connectivity=4)
    thick = np.zeros(count, bool)
    thick[np.unique(segments[core])] = True
    at_border = np.zeros(count, bool)  # a body nearer than the hand is larger than the view: the border cuts it
    at_border[np.unique(np.concatenate([segments[0], segments[-1], segments[:, 0], segments[:, -1]]))] = True
    thick &= at_border
    thick[0] = False
    body = np.zeros(d.shape, bool)
    for label in np.flatnonzero(thick):  # grow each core back by its own radius, within its own surface only
        own = segments == label
        grow = int(np.ceil(np.median(radius_px[core & own])))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2)
        body |= cv2.dilate((core & own).view(np.uint8), disc).view(bool) & own
    full = cv2.resize(body.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).view(bool)
    seen = cv2.resize(d, (w, h), interpolation=cv2.INTER_NEAREST)  # the depth the segmentation saw there
    full &= (depth_m > 0) & (np.abs(depth_m - seen) < jump_m + jump_rel * seen)  # not across an edge of the grid
    square = np.ones((5, 5), np.uint8)
    for _ in range(4):  # the edge pixels the cut left out join it, unless they lie in front of it (a hand there)
        nearest = cv2.erode(np.where(full, depth_m, _FAR).astype(np.float32), square)
        full |= (depth_m > 0) & (nearest < _FAR) & (depth_m > nearest - (jump_m + jump_rel * nearest))
    return full
