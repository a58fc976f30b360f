"""Contact sheets of dataset frames: depth, color, visible labels and both amodal part maps side by side."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from handseg.data.format import HandsegDataset, Sample
from handseg.viz.overlay import colorize_depth, legend_strip, overlay_labels, overlay_parts, put_text, tile

PANELS = ("depth", "color", "labels", "left parts", "right parts")


def _fit(image: np.ndarray, width: int) -> np.ndarray:
    """Resize an RGB image to `width` keeping its aspect ratio (nearest for label-like detail)."""
    h, w = image.shape[:2]
    height = max(1, round(h * width / w))
    interp = cv2.INTER_AREA if width < w else cv2.INTER_NEAREST
    return cv2.resize(image, (width, height), interpolation=interp)


def frame_panels(sample: Sample, width: int = 192, caption: str | None = None) -> list[np.ndarray]:
    """Five captioned tiles of one frame: depth, color, labels over depth, left and right amodal parts.

    `caption` (e.g. the scene family) goes after the frame id on the depth tile."""
    depth = sample["depth"]
    near = far = None
    if sample["label"] is not None:  # stretch the colours over the hands and objects, not the far background
        fg = depth[(sample["label"] > 0) & (depth > 0)]
        if fg.size > 20:
            near, far = float(np.percentile(fg, 1)) - 0.02, float(np.percentile(fg, 99)) + 0.25
    depth_rgb = colorize_depth(depth, near, far)
    gray = np.repeat((depth_rgb.mean(axis=2, keepdims=True) * 0.6).astype(np.uint8), 3, axis=2)
    color = sample["color"] if sample["color"] is not None else np.zeros_like(depth_rgb)
    panels = [depth_rgb, color]
    panels.append(overlay_labels(gray, sample["label"]) if sample["label"] is not None else gray)
    for hand in range(2):
        if sample["parts"] is not None:
            base = overlay_labels(gray, sample["label"], alpha=0.25) if sample["label"] is not None else gray
            panels.append(overlay_parts(base, sample["parts"][hand], alpha=0.85))
        else:
            panels.append(gray)
    out = []
    for name, panel in zip(PANELS, panels):
        small = np.ascontiguousarray(_fit(panel, width))
        first = f"{sample['id']} {caption or 'depth'}"
        out.append(put_text(small, name if name != "depth" else first))
    return out


def scene_caption(dataset: HandsegDataset, sample_id: str) -> str | None:
    """ "family / camera model" of a synthetic frame from its scene/<id>.json (None when there is none)."""
    path = Path(dataset.root) / "scene" / f"{sample_id}.json"
    try:
        scene = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(scene, dict) or "family" not in scene:
        return None
    camera = (scene.get("depth_sensor") or {}).get("camera_model")
    return f"{scene['family']}/{camera}" if camera else str(scene["family"])


def contact_sheet(dataset: HandsegDataset, frames: int = 16, frames_per_row: int = 2, width: int = 192) -> np.ndarray:
    """An RGB sheet of the first `frames` frames of a dataset, `frames_per_row` frames (5 tiles each) per row."""
    count = min(frames, len(dataset))
    if count == 0:
        raise ValueError("the dataset has no frames to show")
    tiles = []
    for k in range(count):
        sample = dataset[k]
        tiles.extend(frame_panels(sample, width, scene_caption(dataset, sample["id"])))
    sheet = tile(tiles, columns=len(PANELS) * max(1, min(frames_per_row, count)), gap=3)
    return np.vstack([sheet, legend_strip(sheet.shape[1], "labels"), legend_strip(sheet.shape[1], "parts")])
