"""The handseg-v1 dataset format: manifest, per-frame PNGs, splits; a validating reader and an atomic writer."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

import numpy as np

from handseg.errors import DataError
from handseg.utils.io import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_png,
    atomic_write_text,
    prepare_output_dir,
    read_png,
)

if TYPE_CHECKING:  # typing.NotRequired needs Python 3.11
    from typing_extensions import NotRequired

FORMAT = "handseg-v1"
CLASSES = ("background", "hand", "object")
NUM_CLASSES = len(CLASSES)
IGNORE_INDEX = 255
PART_NAMES = (
    "palm",
    "thumb_1", "thumb_2", "thumb_3",
    "index_1", "index_2", "index_3",
    "middle_1", "middle_2", "middle_3",
    "ring_1", "ring_2", "ring_3",
    "little_1", "little_2", "little_3",
)  # fmt: skip
NUM_PARTS = len(PART_NAMES)
PARTS_PER_HAND = NUM_PARTS + 1  # logit channels of one hand in the amodal task: the parts and "none"
SPLITS = ("train", "val", "test")
HANDS = ("l", "r")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
_LABEL_NOT_ALLOWED = np.ones(256, bool)
_LABEL_NOT_ALLOWED[[0, 1, 2, IGNORE_INDEX]] = False


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera of the depth sensor and the depth unit in metres."""

    width: int = 640
    height: int = 480
    fx: float = 475.0
    fy: float = 475.0
    cx: float = 319.5
    cy: float = 239.5
    depth_scale_m: float = 0.001

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path | None = None) -> Intrinsics:
        """Build from a manifest's sensor entry, naming `source` on a missing or bad field."""
        try:
            values = {name: data[name] for name in cls.__dataclass_fields__}
            intr = cls(
                width=int(values["width"]),
                height=int(values["height"]),
                fx=float(values["fx"]),
                fy=float(values["fy"]),
                cx=float(values["cx"]),
                cy=float(values["cy"]),
                depth_scale_m=float(values["depth_scale_m"]),
            )
        except KeyError as exc:
            raise DataError(source, f"sensor entry lacks {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise DataError(source, f"sensor entry has a non-numeric value ({exc})") from None
        numbers = (intr.fx, intr.fy, intr.cx, intr.cy, intr.depth_scale_m)
        if not all(math.isfinite(v) for v in numbers):
            raise DataError(source, "sensor entry has a value that is not finite (NaN or infinity)")
        if not (0 < intr.width <= 65535 and 0 < intr.height <= 65535) or intr.depth_scale_m <= 0:
            raise DataError(source, "sensor width, height (1..65535) and depth_scale_m must be positive")
        if intr.fx <= 0 or intr.fy <= 0:
            raise DataError(source, "sensor fx and fy must be positive")
        return intr

    def scaled(self, width: int, height: int) -> Intrinsics:
        """Intrinsics of the same camera resampled to another image size."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(
            width, height, self.fx * sx, self.fy * sy,
            (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5, self.depth_scale_m,
        )  # fmt: skip


class Sample(TypedDict):
    """One frame as every reader yields it."""

    id: str
    depth: np.ndarray  # float32 HxW, metres, 0 = missing
    color: np.ndarray | None  # uint8 HxWx3 RGB
    label: np.ndarray | None  # int64 HxW: 0 bg, 1 hand, 2 object, 255 ignore
    parts: np.ndarray | None  # int64 2xHxW (left, right): 0 none, 1..16 parts
    intrinsics: Intrinsics
    # int64 2xHxW: the part of that hand seen at each pixel, 0 elsewhere (parts/<id>_l_visible.png; optional)
    visible_parts: NotRequired[np.ndarray]


class Frame(NamedTuple):
    """One frame to segment or annotate, as every source yields it (handseg.data.sources); unpacks as a 4-tuple."""

    id: str
    depth_m: np.ndarray  # float32 HxW, metres, 0 = missing
    color: np.ndarray | None  # uint8 HxWx3 RGB on the depth grid
    intrinsics: Intrinsics


@dataclass
class Manifest:
    """Contents of manifest.json."""

    name: str
    sensor: Intrinsics = field(default_factory=Intrinsics)
    classes: tuple[str, ...] = CLASSES
    part_names: tuple[str, ...] = PART_NAMES
    generator: dict[str, Any] | None = None
    has_color: bool = True
    has_parts: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        data: dict[str, Any] = {
            "name": self.name,
            "format": FORMAT,
            "sensor": self.sensor.to_dict(),
            "classes": list(self.classes),
            "part_names": list(self.part_names),
            "has_color": self.has_color,
            "has_parts": self.has_parts,
        }
        if self.generator is not None:
            data["generator"] = self.generator
        data.update(self.extra)
        return data

    @classmethod
    def load(cls, root: str | Path) -> Manifest:
        """Read and check `root/manifest.json`."""
        path = Path(root) / "manifest.json"
        if not Path(root).is_dir():
            raise DataError(root, "not a folder")
        if path.exists() and not path.is_file():
            raise DataError(path, "is not a file")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(path, "missing: not a handseg-v1 dataset") from None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise DataError(path, f"not valid JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
        except OSError as exc:
            raise DataError(path, f"cannot read file ({exc.strerror or exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(
                path, f"format is {data.get('format') if isinstance(data, dict) else None!r}, expected {FORMAT!r}"
            )
        known = {"name", "format", "sensor", "classes", "part_names", "generator", "has_color", "has_parts"}
        if not isinstance(data.get("sensor"), dict):
            raise DataError(path, "sensor entry missing or not an object")
        classes = data.get("classes", list(CLASSES))
        if not isinstance(classes, list) or tuple(classes) != CLASSES:
            raise DataError(path, f"classes must be {list(CLASSES)}, got {classes!r}")
        part_names = data.get("part_names", list(PART_NAMES))
        if not isinstance(part_names, list) or len(part_names) != NUM_PARTS:
            raise DataError(path, f"part_names must be a list of {NUM_PARTS} names, got {part_names!r:.80}")
        if not all(isinstance(n, str) for n in part_names):
            raise DataError(path, "part_names must be strings")
        for key in ("has_color", "has_parts"):
            if not isinstance(data.get(key, True), bool):
                raise DataError(path, f"{key} must be true or false, got {data[key]!r}")
        if data.get("generator") is not None and not isinstance(data["generator"], dict):
            raise DataError(path, f"generator must be an object or null, got {data['generator']!r:.80}")
        if not isinstance(data.get("name", ""), str):
            raise DataError(path, f"name must be a string, got {data['name']!r:.80}")
        return cls(
            name=str(data.get("name", Path(root).name)),
            sensor=Intrinsics.from_dict(data["sensor"], path),
            classes=tuple(classes),
            part_names=tuple(part_names),
            generator=data.get("generator"),
            has_color=data.get("has_color", True),
            has_parts=data.get("has_parts", True),
            extra={k: v for k, v in data.items() if k not in known},
        )


def check_sample_id(sample_id: str, source: str | Path | None = None) -> str:
    """Reject ids that are not safe file-name stems."""
    if not _ID_PATTERN.match(sample_id):
        raise DataError(source, f"bad sample id {sample_id!r} (letters, digits, '_', '-', '.' only)")
    return sample_id


def check_depth(depth: np.ndarray, path: str | Path, shape: tuple[int, int] | None = None) -> None:
    """Raise DataError unless `depth` is a uint16 HxW image of the expected shape."""
    if depth.dtype != np.uint16 or depth.ndim != 2:
        raise DataError(path, f"depth must be single-channel uint16, got {depth.dtype} with shape {depth.shape}")
    if shape is not None and depth.shape != shape:
        raise DataError(path, f"size {depth.shape[1]}x{depth.shape[0]} does not match {shape[1]}x{shape[0]}")


def depth_metres(raw: np.ndarray, depth_scale_m: float) -> np.ndarray:
    """float32 metres of raw depth units (0 stays 0 = missing)."""
    return raw.astype(np.float32) * np.float32(depth_scale_m)


def read_depth_png(path: str | Path, depth_scale_m: float, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The one depth-PNG loader: a uint16 HxW PNG (of `shape` when given) as float32 metres, checked."""
    raw = read_png(path)
    check_depth(raw, path, shape)
    return depth_metres(raw, depth_scale_m)


def check_label(label: np.ndarray, path: str | Path, shape: tuple[int, int] | None) -> None:
    """Raise DataError unless `label` is uint8 HxW with values in {0, 1, 2, 255}."""
    if label.dtype != np.uint8 or label.ndim != 2:
        raise DataError(path, f"label must be single-channel uint8, got {label.dtype} with shape {label.shape}")
    if shape is not None and label.shape != shape:
        raise DataError(path, f"size {label.shape[1]}x{label.shape[0]} does not match {shape[1]}x{shape[0]}")
    if label.size and int(label.max()) <= 2:  # the common case, without a per-pixel table lookup
        return
    if _LABEL_NOT_ALLOWED[label].any():
        bad = np.setdiff1d(np.unique(label), np.array([0, 1, 2, IGNORE_INDEX], np.uint8))
        raise DataError(path, f"label values out of range: {bad[:8].tolist()} (allowed 0, 1, 2, 255)")


def check_parts(parts: np.ndarray, path: str | Path, shape: tuple[int, int] | None) -> None:
    """Raise DataError unless `parts` is uint8 HxW with values in 0..16."""
    if parts.dtype != np.uint8 or parts.ndim != 2:
        raise DataError(path, f"part map must be single-channel uint8, got {parts.dtype} with shape {parts.shape}")
    if shape is not None and parts.shape != shape:
        raise DataError(path, f"size {parts.shape[1]}x{parts.shape[0]} does not match {shape[1]}x{shape[0]}")
    if parts.size and int(parts.max()) > NUM_PARTS:
        raise DataError(path, f"part id {int(parts.max())} out of range (0..{NUM_PARTS})")


def scene_json(scene: dict[str, Any]) -> bytes:
    """A frame's scene parameters as compact, key-sorted JSON (half the size of indented JSON, C-encoded)."""
    return (json.dumps(scene, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def read_split(root: str | Path, split: str) -> list[str]:
    """Ids listed in splits/<split>.txt."""
    path = Path(root) / "splits" / f"{split}.txt"
    if not path.is_file():
        raise DataError(path, f"split {split!r} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text (byte {exc.start}); one id a line expected") from None
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror or exc})") from None
    ids = [line.strip() for line in text.splitlines() if line.strip()]
    return [check_sample_id(i, path) for i in ids]


def _files(root: Path, folder: str, pattern: str = "*") -> list[Path]:
    """The files under root/folder matching `pattern`, sorted: digests depend on the files, not the listing order."""
    return sorted(p for p in (root / folder).rglob(pattern) if p.is_file())


def dataset_digest(root: str | Path, folders: tuple[str, ...] = ("depth", "label", "splits")) -> str:
    """sha256 over the relative paths and bytes of a dataset's depth, label and split files (what depth models read)."""
    root = Path(root)
    digest = hashlib.sha256()
    for folder in folders:
        for path in _files(root, folder):
            digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
            digest.update(len(data := path.read_bytes()).to_bytes(8, "little") + data)
    return digest.hexdigest()


def dataset_pixel_digest(root: str | Path, folders: tuple[str, ...] = ("depth", "label")) -> str:
    """sha256 over the relative paths and decoded pixels of a dataset's depth and label PNGs, and its split files.

    Unlike `dataset_digest`, it does not change when another PNG encoder (ISA-L or OpenCV build) wrote the same
    pixels, so two machines' copies of a generated dataset can be told apart by content, not by encoding.
    """
    root = Path(root)
    digest = hashlib.sha256()
    for folder in folders:
        for path in _files(root, folder, "*.png"):
            pixels = np.ascontiguousarray(read_png(path))
            digest.update(f"{path.relative_to(root).as_posix()}\0{pixels.dtype.str}{pixels.shape}\0".encode())
            digest.update(pixels.tobytes())
    for path in _files(root, "splits"):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()


class HandsegDataset:
    """Random access to the frames of a handseg-v1 folder, each returned as a checked Sample."""

    def __init__(
        self,
        root: str | Path,
        split: str | None = "train",
        ids: list[str] | None = None,
        *,
        skip: tuple[str, ...] = (),
    ) -> None:
        bad = set(skip) - {"color", "parts"}
        if bad:
            raise ValueError(f"skip: only color and parts can be skipped, got {sorted(bad)}")
        self.root = Path(root)
        self.skip = frozenset(skip)  # kinds not read (a depth-only segmentation run needs neither: 2.5x faster)
        self.manifest = Manifest.load(self.root)
        self.intrinsics = self.manifest.sensor
        if ids is not None:
            self.ids = [check_sample_id(i) for i in ids]
        elif split is None:
            self.ids = sorted(p.stem for p in (self.root / "depth").glob("*.png"))
        else:
            self.ids = read_split(self.root, split)
        self.split = split

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Sample:
        return self.load(self.ids[index])

    def path(self, kind: str, sample_id: str, hand: str | None = None) -> Path:
        """Path of one file of a frame: kind is depth, color, label or parts."""
        stem = f"{sample_id}_{hand}" if hand else sample_id
        return self.root / kind / f"{stem}.png"

    def load(self, sample_id: str) -> Sample:
        """Read and check every file of one frame."""
        shape = (self.intrinsics.height, self.intrinsics.width)
        depth_path = self.path("depth", sample_id)
        depth = read_depth_png(depth_path, self.intrinsics.depth_scale_m, shape)
        color = None
        color_path = self.path("color", sample_id)
        if "color" not in self.skip and color_path.exists():
            color = read_png(color_path, color=True)
            if color.shape[:2] != shape:
                raise DataError(color_path, f"size {color.shape[1]}x{color.shape[0]} does not match depth")
            if color.dtype != np.uint8:
                raise DataError(color_path, f"color must be 8-bit, got {color.dtype}")
        label = None
        label_path = self.path("label", sample_id)
        if label_path.exists():
            label_raw = read_png(label_path)
            check_label(label_raw, label_path, shape)
            label = label_raw.astype(np.int64)
        parts = None if "parts" in self.skip else self._hand_maps(sample_id, "", shape)
        visible = self._hand_maps(sample_id, "_visible", shape) if parts is not None else None
        sample = Sample(id=sample_id, depth=depth, color=color, label=label, parts=parts, intrinsics=self.intrinsics)
        if visible is not None:  # only datasets that store them (synthetic, --visible-parts or --crop)
            sample["visible_parts"] = visible
        return sample

    def _hand_maps(self, sample_id: str, suffix: str, shape: tuple[int, ...]) -> np.ndarray | None:
        """The left and right part maps parts/<id>_{l,r}<suffix>.png as 2xHxW int64 (None when neither exists)."""
        paths = [self.path("parts", sample_id, f"{hand}{suffix}") for hand in HANDS]
        if not any(p.exists() for p in paths):
            return None
        maps = []
        for path in paths:
            part_map = read_png(path)
            check_parts(part_map, path, shape)
            maps.append(part_map.astype(np.int64))
        return np.stack(maps)

    def scene(self, sample_id: str) -> dict[str, Any] | None:
        """Per-frame scene parameters (synthetic datasets), or None."""
        path = self.root / "scene" / f"{sample_id}.json"
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise DataError(path, f"not valid JSON ({exc})") from None


class DatasetWriter:
    """Writes frames of a handseg-v1 dataset atomically; refuses a non-empty folder without `force`."""

    def __init__(self, root: str | Path, manifest: Manifest, force: bool = False, compression: int = 1) -> None:
        self.root = prepare_output_dir(root, force)
        self.manifest = manifest
        self.compression = compression
        for kind in (
            ("depth", "label", "splits")
            + (("color",) if manifest.has_color else ())
            + (("parts",) if manifest.has_parts else ())
        ):
            (self.root / kind).mkdir(exist_ok=True)

    def write(
        self,
        sample_id: str,
        depth: np.ndarray,
        label: np.ndarray | None = None,
        color: np.ndarray | None = None,
        parts: np.ndarray | None = None,
        scene: dict[str, Any] | None = None,
        *,
        visible_parts: np.ndarray | None = None,
    ) -> None:
        """Write one frame: depth uint16 (sensor units), label uint8, color uint8 RGB, parts and visible parts 2xHxW."""
        check_sample_id(sample_id)
        shape = (self.manifest.sensor.height, self.manifest.sensor.width)
        name = f"{sample_id}.png"
        check_depth(depth, f"depth/{name} (to write)", shape)
        atomic_write_png(self.root / "depth" / name, depth, self.compression)
        if label is not None:
            check_label(label, f"label/{name} (to write)", shape)
            atomic_write_png(self.root / "label" / name, label, self.compression)
        if color is not None:
            if color.dtype != np.uint8 or color.shape != (*shape, 3):
                raise DataError(
                    f"color/{name} (to write)", f"expected uint8 {shape}x3, got {color.dtype} {color.shape}"
                )
            atomic_write_png(self.root / "color" / name, color, self.compression)
        if parts is not None:
            if parts.shape[0] != 2:
                raise DataError(f"parts/{sample_id} (to write)", "expected 2 part maps (left, right)")
            for hand, part_map in zip(HANDS, parts):
                path = self.root / "parts" / f"{sample_id}_{hand}.png"
                check_parts(part_map, f"{path.name} (to write)", shape)
                atomic_write_png(path, part_map, self.compression)
        if visible_parts is not None:
            if parts is None or visible_parts.shape != parts.shape:
                raise DataError(f"parts/{sample_id}_l_visible.png (to write)", "needs part maps of the same shape")
            for hand, part_map in zip(HANDS, visible_parts):
                path = self.root / "parts" / f"{sample_id}_{hand}_visible.png"
                check_parts(part_map, f"{path.name} (to write)", shape)
                atomic_write_png(path, part_map, self.compression)
        if scene is not None:  # a bulk per-frame file like the PNGs: no fsync (the manifest, written last, has one)
            atomic_write_bytes(self.root / "scene" / f"{sample_id}.json", scene_json(scene), durable=False)

    def finish(self, splits: dict[str, list[str]]) -> None:
        """Write the split lists and, last, the manifest (its presence marks a complete dataset)."""
        for split, ids in splits.items():
            if split not in SPLITS:
                raise DataError(None, f"unknown split {split!r} (use {', '.join(SPLITS)})")
            atomic_write_text(self.root / "splits" / f"{split}.txt", "".join(f"{i}\n" for i in ids))
        atomic_write_json(self.root / "manifest.json", self.manifest.to_dict())
