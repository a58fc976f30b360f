"""Amodal part predictions packed the way the course's test server expects: PNG per hand in an LMDB, then tar.gz.

Format (mirrors the course's own `package_lmdb` + `make_tarfile`, which its evaluation reads):
    test.lmdb/data.mdb, lock.mdb   keys "<key>__l" and "<key>__r"; values are PNG images with 3 equal channels
                                   holding the predicted part id 0..16 of that hand (0 = none)
    test.lmdb/im_path.pt           torch-saved list of "<key>.jpg"
    test.lmdb.tar.gz               the folder, archived under its own name
where <key> is the image path without "./data/InterHand2.6M/images/" and ".jpg" (e.g. "test/Capture0/.../image1").
The course's packer writes the argmax of each hand's 17 channels, so BOTH hands are stored as 0..16: unlike the
ground-truth LMDB, the left hand has no +16 offset. `left_offset=16` writes the ground-truth convention instead;
`read_submission` accepts both (left values above 16 are shifted back).
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from handseg.data.format import NUM_PARTS
from handseg.data.readers.eth_amodal import decode_part_png
from handseg.data.readers.lmdb_io import LmdbStore, load_torch_object, write_lmdb
from handseg.errors import DataError, HandsegError, OutputExistsError
from handseg.utils.io import atomic_open, atomic_torch_save, encode_png

HANDS = ("l", "r")


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key or not key.isascii() or key.endswith(("__l", "__r")):
        raise HandsegError(f"bad submission key {key!r} (non-empty ASCII, not ending in __l/__r)")
    return key


def _encode_hand(part_map: np.ndarray, offset: int, where: str) -> bytes:
    """uint8 HxW part ids 0..16 -> PNG with 3 equal channels (foreground + offset)."""
    part_map = np.asarray(part_map)
    if part_map.ndim != 2 or not np.issubdtype(part_map.dtype, np.integer):
        raise HandsegError(f"{where}: expected an integer HxW part map, got {part_map.dtype} {part_map.shape}")
    if part_map.size and (int(part_map.min()) < 0 or int(part_map.max()) > NUM_PARTS):
        raise HandsegError(f"{where}: part ids must be 0..{NUM_PARTS}")
    values = part_map.astype(np.uint8)
    if offset:
        values = np.where(values > 0, values + offset, 0).astype(np.uint8)
    return encode_png(np.repeat(values[..., None], 3, axis=2))


class SubmissionWriter:
    """Collects per-image predictions and writes the LMDB folder and its tar.gz."""

    def __init__(self, lmdb_path: str | Path, force: bool = False, left_offset: int = 0) -> None:
        self.lmdb_path = Path(lmdb_path)
        self.tar_path = self.lmdb_path.with_name(self.lmdb_path.name + ".tar.gz")
        for path in (self.lmdb_path, self.tar_path):
            if path.exists() and not force:
                raise OutputExistsError(f"{path}: exists; pass --force to overwrite")
        if left_offset not in (0, 16):
            raise HandsegError(f"left_offset must be 0 (course packer) or 16 (ground-truth style), got {left_offset}")
        self.force = force
        self.left_offset = left_offset
        self.items: dict[str, bytes] = {}
        self.keys: list[str] = []

    def add(self, key: str, left: np.ndarray, right: np.ndarray) -> None:
        """Add the predicted part maps (0..16) of both hands of one image."""
        _check_key(key)
        if key in self.keys:
            raise HandsegError(f"duplicate submission key {key!r}")
        if np.shape(left) != np.shape(right):
            raise HandsegError(f"{key}: left and right maps differ in size ({np.shape(left)} vs {np.shape(right)})")
        self.items[f"{key}__l"] = _encode_hand(left, self.left_offset, f"{key}__l")
        self.items[f"{key}__r"] = _encode_hand(right, 0, f"{key}__r")
        self.keys.append(key)

    def finish(self) -> Path:
        """Write the LMDB folder (atomically, via a temp folder) and the tar.gz; return the tar.gz path."""
        if not self.keys:
            raise HandsegError("no predictions to pack")
        self.lmdb_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.lmdb_path.name}.", dir=self.lmdb_path.parent))
        try:
            write_lmdb(tmp, self.items)
            atomic_torch_save([f"{k}.jpg" for k in self.keys], tmp / "im_path.pt")
            if self.lmdb_path.exists():
                shutil.rmtree(self.lmdb_path)
            tmp.rename(self.lmdb_path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        with atomic_open(self.tar_path, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
            tar.add(self.lmdb_path, arcname=self.lmdb_path.name)
        return self.tar_path


def write_submission(
    lmdb_path: str | Path,
    predictions: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]],
    force: bool = False,
    left_offset: int = 0,
) -> Path:
    """Pack {key: 2xHxW part maps (left, right)} into `lmdb_path` and `lmdb_path`.tar.gz; return the tar.gz."""
    writer = SubmissionWriter(lmdb_path, force=force, left_offset=left_offset)
    pairs = predictions.items() if isinstance(predictions, Mapping) else predictions
    for key, maps in pairs:
        if np.ndim(maps) != 3 or np.shape(maps)[0] != 2:
            raise HandsegError(f"{key}: expected 2 x H x W part maps (left, right), got shape {np.shape(maps)}")
        writer.add(key, maps[0], maps[1])
    return writer.finish()


def _extract_lmdb(tar_path: Path, into: Path) -> Path:
    """Copy the data.mdb of an archived LMDB folder (and its im_path.pt) into `into`; no other member is read."""
    try:
        with tarfile.open(tar_path, "r:*") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            data = [name for name in members if Path(name).name == "data.mdb"]
            if len(data) != 1:
                raise DataError(tar_path, f"expected one data.mdb in the archive, found {len(data)}")
            folder = str(Path(data[0]).parent)
            for name in ("data.mdb", "im_path.pt"):
                member = members.get(name if folder == "." else f"{folder}/{name}")
                if member is not None:
                    source = tar.extractfile(member)
                    (into / name).write_bytes(source.read() if source else b"")
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise DataError(tar_path, f"cannot read archive ({type(exc).__name__}: {exc})") from None
    return into


def read_submission(path: str | Path) -> dict[str, np.ndarray]:
    """Read a packed submission (LMDB folder or its tar.gz) -> {key: int64 2xHxW part maps 0..16}."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        folder = _extract_lmdb(path, Path(tmp)) if path.is_file() else path
        store = LmdbStore(folder)
        try:
            keys = store.all_keys()
            order_path = folder / "im_path.pt"
            if order_path.is_file():
                listed = load_torch_object(order_path)
                if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
                    raise DataError(order_path, "expected a list of image paths")
                names = [k[: -len(".jpg")] if k.endswith(".jpg") else k for k in listed]
            else:
                names = sorted({k[:-3] for k in keys if k.endswith(("__l", "__r"))})
            out = {}
            for name in names:
                maps = [decode_part_png(store.get(f"{name}__{h}"), f"{folder}[{name}__{h}]") for h in HANDS]
                if maps[0].shape != maps[1].shape:
                    raise DataError(f"{folder}[{name}]", "left and right maps differ in size")
                out[name] = np.stack(maps).astype(np.int64)
        finally:
            store.close()
    return out
