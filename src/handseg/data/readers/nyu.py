"""NYU Hand Pose (Tompson et al. 2014): depth packed in the G and B channels of an RGB PNG; no segmentation.

Layout (as distributed): `train/` and `test/` folders, each with `depth_<view>_<frame>.png` (view 1..3, frame
0000001..), `rgb_<view>_<frame>.png` (registered colour), `synthdepth_*.png` (rendered model depth, ignored) and
`joint_data.mat` (poses, ignored). A plain folder of `depth_*.png` works too. Depth in mm is (G << 8) | B; the R
channel is unused. Labels: NYU has no per-pixel classes, so label and parts are None.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from handseg.data.format import Intrinsics, Sample, check_sample_id
from handseg.data.readers.base import (
    Reader,
    check_uint8_rgb,
    depth_to_metres,
    read_image_file,
    register_reader,
)
from handseg.errors import DataError

NYU_INTRINSICS = Intrinsics(width=640, height=480, fx=588.03, fy=587.07, cx=320.0, cy=240.0, depth_scale_m=0.001)
_DEPTH_NAME = re.compile(r"^depth_(\d+)_(\d+)\.png$")
_SPLIT_DIRS = ("train", "val", "test")


MAX_DEPTH_M = 10.0  # the Kinect of NYU Hand Pose reads up to about 4-8 m; beyond 10 m is not a depth


def decode_nyu_depth(rgb: np.ndarray, path: str | Path) -> np.ndarray:
    """uint16 depth in mm from an NYU depth PNG decoded as RGB: (G << 8) | B, checked for that packing."""
    check_uint8_rgb(rgb, path, None)
    depth = (rgb[..., 1].astype(np.uint16) << 8) | rgb[..., 2].astype(np.uint16)
    if depth.any() and (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        raise DataError(path, "not NYU depth packing (G << 8) | B: equal R, G and B (a grey 8-bit image)")
    return depth


def check_depth_range(depth_m: np.ndarray, path: str | Path) -> None:
    """Refuse depth maps whose valid pixels lie mostly beyond the sensor's reach (a wrong packing or scale)."""
    valid = depth_m > 0
    far = float((depth_m[valid] > MAX_DEPTH_M).mean()) if valid.any() else 0.0
    if far > 0.01:
        raise DataError(path, f"{far:.0%} of pixels beyond {MAX_DEPTH_M:g} m: not NYU packing or a wrong --depth-scale")


def encode_nyu_depth(depth_mm: np.ndarray) -> np.ndarray:
    """RGB image storing uint16 depth in mm the NYU way (R = 0, G = high byte, B = low byte)."""
    rgb = np.zeros((*depth_mm.shape, 3), np.uint8)
    rgb[..., 1] = depth_mm >> 8
    rgb[..., 2] = depth_mm & 0xFF
    return rgb


@register_reader(priority=60)
class NYUReader(Reader):
    """Frames of NYU Hand Pose: depth (+ registered colour when rgb_*.png is beside it), no labels."""

    name = "nyu"
    description = "NYU Hand Pose: depth_<view>_<frame>.png, depth mm = (G << 8) | B"

    def __init__(
        self,
        root: str | Path,
        skip_bad: bool = False,
        intrinsics: Intrinsics | None = None,
        depth_scale: float | None = None,
        use_color: bool = True,
    ) -> None:
        super().__init__(root, skip_bad)
        base = intrinsics or NYU_INTRINSICS
        if depth_scale is not None:
            base = Intrinsics(**{**base.to_dict(), "depth_scale_m": float(depth_scale)})
        self.intrinsics = base
        self._files: dict[str, Path] = {}
        self._split: dict[str, str] = {}
        folders = [(d, d.name) for d in sorted(self.root.iterdir()) if d.is_dir() and d.name in _SPLIT_DIRS]
        folders = folders or [(self.root, "train")]
        for folder, split in folders:
            for path in sorted(folder.glob("depth_*.png")):
                match = _DEPTH_NAME.match(path.name)
                if not match:
                    continue
                stem = f"{match.group(1)}_{match.group(2)}"
                sample_id = check_sample_id(stem if folder == self.root else f"{split}_{stem}")
                self._files[sample_id] = path
                self._split[sample_id] = split
        if not self._files:
            raise DataError(self.root, "no depth_<view>_<frame>.png files (not an NYU Hand Pose folder)")
        self.ids = list(self._files)
        self.has_color = use_color and any(self._color_path(p).exists() for p in list(self._files.values())[:50])
        self.notes = [
            "NYU has no segmentation: label and parts are absent",
            "synthdepth_*.png and joint_data.mat ignored",
        ]

    @classmethod
    def detect(cls, root: Path) -> bool:
        """A folder with depth_<n>_<n>.png files, directly or in train/ or test/."""
        folders = [root] + [root / name for name in _SPLIT_DIRS]
        return any(_DEPTH_NAME.match(p.name) for folder in folders if folder.is_dir() for p in folder.glob("depth_*"))

    @staticmethod
    def _color_path(depth_path: Path) -> Path:
        return depth_path.with_name("rgb_" + depth_path.name[len("depth_") :])

    def load(self, sample_id: str) -> Sample:
        """Depth from G/B, optional registered colour."""
        shape = (self.intrinsics.height, self.intrinsics.width)
        path = self._files[sample_id]
        packed = read_image_file(path)
        check_uint8_rgb(packed, path, shape)
        depth = depth_to_metres(decode_nyu_depth(packed, path), self.intrinsics.depth_scale_m)
        check_depth_range(depth, path)
        color = None
        color_path = self._color_path(path)
        if self.has_color and color_path.exists():
            color = check_uint8_rgb(read_image_file(color_path), color_path, shape)
        return Sample(id=sample_id, depth=depth, color=color, label=None, parts=None, intrinsics=self.intrinsics)

    def splits(self) -> dict[str, list[str]]:
        """From the train/ and test/ folders (a flat folder is all train)."""
        out: dict[str, list[str]] = {}
        for sample_id in self.ids:
            out.setdefault(self._split[sample_id], []).append(sample_id)
        return out
