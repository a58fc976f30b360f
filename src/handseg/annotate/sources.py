"""Inputs of `handseg annotate`: a folder of aligned color/depth PNG pairs, a handseg-v1 dataset, or a recording.

PNG-pair folders come in two layouts (depth: uint16 PNG, units of --depth-scale, 0 = missing; color: 8-bit RGB
on the same pixel grid):

    INPUT/color/<name>.png + INPUT/depth/<name>.png
    INPUT/<name>_color.png + INPUT/<name>_depth.png

An optional INPUT/intrinsics.json holds the camera (width, height, fx, fy, cx, cy, depth_scale_m).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handseg.data.format import HandsegDataset, Intrinsics, Manifest, check_depth
from handseg.errors import DataError, HandsegError
from handseg.utils.io import read_png

RECORDING_SUFFIXES = (".bag", ".db3")


@dataclass
class Frame:
    """One aligned frame to annotate."""

    id: str
    depth_m: np.ndarray  # float32 HxW, 0 = missing
    color: np.ndarray | None  # uint8 HxWx3 RGB on the depth grid
    intrinsics: Intrinsics


def safe_id(name: str) -> str:
    """A file name stem turned into a valid sample id (unsafe characters become '_')."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "frame"


class PngPairSource:
    """Aligned color/depth PNG pairs in a folder (either layout in the module docstring)."""

    kind = "png-pairs"

    def __init__(self, root: Path, depth_scale_m: float = 0.001) -> None:
        self.root = root
        self.depth_scale_m = depth_scale_m
        self.pairs: dict[str, tuple[Path, Path]] = {}
        if (root / "depth").is_dir():
            depths = {p.stem: p for p in sorted((root / "depth").glob("*.png"))}
            colors = {p.stem: p for p in sorted((root / "color").glob("*.png"))}
        else:
            depths = {p.name[: -len("_depth.png")]: p for p in sorted(root.glob("*_depth.png"))}
            colors = {p.name[: -len("_color.png")]: p for p in sorted(root.glob("*_color.png"))}
        if not depths:
            raise DataError(root, "no depth PNGs (expected depth/*.png + color/*.png, or *_depth.png + *_color.png)")
        for stem, depth_path in depths.items():
            if stem not in colors:
                raise DataError(depth_path, "has no color image beside it (auto-annotation needs color)")
            sample_id = safe_id(stem)
            if sample_id in self.pairs:
                raise DataError(depth_path, f"name clashes with another frame once made a safe id ({sample_id!r})")
            self.pairs[sample_id] = (depth_path, colors[stem])
        self.ids = list(self.pairs)
        self._intrinsics = self._read_intrinsics()

    def _read_intrinsics(self) -> Intrinsics | None:
        path = self.root / "intrinsics.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(path, f"not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise DataError(path, "must hold a JSON object")
        data.setdefault("depth_scale_m", self.depth_scale_m)
        return Intrinsics.from_dict(data, path)

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, sample_id: str) -> Frame:
        """Read and check one pair."""
        depth_path, color_path = self.pairs[sample_id]
        depth_raw = read_png(depth_path)
        check_depth(depth_raw, depth_path)
        color = read_png(color_path, color=True)
        if color.shape[:2] != depth_raw.shape:
            raise DataError(
                color_path, f"size {color.shape[1]}x{color.shape[0]} does not match depth {depth_raw.shape[::-1]}"
            )
        if color.dtype != np.uint8:
            raise DataError(color_path, f"color must be 8-bit, got {color.dtype}")
        h, w = depth_raw.shape
        intr = self._intrinsics or Intrinsics(depth_scale_m=self.depth_scale_m).scaled(w, h)
        if (intr.height, intr.width) != (h, w):
            raise DataError(depth_path, f"size {w}x{h} does not match intrinsics.json ({intr.width}x{intr.height})")
        depth = depth_raw.astype(np.float32) * np.float32(intr.depth_scale_m)
        return Frame(sample_id, depth, color, intr)

    def __iter__(self) -> Iterator[Frame]:
        return (self.load(i) for i in self.ids)


class DatasetSource:
    """Every frame (depth/*.png) of a handseg-v1 dataset; its labels, if any, are ignored."""

    kind = "handseg-v1"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dataset = HandsegDataset(root, split=None)
        if not self.dataset.manifest.has_color and not (root / "color").is_dir():
            raise DataError(root, "dataset has no color images (auto-annotation needs color)")
        self.ids = self.dataset.ids
        if not self.ids:
            raise DataError(root / "depth", "no frames")

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, sample_id: str) -> Frame:
        """Read one frame (color required)."""
        sample = self.dataset.load(sample_id)
        if sample["color"] is None:
            raise DataError(self.dataset.path("color", sample_id), "file not found (auto-annotation needs color)")
        return Frame(sample_id, sample["depth"], sample["color"], sample["intrinsics"])

    def __iter__(self) -> Iterator[Frame]:
        return (self.load(i) for i in self.ids)


class RecordingSource:
    """A RealSense recording (.bag or .db3), color aligned to depth by the SDK (handseg.data.realsense)."""

    kind = "realsense"
    ids: list[str] | None = None

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            from handseg.data import realsense
        except ImportError as exc:
            raise HandsegError(f"{path}: cannot read RealSense recordings here ({exc})") from None
        self._realsense = realsense

    def __len__(self) -> int:
        return 0  # unknown until played back

    def __iter__(self) -> Iterator[Frame]:
        for frame_id, depth_m, color, intr in self._realsense.iter_recording(self.path, align_to="depth"):
            sample_id = f"{frame_id:06d}" if isinstance(frame_id, (int, np.integer)) else safe_id(str(frame_id))
            if color is None:
                raise DataError(self.path, "recording has no color stream (auto-annotation needs color)")
            yield Frame(sample_id, np.asarray(depth_m, np.float32), np.ascontiguousarray(color), intr)


Source = PngPairSource | DatasetSource | RecordingSource


def open_source(path: str | Path, depth_scale_m: float = 0.001) -> Source:
    """Pick the reader for INPUT: a recording file, a handseg-v1 dataset (manifest.json) or PNG pairs."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "not found")
    if path.is_file():
        if path.suffix.lower() in RECORDING_SUFFIXES:
            return RecordingSource(path)
        raise DataError(path, f"not a recording ({', '.join(RECORDING_SUFFIXES)}) nor a folder")
    if (path / "manifest.json").exists():
        Manifest.load(path)
        return DatasetSource(path)
    return PngPairSource(path, depth_scale_m)
