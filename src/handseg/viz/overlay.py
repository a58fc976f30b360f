"""Colour maps and overlays for depth, visible labels and amodal part maps (uint8 RGB images)."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import cv2
import numpy as np

from handseg.data.format import IGNORE_INDEX, PART_NAMES

# background, hand, object; 255 (ignore) is drawn grey.
LABEL_COLORS = np.array([[0, 0, 0], [230, 70, 60], [60, 140, 240]], np.uint8)
IGNORE_COLOR = np.array([128, 128, 128], np.uint8)


def _part_colors() -> np.ndarray:
    """17 colours: 0 none (black), palm grey-white, then each finger a hue, lighter towards the tip."""
    colors = np.zeros((17, 3), np.uint8)
    colors[1] = (220, 220, 220)
    hues = (0.0, 0.13, 0.33, 0.55, 0.8)  # thumb, index, middle, ring, little
    for finger, hue in enumerate(hues):
        for segment in range(3):
            r, g, b = colorsys.hsv_to_rgb(hue, 0.9 - 0.25 * segment, 0.55 + 0.2 * segment)
            colors[2 + 3 * finger + segment] = (int(r * 255), int(g * 255), int(b * 255))
    return colors


PART_COLORS = _part_colors()


def colorize_labels(label: np.ndarray) -> np.ndarray:
    """RGB picture of a visible-label map (0 bg, 1 hand, 2 object, 255 ignore)."""
    label = np.asarray(label)
    out = LABEL_COLORS[np.clip(label, 0, 2).astype(np.intp)]
    out[label == IGNORE_INDEX] = IGNORE_COLOR
    return out


def colorize_parts(parts: np.ndarray) -> np.ndarray:
    """RGB picture of one amodal part map (0 none, 1..16 parts)."""
    return PART_COLORS[np.clip(np.asarray(parts), 0, 16).astype(np.intp)]


def colorize_depth(depth_m: np.ndarray, near: float | None = None, far: float | None = None) -> np.ndarray:
    """RGB picture of a depth map in metres (near = bright; missing = black), range from valid pixels."""
    depth_m = np.asarray(depth_m, np.float32)
    valid = depth_m > 0
    if not valid.any():
        return np.zeros((*depth_m.shape, 3), np.uint8)
    lo = float(np.percentile(depth_m[valid], 1)) if near is None else near
    hi = float(np.percentile(depth_m[valid], 99)) if far is None else far
    scaled = 1.0 - np.clip((depth_m - lo) / max(hi - lo, 1e-6), 0, 1)
    gray = (scaled * 255).astype(np.uint8)
    out = cv2.applyColorMap(gray, cv2.COLORMAP_TURBO)[..., ::-1].copy()
    out[~valid] = 0
    return out


def blend(base: np.ndarray, overlay: np.ndarray, mask: np.ndarray | None = None, alpha: float = 0.5) -> np.ndarray:
    """Alpha-blend `overlay` onto `base` (both uint8 RGB) where `mask` is true (everywhere if None)."""
    base = np.asarray(base)
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=2)
    mixed = (base.astype(np.float32) * (1 - alpha) + overlay.astype(np.float32) * alpha).astype(np.uint8)
    if mask is None:
        return mixed
    return np.where(mask[..., None], mixed, base).astype(np.uint8)


def overlay_labels(image: np.ndarray, label: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Labels drawn over an RGB (or depth-coloured) image, background left as it is."""
    return blend(image, colorize_labels(label), mask=np.asarray(label) != 0, alpha=alpha)


