"""Hand-centred crops: a box around both hands' amodal extent, cut from every array of a frame the same way.

The box (source pixels, x0 y0 x1 y1, x1/y1 exclusive) has the aspect of the output size and covers every amodal
part pixel of both hands (the forearm has no part id, so it does not stretch the box), plus `margin` times the
covered extent on each side, and at least `min_side` source pixels. It may reach past the image border; what lies
outside is padded: depth 0 (missing), colour black, visible labels 255 (ignore: nothing was seen there), amodal
and visible part maps 0 (the renderer draws hands only inside the image). Depth, labels and part maps are resampled
by nearest neighbour at pixel centres (output pixel j reads source pixel x0 + floor((j + 0.5) / scale)), colour by
area averaging, so every map stays aligned with the image. A frame with no part pixels gets the largest box of the
output aspect centred in the image ("empty": true in the record).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from handseg.data.format import IGNORE_INDEX, Intrinsics
from handseg.errors import ConfigError

CROP_MODES = ("hands",)
DEFAULT_MARGIN = 0.15
MIN_SIDE = 32
FOREARM = 17  # id of the forearm in the renderer's visible part maps (no part id in the written maps)
_FILL = {"depth": 0, "label": IGNORE_INDEX, "parts": 0, "visible_parts": 0}


def check_crop(mode: str | None, margin: float = DEFAULT_MARGIN, option: str = "crop", margin_option: str = "") -> None:
    """Raise ConfigError naming `option` (or `margin_option`) unless mode is None or a known crop mode and margin
    is a fraction in [0, 2]."""
    if mode is not None and mode not in CROP_MODES:
        raise ConfigError(f"{option}: expected one of {', '.join(CROP_MODES)} or none, got {mode!r}")
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0.0 <= margin <= 2.0:
        raise ConfigError(f"{margin_option or option + '_margin'}: expected a fraction in [0, 2], got {margin!r}")


def hands_box(
    parts: np.ndarray, size: tuple[int, int], *, margin: float = DEFAULT_MARGIN, min_side: int = MIN_SIDE
) -> tuple[tuple[int, int, int, int], bool]:
    """Box (x0, y0, x1, y1) of the output aspect around the part pixels of both hands, and whether it found none."""
    parts = np.asarray(parts)
    height, width = parts.shape[-2:]
    out_w, out_h = size
    aspect = out_w / out_h
    mask = ((parts > 0) & (parts != IGNORE_INDEX)).any(axis=0) if parts.ndim == 3 else parts > 0
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        box_w = min(width, height * aspect)
        cx, cy = width / 2, height / 2
    else:
        bx0, bx1, by0, by1 = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
        box_w = max(bx1 - bx0, (by1 - by0) * aspect) * (1 + 2 * margin)
        box_w = max(box_w, min_side * max(aspect, 1.0))
        cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
    box_h = box_w / aspect
    w, h = max(1, round(box_w)), max(1, round(box_h))
    x0, y0 = math.floor(cx - w / 2 + 0.5), math.floor(cy - h / 2 + 0.5)
    return (x0, y0, x0 + w, y0 + h), rows.size == 0


def _nearest(image: np.ndarray, box: tuple[int, int, int, int], size: tuple[int, int], fill: int) -> np.ndarray:
    """Nearest-neighbour crop of the last two axes to `size`, sampling at pixel centres, `fill` outside."""
    x0, y0, x1, y1 = box
    out_w, out_h = size
    height, width = image.shape[-2:]
    xs = x0 + np.floor((np.arange(out_w) + 0.5) * ((x1 - x0) / out_w)).astype(np.int64)
    ys = y0 + np.floor((np.arange(out_h) + 0.5) * ((y1 - y0) / out_h)).astype(np.int64)
    inside_x, inside_y = (xs >= 0) & (xs < width), (ys >= 0) & (ys < height)
    out = image[..., np.clip(ys, 0, height - 1)[:, None], np.clip(xs, 0, width - 1)[None, :]]
    out[..., ~inside_y, :] = fill
    out[..., :, ~inside_x] = fill
    return np.ascontiguousarray(out)


def _area(color: np.ndarray, box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """Area-averaged crop of an H x W x 3 image to `size`, black outside the image."""
    x0, y0, x1, y1 = box
    height, width = color.shape[:2]
    ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if ix0 >= ix1 or iy0 >= iy1:
        return np.zeros((size[1], size[0], 3), color.dtype)
    patch = color[iy0:iy1, ix0:ix1]
    if (ix0, iy0, ix1, iy1) != (x0, y0, x1, y1):
        patch = cv2.copyMakeBorder(patch, iy0 - y0, y1 - iy1, ix0 - x0, x1 - ix1, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return cv2.resize(np.ascontiguousarray(patch), size, interpolation=cv2.INTER_AREA)


def crop_arrays(sample: dict[str, Any], box: tuple[int, int, int, int], size: tuple[int, int]) -> dict[str, Any]:
    """A copy of `sample` with depth, color, label, parts and visible_parts cut to `box` and resized to `size`."""
    out = dict(sample)
    size = (int(size[0]), int(size[1]))
    for key, fill in _FILL.items():
        if sample.get(key) is not None:
            out[key] = _nearest(np.asarray(sample[key]), box, size, fill)
    if sample.get("color") is not None:
        out["color"] = _area(np.asarray(sample["color"]), box, size)
    return out


def crop_record(
    box: tuple[int, int, int, int],
    source_size: tuple[int, int],
    size: tuple[int, int],
    *,
    margin: float,
    empty: bool,
    intrinsics: Intrinsics | None = None,
) -> dict[str, Any]:
    """The JSON record of a crop: box in source pixels, scale (output pixels per source pixel), cropped camera."""
    x0, y0, x1, y1 = box
    sx, sy = size[0] / (x1 - x0), size[1] / (y1 - y0)
    record: dict[str, Any] = {
        "mode": "hands",
        "box": [int(x0), int(y0), int(x1), int(y1)],
        "scale": [sx, sy],
        "source_size": [int(source_size[0]), int(source_size[1])],
        "size": [int(size[0]), int(size[1])],
        "margin": float(margin),
        "empty": bool(empty),
    }
    if intrinsics is not None:
        record["camera"] = cropped_intrinsics(intrinsics, box, size).to_dict()
    return record


def cropped_intrinsics(intr: Intrinsics, box: tuple[int, int, int, int], size: tuple[int, int]) -> Intrinsics:
    """The pinhole camera of the crop: the source camera shifted by the box corner and scaled to `size`."""
    x0, y0, x1, y1 = box
    sx, sy = size[0] / (x1 - x0), size[1] / (y1 - y0)
    return Intrinsics(
        int(size[0]), int(size[1]), intr.fx * sx, intr.fy * sy,
        (intr.cx + 0.5 - x0) * sx - 0.5, (intr.cy + 0.5 - y0) * sy - 0.5, intr.depth_scale_m,
    )  # fmt: skip


def crop_to_hands(
    sample: dict[str, Any], size: tuple[int, int], *, margin: float = DEFAULT_MARGIN, min_side: int = MIN_SIDE
) -> dict[str, Any]:
    """The sample cut to a box around both hands' amodal parts at `size`; the record goes to sample["crop"].

    A sample without part maps cannot be centred on its hands: it is returned unchanged (the caller resizes it).
    """
    if sample.get("parts") is None:
        return sample
    height, width = np.asarray(sample["depth"]).shape[:2]
    box, empty = hands_box(sample["parts"], size, margin=margin, min_side=min_side)
    out = crop_arrays(sample, box, size)
    intr = sample.get("intrinsics")
    intr = intr if isinstance(intr, Intrinsics) else None
    out["crop"] = crop_record(box, (width, height), size, margin=margin, empty=empty, intrinsics=intr)
    if intr is not None:
        out["intrinsics"] = cropped_intrinsics(intr, box, size)
    return out


def finish_frame(frame: dict[str, Any], settings: dict[str, Any] | None) -> dict[str, Any]:
    """A rendered frame as the generator writes it, following its manifest settings.

    settings["crop"] = {"mode": "hands", "size": [w, h], "margin": m} cuts a hand-centred crop and records it in
    the scene as "crop"; visible part maps lose the forearm id (17 -> 0) and are kept only when
    settings["visible_parts"] is true (else None, so nothing is written).
    """
    settings = settings or {}
    visible = frame.get("visible_parts")
    if visible is not None:
        visible = np.where(visible == FOREARM, 0, visible).astype(np.uint8)
    out = {**frame, "visible_parts": visible}
    crop = settings.get("crop")
    if crop:
        out = crop_to_hands(out, tuple(crop["size"]), margin=float(crop.get("margin", DEFAULT_MARGIN)))
        out["scene"] = {**frame["scene"], "crop": out.pop("crop", None)}
    if not settings.get("visible_parts"):
        out["visible_parts"] = None
    return out
