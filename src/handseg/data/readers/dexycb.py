"""DexYCB (Chao et al. 2021), in the dex-ycb-toolkit layout: real RealSense frames of hands grasping YCB objects.

Layout: `<subject>/<sequence>/<camera serial>/` holding `color_%06d.jpg` (8-bit RGB), `aligned_depth_to_color_
%06d.png` (uint16 mm, aligned to colour) and `labels_%06d.npz` (`seg` HxW uint8: 0 background, 1-21 YCB object
ids, 255 hand, the MANO hand without forearm; `pose_y` per-object poses, `joint_3d`/`joint_2d`; `ycb_ids` when
present). The root may be the DexYCB folder or any folder below it (a subject, a sequence, one camera).

Labels: hand (255) -> 1; the YCB object in contact with the hand -> 2, i.e. one with at least `min_contact_px`
pixels within `contact_px` pixels of a hand pixel whose depth lies within `contact_m` (3 cm) of that hand
pixel's depth range there; every other object -> 0 (background, as in handseg-v1: "object" = held or touched).
Several objects may qualify (a hand pushing one against another). No amodal parts.

Intrinsics: `intrinsics=` (an Intrinsics), else the toolkit's `calibration/intrinsics/<serial>_640x480.yml`
(its `color:` fx, fy, ppx, ppy; aligned depth shares the colour camera) found in the root or a folder above it,
else `intrinsics_file=` (that YAML format, or flat fx, fy, cx, cy), else placeholder D415 colour intrinsics at
640x480 (fx = fy = 615, cx = 320, cy = 240): fine for 2-D segmentation, not for metric 3-D work.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from handseg.data.format import Intrinsics, Sample
from handseg.data.readers.base import (
    Reader,
    check_shape,
    check_single_channel,
    check_uint8_rgb,
    depth_to_metres,
    read_image_file,
    register_reader,
    safe_id,
)
from handseg.errors import DataError

# `handseg --help` imports this module (the CLI's option choices), so it imports only the standard library, numpy
# and handseg modules that --help loads anyway; cv2 and yaml are imported inside the functions that use them
# (tests/test_cli.py).

DEXYCB_DEPTH_SCALE = 0.001
DEXYCB_INTRINSICS = Intrinsics(width=640, height=480, fx=615.0, fy=615.0, cx=320.0, cy=240.0, depth_scale_m=0.001)
HAND_VALUE = 255
NUM_YCB = 21
_LABELS_NAME = re.compile(r"^labels_(\d{6})\.npz$")


def contact_objects(
    seg: np.ndarray, depth_m: np.ndarray, contact_px: int = 3, contact_m: float = 0.03, min_contact_px: int = 5
) -> list[int]:
    """YCB ids in `seg` touching the hand: adjacent to hand pixels (within `contact_px`) and near them in depth."""
    import cv2

    hand = (seg == HAND_VALUE) & (depth_m > 0)
    if not hand.any():
        return []
    kernel = np.ones((2 * contact_px + 1, 2 * contact_px + 1), np.uint8)
    near_hand = cv2.dilate(hand.astype(np.uint8), kernel) > 0
    big = np.float32(1e6)
    # The hand's depth range around each pixel: max and min over the window of hand pixels only.
    hand_max = cv2.dilate(np.where(hand, depth_m, 0).astype(np.float32), kernel)
    hand_min = -cv2.dilate(np.where(hand, -depth_m, -big).astype(np.float32), kernel)
    held = []
    for ycb in np.unique(seg):
        if ycb == 0 or ycb == HAND_VALUE:
            continue
        band = (seg == ycb) & near_hand & (depth_m > 0)
        touching = band & (depth_m >= hand_min - contact_m) & (depth_m <= hand_max + contact_m)
        if int(touching.sum()) >= min_contact_px:
            held.append(int(ycb))
    return held


def dexycb_label(seg: np.ndarray, depth_m: np.ndarray, **contact: Any) -> np.ndarray:
    """handseg-v1 labels of a DexYCB `seg` map: 255 -> 1 (hand), objects in contact with it -> 2, the rest 0."""
    label = np.zeros(seg.shape, np.int64)
    label[seg == HAND_VALUE] = 1
    for ycb in contact_objects(seg, depth_m, **contact):
        label[seg == ycb] = 2
    return label


def read_intrinsics_yaml(path: Path, size: tuple[int, int] = (640, 480)) -> Intrinsics:
    """Intrinsics from the toolkit's YAML (`color: {fx, fy, ppx, ppy}`) or a flat `fx, fy, cx, cy` mapping."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(path, f"unreadable intrinsics file ({type(exc).__name__})") from None
    node = data.get("color", data) if isinstance(data, dict) else None
    try:
        fx, fy = float(node["fx"]), float(node["fy"])
        cx, cy = float(node.get("ppx", node.get("cx"))), float(node.get("ppy", node.get("cy")))
    except (KeyError, TypeError, ValueError):
        raise DataError(path, "intrinsics file needs color: {fx, fy, ppx, ppy} or fx, fy, cx, cy") from None
    width, height = size
    return Intrinsics(width=width, height=height, fx=fx, fy=fy, cx=cx, cy=cy, depth_scale_m=DEXYCB_DEPTH_SCALE)


