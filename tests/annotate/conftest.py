"""Hand-made test scenes for auto-annotation: a skin-coloured disc in front of a blue box on a far wall."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from handseg.data.format import DatasetWriter, Intrinsics, Manifest

SKIN_RGB = (210, 150, 120)
BOX_RGB = (40, 70, 200)
WALL_RGB = (200, 200, 190)

Scene = tuple[np.ndarray, np.ndarray, np.ndarray]


def disc_box_scene(width: int = 160, height: int = 120, shift: tuple[int, int] = (0, 0), seed: int = 0) -> Scene:
    """(depth_m float32, color uint8 RGB, label uint8): disc (hand) at 0.50 m over a box (object) at 0.58 m.

    The color is misaligned by `shift` = (dx, dy): color[y + dy, x + dx] shows what is at depth pixel (y, x).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    cx = width * (0.38 + 0.08 * rng.random())
    depth = np.full((height, width), 1.5, np.float32)
    label = np.zeros((height, width), np.uint8)
    box = (yy > height * 0.3) & (yy < height * 0.8) & (xx > width * 0.45) & (xx < width * 0.85)
    depth[box], label[box] = 0.58, 2
    disc = (yy - height * 0.5) ** 2 + (xx - cx) ** 2 < (min(width, height) * 0.2) ** 2
    depth[disc], label[disc] = 0.50, 1
    depth += rng.normal(0, 0.002, depth.shape).astype(np.float32)
    color = np.empty((height, width, 3), np.uint8)
    color[:] = WALL_RGB
    color[label == 2] = BOX_RGB
    color[label == 1] = SKIN_RGB
    color = np.clip(color + rng.normal(0, 4, color.shape), 0, 255).astype(np.uint8)
    dx, dy = shift
    color = np.roll(color, (dy, dx), axis=(0, 1))
    return depth, color, label


@pytest.fixture
def scene() -> Callable[..., Scene]:
    """The disc-and-box scene factory."""
    return disc_box_scene


def write_scene_dataset(root: Path, frames: int = 4, shift: tuple[int, int] = (1, 0), labels: bool = True) -> Path:
    """A tiny handseg-v1 dataset of disc-and-box scenes (mm depth)."""
    intr = Intrinsics().scaled(160, 120)
    writer = DatasetWriter(root, Manifest(name=root.name, sensor=intr, has_parts=False))
    for k in range(frames):
        depth, color, label = disc_box_scene(shift=shift, seed=k)
        raw = np.rint(depth * 1000).astype(np.uint16)
        writer.write(f"f{k:03d}", raw, label if labels else None, color)
    writer.finish({"train": [f"f{k:03d}" for k in range(frames)]})
    return root


@pytest.fixture
def scene_dataset(tmp_path: Path) -> Path:
    """Four labelled disc-and-box frames as a handseg-v1 dataset."""
    return write_scene_dataset(tmp_path / "scenes")
