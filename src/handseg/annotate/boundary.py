"""Hand/object boundary repair from depth: pixels near the colour boundary join the side whose surface they lie on."""

from __future__ import annotations

import cv2
import numpy as np

from handseg.annotate.repair import ellipse


def snap_to_depth(
    skin: np.ndarray, band: np.ndarray, depth_m: np.ndarray, zone_px: int, window_px: int, min_step_m: float
) -> np.ndarray:
    """Re-decide band pixels within zone_px of the hand/object colour boundary by depth.

    Around each such pixel, the mean depth of hand and of object pixels outside the boundary zone (a window_px
    square) gives the two surfaces; where they differ by more than min_step_m, the pixel joins the nearer one.
    Colour blurs and shading darkens the rims of fingers; the depth step between a finger and the object behind
    it does not blur.
    """
    if zone_px <= 0:
        return skin
    # the zone lies within zone_px of object pixels: work in their box, grown by the zone and the window radius
    r = window_px // 2
    x, y, w, h = cv2.boundingRect((band & ~skin).view(np.uint8))
    if w == 0:
        return skin
    grow = zone_px + r
    box = slice(max(y - grow, 0), y + h + grow), slice(max(x - grow, 0), x + w + grow)
    band_b, skin_b, depth_b = band[box], skin[box], depth_m[box]
    valid = band_b & (depth_b > 0)
    hand, obj = band_b & skin_b, band_b & ~skin_b
    kernel = ellipse(2 * zone_px + 1)
    zone = cv2.dilate(hand.view(np.uint8), kernel).view(bool) & cv2.dilate(obj.view(np.uint8), kernel).view(bool)
    zone &= valid
    if not zone.any():
        return skin
    # window sums of (sure hand, its depth, sure object, its depth) from one 4-channel integral image; depths are
    # taken relative to the box's nearest valid depth so that float32 sums keep sub-millimetre precision
    sure_hand = (hand & valid & ~zone).astype(np.float32)
    sure_obj = (obj & valid & ~zone).astype(np.float32)
    rel = depth_b - np.float32(depth_b[valid].min())
    integral = cv2.integral(cv2.merge([sure_hand, sure_hand * rel, sure_obj, sure_obj * rel]), sdepth=cv2.CV_32F)
    ys, xs = np.nonzero(zone)
    rows, cols = zone.shape
    y0, y1 = np.maximum(ys - r, 0), np.minimum(ys + r + 1, rows)
    x0, x1 = np.maximum(xs - r, 0), np.minimum(xs + r + 1, cols)
    sums = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]  # N x 4
    hand_n, obj_n = sums[:, 0], sums[:, 2]
    hand_m, obj_m = sums[:, 1] / np.maximum(hand_n, 1), sums[:, 3] / np.maximum(obj_n, 1)
    decided = (hand_n >= 3) & (obj_n >= 3) & (np.abs(hand_m - obj_m) > min_step_m)
    d = rel[ys, xs]
    out = skin.copy()
    out[box][ys[decided], xs[decided]] = (np.abs(d - hand_m) < np.abs(d - obj_m))[decided]
    return out