@register_reader(priority=30)
class DexYCBReader(Reader):
    """Frames of DexYCB: aligned depth (mm), colour, hand/held-object labels from `seg`."""

    name = "dexycb"
    description = "DexYCB (dex-ycb-toolkit layout): aligned_depth_to_color_*.png, color_*.jpg, labels_*.npz"

    def __init__(
        self,
        root: str | Path,
        *,
        skip_bad: bool = False,
        intrinsics: Intrinsics | None = None,
        intrinsics_file: str | Path | None = None,
        depth_scale: float | None = None,
        contact_px: int = 3,
        contact_m: float = 0.03,
        min_contact_px: int = 5,
    ) -> None:
        super().__init__(root, skip_bad)
        self.contact = {"contact_px": contact_px, "contact_m": contact_m, "min_contact_px": min_contact_px}
        self._files: dict[str, tuple[Path, str]] = {}
        for labels in sorted(self.root.rglob("labels_*.npz")):
            match = _LABELS_NAME.match(labels.name)
            if not match:
                continue
            rel = labels.parent.relative_to(self.root).as_posix()
            sample_id = safe_id(f"{rel}_{match.group(1)}" if rel != "." else match.group(1))
            self._files[sample_id] = (labels.parent, match.group(1))
        if not self._files:
            raise DataError(self.root, "no labels_NNNNNN.npz files (not a DexYCB folder)")
        self.ids = list(self._files)
        self.has_color = self.has_label = True
        self._fixed = intrinsics
        if intrinsics is None and intrinsics_file is not None:
            self._fixed = read_intrinsics_yaml(Path(intrinsics_file))
        self._by_serial: dict[str, Intrinsics] = {}
        self.depth_scale = float(depth_scale) if depth_scale is not None else DEXYCB_DEPTH_SCALE
        first_dir, first_frame = next(iter(self._files.values()))
        first_depth = first_dir / f"aligned_depth_to_color_{first_frame}.png"
        size = read_image_file(first_depth).shape[:2] if first_depth.is_file() else None
        self.intrinsics = self._intrinsics_for(first_dir, size)
        self.notes = [
            "label 2 = YCB objects touching the hand (adjacent and within "
            f"{contact_m * 100:.0f} cm in depth); other objects are background",
            "no amodal parts (the MANO hand has no forearm)",
        ]
        if self._fixed is None and not self._calibration_dir():
            self.notes.append("no calibration/intrinsics found: placeholder D415 intrinsics (fx = fy = 615)")

    @classmethod
    def detect(cls, root: Path) -> bool:
        """A labels_NNNNNN.npz beside an aligned_depth_to_color_NNNNNN.png, up to three folders down."""
        for pattern in ("", "*/", "*/*/", "*/*/*/"):
            for labels in root.glob(f"{pattern}labels_000000.npz"):
                if (labels.parent / "aligned_depth_to_color_000000.png").exists():
                    return True
        return False

    def _calibration_dir(self) -> Path | None:
        for folder in (self.root, *self.root.resolve().parents):
            candidate = folder / "calibration" / "intrinsics"
            if candidate.is_dir():
                return candidate
        return None

    def _intrinsics_for(self, folder: Path, shape: tuple[int, int] | None = None) -> Intrinsics:
        """The fixed intrinsics, else the camera's calibration file (by its serial folder name), else defaults."""
        if self._fixed is not None:
            return self._fixed
        serial = folder.name
        if serial not in self._by_serial:
            calibration = self._calibration_dir()
            path = calibration / f"{serial}_640x480.yml" if calibration else None
            found = read_intrinsics_yaml(path) if path is not None and path.is_file() else DEXYCB_INTRINSICS
            self._by_serial[serial] = found
        base = self._by_serial[serial]
        fields = {"depth_scale_m": self.depth_scale}
        if shape is not None:  # the frames' own size (calibration files are named for 640x480)
            fields |= {"height": int(shape[0]), "width": int(shape[1])}
        return Intrinsics(**{**base.to_dict(), **fields})

    def load(self, sample_id: str) -> Sample:
        """Depth, colour and labels of one frame, each checked."""
        folder, frame = self._files[sample_id]
        depth_path = folder / f"aligned_depth_to_color_{frame}.png"
        raw = read_image_file(depth_path)
        check_single_channel(raw, depth_path, np.uint16, None)
        shape = raw.shape
        intrinsics = self._intrinsics_for(folder, shape)
        depth = depth_to_metres(raw, intrinsics.depth_scale_m)
        color_path = folder / f"color_{frame}.jpg"
        color = check_uint8_rgb(read_image_file(color_path, color=True), color_path, shape)
        labels_path = folder / f"labels_{frame}.npz"
        try:
            with np.load(labels_path, allow_pickle=False) as data:
                seg = np.asarray(data["seg"])
        except FileNotFoundError:
            raise DataError(labels_path, "missing labels file") from None
        except KeyError:
            raise DataError(labels_path, "no 'seg' array in the labels file") from None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DataError(labels_path, f"unreadable npz ({type(exc).__name__})") from None
        if seg.ndim != 2 or seg.dtype.kind not in "ui":
            raise DataError(labels_path, f"seg: expected an integer HxW map, got {seg.dtype} {seg.shape}")
        check_shape(seg, labels_path, shape)
        bad = (seg > NUM_YCB) & (seg != HAND_VALUE)
        if bad.any() or (seg < 0).any():
            values = np.unique(seg[bad | (seg < 0)])[:8].tolist()
            raise DataError(labels_path, f"seg values out of range: {values} (0, 1..{NUM_YCB}, {HAND_VALUE})")
        label = dexycb_label(seg, depth, **self.contact)
        return Sample(id=sample_id, depth=depth, color=color, label=label, parts=None, intrinsics=intrinsics)
