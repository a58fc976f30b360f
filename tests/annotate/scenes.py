"""Hand-made test scenes: a skin-coloured disc in front of a blue box on a far background."""

from __future__ import annotations

import numpy as np

SKIN_RGB = (210, 150, 120)
BOX_RGB = (40, 70, 200)
WALL_RGB = (200, 200, 190)


def disc_box_scene(
    width: int = 160, height: int = 120, shift: tuple[int, int] = (0, 0), seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(depth_m float32, color uint8 RGB, label uint8): disc (hand) at 0.50 m over a box (object) at 0.58 m."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    depth = np.full((height, width), 1.5, np.float32)
    label = np.zeros((height, width), np.uint8)
    box = (yy > height * 0.3) & (yy < height * 0.8) & (xx > width * 0.45) & (xx < width * 0.85)
    depth[box], label[box] = 0.58, 2
    disc = (yy - height * 0.5) ** 2 + (xx - width * 0.42) ** 2 < (min(width, height) * 0.2) ** 2
    depth[disc], label[disc] = 0.50, 1
    depth += rng.normal(0, 0.002, depth.shape).astype(np.float32)
    color = np.empty((height, width, 3), np.uint8)
    color[:] = WALL_RGB
    color[label == 2] = BOX_RGB
    color[label == 1] = SKIN_RGB
    noise = rng.normal(0, 4, color.shape)
    color = np.clip(color + noise, 0, 255).astype(np.uint8)
    dx, dy = shift  # color[y + dy, x + dx] shows what is at depth pixel (y, x)
    color = np.roll(color, (dy, dx), axis=(0, 1))
    return depth, color, label