def overlay_parts(image: np.ndarray, parts: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """One amodal part map drawn over an RGB image."""
    return blend(image, colorize_parts(parts), mask=np.asarray(parts) != 0, alpha=alpha)


def tile(images: list[np.ndarray], columns: int, gap: int = 4, fill: int = 255) -> np.ndarray:
    """Arrange equally sized RGB images in a grid."""
    if not images:
        raise ValueError("no images to tile")
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    sheet = np.full((rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, 3), fill, np.uint8)
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        sheet[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    return sheet


def put_text(image: np.ndarray, text: str, org: tuple[int, int] = (4, 14), scale: float = 0.4) -> np.ndarray:
    """Write a small caption with a dark outline onto an RGB image (in place; returned for chaining)."""
    # The outline is the thin text drawn 1 px around: OpenCV 5 widens the glyph advance with the line thickness,
    # so a thick dark pass would drift away from the light text along the line.
    x, y = org
    for dx, dy in ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)):
        cv2.putText(image, text, (x + dx, y + dy), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return image


# Pictures are drawn at the size they are shown (the report and docs show panels about this wide), so captions are
# real pixels, never small text scaled up by a browser.
DISPLAY_WIDTH = 320
LABEL_NAMES = ("background", "hand", "object")


def depth_gray(depth_m: np.ndarray) -> np.ndarray:
    """Greyscale RGB picture of a depth map (near = bright, missing = black): labels stay readable over it."""
    depth_m = np.asarray(depth_m, np.float32)
    valid = depth_m > 0
    out = np.zeros((*depth_m.shape, 3), np.uint8)
    if not valid.any():
        return out
    lo, hi = np.percentile(depth_m[valid], [1, 99])
    scaled = 1.0 - np.clip((depth_m - lo) / max(float(hi - lo), 1e-6), 0, 1)
    out[valid] = (40 + scaled[valid] * 180).astype(np.uint8)[:, None]  # 40..220: black stays "missing"
    return out


def to_display(image: np.ndarray, width: int = DISPLAY_WIDTH) -> np.ndarray:
    """Upscale a small picture by a whole factor (nearest) to at least `width` wide; larger ones stay as they are."""
    factor = max(1, -(-width // image.shape[1]))
    if factor == 1:
        return np.ascontiguousarray(image)
    return np.ascontiguousarray(np.repeat(np.repeat(image, factor, axis=0), factor, axis=1))


def legend_strip(width: int, kind: str = "labels", scale: float = 0.45) -> np.ndarray:
    """A white strip naming the colours: background/hand/object (kind 'labels') or the 16 amodal parts ('parts')."""
    if kind == "labels":
        items = [(name, LABEL_COLORS[k]) for k, name in enumerate(LABEL_NAMES)]
    elif kind == "parts":
        items = [(name, PART_COLORS[k + 1]) for k, name in enumerate(PART_NAMES)]
    else:
        raise ValueError(f"legend kind {kind!r}: expected labels or parts")
    return colour_legend(width, items, scale)


def colour_legend(width: int, items: Sequence[tuple[str, Sequence[int]]], scale: float = 0.45) -> np.ndarray:
    """A white strip `width` wide with a colour box and its name per (name, RGB) item, wrapped into rows."""
    font, line, pad, box = cv2.FONT_HERSHEY_SIMPLEX, 1, 6, 12
    row_h = box + 2 * pad
    cells, x, y = [], pad, 0
    for name, colour in items:
        text_w = cv2.getTextSize(name, font, scale, line)[0][0]
        cell_w = box + 4 + text_w + 2 * pad
        if x + cell_w > width and x > pad:
            x, y = pad, y + row_h
        cells.append((x, y, name, colour))
        x += cell_w
    strip = np.full((y + row_h, width, 3), 255, np.uint8)
    for x, y, name, colour in cells:
        top = y + pad
        cv2.rectangle(strip, (x, top), (x + box, top + box), tuple(int(c) for c in colour), -1)
        cv2.rectangle(strip, (x, top), (x + box, top + box), (90, 90, 90), 1)
        cv2.putText(strip, name, (x + box + 4, top + box - 1), font, scale, (20, 20, 20), line, cv2.LINE_AA)
    return strip


def with_legend(image: np.ndarray, kind: str = "labels") -> np.ndarray:
    """The picture with a legend strip below it."""
    return np.vstack([image, legend_strip(image.shape[1], kind)])


def colorbar(height: int, lo: float, hi: float, width: int = 64) -> np.ndarray:
    """A vertical inferno colour bar (hi at the top) with its two end values written beside it."""
    ramp = np.linspace(255, 0, height).astype(np.uint8)[:, None].repeat(14, axis=1)
    bar = cv2.applyColorMap(ramp, cv2.COLORMAP_INFERNO)[..., ::-1]
    out = np.full((height, width, 3), 255, np.uint8)
    out[:, 4:18] = bar
    for text, y in ((f"{hi:.2g}", 14), (f"{lo:.2g}", height - 4)):
        cv2.putText(out, text, (22, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (20, 20, 20), 1, cv2.LINE_AA)
    return out
