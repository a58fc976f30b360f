"""RHD, the Rendered Hand Pose Dataset (Zimmermann & Brox 2017): 320x320 colour, depth and part masks.

Layout: `color/`, `mask/`, `depth/` with 5-digit names (`00000.png`), either directly under the root or under
`training/` and `evaluation/` (read as the train and test splits). `anno_*.pickle` (keypoints, per-frame camera
matrix K) is not read: the intrinsics are a placeholder (fx = fy = 320, image centre; pass `intrinsics=` for real
ones), so do not use converted RHD for metric 3-D work.

Depth: (R * 256 + G) / 65535 * 5 metres, stored losslessly as uint16 R * 256 + G with depth_scale_m = 5 / 65535.

Mask (from the RHD readme): 0 background, 1 person, 2-4 left thumb [tip to palm], 5-7 left index, 8-10 left
middle, 11-13 left ring, 14-16 left little, 17 left palm, 18-33 the right hand in the same order. Mapping to ours:
label 1 (hand) for 2..33, 0 for background and person (the body is background for hand segmentation); parts per
hand: palm -> 1, finger segment tip..base -> our proximal..distal ids reversed (thumb 2,3,4 = base..tip).
RHD masks show only visible pixels, so the converted part maps are visible-part maps, not amodal ones.
The readme words "tip to palm" are the only source for the within-finger order; it matches RHD's keypoint order
(tip..mcp) but was not checked against rendered frames here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handseg.data.format import Intrinsics, Sample, check_sample_id
from handseg.data.readers.base import (
    Reader,
    check_single_channel,
    check_uint8_rgb,
    check_values,
    depth_to_metres,
    read_image_file,
    register_reader,
)
from handseg.errors import DataError

RHD_DEPTH_SCALE = 5.0 / 65535.0
RHD_INTRINSICS = Intrinsics(
    width=320, height=320, fx=320.0, fy=320.0, cx=159.5, cy=159.5, depth_scale_m=RHD_DEPTH_SCALE
)
RHD_MAX_MASK = 33
_SPLIT_DIRS = {"training": "train", "evaluation": "test"}
_KINDS = ("color", "mask", "depth")


def _part_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables from an RHD mask value to (our label, left part id, right part id)."""
    label = np.zeros(RHD_MAX_MASK + 1, np.int64)
    left = np.zeros(RHD_MAX_MASK + 1, np.int64)
    right = np.zeros(RHD_MAX_MASK + 1, np.int64)
    label[2:] = 1
    for offset, table in ((0, left), (16, right)):
        for value in range(2, 17):
            finger, from_tip = divmod(value - 2, 3)
            table[value + offset] = 2 + 3 * finger + (2 - from_tip)
        table[17 + offset] = 1  # palm
    return label, left, right


LABEL_OF_MASK, LEFT_PART_OF_MASK, RIGHT_PART_OF_MASK = _part_tables()


def encode_rhd_depth(raw: np.ndarray) -> np.ndarray:
    """RGB image storing uint16 depth the RHD way (R = high byte, G = low byte, B = 0)."""
    rgb = np.zeros((*raw.shape, 3), np.uint8)
    rgb[..., 0] = raw >> 8
    rgb[..., 1] = raw & 0xFF
    return rgb


@register_reader(priority=40)
class RHDReader(Reader):
    """Frames of RHD: colour, depth, visible label (hand vs rest) and visible part maps of both hands."""

    name = "rhd"
    description = "RHD: color/ mask/ depth/ NNNNN.png, masks 0 bg, 1 person, 2-17 left, 18-33 right parts"
    has_color = True
    has_label = True
    has_parts = True

    def __init__(self, root: str | Path, skip_bad: bool = False, intrinsics: Intrinsics | None = None) -> None:
        super().__init__(root, skip_bad)
        self.intrinsics = intrinsics or RHD_INTRINSICS
        self._folder: dict[str, Path] = {}
        self._name: dict[str, str] = {}
        self._split: dict[str, str] = {}
        groups = [(self.root / d, s) for d, s in _SPLIT_DIRS.items() if (self.root / d / "color").is_dir()]
        if not groups and (self.root / "color").is_dir():
            groups = [(self.root, "train")]
        for folder, split in groups:
            for path in sorted((folder / "color").glob("*.png")):
                sample_id = check_sample_id(path.stem if folder == self.root else f"{split}_{path.stem}", path)
                self._folder[sample_id], self._name[sample_id], self._split[sample_id] = folder, path.name, split
        if not self._folder:
            raise DataError(self.root, "no color/*.png (not an RHD folder)")
        self.ids = list(self._folder)
        self.notes = [
            "label: hand (mask 2..33) -> 1; background and person -> 0",
            "parts are VISIBLE part maps (RHD is not amodal); within-finger order from the readme (tip to palm)",
            "depth_scale_m = 5/65535 keeps RHD's 16-bit depth exactly",
            "intrinsics are a placeholder unless given (anno_*.pickle is not read)",
        ]

    @classmethod
    def detect(cls, root: Path) -> bool:
        """color/, mask/ and depth/ folders, directly or under training/ or evaluation/."""
        folders = [root] + [root / d for d in _SPLIT_DIRS]
        return any(all((folder / kind).is_dir() for kind in _KINDS) for folder in folders)

    def load(self, sample_id: str) -> Sample:
        """Colour, depth, label and part maps of one frame."""
        shape = (self.intrinsics.height, self.intrinsics.width)
        folder, name = self._folder[sample_id], self._name[sample_id]
        color_path, mask_path, depth_path = (folder / kind / name for kind in _KINDS)
        color = check_uint8_rgb(read_image_file(color_path), color_path, shape)
        if not mask_path.exists():
            raise DataError(mask_path, "missing mask for this frame")
        mask = read_image_file(mask_path)
        if mask.ndim == 3 and (mask == mask[..., :1]).all():
            mask = np.ascontiguousarray(mask[..., 0])
        check_single_channel(mask, mask_path, np.uint8, shape)
        check_values(mask, mask_path, RHD_MAX_MASK, "mask")
        if not depth_path.exists():
            raise DataError(depth_path, "missing depth for this frame")
        packed = check_uint8_rgb(read_image_file(depth_path), depth_path, shape)
        raw = (packed[..., 0].astype(np.uint16) << 8) | packed[..., 1].astype(np.uint16)
        parts = np.stack([LEFT_PART_OF_MASK[mask], RIGHT_PART_OF_MASK[mask]])
        return Sample(
            id=sample_id,
            depth=depth_to_metres(raw, self.intrinsics.depth_scale_m),
            color=color,
            label=LABEL_OF_MASK[mask],
            parts=parts,
            intrinsics=self.intrinsics,
        )

    def splits(self) -> dict[str, list[str]]:
        """training/ -> train, evaluation/ -> test (a flat folder is all train)."""
        out: dict[str, list[str]] = {}
        for sample_id in self.ids:
            out.setdefault(self._split[sample_id], []).append(sample_id)
        return out
