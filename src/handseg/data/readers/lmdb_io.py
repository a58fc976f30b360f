"""Read-only LMDB access and safe torch-list loading, with every failure turned into a DataError."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import numpy as np

from handseg.errors import DataError

# `handseg --help` imports this module (the CLI's option choices), so it imports only the standard library, numpy
# and handseg modules that --help loads anyway; lmdb and torch are imported inside the functions that use them
# (tests/test_cli.py).

try:
    from numpy._core import multiarray
except ImportError:  # numpy < 2
    from numpy.core import multiarray  # type: ignore[no-redef]


class _SharedEnv:
    """One open LMDB environment per path (py-lmdb refuses to open a path twice); closed when unreferenced."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def __del__(self) -> None:
        try:
            self.env.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


_OPEN_ENVS: weakref.WeakValueDictionary[str, _SharedEnv] = weakref.WeakValueDictionary()


def _check_size(env: Any, path: Path) -> None:
    """Refuse a data file shorter than the pages its meta page says are in use.

    Reading a page beyond the end of a memory-mapped file kills the process with SIGBUS (no Python exception),
    so a truncated LMDB (an interrupted copy or download) must be caught before any page is read.
    """
    import lmdb

    data_file = path / "data.mdb" if path.is_dir() else path
    try:
        pages = env.info()["last_pgno"] + 1
        needed = pages * env.stat()["psize"]
    except lmdb.Error as exc:
        raise DataError(path, f"cannot read the LMDB header ({exc})") from None
    size = data_file.stat().st_size
    if size < needed:
        raise DataError(
            data_file, f"truncated LMDB: {size} bytes, but its header says {pages} pages ({needed} bytes) are in use"
        )


class LmdbStore:
    """A read-only LMDB environment (folder with data.mdb, or a single file) giving bytes by string key."""

    def __init__(self, path: str | Path) -> None:
        import lmdb

        self.path = Path(path)
        if not self.path.exists():
            raise DataError(self.path, "LMDB not found")
        if self.path.is_dir() and not (self.path / "data.mdb").is_file():
            raise DataError(self.path, "LMDB folder has no data.mdb")
        key = str(self.path.resolve())
        shared = _OPEN_ENVS.get(key)
        if shared is None:
            try:
                env = lmdb.open(
                    key, subdir=self.path.is_dir(), readonly=True, lock=False, readahead=False, meminit=False
                )
            except lmdb.Error as exc:
                raise DataError(self.path, f"cannot open LMDB ({exc})") from None
            try:
                _check_size(env, self.path)
            except BaseException:
                env.close()
                raise
            shared = _SharedEnv(env)
            _OPEN_ENVS[key] = shared
        self._shared: _SharedEnv | None = shared

    @property
    def env(self) -> Any:
        """The open lmdb.Environment."""
        if self._shared is None:
            raise DataError(self.path, "LMDB already closed")
        return self._shared.env

    def get(self, key: str) -> bytes | None:
        """The value stored under `key`, or None."""
        import lmdb

        try:
            encoded = key.encode("ascii")
        except UnicodeEncodeError:
            raise DataError(self.path, f"key {key!r} is not ASCII") from None
        try:
            with self.env.begin(write=False) as txn:
                value = txn.get(encoded)
        except lmdb.Error as exc:
            raise DataError(self.path, f"cannot read key {key!r} ({exc})") from None
        return None if value is None else bytes(value)

    def all_keys(self) -> list[str]:
        """Every key, decoded as ASCII (undecodable keys are skipped)."""
        import lmdb

        out = []
        try:
            with self.env.begin(write=False) as txn:
                for key in txn.cursor().iternext(keys=True, values=False):
                    try:
                        out.append(bytes(key).decode("ascii"))
                    except UnicodeDecodeError:
                        continue
        except lmdb.Error as exc:
            raise DataError(self.path, f"cannot list keys ({exc})") from None
        return out

    def close(self) -> None:
        """Release this store's reference (the environment closes when no store uses it)."""
        self._shared = None


def write_lmdb(path: str | Path, items: dict[str, bytes], map_size: int | None = None) -> None:
    """Write key -> bytes pairs into a new LMDB folder at `path` (one transaction)."""
    import lmdb

    total = sum(len(v) for v in items.values())
    env = lmdb.open(str(path), map_size=map_size or max(1 << 20, 4 * total + (1 << 20)), subdir=True)
    try:
        with env.begin(write=True) as txn:
            for key, value in items.items():
                txn.put(key.encode("ascii"), value)
        env.sync()
    finally:
        env.close()


def _numpy_safe_globals() -> list[Any]:
    """Numpy reconstruction functions and dtype classes that torch's weights_only unpickler may accept."""
    allowed: list[Any] = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    allowed += [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")]
    return allowed


def load_torch_object(path: str | Path) -> Any:
    """torch.load with weights_only=True (plus numpy arrays), mapping every failure to DataError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or unsafe files
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DataError(path, f"cannot load torch file ({type(exc).__name__}: {detail})") from None
