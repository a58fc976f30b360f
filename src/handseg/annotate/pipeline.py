"""The auto-annotation steps of the paper, one function each: depth band, colour split, morphology, contour filter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from handseg.annotate.align import IDENTITY, register, warp_crop
from handseg.annotate.boundary import snap_to_depth
from handseg.annotate.colour_model import ColourModel
from handseg.annotate.config import AnnotateConfig
from handseg.annotate.edges import colour_edges, keep_held, thick_surfaces
from handseg.annotate.repair import (
    ellipse,
    fill_depth_holes,
    fill_depth_neighbours,
    fill_edge_dropouts,
    fill_unassigned,
    find_planes,
    grow_band,
)
from handseg.annotate.splitters import ColourCrop, skin_mask, split_colours

BACKGROUND, HAND, OBJECT = 0, 1, 2


def nearest_surface(depth_m: np.ndarray, cfg: AnnotateConfig, stride: int = 2) -> float | None:
    """Depth of the nearest surface: a low quantile of the valid depth (None if nothing is valid).

    The quantile is taken over every `stride`-th pixel in each direction; near_min_pixels counts full-size pixels.
    """
    sub = np.ascontiguousarray(depth_m[::stride, ::stride])
    valid = (sub > cfg.min_depth_m) & (sub < cfg.max_depth_m)
    n = np.count_nonzero(valid)
    if n == 0:
        return None
    k = min(max(int(cfg.near_quantile * n), cfg.near_min_pixels // (stride * stride) - 1, 0), n - 1)
    coarse = sub[::4, ::4]  # a guess from a sparser grid: if more than k valid depths lie below it, look only there
    coarse = coarse[(coarse > cfg.min_depth_m) & (coarse < cfg.max_depth_m)]
    if coarse.size:
        j = min(k // 8 + 4, coarse.size - 1)
        below = valid & (sub <= np.partition(coarse, j)[j])
        if np.count_nonzero(below) > k:
            valid = below
    return float(np.partition(sub[valid], k)[k])


def nearest_skin_surface(depth_m: np.ndarray, color: np.ndarray, cfg: AnnotateConfig, stride: int = 2) -> float | None:
    """Depth of the nearest skin-coloured surface: near_quantile of the valid depth of every skin-coloured segment
    (HSV thresholds, opened) of at least near_skin_min_px full-size pixels, or None if there is none.

    The colour need not be registered to the depth yet: a few pixels of offset do not move a segment's depth.
    """
    rgb = np.ascontiguousarray(color[::stride, ::stride, :3])
    depth = depth_m[::stride, ::stride]
    skin = skin_mask(rgb, cfg) & (depth > cfg.min_depth_m) & (depth < cfg.max_depth_m)
    skin = open_close(skin, 3, 0)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(skin.view(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] * stride * stride >= cfg.near_skin_min_px
    keep[0] = False  # label 0 is everything not skin
    if not keep.any():
        return None
    return float(np.quantile(depth[keep[labels]], cfg.near_quantile))


def depth_band(depth_m: np.ndarray, near_m: float, cfg: AnnotateConfig) -> np.ndarray:
    """Pixels within band_m behind (and front_margin_m in front of) the nearest surface."""
    lo = max(near_m - cfg.front_margin_m, cfg.min_depth_m)
    return (depth_m >= lo) & (depth_m <= near_m + cfg.band_m)


def open_close(mask: np.ndarray, open_px: int, close_px: int) -> np.ndarray:
    """Morphological opening (removes specks) then closing (fills pinholes) of a boolean mask."""
    m = mask.view(np.uint8)
    if open_px > 1:
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, ellipse(open_px))
    if close_px > 1:
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, ellipse(close_px))
    return m.view(bool)


def filter_segments(mask: np.ndarray, theta: float, phi: float) -> tuple[np.ndarray, int, int]:
    """Keep 8-connected segments s with N(s) > theta and perimeter(s)^2 / N(s) < phi; return (mask, kept, dropped).

    perimeter(s) is the number of pixels on the segment's outer boundary: with RETR_CCOMP every top-level contour
    OpenCV traces is the outer boundary of exactly one 8-connected segment. N(s) is counted only where the
    segment's bounding box could pass both tests (N(s) <= box area).
    """
    m = mask.view(np.uint8)
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    outer = [c for c, parent in zip(contours, hierarchy[0][:, 3]) if parent < 0] if contours else []
    if not outer:
        return mask.copy(), 0, 0
    try:
        count, labels = cv2.connectedComponentsWithAlgorithm(m, 8, cv2.CV_16U, cv2.CCL_DEFAULT)
    except cv2.error:  # more than 65535 segments
        count, labels = cv2.connectedComponents(m, connectivity=8)
    dropped = []  # (box, label) of each segment that fails
    for contour in outer:
        x, y, w, h = cv2.boundingRect(contour)
        perimeter2 = len(contour) ** 2
        label = labels[contour[0, 0, 1], contour[0, 0, 0]]
        box = slice(y, y + h), slice(x, x + w)
        if w * h <= theta or perimeter2 >= phi * w * h:  # fails whatever its pixel count
            dropped.append((box, label))
            continue
        area = np.count_nonzero(labels[box] == label)
        if not (area > theta and perimeter2 < phi * area):
            dropped.append((box, label))
    out = mask.copy()
    if len(dropped) > 32:  # many: one pass over the whole mask
        keep = np.ones(count, bool)
        keep[[label for _, label in dropped]] = False
        out &= keep[labels]
    else:  # few: clear each one inside its box
        for box, label in dropped:
            out[box][labels[box] == label] = False
    return out, count - 1 - len(dropped), len(dropped)


@dataclass
class Annotation:
    """Result of annotating one frame: labels, the repaired color and per-frame diagnostics."""

    label: np.ndarray  # uint8 HxW: 0 background, 1 hand, 2 object
    shift: tuple[float, float] = (0.0, 0.0)  # (dx, dy) of the colour at the image centre
    diagnostics: dict[str, Any] = field(default_factory=dict)
    warp: np.ndarray = field(default_factory=lambda: IDENTITY.copy())  # 2x3: color pixel warp @ (x, y, 1) on (y, x)

    def aligned_color(self, color: np.ndarray) -> np.ndarray:
        """The colour image resampled onto the depth grid with this frame's registration."""
        h, w = color.shape[:2]
        return np.ascontiguousarray(warp_crop(color, self.warp, slice(0, h), slice(0, w)))


