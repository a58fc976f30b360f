"""The Reader protocol shared by every public-dataset reader, and small checked decoding helpers."""

from __future__ import annotations

import inspect
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from handseg.data.format import HandsegDataset, Intrinsics, Sample, check_sample_id
from handseg.errors import ConfigError, DataError
from handseg.registry import Registry
from handseg.utils.io import decode_png, read_file_bytes

# `handseg --help` imports this module (the CLI's option choices), so it imports only the standard library, numpy
# and handseg modules that --help loads anyway; cv2 is imported inside the functions that use them
# (tests/test_cli.py).

JPEG_START = b"\xff\xd8\xff"
JPEG_END = b"\xff\xd9"
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


class Reader:
    """Random access to the frames of one dataset on disk, each returned as a checked Sample.

    Subclasses set `name`, `intrinsics`, `ids`, the has_* flags and implement `load(sample_id)`, which raises
    DataError (naming the file) on malformed input. Iterating with `skip_bad=True` skips such frames and records
    them in `skipped` (id -> reason); `skip_counts` counts the reasons by kind.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    has_color: bool = False
    has_label: bool = False
    has_parts: bool = False

    def __init__(self, root: str | Path, skip_bad: bool = False) -> None:
        self.root = Path(root)
        if not self.root.exists():
            raise DataError(self.root, "not found")
        self.skip_bad = skip_bad
        self.ids: list[str] = []
        self.intrinsics = Intrinsics()
        self.skipped: dict[str, str] = {}
        self.skip_counts: Counter[str] = Counter()
        self.notes: list[str] = []

    @classmethod
    def detect(cls, root: Path) -> bool:
        """True when `root` looks like a dataset of this format."""
        return False

    def load(self, sample_id: str) -> Sample:
        """Read and check every file of one frame."""
        raise NotImplementedError

    def splits(self) -> dict[str, list[str]]:
        """Ids per split (train/val/test); frames of unknown split go to train."""
        return {"train": list(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Sample:
        return self.load(self.ids[index])

    def __iter__(self) -> Iterator[Sample]:
        for sample_id in self.ids:
            sample = self.try_load(sample_id)
            if sample is not None:
                yield sample

    def try_load(self, sample_id: str) -> Sample | None:
        """Load a frame; with skip_bad, record a malformed one and return None instead of raising."""
        try:
            return self.load(sample_id)
        except DataError as exc:
            if not self.skip_bad:
                raise
            self.record_skip(sample_id, exc)
            return None

    def record_skip(self, sample_id: str, exc: DataError) -> None:
        """Remember a skipped frame and the kind of problem."""
        self.skipped[sample_id] = str(exc)
        self.skip_counts[problem_kind(exc.problem)] += 1

    def info(self) -> dict[str, Any]:
        """What a converted manifest records about the source."""
        return {"format": self.name, "path": str(self.root), "frames": len(self.ids), "notes": list(self.notes)}


def problem_kind(problem: str) -> str:
    """A short category of a DataError problem for counting (first words before any detail)."""
    head = re.split(r"[(:]", problem, maxsplit=1)[0]
    head = re.sub(r"\d+", "N", head).strip()
    return " ".join(head.split()[:6]) or "other"


def safe_id(text: str) -> str:
    """Turn a source key (a relative path, a number) into a handseg-v1 sample id."""
    cleaned = _UNSAFE_ID_CHARS.sub("_", str(text).strip().strip("./")).strip("_")
    return check_sample_id(cleaned or "_")


def unique_safe_id(text: str, taken: set[str] | dict[str, Any]) -> str:
    """safe_id(text), with -2, -3, ... appended when another source name already maps to it ("a b" vs "a_b")."""
    base = safe_id(text)
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def decode_image(data: bytes, path: str | Path, color: bool = False) -> np.ndarray:
    """Decode PNG or JPEG bytes, raising DataError naming `path` when they are not a complete image."""
    import cv2

    if data.startswith(JPEG_START):
        if JPEG_END not in data[-8:]:
            raise DataError(path, "truncated JPEG (no end-of-image marker)")
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR if color else cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DataError(path, "corrupt JPEG (OpenCV cannot decode it)")
        if image.ndim == 3:
            image = np.ascontiguousarray(image[..., 2::-1])
        return image
    try:
        return decode_png(data, path, color=color)
    except DataError as exc:
        if "bad signature" in exc.problem:
            raise DataError(path, "not a PNG or JPEG image (bad signature)") from None
        raise


def read_image_file(path: Path, color: bool = False) -> np.ndarray:
    """Read a PNG/JPEG file with clear errors for missing or unreadable files."""
    return decode_image(read_file_bytes(path), path, color=color)


def check_uint8_rgb(image: np.ndarray, path: str | Path, shape: tuple[int, int] | None) -> np.ndarray:
    """Raise DataError unless `image` is uint8 HxWx3 of the expected shape; return it."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise DataError(path, f"expected an 8-bit RGB image, got {image.dtype} with shape {image.shape}")
    check_shape(image, path, shape)
    return image


