"""Small building blocks of the fast annotation repairs: bounding boxes, least squares."""

from __future__ import annotations

import cv2
import numpy as np


def grown_box(mask: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """Bounding box of a mask grown by `margin` pixels and clipped to the image (None if the mask is empty)."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    if w == 0:
        return None
    rows, cols = mask.shape
    return slice(max(y - margin, 0), min(y + h + margin, rows)), slice(max(x - margin, 0), min(x + w + margin, cols))


def least_squares(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least-squares solution of a x = b by the normal equations (np.linalg.lstsq if they are singular)."""
    try:
        return np.linalg.solve(a.T @ a, a.T @ b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]
