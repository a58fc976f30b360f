"""Frames to segment or annotate from every kind of input: one Frame type, one open_source, one safe_id.

open_source(SOURCE) picks the reader by what SOURCE is:

    camera, camera:SERIAL        a live RealSense camera, colour aligned to depth (handseg.data.realsense; stream)
    NAME.bag, NAME.db3           a RealSense recording, colour aligned to depth
    a folder with manifest.json  a handseg-v1 dataset (depth/, optional color/)
    a folder of PNG pairs        INPUT/color/<name>.png + INPUT/depth/<name>.png, or
                                 INPUT/<name>_color.png + INPUT/<name>_depth.png (annotate: colour needed)
    a folder of depth PNGs       uint16 depth only (stream, predict)

Depth PNGs are uint16 in units of the depth scale (0 = missing), read by data.format.read_depth_png; colour is
8-bit RGB on the same pixel grid. A PNG-pair folder may hold INPUT/intrinsics.json (width, height, fx, fy, cx,
cy, depth_scale_m). Sources with known frames have `ids` and `load(id)`; every source iterates Frames.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from handseg.data import realsense
from handseg.data.format import Frame, HandsegDataset, Intrinsics, Manifest, read_depth_png
from handseg.data.realsense import iter_camera
from handseg.errors import DataError
from handseg.utils.io import read_png

__all__ = [
    "CameraSource",
    "DatasetSource",
    "DepthFolderSource",
    "Frame",
    "PngPairSource",
    "RecordingSource",
    "Source",
    "open_source",
    "safe_id",
]

RECORDING_SUFFIXES = (".bag", ".db3")
MAX_FRAME_SIDE = 8192


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
        scale = (self._intrinsics or Intrinsics(depth_scale_m=self.depth_scale_m)).depth_scale_m
        depth = read_depth_png(depth_path, scale)
        color = read_png(color_path, color=True)
        if color.shape[:2] != depth.shape:
            raise DataError(
                color_path, f"size {color.shape[1]}x{color.shape[0]} does not match depth {depth.shape[::-1]}"
            )
        if color.dtype != np.uint8:
            raise DataError(color_path, f"color must be 8-bit, got {color.dtype}")
        h, w = depth.shape
        intr = self._intrinsics or Intrinsics(depth_scale_m=self.depth_scale_m).scaled(w, h)
        if (intr.height, intr.width) != (h, w):
            raise DataError(depth_path, f"size {w}x{h} does not match intrinsics.json ({intr.width}x{intr.height})")
        return Frame(sample_id, depth, color, intr)

    def __iter__(self) -> Iterator[Frame]:
        return (self.load(i) for i in self.ids)


class DatasetSource:
    """The frames (depth/*.png, or one split's) of a handseg-v1 dataset; its labels, if any, are ignored.

    `need_color` (auto-annotation) refuses a dataset without colour images and a frame without its own.
    """

    kind = "handseg-v1"

    def __init__(self, root: Path, *, need_color: bool = True, split: str | None = None) -> None:
        self.root = root
        self.need_color = need_color
        self.dataset = HandsegDataset(root, split=split)
        if need_color and not self.dataset.manifest.has_color and not (root / "color").is_dir():
            raise DataError(root, "dataset has no color images (auto-annotation needs color)")
        self.ids = self.dataset.ids
        if need_color and not self.ids:
            raise DataError(root / "depth", "no frames")

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, sample_id: str) -> Frame:
        """Read one frame (with `need_color`, its colour image is required)."""
        sample = self.dataset.load(sample_id)
        if self.need_color and sample["color"] is None:
            raise DataError(self.dataset.path("color", sample_id), "file not found (auto-annotation needs color)")
        return Frame(sample_id, sample["depth"], sample["color"], sample["intrinsics"])

    def __iter__(self) -> Iterator[Frame]:
        return (self.load(i) for i in self.ids)


class DepthFolderSource:
    """A folder of uint16 depth PNGs, or a handseg-v1 dataset read frame by frame (depth/ + optional color/)."""

    kind = "depth-folder"

    def __init__(self, folder: str | Path, depth_scale_m: float | None = None, with_color: bool = True) -> None:
        folder = Path(folder)
        self.root = folder
        self.shape: tuple[int, int] | None = None
        self.color_dir: Path | None = None
        if (folder / "manifest.json").is_file():
            sensor = Manifest.load(folder).sensor
            self.shape = (sensor.height, sensor.width)  # a dataset's frames all have the manifest's size
            depth_scale_m = depth_scale_m or sensor.depth_scale_m
            depth_dir, self.color_dir = folder / "depth", (folder / "color" if with_color else None)
        else:
            depth_dir = folder
        self.files = {p.stem: p for p in sorted(depth_dir.glob("*.png"))}
        if not self.files:
            raise DataError(depth_dir, "no depth PNG files in this folder")
        self.ids = list(self.files)
        self.depth_scale_m = float(np.float32(depth_scale_m or 0.001))

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, frame_id: str) -> Frame:
        """Read and check one frame (and its colour image, when the folder has one)."""
        path = self.files[frame_id]
        depth = read_depth_png(path, self.depth_scale_m)
        h, w = depth.shape
        if self.shape is not None and depth.shape != self.shape:
            raise DataError(path, f"size {w}x{h} does not match the manifest's {self.shape[1]}x{self.shape[0]}")
        if max(depth.shape) > MAX_FRAME_SIDE:
            raise DataError(path, f"size {w}x{h}: frames larger than {MAX_FRAME_SIDE} px a side")
        color = None
        if self.color_dir is not None and (self.color_dir / path.name).is_file():
            color = read_png(self.color_dir / path.name, color=True)
            if color.shape[:2] != depth.shape:
                raise DataError(self.color_dir / path.name, "colour image size differs from its depth image")
        return Frame(frame_id, depth, color, Intrinsics(w, h, depth_scale_m=self.depth_scale_m))

    def __iter__(self) -> Iterator[Frame]:
        return (self.load(i) for i in self.ids)


class RecordingSource:
    """A RealSense recording (.bag or .db3): colour aligned to depth by the SDK, or depth only (`color=False`)."""

    kind = "realsense"
    ids: list[str] | None = None

    def __init__(self, path: Path, *, color: bool = True, need_color: bool = False) -> None:
        self.path = path
        self.color = color
        self.need_color = need_color
        self._realsense = realsense

    def __len__(self) -> int:
        return 0  # unknown until played back

    def __iter__(self) -> Iterator[Frame]:
        if self.color:
            frames = self._realsense.iter_recording(self.path, align_to="depth")
        else:
            frames = self._realsense.iter_recording(self.path, align_to=None, color=False)
        try:
            for frame_id, depth_m, color, intr in frames:
                if self.need_color and color is None:
                    raise DataError(self.path, "recording has no color stream (auto-annotation needs color)")
                color = None if color is None else np.ascontiguousarray(color)
                yield Frame(safe_id(str(frame_id)), np.asarray(depth_m, np.float32), color, intr)
        finally:
            frames.close()  # stops the player now, not at garbage collection


class CameraSource:
    """A live RealSense camera (the first one, or the one with `serial`); colour aligned to depth unless off."""

    kind = "camera"
    ids: list[str] | None = None

    def __init__(self, serial: str | None = None, *, color: bool = True) -> None:
        self.serial = serial
        self.color = color

    def __len__(self) -> int:
        return 0  # unbounded

    def __iter__(self) -> Iterator[Frame]:
        frames = iter_camera(self.serial, color=self.color)
        try:
            yield from frames
        finally:
            frames.close()


Source = PngPairSource | DatasetSource | DepthFolderSource | RecordingSource | CameraSource


def open_source(
    source: str | Path, depth_scale_m: float | None = None, *, color: bool = True, need_color: bool = False
) -> Any:
    """The Source of 'camera', 'camera:SERIAL', a .bag/.db3 recording, a handseg-v1 dataset or a folder of PNGs.

    `color=False` skips colour entirely (no colour stream, no alignment): what a depth-only model needs.
    `need_color` (auto-annotation: recordings, datasets and PNG pairs, no camera) reads folders as PNG pairs and
    refuses frames without colour; otherwise a folder is a folder of depth PNGs (or a dataset) whose colour
    images, if any, come along.
    """
    path = Path(source)
    if need_color:  # annotation reads files and folders: a camera would never end the dataset
        if not path.exists():
            raise DataError(path, "not found")
        if path.is_file():
            if path.suffix.lower() in RECORDING_SUFFIXES:
                return RecordingSource(path, need_color=True)
            raise DataError(path, f"not a recording ({', '.join(RECORDING_SUFFIXES)}) nor a folder")
        if (path / "manifest.json").exists():
            Manifest.load(path)
            return DatasetSource(path)
        return PngPairSource(path, depth_scale_m or 0.001)
    text = str(source)
    if text == "camera" or text.startswith("camera:"):
        serial = text.split(":", 1)[1] if ":" in text else None
        return CameraSource(serial or None, color=color)
    if path.is_dir():
        return DepthFolderSource(path, depth_scale_m, color)
    if path.suffix.lower() in RECORDING_SUFFIXES:
        return RecordingSource(path, color=color)
    if not path.exists():
        raise DataError(path, "source not found (a folder, a .bag/.db3 recording, 'camera' or 'camera:SERIAL')")
    raise DataError(path, "unsupported source (a folder of depth PNGs, a .bag/.db3 recording, or 'camera')")
