"""Atomic file writes (temp file + rename) and output-folder checks."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
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
    """Write bytes to `path` atomically (fsynced first when `durable`).

    atomic_open's steps with bare system calls: half the CPU time per file, which counts for the six files of
    every synthetic frame.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp"  # like mkstemp's names
        try:
            fd = os.open(tmp, flags, 0o600)
            break
        except FileExistsError:
            continue
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
    else:
        raise FileExistsError(f"{path.parent}: no free temporary file name")
    try:
        try:
            os.fchmod(fd, _file_mode(path))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write an object as indented, key-sorted JSON atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


# `handseg --help` imports this module (the CLI's option choices), so it imports only the standard library, numpy
# and handseg modules that --help loads anyway; cv2 and torch are imported inside the functions that use them
# (tests/test_cli.py).


def _load_isal() -> Any:
    """ISA-L's zlib (python-isal), or None where it is not installed."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - a dependency; OpenCV's encoder stands in
        return None
    return isal_zlib


_ISAL = _load_isal()
_PNG_COLOR_TYPE = {1: 0, 3: 2, 4: 6}  # grey, RGB, RGBA


def png_encoder(compression: int = 1) -> str:
    """Which encoder encode_png uses at this compression level, with its version (bytes depend on it)."""
    if _ISAL is not None and 1 <= compression <= 3:
        import isal

        return f"isal {isal.__version__} level {compression}"
    import cv2

    return f"opencv {cv2.__version__} level {compression}"


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", _ISAL.crc32(data, _ISAL.crc32(tag)))


def _encode_png_isal(image: np.ndarray, level: int) -> bytes:
    """PNG of a grey, RGB or RGBA uint8/uint16 array: numpy filters rows, ISA-L deflates (3-4x faster than zlib).

    One filter per image type instead of libpng's per-row choice: none for 8-bit grey (label maps: long runs),
    Sub for 16-bit grey (depth: neighbours differ by a few mm), Up for colour; files come out as small as
    OpenCV's at level 1 (measured on synthetic frames in benchmarks/results/synth.md).
    """
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    bits = 16 if image.dtype == np.uint16 else 8
    data = image.astype(">u2", copy=False) if bits == 16 else image  # PNG stores 16-bit samples big-endian
    rows = np.ascontiguousarray(data).view(np.uint8).reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    if channels == 1 and bits == 8:
        filtered[:, 0] = 0  # None
        filtered[:, 1:] = rows
    elif channels == 1:
        filtered[:, 0] = 1  # Sub: each byte minus the same byte of the pixel to its left
        filtered[:, 1:3] = rows[:, :2]
        np.subtract(rows[:, 2:], rows[:, :-2], out=filtered[:, 3:])
    else:
        filtered[:, 0] = 2  # Up: each byte minus the byte above (the first row minus zeros)
        filtered[0, 1:] = rows[0]
        np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    header = struct.pack(">IIBBBBB", width, height, bits, _PNG_COLOR_TYPE[channels], 0, 0, 0)
    idat = _ISAL.compress(filtered, level)
    return PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def encode_png(image: np.ndarray, compression: int = 1, noisy: bool = False) -> bytes:
    """Encode a uint8/uint16 HxW, HxWx3 (RGB) or HxWx4 (RGBA) array as PNG bytes.

    Compression 1-3 use ISA-L (see _encode_png_isal) when python-isal is installed, other levels OpenCV;
    `noisy` (a camera-like photo) picks OpenCV's Huffman-only coding.
    """
    import cv2

    if image.dtype not in (np.uint8, np.uint16):
        raise HandsegError(f"cannot write {image.dtype} image as PNG (uint8 or uint16 only)")
    channels = 1 if image.ndim == 2 else image.shape[2] if image.ndim == 3 else 0
    if _ISAL is not None and 1 <= compression <= 3 and channels in _PNG_COLOR_TYPE and image.size:
        return _encode_png_isal(image, compression)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # RGB -> BGR for OpenCV
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)  # alpha stays last
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
