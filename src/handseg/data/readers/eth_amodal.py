"""ETH amodal hand parts (Machine Perception course data, an InterHand2.6M subset): RGB images + amodal part maps.

Layout of the course data folder (`data/InterHand2.6M/`):
    interhand.lmdb/            images (JPEG or PNG) keyed by their path, e.g. "data/InterHand2.6M/images/train/..jpg"
    segm_train_val_mp.lmdb/    part maps keyed "<id>__l" and "<id>__r": PNG, 3 equal channels
    datalist_{train,val}_mp.pt torch-saved lists; entries are dicts (img_path, bbox x/y/w/h, hand_type, capture,
                               cam, frame) or plain ids
    path2id_{train,val}.pt     optional dict: image path (without images/ prefix and .jpg) -> segmentation id
    datalist_stud_test.pt      test list (no part maps)
A simpler layout with plain ids (image key == segmentation id == the list entry) is read too; without any datalist
the ids are the "<id>__l" keys of the part LMDB (all train).

Part values: the course's loader subtracts 16 from the LEFT map's foreground, so left parts are stored as 17..32 and
right parts as 1..16 (its left/right swap for flips confirms: right 1..16, left 17..32). This reader accepts either
range in either map (v > 16 -> v - 16; values above 32 are an error). Frames are cropped to the list's bbox and
resized to `size` x `size` (128 by default: linear for the image, nearest for parts), as the course does in val
mode; entries without a bbox must already be `size` x `size`. No depth: depth is all zeros (missing); no visible
label (label None): use colour input. Intrinsics are a placeholder (InterHand cameras vary per frame).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from handseg.data.format import NUM_PARTS, Intrinsics, Sample
from handseg.data.readers.base import Reader, check_shape, check_uint8_rgb, decode_image, register_reader, safe_id
from handseg.data.readers.lmdb_io import LmdbStore, load_torch_object
from handseg.errors import DataError

# `handseg --help` imports this module (the CLI's option choices), so it imports only the standard library, numpy
# and handseg modules that --help loads anyway; cv2 is imported inside the functions that use them
# (tests/test_cli.py).

LEFT_OFFSET = 16
MAX_BBOX_COORD = 1e5  # pixels; InterHand images are 334x512
_IMAGE_PREFIXES = ("data/InterHand2.6M/images/", "data/InterHand/images/")
_DATALISTS = {"train": "datalist_train_mp.pt", "val": "datalist_val_mp.pt", "test": "datalist_stud_test.pt"}


def decode_part_png(data: bytes | None, where: str) -> np.ndarray:
    """A part map stored as PNG (1 or 3 equal channels, 0..32) -> uint8 HxW with values 0..16."""
    if data is None:
        raise DataError(where, "missing part map")
    image = decode_image(data, where)
    if image.ndim == 3:
        if not (image == image[..., :1]).all():
            raise DataError(where, "part map channels differ (expected 3 equal channels)")
        image = image[..., 0]
    if image.dtype != np.uint8 or image.ndim != 2:
        raise DataError(where, f"part map must be 8-bit, got {image.dtype} with shape {image.shape}")
    if image.size and int(image.max()) > 2 * LEFT_OFFSET:
        raise DataError(where, f"part values out of range: max {int(image.max())} (allowed 0..32)")
    return np.where(image > LEFT_OFFSET, image - LEFT_OFFSET, image).astype(np.uint8)


def crop_to_bbox(image: np.ndarray, bbox: tuple[float, float, float, float], size: int, nearest: bool) -> np.ndarray:
    """Warp the bbox (x, y, w, h) onto a size x size patch (no rotation), zero outside the image."""
    import cv2

    x, y, w, h = bbox
    sx, sy = size / w, size / h
    cx, cy = x + 0.5 * w, y + 0.5 * h
    matrix = np.array([[sx, 0.0, 0.5 * size - sx * cx], [0.0, sy, 0.5 * size - sy * cy]], np.float32)
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(image, matrix, (size, size), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def check_bbox(bbox: tuple[float, float, float, float], shape: tuple[int, int], where: str) -> None:
    """Refuse a bbox (x, y, w, h) that misses the image or is far larger than it (it would crop to black)."""
    x, y, w, h = bbox
    height, width = shape
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise DataError(where, f"bbox {bbox} lies outside the {width}x{height} image")
    if w > 4 * width or h > 4 * height:
        raise DataError(where, f"bbox {bbox} is more than 4 times the {width}x{height} image")


def _strip_image_path(img_path: str) -> str:
    rel = img_path[2:] if img_path.startswith("./") else img_path
    for prefix in _IMAGE_PREFIXES:
        if rel.startswith(prefix):
            rel = rel[len(prefix) :]
            break
    return rel.rsplit(".", 1)[0] if "." in Path(rel).name else rel


def _find_lmdb(root: Path, preferred: tuple[str, ...], want_segm: bool) -> Path | None:
    for name in preferred:
        if (root / name).exists():
            return root / name
    for path in sorted(root.glob("*.lmdb")):
        if ("segm" in path.name) == want_segm and not path.name.startswith("test"):
            return path
    return None


@register_reader(priority=20)
class EthAmodalReader(Reader):
    """Frames of the ETH amodal hand-part data: colour and amodal part maps of both hands."""

    name = "eth-amodal"
    description = "ETH amodal hand parts: images LMDB + part LMDB (<id>__l/<id>__r) + datalist_*_mp.pt"
    has_color = True
    has_parts = True

    def __init__(
        self,
        root: str | Path,
        *,
        skip_bad: bool = False,
        splits: tuple[str, ...] = ("train", "val"),
        size: int = 128,
        images_lmdb: str | None = None,
        segm_lmdb: str | None = None,
    ) -> None:
        super().__init__(root, skip_bad)
        if not self.root.is_dir():
            raise DataError(self.root, "not a folder")
        self.size = int(size)
        self.intrinsics = Intrinsics(self.size, self.size, float(self.size), float(self.size),
                                     (self.size - 1) / 2, (self.size - 1) / 2, 0.001)  # fmt: skip
        images_path = self.root / images_lmdb if images_lmdb else _find_lmdb(self.root, ("interhand.lmdb",), False)
        segm_path = self.root / segm_lmdb if segm_lmdb else _find_lmdb(self.root, ("segm_train_val_mp.lmdb",), True)
        if images_path is None:
            raise DataError(self.root, "no image LMDB (interhand.lmdb or another *.lmdb)")
        self.images = LmdbStore(images_path)
        self.segm = LmdbStore(segm_path) if segm_path is not None else None
        self._entries: dict[str, dict[str, Any]] = {}
        self._split: dict[str, str] = {}
        for split in splits:
            if split not in _DATALISTS:
                raise DataError(self.root, f"unknown split {split!r} (use train, val, test)")
            if (self.root / _DATALISTS[split]).is_file():
                self._read_datalist(split)
        if not self._entries and self.segm is not None:
            for key in sorted(self.segm.all_keys()):
                if key.endswith("__l"):
                    self._add(key[:-3], {"image_key": key[:-3], "segm_key": key[:-3], "bbox": None}, "train")
        if not self._entries:
            raise DataError(self.root, "no frames: no datalist_*_mp.pt and no <id>__l keys in a part LMDB")
        self.ids = list(self._entries)
        self.notes = [
            "no depth (all zeros) and no visible label: use colour input",
            "left part values 17..32 and right 1..16 in the source; both hands stored as 0..16",
            f"frames cropped to the datalist bbox and resized to {self.size}x{self.size}",
            "intrinsics are a placeholder",
        ]

    @classmethod
    def detect(cls, root: Path) -> bool:
        """A *.lmdb folder next to datalist_*.pt files, or a part LMDB named *segm*.lmdb."""
        lmdbs = [p for p in root.glob("*.lmdb") if (p / "data.mdb").is_file()]
        return bool(lmdbs) and (any(root.glob("datalist_*.pt")) or any("segm" in p.name for p in lmdbs))

    def _add(self, sample_id: str, entry: dict[str, Any], split: str) -> None:
        if sample_id in self._entries:
            raise DataError(self.root / _DATALISTS.get(split, ""), f"duplicate frame {sample_id!r}")
        self._entries[sample_id] = entry
        self._split[sample_id] = split

    def _read_datalist(self, split: str) -> None:
        path = self.root / _DATALISTS[split]
        datalist = load_torch_object(path)
        if not isinstance(datalist, (list, tuple)):
            raise DataError(path, f"expected a list of frames, got {type(datalist).__name__}")
        path2id = None
        p2i_path = self.root / f"path2id_{split}.pt"
        if p2i_path.is_file():
            path2id = load_torch_object(p2i_path)
            if not isinstance(path2id, dict):
                raise DataError(p2i_path, f"expected a dict, got {type(path2id).__name__}")
        for index, item in enumerate(datalist):
            try:
                self._read_entry(item, index, split, path, path2id, p2i_path)
            except DataError as exc:  # one bad entry of a list of thousands: skipped and counted with --skip-bad
                if not self.skip_bad:
                    raise
                self.record_skip(f"{path.name}[{index}]", exc)

    def _read_entry(self, item: Any, index: int, split: str, path: Path, path2id: dict | None, p2i_path: Path) -> None:
        """Add one datalist entry (a dict with img_path and bbox, or a plain id)."""
        if isinstance(item, dict):
            img_path = item.get("img_path")
            if not isinstance(img_path, str):
                raise DataError(path, f"entry {index}: no img_path string")
            rel = _strip_image_path(img_path)
            segm_key = rel
            if path2id is not None:
                if rel not in path2id:
                    raise DataError(p2i_path, f"entry {index}: no segmentation id for {rel!r}")
                segm_key = str(path2id[rel])
            entry = {"image_key": img_path[2:] if img_path.startswith("./") else img_path, "segm_key": segm_key,
                     "bbox": self._bbox(item.get("bbox"), path, index)}  # fmt: skip
            self._add(safe_id(rel), entry, split)
        elif isinstance(item, (str, int)) and not isinstance(item, bool):
            self._add(safe_id(str(item)), {"image_key": str(item), "segm_key": str(item), "bbox": None}, split)
        else:
            raise DataError(path, f"entry {index}: a {type(item).__name__}, expected a dict or an id")

    @staticmethod
    def _bbox(value: Any, path: Path, index: int) -> tuple[float, float, float, float] | None:
        if value is None:
            return None
        try:
            box = tuple(float(v) for v in np.asarray(value, dtype=np.float64).reshape(-1))
        except (TypeError, ValueError):
            raise DataError(path, f"entry {index}: bbox is not numeric") from None
        if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[2] <= 0 or box[3] <= 0:
            raise DataError(path, f"entry {index}: bbox must be 4 finite numbers x, y, w > 0, h > 0, got {box}")
        if max(abs(v) for v in box) > MAX_BBOX_COORD:
            raise DataError(path, f"entry {index}: bbox {box} is far outside any image")
        return box  # type: ignore[return-value]

    def load(self, sample_id: str) -> Sample:
        """Colour and amodal part maps of one frame, cropped to size x size."""
        entry = self._entries[sample_id]
        where = f"{self.images.path}[{entry['image_key']}]"
        data = self.images.get(entry["image_key"])
        if data is None:
            raise DataError(where, "missing image")
        image = check_uint8_rgb(decode_image(data, where), where, None)
        maps = None
        if self.segm is not None and self._split[sample_id] != "test":
            maps = []
            for hand in ("l", "r"):
                key = f"{entry['segm_key']}__{hand}"
                part_where = f"{self.segm.path}[{key}]"
                part_map = decode_part_png(self.segm.get(key), part_where)
                check_shape(part_map, part_where, image.shape[:2])
                maps.append(part_map)
        if entry["bbox"] is not None:
            check_bbox(entry["bbox"], image.shape[:2], where)
            image = crop_to_bbox(image, entry["bbox"], self.size, nearest=False)
            maps = None if maps is None else [crop_to_bbox(m, entry["bbox"], self.size, nearest=True) for m in maps]
        else:
            check_shape(image, where, (self.size, self.size))
        parts = None if maps is None else np.stack(maps).astype(np.int64)
        if parts is not None and parts.size and int(parts.max()) > NUM_PARTS:  # pragma: no cover - guarded above
            raise DataError(where, "part id out of range")
        depth = np.zeros((self.size, self.size), np.float32)
        return Sample(id=sample_id, depth=depth, color=image, label=None, parts=parts, intrinsics=self.intrinsics)

    def splits(self) -> dict[str, list[str]]:
        """From the datalist each frame came from."""
        out: dict[str, list[str]] = {}
        for sample_id in self.ids:
            out.setdefault(self._split[sample_id], []).append(sample_id)
        return out
