"""HandSeg (Bojja et al. 2019): `images/` 480x640 uint16 depth PNGs and `masks/` with the same file names.

Mask values: 0 no hand, 1 and 2 the two hands (which is left and which right is not documented), so both map to
class 1 (hand); HandSeg has no object class, so label 2 never occurs and parts are None.

Depth units: the frames come from an Intel RealSense SR300 whose native depth unit is 1/8 mm (0.000125 m). The
dataset's readme does not state the unit; typical hand frames hold raw values of a few thousand, which fit the SR300
range only as 1/8 mm units (as mm they would be several metres), so the default `depth_scale` is 0.000125. Pass
`depth_scale=0.001` (`handseg convert --depth-scale 0.001`) if your copy stores millimetres. Intrinsics are the
nominal SR300 values (fx = fy = 475, centre of the image), not a calibration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handseg.data.format import Intrinsics, Sample
from handseg.data.readers.base import (
    Reader,
    check_single_channel,
    check_values,
    depth_to_metres,
    read_image_file,
    register_reader,
    unique_safe_id,
)
from handseg.errors import DataError

SR300_DEPTH_SCALE = 0.000125
HANDSEG_INTRINSICS = Intrinsics(
    width=640, height=480, fx=475.0, fy=475.0, cx=319.5, cy=239.5, depth_scale_m=SR300_DEPTH_SCALE
)


@register_reader(priority=50)
class HandSegReader(Reader):
    """Frames of the HandSeg dataset: depth + visible hand label (both hands -> class 1)."""

    name = "handseg"
    description = "HandSeg (Bojja et al.): images/ uint16 depth, masks/ 0 none, 1/2 hands"
    has_label = True

    def __init__(
        self,
        root: str | Path,
        skip_bad: bool = False,
        intrinsics: Intrinsics | None = None,
        depth_scale: float | None = None,
    ) -> None:
        super().__init__(root, skip_bad)
        base = intrinsics or HANDSEG_INTRINSICS
        if depth_scale is not None:
            base = Intrinsics(**{**base.to_dict(), "depth_scale_m": float(depth_scale)})
        self.intrinsics = base
        images = self.root / "images"
        if not images.is_dir():
            raise DataError(self.root, "no images/ folder (not a HandSeg dataset)")
        self._paths: dict[str, Path] = {}
        for path in sorted(images.glob("*.png")):  # names with spaces etc. become safe ids, not errors
            self._paths[unique_safe_id(path.stem, self._paths)] = path
        if not self._paths:
            raise DataError(images, "no PNG files")
        self.ids = list(self._paths)
        self.notes = [
            "mask values 1 and 2 (the two hands) both map to class 1 hand; no object class",
            f"depth_scale_m {self.intrinsics.depth_scale_m} (SR300 1/8 mm default; 0.001 if the copy stores mm)",
            "intrinsics are nominal SR300 values, not a calibration",
        ]

    @classmethod
    def detect(cls, root: Path) -> bool:
        """images/ and masks/ folders side by side."""
        return (root / "images").is_dir() and (root / "masks").is_dir()

    def load(self, sample_id: str) -> Sample:
        """Depth and label of one frame."""
        shape = (self.intrinsics.height, self.intrinsics.width)
        depth_path = self._paths[sample_id]
        raw = read_image_file(depth_path)
        check_single_channel(raw, depth_path, np.uint16, shape)
        mask_path = self.root / "masks" / depth_path.name
        if not mask_path.exists():
            raise DataError(mask_path, "missing mask for this depth image")
        mask = read_image_file(mask_path)
        if mask.ndim == 3 and (mask == mask[..., :1]).all():
            mask = np.ascontiguousarray(mask[..., 0])
        if mask.dtype == np.uint16 and mask.ndim == 2:  # tolerate 16-bit masks holding valid values
            check_values(mask, mask_path, 2, "mask")
            mask = mask.astype(np.uint8)
        check_single_channel(mask, mask_path, np.uint8, shape)
        check_values(mask, mask_path, 2, "mask")
        label = (mask > 0).astype(np.int64)
        depth = depth_to_metres(raw, self.intrinsics.depth_scale_m)
        return Sample(id=sample_id, depth=depth, color=None, label=label, parts=None, intrinsics=self.intrinsics)
