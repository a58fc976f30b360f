"""Readers of public hand datasets, all yielding handseg.data.format.Sample; auto-detection and conversion."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from handseg.data.readers.base import Reader
from handseg.data.readers.dexycb import DexYCBReader
from handseg.data.readers.eth_amodal import EthAmodalReader
from handseg.data.readers.handseg_bojja import HandSegReader
from handseg.data.readers.handseg_v1 import HandsegV1Reader
from handseg.data.readers.nyu import NYUReader
from handseg.data.readers.rhd import RHDReader
from handseg.errors import ConfigError, DataError

# Detection order matters: the most specific layouts first.
READERS: dict[str, type[Reader]] = {
    cls.name: cls for cls in (HandsegV1Reader, EthAmodalReader, DexYCBReader, RHDReader, HandSegReader, NYUReader)
}


def list_formats() -> list[str]:
    """Names accepted by open_dataset(format=...)."""
    return list(READERS)


def detect_format(path: str | Path) -> str:
    """The format whose layout `path` matches; DataError when none does."""
    root = Path(path)
    if not root.exists():
        raise DataError(root, "not found")
    if not root.is_dir():
        raise DataError(root, "not a folder")
    for name, cls in READERS.items():
        if cls.detect(root):
            return name
    raise DataError(root, f"unknown dataset layout; pass a format ({', '.join(READERS)})")


def open_dataset(path: str | Path, format: str = "auto", **opts: Any) -> Reader:
    """Open a dataset folder with the reader of `format` ("auto" detects it by its layout)."""
    name = detect_format(path) if format == "auto" else format
    if name not in READERS:
        raise ConfigError(f"unknown format {name!r}; choose auto or one of {', '.join(READERS)}")
    cls = READERS[name]
    try:
        inspect.signature(cls).bind(path, **opts)
    except TypeError as exc:
        raise ConfigError(f"format {name!r}: bad option ({exc})") from None
    return cls(path, **opts)


__all__ = [
    "READERS",
    "DexYCBReader",
    "EthAmodalReader",
    "HandSegReader",
    "HandsegV1Reader",
    "NYUReader",
    "RHDReader",
    "Reader",
    "detect_format",
    "list_formats",
    "open_dataset",
]

from handseg.data.readers.convert import convert  # noqa: E402  (convert needs open_dataset defined above)

__all__ += ["convert"]
