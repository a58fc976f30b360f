"""Render a synthetic dataset as shards on a Ray cluster (or a local Ray) and merge them (optional extra `cluster`)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from handseg.data.synth.generate import generate_dataset
from handseg.data.synth.shards import merge_shards
from handseg.errors import ConfigError, OutputExistsError


def _render_shard(out: str, frames: int, shard: tuple[int, int], options: dict[str, Any]) -> str:
    """One Ray task: write shard `shard` of the run into `out` (single-threaded, like a generate_dataset worker)."""
    return str(generate_dataset(out, frames, shard=shard, progress=False, force=True, workers=1, **options))


def generate_with_ray(
    out: str | Path,
    frames: int,
    shards: int,
    *,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
    val_fraction: float = 0.25,
    val_objects: Sequence[str] | None = None,
    render_options: dict[str, Any] | None = None,
    work_dir: str | Path | None = None,
    keep_shards: bool = False,
    force: bool = False,
    progress: bool = True,
    address: str | None = None,
    init_options: dict[str, Any] | None = None,
) -> Path:
    """Render `frames` frames as `shards` Ray tasks into `work_dir` (default OUT.shards), merge them into `out`.

    The result is byte-identical to `generate_dataset(out, frames, ...)`. On a cluster, `work_dir` and `out` must be
    on a file system every node sees. Connects to `address` (e.g. "auto") or starts a local Ray with `init_options`
    when Ray is not running yet, and shuts down only a Ray it started.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("generate_with_ray needs Ray: pip install 'handseg[cluster]'") from None

    if not isinstance(shards, int) or shards < 1:
        raise ConfigError(f"shards must be a positive integer, got {shards!r}")
    out = Path(out)
    work = Path(work_dir) if work_dir is not None else out.with_name(out.name + ".shards")
    for path in (out, work):
        if path.is_dir() and any(path.iterdir()) and not force:
            raise OutputExistsError(f"{path}: exists and is not empty; pass force=True to overwrite")
    options = {
        "seed": seed,
        "size": tuple(size),
        "val_fraction": val_fraction,
        "val_objects": list(val_objects) if val_objects else None,
        "render_options": render_options,
    }
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, **(init_options or {}))
    try:
        task = ray.remote(num_cpus=1)(_render_shard)
        refs = [task.remote(str(work / f"shard-{k:04d}"), int(frames), (k, shards), options) for k in range(shards)]
        shard_dirs = ray.get(refs)
    finally:
        if started:
            ray.shutdown()
    merge_shards(out, shard_dirs, force=force, progress=progress)
    if not keep_shards:
        shutil.rmtree(work, ignore_errors=True)
    return out
