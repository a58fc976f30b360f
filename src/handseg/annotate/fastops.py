"""Small OpenCV building blocks of the annotation repairs: float32 bounds, 0/255 masks as booleans, boxes."""

from __future__ import annotations

import cv2
import numpy as np


def above(value: float) -> float:
    """The smallest float32 greater than `value`: x > value becomes x >= above(value) (for cv2.inRange)."""
    return float(np.nextafter(np.float32(value), np.float32(np.inf)))


def below(value: float) -> float:
    """The largest float32 less than `value`: x < value becomes x <= below(value) (for cv2.inRange)."""
    return float(np.nextafter(np.float32(value), np.float32(-np.inf)))


def as_bool(mask: np.ndarray) -> np.ndarray:
    """A 0/255 (or 0/1) uint8 mask as a boolean array of 0/1 bytes (in place)."""
    np.minimum(mask, 1, out=mask)
    return mask.view(bool)


def grown_box(mask: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """Bounding box of a mask grown by `margin` pixels and clipped to the image (None if the mask is empty)."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    if w == 0:
        return None
    rows, cols = mask.shape
    return slice(max(y - margin, 0), min(y + h + margin, rows)), slice(max(x - margin, 0), min(x + w + margin, cols))
