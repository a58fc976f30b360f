"""Hand/object boundary repair from depth: pixels near the colour boundary join the side whose surface they lie on."""

from __future__ import annotations

import cv2
import numpy as np

from handseg.annotate.repair import ellipse


def snap_to_depth(
    skin: np.ndarray, band: np.ndarray, depth_m: np.ndarray, *, zone_px: int, window_px: int, min_step_m: float
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
    obj_all = band & ~skin
    x, y, w, h = cv2.boundingRect(obj_all.view(np.uint8))
    if w == 0:
        return skin
    grow = zone_px + r
    box = slice(max(y - grow, 0), y + h + grow), slice(max(x - grow, 0), x + w + grow)
    band_b, depth_b, obj = band[box], depth_m[box], obj_all[box]
    valid = band_b & (depth_b > 0)
    hand = band_b & skin[box]
    kernel = ellipse(2 * zone_px + 1)
    zone = cv2.dilate(hand.view(np.uint8), kernel).view(bool) & cv2.dilate(obj.view(np.uint8), kernel).view(bool)
    zone &= valid
    found = cv2.findNonZero(zone.view(np.uint8))
    if found is None:
        return skin
    xs, ys = found.reshape(-1, 2).T
    rows, cols = zone.shape
    y0, y1 = np.maximum(ys - r, 0), np.minimum(ys + r + 1, rows)
    x0, x1 = np.maximum(xs - r, 0), np.minimum(xs + r + 1, cols)
    corners = [y * (cols + 1) + x for y in (y1, y0) for x in (x1, x0)]  # flat indices into the integral images

    def window_sums(image: np.ndarray, sdepth: int) -> np.ndarray:
        """Sum of image over each zone pixel's window (clipped to the box), from a single-channel integral image."""
        flat = cv2.integral(image, sdepth=sdepth).ravel()
        return flat[corners[0]] - flat[corners[1]] - flat[corners[2]] + flat[corners[3]]

    # per side: the count (int32) and mean depth (float64 sums) of its sure pixels, outside the zone, in each window
    sure = valid & ~zone
    sides = []
    for side in (hand & sure, obj & sure):
        n = window_sums(side.view(np.uint8), cv2.CV_32S)
        sides.append((n, window_sums(cv2.copyTo(depth_b, side.view(np.uint8)), cv2.CV_64F) / np.maximum(n, 1)))
    (hand_n, hand_m), (obj_n, obj_m) = sides
    decided = (hand_n >= 3) & (obj_n >= 3) & (np.abs(hand_m - obj_m) > min_step_m)
    d = depth_b[ys, xs]
    out = skin.copy()
    out[box][ys[decided], xs[decided]] = (np.abs(d - hand_m) < np.abs(d - obj_m))[decided]
    return out
