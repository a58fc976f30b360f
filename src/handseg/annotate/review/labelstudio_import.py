"""Bring corrected masks back from Label Studio: its JSON export (brush RLE or polygons) -> handseg-v1 label PNGs.

Label Studio's brush masks are RLE-packed (the bit-packed run-length format of the thi.ng `rle-pack` package that
Label Studio's editor writes): a 32-bit value count, a 5-bit word size - 1, four 4-bit run-length field sizes - 1,
then chunks of one flag bit (1 = one value repeated, 0 = literal values), a 2-bit choice of the length field and
the length - 1, all big-endian bits. The values are the editor's RGBA canvas, row by row; the alpha channel is the
mask. Polygons are points in percent of the image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from handseg.annotate.review.store import ReviewStore, frame_ids
from handseg.errors import DataError, OutputExistsError
from handseg.utils.io import atomic_write_png, read_png

CLASS_VALUES = {"background": 0, "hand": 1, "object": 2}
AUTO_FOLDER = "label_auto"  # the automatic labels a correction replaced, kept for comparison
_RUN_SIZES = (3, 6, 10, 16)  # length-field widths our encoder offers (any four 1..16 are valid)


class _Bits:
    """Big-endian bit reader over a list of bytes."""

    def __init__(self, data: np.ndarray, where: str) -> None:
        self.bits = np.unpackbits(data)
        self.pos, self.where = 0, where

    def read(self, n: int) -> int:
        end = self.pos + n
        if end > self.bits.size:
            raise DataError(self.where, "brush RLE ends early (truncated or not Label Studio's format)")
        value = 0
        for bit in self.bits[self.pos : end].tolist():
            value = (value << 1) | bit
        self.pos = end
        return value


def decode_brush_rle(rle: Any, where: str = "brush") -> np.ndarray:
    """The values (uint8 for word sizes up to 8 bits, else uint32) that a Label Studio brush RLE packs."""
    if not isinstance(rle, list) or not rle or not all(isinstance(v, int) and 0 <= v <= 255 for v in rle):
        raise DataError(where, "brush 'rle' must be a non-empty list of bytes (integers 0..255)")
    bits = _Bits(np.asarray(rle, np.uint8), where)
    count = bits.read(32)
    word = bits.read(5) + 1
    run_sizes = [bits.read(4) + 1 for _ in range(4)]
    if count > 4 * 8192 * 8192:
        raise DataError(where, f"brush RLE claims {count} values (larger than any image)")
    out = np.zeros(count, np.uint8 if word <= 8 else np.uint32)
    i = 0
    while i < count:
        repeated = bits.read(1)
        end = i + 1 + bits.read(run_sizes[bits.read(2)])
        if end > count:
            raise DataError(where, f"brush RLE run passes the end of its {count} values")
        if repeated:
            out[i:end] = bits.read(word)
        else:
            for k in range(i, end):
                out[k] = bits.read(word)
        i = end
    return out


def encode_brush_rle(values: np.ndarray) -> list[int]:
    """Pack 8-bit values the way Label Studio's brush does (repeats as runs, lone values as literal chunks)."""
    values = np.asarray(values, np.uint8).ravel()
    out: list[str] = [format(values.size, "032b"), format(8 - 1, "05b")]
    out += [format(s - 1, "04b") for s in _RUN_SIZES]
    starts = np.flatnonzero(np.diff(values.astype(np.int16), prepend=-1))
    lengths = np.diff(np.append(starts, values.size))
    k = 0
    while k < starts.size:
        if lengths[k] == 1:  # consecutive lone values: one literal chunk
            j = k
            while j < starts.size and lengths[j] == 1 and j - k < 2 ** _RUN_SIZES[-1]:
                j += 1
            out.append("0" + _length_bits(j - k))
            out += [format(int(values[starts[m]]), "08b") for m in range(k, j)]
            k = j
            continue
        left, start = int(lengths[k]), int(starts[k])
        while left:
            n = min(left, 2 ** _RUN_SIZES[-1])
            out.append("1" + _length_bits(n) + format(int(values[start]), "08b"))
            left -= n
        k += 1
    bits = "".join(out)
    bits += "0" * (-len(bits) % 8)
    return [int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)]


def _length_bits(n: int) -> str:
    """The 2-bit field choice and the (n - 1) length field of one chunk."""
    for choice, size in enumerate(_RUN_SIZES):
        if n - 1 < 2**size:
            return format(choice, "02b") + format(n - 1, f"0{size}b")
    raise ValueError(f"run of {n} values is longer than one chunk")


def brush_mask(value: dict[str, Any], width: int, height: int, where: str) -> np.ndarray:
    """The boolean mask of one brushlabels result (alpha >= 128 of the decoded RGBA canvas)."""
    if value.get("format", "rle") != "rle":
        raise DataError(where, f"brush format {value.get('format')!r} is not supported (expected 'rle')")
    values = decode_brush_rle(value.get("rle"), where)
    if values.size != width * height * 4:
        raise DataError(where, f"brush RLE holds {values.size} values; a {width}x{height} RGBA mask has "
                        f"{width * height * 4} (image size differs?)")  # fmt: skip
    return values.reshape(height, width, 4)[..., 3] >= 128


