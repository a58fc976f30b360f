"""Where the experiment configs live (inside the package), and resolving a config given by name or path."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from handseg.errors import ConfigError

# The package's configs/ (a link to the checkout's configs/ in a source tree; copied into the wheel).
PACKAGED_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def configs_dir() -> Path:
    """The configs/ folder: $HANDSEG_CONFIGS when set, else the one inside the installed package."""
    override = os.environ.get("HANDSEG_CONFIGS")
    if override:
        if not (Path(override) / "table2").is_dir():
            raise ConfigError(f"HANDSEG_CONFIGS={override}: not a configs folder (no table2/ in it)")
        return Path(override)
    if (PACKAGED_CONFIGS / "table2").is_dir():
        return PACKAGED_CONFIGS
    raise ConfigError(f"{PACKAGED_CONFIGS}: packaged configs not found (a broken install? set HANDSEG_CONFIGS)")


def config_names() -> list[str]:
    """Every shipped config as a name, e.g. 'table2/dense_attention_seg_cpu' (sorted)."""
    root = configs_dir()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))


def config_path(relative: str) -> Path:
    """A config file under configs/, e.g. 'table2/dense_attention_seg_contour_cpu.yaml'."""
    path = configs_dir() / relative
    if not path.is_file():
        raise ConfigError(f"{path}: config not found")
    return path


def resolve_config(name_or_path: str | Path) -> Path:
    """An existing YAML path as given, else a shipped config by name ('table2/fcn8s_cpu', '.yaml' optional)."""
    given = Path(name_or_path)
    if given.is_file():
        return given
    name = given.as_posix().removesuffix(".yaml").removesuffix(".yml")
    name = name.removeprefix("./").removeprefix("configs/")
    if not given.is_absolute():
        candidate = configs_dir() / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    names = config_names()
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else f" (shipped configs: {configs_dir()})"
    raise ConfigError(f"{name_or_path}: no such config file or shipped config name{hint}")