def check_single_channel(image: np.ndarray, path: str | Path, dtype: type, shape: tuple[int, int] | None) -> None:
    """Raise DataError unless `image` is single-channel of `dtype` and the expected shape."""
    if image.dtype != dtype or image.ndim != 2:
        name = np.dtype(dtype).name
        raise DataError(path, f"expected single-channel {name}, got {image.dtype} with shape {image.shape}")
    check_shape(image, path, shape)


def check_shape(image: np.ndarray, path: str | Path, shape: tuple[int, int] | None) -> None:
    """Raise DataError when the image's height and width differ from `shape`."""
    if shape is not None and tuple(image.shape[:2]) != tuple(shape):
        raise DataError(path, f"size {image.shape[1]}x{image.shape[0]} does not match {shape[1]}x{shape[0]}")


def check_values(image: np.ndarray, path: str | Path, allowed_max: int, what: str) -> None:
    """Raise DataError when an integer map has values above `allowed_max`."""
    if image.size and int(image.max()) > allowed_max:
        bad = np.unique(image[image > allowed_max])[:8].tolist()
        raise DataError(path, f"{what} values out of range: {bad} (allowed 0..{allowed_max})")


def depth_to_metres(raw: np.ndarray, scale_m: float) -> np.ndarray:
    """Depth in sensor units to float32 metres (0 stays 0 = missing)."""
    return raw.astype(np.float32) * np.float32(scale_m)


def metres_to_raw(depth_m: np.ndarray, scale_m: float) -> np.ndarray:
    """Float metres back to uint16 sensor units (rounded, clipped to the uint16 range)."""
    raw = np.rint(depth_m.astype(np.float64) / scale_m)
    return np.clip(raw, 0, 65535).astype(np.uint16)


# Dataset readers by format name; `priority` orders auto-detection (lower first: the most specific layouts).
READERS: Registry[type[Reader]] = Registry("format", discover=("handseg.data.readers",))


def register_reader(priority: int) -> Any:
    """Class decorator registering a Reader subclass under its `name`, tried by detect_format in `priority` order."""

    def add(cls: type[Reader]) -> type[Reader]:
        READERS.register(cls.name, cls, priority=priority)
        return cls

    return add


def detect_format(path: str | Path) -> str:
    """The format whose layout `path` matches (readers tried by priority); DataError when none does."""
    root = Path(path)
    if not root.exists():
        raise DataError(root, "not found")
    if not root.is_dir():
        raise DataError(root, "not a folder")
    ordered = sorted(READERS.entries(), key=lambda entry: entry.info["priority"])
    for entry in ordered:
        if entry.obj.detect(root):
            return entry.name
    raise DataError(root, f"unknown dataset layout; pass a format ({', '.join(e.name for e in ordered)})")


def open_dataset(path: str | Path, format: str = "auto", **opts: Any) -> Reader:
    """Open a dataset folder with the reader of `format` ("auto" detects it by its layout)."""
    name = detect_format(path) if format == "auto" else format
    if name not in READERS:
        known = ", ".join(e.name for e in sorted(READERS.entries(), key=lambda entry: entry.info["priority"]))
        raise ConfigError(f"unknown format {name!r}; choose auto or one of {known}")
    cls = READERS.get(name)
    try:
        inspect.signature(cls).bind(path, **opts)
    except TypeError as exc:
        raise ConfigError(f"format {name!r}: bad option ({exc})") from None
    return cls(path, **opts)


class ReaderSplit:
    """The frames of one split of a reader, indexable as training and evaluation read them (Sample per index)."""

    def __init__(self, reader: Reader, ids: list[str]) -> None:
        self.reader = reader
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Sample:
        return self.reader.load(self.ids[index])

    def load(self, sample_id: str) -> Sample:
        """Read and check one frame."""
        return self.reader.load(sample_id)


def open_split(root: str | Path, split: str, *, format: str = "auto", skip: tuple[str, ...] = (), **opts: Any) -> Any:
    """The frames of `split` of a dataset in any registered format (`opts`: the reader's options); a handseg-v1
    folder is read directly (`skip`: kinds not read, see HandsegDataset)."""
    root = Path(root)
    if format == "handseg-v1" or (format == "auto" and (root / "manifest.json").is_file()):
        return HandsegDataset(root, split, skip=skip)
    reader = open_dataset(root, format=format, **opts)
    splits = reader.splits()
    if split not in splits:
        raise DataError(root, f"{reader.name} dataset has no split {split!r} (splits: {', '.join(sorted(splits))})")
    return ReaderSplit(reader, list(splits[split]))
