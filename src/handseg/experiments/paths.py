"""Where the experiment configs live: ./configs, or the repository's configs/ beside the installed package."""

from __future__ import annotations

import os
from pathlib import Path

from handseg.errors import ConfigError


def configs_dir() -> Path:
    """The configs/ folder: $HANDSEG_CONFIGS, ./configs, or the source checkout's configs/."""
    candidates = [
        os.environ.get("HANDSEG_CONFIGS"),
        Path.cwd() / "configs",
        Path(__file__).resolve().parents[3] / "configs",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "table2").is_dir():
            return Path(candidate)
    raise ConfigError("configs/ not found: run from the handseg checkout or set HANDSEG_CONFIGS")


def config_path(relative: str) -> Path:
    """A config file under configs/, e.g. 'table2/dense_attention_seg_contour_cpu.yaml'."""
    path = configs_dir() / relative
    if not path.is_file():
        raise ConfigError(f"{path}: config not found")
    return path
