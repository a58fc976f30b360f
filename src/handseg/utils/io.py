"""Atomic file writes (temp file + rename) and output-folder checks."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from handseg.errors import DataError, HandsegError, OutputExistsError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read_umask() -> int:
    """The process umask (read by setting and restoring it; once, at import, before any worker threads)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _file_mode(path: Path) -> int:
    """Permissions for a new version of `path`: those of the file it replaces, else 0666 less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", durable: bool = True) -> Iterator[Any]:
    """Open a temp file beside `path` and rename it over `path` only if the block succeeds.

    A killed process never leaves a partial file either way; `durable` also fsyncs the data before the rename,
    so the file survives a power loss (checkpoints, manifests), at a few ms per file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode(path))  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, durable: bool = True) -> None:
    """Write bytes to `path` atomically (fsynced first when `durable`)."""
    with atomic_open(path, "wb", durable) as handle:
        handle.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write an object as indented, key-sorted JSON atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def encode_png(image: np.ndarray, compression: int = 1, noisy: bool = False) -> bytes:
    """Encode a uint8/uint16 HxW or HxWx3 (RGB) array as PNG bytes (`noisy`: a camera-like photo, see below)."""
    import cv2

    if image.dtype not in (np.uint8, np.uint16):
        raise HandsegError(f"cannot write {image.dtype} image as PNG (uint8 or uint16 only)")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # RGB -> BGR for OpenCV
    elif image.ndim == 3:
        image = np.ascontiguousarray(image[..., ::-1])
    params = [cv2.IMWRITE_PNG_COMPRESSION, compression]
    if compression <= 3 and hasattr(cv2, "IMWRITE_PNG_FILTER"):  # fast writes: one cheap filter, half the time
        if image.ndim == 2 and image.dtype == np.uint8:  # label maps: runs of equal values, no filter needed
            params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
            params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
        elif noisy:  # sensor noise leaves LZ matching little to find: Huffman codes only, ~30% faster, same size
            params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
            params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]
        else:
            params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]
    ok, buf = cv2.imencode(".png", image, params)
    if not ok:
        raise HandsegError("PNG encoding failed")
    return buf.tobytes()


def atomic_write_png(path: str | Path, image: np.ndarray, compression: int = 1, durable: bool = False) -> None:
    """Write an image as PNG atomically (RGB order for 3-channel images); bulk images skip fsync by default."""
    atomic_write_bytes(path, encode_png(image, compression), durable)


def decode_png(data: bytes, path: str | Path, color: bool = False) -> np.ndarray:
    """Decode PNG bytes, raising DataError naming `path` when they are not a complete PNG."""
    import cv2

    if not data.startswith(PNG_SIGNATURE):
        raise DataError(path, "not a PNG file (bad signature)")
    if b"IEND" not in data[-16:]:
        raise DataError(path, "truncated PNG (no IEND chunk at the end)")
    flags = cv2.IMREAD_COLOR if color else cv2.IMREAD_UNCHANGED
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise DataError(path, "corrupt PNG (OpenCV cannot decode it)")
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    if image.ndim == 3:
        image = np.ascontiguousarray(image[..., ::-1])  # BGR -> RGB
    return image


def read_file_bytes(path: str | Path) -> bytes:
    """The bytes of a file, with a DataError naming it when it is missing or unreadable."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror})") from None


def read_png(path: str | Path, color: bool = False) -> np.ndarray:
    """Read a PNG file as RGB (3-channel) or single-channel array with its stored dtype."""
    return decode_png(read_file_bytes(path), path, color=color)


def prepare_output_dir(path: str | Path, force: bool = False) -> Path:
    """Create an output folder; refuse a non-empty one unless `force`, and check it is writable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise OutputExistsError(f"{path}: exists and is not empty; pass --force to overwrite")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test.", delete=True):
            pass
    except OSError as exc:
        raise HandsegError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    return path


def check_output_dir(path: str | Path, force: bool = False) -> Path:
    """Refuse a file, or a non-empty folder without `force`, at `path`; create nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise OutputExistsError(f"{path}: exists and is not empty; pass --force to overwrite")
    return path


@contextmanager
def staged_output_dir(path: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder of `path`; publish it as `path` only if the block succeeds.

    On failure (or Ctrl-C) the sibling is deleted, so a failed command leaves nothing a retry must --force.
    A new or empty `path` is replaced by one rename; with `force` into a non-empty folder the new files are
    moved over the old ones (other files there are kept).
    """
    path = check_output_dir(path, force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700 folders; give the usual permissions
    except OSError as exc:
        raise HandsegError(f"{path.parent}: cannot write here ({exc.strerror or exc})") from None
    try:
        yield tmp
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        if not path.exists():
            os.replace(tmp, path)
            return
        for src in sorted(tmp.rglob("*")):  # --force into a non-empty folder: move file by file
            dst = path / src.relative_to(tmp)
            if src.is_dir():
                dst.mkdir(parents=True, exist_ok=True)
            else:
                os.replace(src, dst)
        shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_stale_tmp(folder: str | Path) -> list[Path]:
    """Delete `.NAME.XXXX.tmp` files that a killed atomic write left in `folder` (not recursive); return them."""
    removed = []
    for entry in Path(folder).glob(".*.tmp"):
        if entry.is_file() and not entry.is_symlink():
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass  # another process may have renamed it meanwhile
    return removed


def check_can_write_file(path: str | Path, force: bool = False) -> Path:
    """Refuse to overwrite an existing file unless `force`; create its parent folder."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: exists; pass --force to overwrite")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HandsegError(f"{path.parent}: cannot create folder ({exc.strerror or exc})") from None
    return path


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """Save a torch object atomically."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())
