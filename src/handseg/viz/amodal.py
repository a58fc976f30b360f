"""Amodal part pictures: per hand, truth and prediction over the image, hidden pixels hatched, with a part legend."""

from __future__ import annotations

import cv2
import numpy as np

from handseg.data.format import PART_NAMES
from handseg.viz.overlay import PART_COLORS, overlay_parts, put_text, tile

HATCH_PERIOD = 6  # pixels between hatch lines (in the enlarged picture)
HAND_NAMES = ("left", "right")


def part_label(part: int) -> str:
    """Legend text of part id 1..16: palm, thumb 1 ... little 3."""
    return PART_NAMES[part - 1].replace("_", " ")


def hatch(image: np.ndarray, mask: np.ndarray, period: int = HATCH_PERIOD) -> np.ndarray:
    """Diagonal white lines over `mask` (lines where (x + y) % period == 0, one pixel wide, darker beside)."""
    h, w = mask.shape
    diag = (np.arange(h)[:, None] + np.arange(w)[None, :]) % period
    out = image.copy()
    out[mask & (diag == 0)] = 255
    out[mask & (diag == 1)] = (out[mask & (diag == 1)] // 2).astype(np.uint8)
    return out


def legend(width: int, columns: int = 4, row_height: int = 16) -> np.ndarray:
    """White strip of `width` pixels with a swatch and the name of each of the 16 parts."""
    rows = -(-len(PART_NAMES) // columns)
    strip = np.full((rows * row_height + 4, width, 3), 255, np.uint8)
    cell = width // columns
    for k in range(len(PART_NAMES)):
        r, c = divmod(k, columns)
        y, x = 2 + r * row_height, c * cell + 4
        strip[y + 3 : y + row_height - 3, x : x + 10] = PART_COLORS[k + 1]
        cv2.putText(strip, part_label(k + 1), (x + 14, y + row_height - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    return strip


def amodal_parts_picture(
    image: np.ndarray,
    truth: np.ndarray | None,
    pred: np.ndarray,
    visible: np.ndarray | None = None,
    *,
    caption: str = "",
    pred_title: str = "prediction",
    scale: int = 2,
) -> np.ndarray:
    """One row per hand: truth and prediction of its amodal parts over `image`; a part legend below.

    image: H x W x 3 uint8; truth, pred: 2 x H x W part maps (0..16; truth None draws an empty panel); visible:
    the visible part maps (2 x H x W, 0 where the hand is not seen, 255 unknown). Where a panel shows a part of a
    hand at a pixel where that hand is not seen (hidden behind the other hand or the object), the part is hatched.
    Panels are enlarged `scale` times (nearest). The result is (2 * H * scale + 4 + legend) x (2 * W * scale + 4).
    """
    image = np.asarray(image, np.uint8)
    pred = np.asarray(pred)
    truth = np.zeros_like(pred) if truth is None else np.asarray(truth)
    panels = []
    for hand, name in enumerate(HAND_NAMES):
        unseen = None if visible is None else np.asarray(visible)[hand] == 0
        for title, parts in ((f"{name} truth", truth[hand]), (f"{name} {pred_title}", pred[hand])):
            panel = overlay_parts(image, parts)
            if unseen is not None:
                panel = hatch(_enlarge(panel, scale), _enlarge(unseen & (parts > 0), scale))
            else:
                panel = _enlarge(panel, scale)
            panels.append(put_text(np.ascontiguousarray(panel), title))
    if caption:
        put_text(panels[0], caption, org=(4, 32))  # below the panel title, outlines apart
    grid = tile(panels, columns=2)
    return np.concatenate([grid, legend(grid.shape[1])], axis=0)


def _enlarge(array: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement of the first two axes by an integer factor."""
    return np.repeat(np.repeat(array, scale, axis=0), scale, axis=1) if scale > 1 else array