def _crop_box(band: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Bounding box of the band grown by `margin` pixels, clipped to the image."""
    x, y, w, h = cv2.boundingRect(band.view(np.uint8))
    rows, cols = band.shape
    return slice(max(y - margin, 0), min(y + h + margin, rows)), slice(max(x - margin, 0), min(x + w + margin, cols))


def annotate_frame(
    depth_m: np.ndarray,
    color: np.ndarray,
    cfg: AnnotateConfig,
    colour_model: ColourModel | None = None,
    fx: float | None = None,
) -> Annotation:
    """Label one aligned depth (metres) + RGB frame as background / hand / object.

    The colour model is `colour_model` if given, else the file named by cfg.colour_model (if any). `fx` is the
    focal length in pixels (metric sizes); None assumes fx = image width (a 53 degree horizontal field of view).
    """
    h, w = depth_m.shape
    label = np.zeros((h, w), np.uint8)
    diag: dict[str, Any] = (
        dict.fromkeys(
            ("near_m", "plane_px", "band_px", "hand_px", "object_px", "shift_dx", "shift_dy", "align_rotation_deg"), 0
        )
        | {"align_scale": 1.0, "near_from_skin": False}
        | dict.fromkeys(("hand_kept", "hand_dropped", "object_kept", "object_dropped"), 0)
    )
    planes = find_planes(depth_m, cfg)
    diag["plane_px"] = int(np.count_nonzero(planes))
    scene_depth = depth_m  # plane pixels get depth 0: copy the others into zeros (faster than a product)
    if diag["plane_px"]:
        scene_depth = cv2.copyTo(depth_m, cv2.compare(planes.view(np.uint8), 0, cv2.CMP_EQ))
    if cfg.body_radius_m > 0:  # then surfaces thicker than a hand (a torso nearer than the hand) go the same way
        body = thick_surfaces(scene_depth, cfg.body_radius_m, fx or float(w), jump_m=cfg.grow_jump_m,
                              jump_rel=cfg.grow_jump_rel)  # fmt: skip
        if body.any():
            scene_depth = cv2.copyTo(scene_depth, cv2.compare(body.view(np.uint8), 0, cv2.CMP_EQ))
    near = nearest_surface(scene_depth, cfg)
    if near is None:
        diag["near_m"] = float("nan")
        return Annotation(label, (0.0, 0.0), diag)
    if cfg.near_skin_min_px:  # the hand need not be the nearest surface: start at the nearest skin if none is in reach
        skin_near = nearest_skin_surface(scene_depth, color, cfg)
        diag["near_from_skin"] = skin_near is not None and skin_near > near + cfg.band_m
        if diag["near_from_skin"]:
            near = skin_near
    band = grow_band(scene_depth, depth_band(scene_depth, near, cfg), near, cfg)
    band = fill_depth_neighbours(scene_depth, band, cfg.neighbour_fill_px, cfg.neighbour_fill_tol_m)
    band = fill_depth_holes(depth_m, band, cfg.hole_close_px)
    diag["near_m"], diag["band_px"] = round(near, 4), int(np.count_nonzero(band))
    m = register(color, band, cfg, depth_m)
    centre = m[:, :2] @ (w / 2, h / 2) + m[:, 2] - (w / 2, h / 2)
    dx, dy = round(float(centre[0]), 2), round(float(centre[1]), 2)
    diag["shift_dx"], diag["shift_dy"] = dx, dy
    diag["align_rotation_deg"] = round(float(np.degrees(np.arctan2(m[1, 0], m[0, 0]))), 3)
    diag["align_scale"] = round(float(np.hypot(m[0, 0], m[1, 0])), 5)

    margin = 2 + max(cfg.hand_close_px, cfg.object_close_px, cfg.fill_unassigned_px * 2 + 1)
    if cfg.edge_colour_px or cfg.shadow_fill_px:  # room for the shadow fill and the colour windows around it
        margin += cfg.shadow_fill_px + 2 * cfg.edge_colour_radius_px + cfg.edge_colour_px
    rows, cols = _crop_box(band, margin)
    band_c = band[rows, cols]
    color_c = warp_crop(color, m, rows, cols, keep_alpha=True)  # work on the band's box only (RGB or RGBA)
    band_c = fill_edge_dropouts(depth_m[rows, cols], band_c, cfg.edge_fill_px, cfg.edge_fill_share)
    band_c = colour_edges(color_c, depth_m[rows, cols], band_c, rim_px=cfg.edge_colour_px, shadow_px=cfg.shadow_fill_px,
                          radius_px=cfg.edge_colour_radius_px)  # fmt: skip
    skin = split_colours(ColourCrop(color_c, band_c, cfg, rows, cols, (h, w), colour_model))  # cfg.colour_splitter
    skin = snap_to_depth(skin, band_c, depth_m[rows, cols], zone_px=cfg.depth_snap_px,
                         window_px=cfg.depth_snap_window_px, min_step_m=cfg.depth_snap_min_step_m)  # fmt: skip
    hand = open_close(band_c & skin, cfg.hand_open_px, cfg.hand_close_px) & band_c
    obj = open_close(band_c & ~skin, cfg.object_open_px, cfg.object_close_px) & band_c
    hand, diag["hand_kept"], diag["hand_dropped"] = filter_segments(hand, cfg.theta, cfg.phi)
    obj, diag["object_kept"], diag["object_dropped"] = filter_segments(obj, cfg.theta, cfg.phi)
    crop = np.zeros(band_c.shape, np.uint8)
    crop[obj] = OBJECT
    crop[hand & (skin | ~obj)] = HAND  # closing can make the masks overlap: the pixel's own colour decides
    crop = fill_unassigned(crop, band_c, skin, cfg.fill_unassigned_px)
    crop = keep_held(
        crop, depth_m[rows, cols], contact_px=cfg.contact_px, contact_m=cfg.contact_m, hand=HAND, obj=OBJECT
    )
    label[rows, cols] = crop
    diag["hand_px"] = int(np.count_nonzero(crop == HAND))
    diag["object_px"] = int(np.count_nonzero(crop == OBJECT))
    return Annotation(label, (dx, dy), diag, m)