def polygon_mask(value: dict[str, Any], width: int, height: int, where: str) -> np.ndarray:
    """The boolean mask of one polygonlabels result (points in percent of the image, as the export writes them)."""
    points = value.get("points")
    try:
        xy = np.asarray(points, np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise DataError(where, "polygon 'points' must be a list of [x, y] percentages") from None
    if len(xy) < 3 or not np.isfinite(xy).all() or (xy < -0.5).any() or (xy > 100.5).any():
        raise DataError(where, "polygon needs >= 3 points, each in 0..100 percent of the image")
    pixels = np.rint(xy * (width / 100.0, height / 100.0) * 16).astype(np.int32)  # 4 fractional bits
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [pixels], 1, lineType=cv2.LINE_8, shift=4)
    return mask.view(bool)


@dataclass
class Correction:
    """One corrected frame read from the export."""

    frame_id: str
    label: np.ndarray  # uint8 HxW, 0 background, 1 hand, 2 object
    regions: int


def _latest_annotation(task: dict[str, Any]) -> dict[str, Any] | None:
    """The newest annotation that was not cancelled (Label Studio lists every annotator's)."""
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if not annotations:
        return None
    return max(enumerate(annotations), key=lambda ia: (str(ia[1].get("updated_at") or ia[1].get("created_at") or
                                                           ""), ia[0]))[1]  # fmt: skip


def _frame_id(task: dict[str, Any], ids: set[str], where: str) -> str:
    """The handseg frame a task belongs to: data.handseg_id (written by --export-rejected), else the image's stem."""
    data = task.get("data")
    if not isinstance(data, dict):
        raise DataError(where, "task has no 'data' object")
    frame_id = data.get("handseg_id")
    if frame_id is None and isinstance(data.get("image"), str):
        frame_id = Path(data["image"].split("?d=")[-1]).stem
    if not isinstance(frame_id, str) or frame_id not in ids:
        raise DataError(where, f"task names frame {frame_id!r}, which is not in the dataset")
    return frame_id


def read_corrections(root: Path, export: Path) -> tuple[list[Correction], int]:
    """Every corrected frame of a Label Studio JSON export, checked; and how many tasks had no annotation yet."""
    try:
        tasks = json.loads(export.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(export, f"cannot read the Label Studio export ({exc})") from None
    if isinstance(tasks, dict):  # one task
        tasks = [tasks]
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise DataError(export, "expected Label Studio's JSON export: a list of tasks")
    ids = set(frame_ids(root))
    corrections: list[Correction] = []
    seen: dict[str, str] = {}
    pending = 0
    for n, task in enumerate(tasks):
        where = f"{export} task {task.get('id', n)}"
        frame_id = _frame_id(task, ids, where)
        if frame_id in seen:
            raise DataError(where, f"frame {frame_id} is also in {seen[frame_id]}")
        seen[frame_id] = where
        annotation = _latest_annotation(task)
        if annotation is None:
            pending += 1
            continue
        auto = read_png(root / "label" / f"{frame_id}.png")
        height, width = auto.shape
        label = np.zeros((height, width), np.uint8)
        results = annotation.get("result") or []
        if not isinstance(results, list):
            raise DataError(where, "annotation 'result' must be a list")
        regions = 0
        for k, result in enumerate(results):  # later regions are drawn over earlier ones, as in the editor
            spot = f"{where} result {k}"
            if not isinstance(result, dict) or not isinstance(result.get("value"), dict):
                raise DataError(spot, "a result needs a 'value' object")
            kind, value = result.get("type"), result["value"]
            size = (result.get("original_width", width), result.get("original_height", height))
            if size != (width, height):
                raise DataError(spot, f"drawn on a {size[0]}x{size[1]} image; frame {frame_id} is {width}x{height}")
            if kind == "brushlabels":
                mask, names = brush_mask(value, width, height, spot), value.get("brushlabels")
            elif kind == "polygonlabels":
                mask, names = polygon_mask(value, width, height, spot), value.get("polygonlabels")
            else:
                raise DataError(spot, f"result type {kind!r} is not a mask (expected brushlabels or polygonlabels)")
            if not isinstance(names, list) or len(names) != 1 or str(names[0]).lower() not in CLASS_VALUES:
                raise DataError(spot, f"label {names!r}: expected one of {sorted(CLASS_VALUES)}")
            label[mask] = CLASS_VALUES[str(names[0]).lower()]
            regions += 1
        corrections.append(Correction(frame_id, label, regions))
    return corrections, pending


def import_corrected(root: str | Path, export: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Replace the labels of the frames corrected in a Label Studio export; return counts.

    Everything is read and checked before anything is written. The automatic label a correction replaces is kept
    in label_auto/; a frame corrected before (it has one there) is replaced only with `force`. Corrected frames
    are marked accepted in review.json.
    """
    root, export = Path(root), Path(export)
    if not (root / "label").is_dir():
        raise DataError(root, "not an annotated handseg-v1 dataset (no label/ folder)")
    corrections, pending = read_corrections(root, export)
    again = [c.frame_id for c in corrections if (root / AUTO_FOLDER / f"{c.frame_id}.png").exists()]
    if again and not force:
        raise OutputExistsError(f"{root / AUTO_FOLDER}: {', '.join(again[:5])} already corrected by an earlier "
                                "import; pass --force to replace those corrections")  # fmt: skip
    store = ReviewStore(root)
    for c in corrections:
        label_path = root / "label" / f"{c.frame_id}.png"
        auto_path = root / AUTO_FOLDER / f"{c.frame_id}.png"
        if not auto_path.exists():  # keep the first automatic label, never a correction
            auto_path.parent.mkdir(exist_ok=True)
            atomic_write_png(auto_path, read_png(label_path), durable=True)
        atomic_write_png(label_path, c.label, durable=True)
        store.set(c.frame_id, "accept")
    return {"corrected": len(corrections), "not_annotated": pending,
            "regions": sum(c.regions for c in corrections)}  # fmt: skip
