"""Shards of a synthetic run for a cluster: which frames shard K/N holds, and joining N shard folders into one dataset.

Shard K of N holds the frames whose index % N == K (round robin, so every shard gets its share of the validation
frames and of slow scenes). A shard folder is a handseg-v1 dataset of its own frames whose manifest carries the full
run's generator settings and a "shard" entry; merging checks the shards belong together and copies their files,
so the result is byte-identical to the unsharded run into a folder of the same name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from handseg.data.format import SPLITS, DatasetWriter, Manifest, read_split
from handseg.data.synth.generate import _clear_stale
from handseg.errors import ConfigError, DataError
from handseg.utils.io import atomic_open

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """Parse "K/N" (0 <= K < N), e.g. "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT"."""
    match = _SHARD.match(text)
    if not match:
        raise ConfigError(f"bad shard {text!r}: expected K/N, e.g. 0/4")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or index >= count:
        raise ConfigError(f"bad shard {text!r}: need 0 <= K < N")
    return index, count


def shard_frames(frames: int, index: int, count: int) -> range:
    """Frame indices of shard `index` of `count` in a run of `frames` frames."""
    return range(index, frames, count)


def frame_files(sample_id: str, manifest: Manifest) -> list[str]:
    """Paths, relative to the dataset folder, of every file the generator writes for one frame."""
    files = [f"depth/{sample_id}.png", f"label/{sample_id}.png"]
    if manifest.has_color:
        files.append(f"color/{sample_id}.png")
    if manifest.has_parts:
        files += [f"parts/{sample_id}_l.png", f"parts/{sample_id}_r.png"]
        if (manifest.generator or {}).get("visible_parts"):
            files += [f"parts/{sample_id}_l_visible.png", f"parts/{sample_id}_r_visible.png"]
    return [*files, f"scene/{sample_id}.json"]


def _load_shard(root: Path) -> tuple[Manifest, dict[str, Any]]:
    """The manifest and shard entry of a complete shard folder."""
    manifest = Manifest.load(root)
    entry = manifest.extra.get("shard")
    if not isinstance(entry, dict) or manifest.generator is None:
        raise DataError(root, "not a shard of a synthetic run (manifest.json has no shard entry; use --shard K/N)")
    try:
        index, count, frames = int(entry["index"]), int(entry["count"]), int(manifest.generator["frames"])
    except (KeyError, TypeError, ValueError):
        raise DataError(root / "manifest.json", f"bad shard entry {entry!r}") from None
    return manifest, {"index": index, "count": count, "frames": frames}


def _same_run(ref: Manifest, ref_root: Path, other: Manifest, root: Path) -> None:
    """Refuse a shard whose settings differ from the first shard's, naming the first differing field."""
    left = {"sensor": ref.sensor.to_dict(), "has_color": ref.has_color, "has_parts": ref.has_parts}
    right = {"sensor": other.sensor.to_dict(), "has_color": other.has_color, "has_parts": other.has_parts}
    left.update({f"generator.{k}": v for k, v in (ref.generator or {}).items()})
    right.update({f"generator.{k}": v for k, v in (other.generator or {}).items()})
    left["shard count"], right["shard count"] = ref.extra["shard"]["count"], other.extra["shard"]["count"]
    for key in sorted(set(left) | set(right)):
        if left.get(key) != right.get(key):
            raise ConfigError(
                f"{root}: not from the same run as {ref_root} ({key} is {right.get(key)!r}, not {left.get(key)!r})"
            )


def check_shards(shard_dirs: Sequence[str | Path]) -> tuple[Manifest, list[tuple[Path, range]]]:
    """Check the shard folders form one complete run; returns the first manifest and (folder, frames) by shard."""
    if not shard_dirs:
        raise ConfigError("no shard folders to merge")
    by_index: dict[int, Path] = {}
    ref: tuple[Manifest, Path] | None = None
    count = frames = 0
    for shard_dir in shard_dirs:
        root = Path(shard_dir)
        manifest, entry = _load_shard(root)
        if ref is None:
            ref, count, frames = (manifest, root), entry["count"], entry["frames"]
        else:
            _same_run(ref[0], ref[1], manifest, root)
        if not 0 <= entry["index"] < count:
            raise DataError(root / "manifest.json", f"shard {entry['index']}/{count} is out of range")
        if entry["index"] in by_index:
            raise ConfigError(
                f"shard {entry['index']}/{count} given twice: {by_index[entry['index']]} and {root} (duplicate)"
            )
        by_index[entry["index"]] = root
    assert ref is not None
    missing = [f"{k}/{count}" for k in range(count) if k not in by_index]
    if missing:
        raise ConfigError(f"shard(s) {', '.join(missing)} missing: got {len(by_index)} of {count} shards")
    shards = [(by_index[k], shard_frames(frames, k, count)) for k in range(count)]
    for root, indices in shards:
        _check_shard_frames(root, ref[0], indices)
    return ref[0], shards


def _check_shard_frames(root: Path, manifest: Manifest, indices: range) -> None:
    """Every frame of the shard's share is listed in one split and has all its files; no other frame is there."""
    expected = {f"{i:06d}" for i in indices}
    listed: list[str] = []
    for split in SPLITS:
        if (root / "splits" / f"{split}.txt").is_file():
            listed += read_split(root, split)
    if len(listed) != len(set(listed)) or set(listed) != expected:
        stray = sorted(set(listed) - expected)[:3]
        absent = sorted(expected - set(listed))[:3]
        raise DataError(
            root / "splits", f"split lists do not match the shard's frames (extra {stray}, missing {absent})"
        )
    stray = sorted(p.stem for p in (root / "depth").glob("*.png") if p.stem not in expected)
    if stray:
        raise DataError(root / "depth", f"holds frames of another shard or run: {', '.join(stray[:3])}")
    for sample_id in sorted(expected):
        for rel in frame_files(sample_id, manifest):
            if not (root / rel).is_file():
                raise DataError(root / rel, "missing: the shard is incomplete")


def merge_shards(
    out: str | Path, shard_dirs: Sequence[str | Path], *, force: bool = False, progress: bool = True
) -> Path:
    """Join the N shard folders of one synthetic run into a handseg-v1 dataset at `out`, as the unsharded run."""
    manifest, shards = check_shards(shard_dirs)
    out = Path(out)
    resolved = {Path(d).resolve() for d, _ in shards}
    if out.resolve() in resolved or any(out.resolve() in r.parents for r in resolved):
        raise ConfigError(f"{out}: the merged dataset can be neither a shard folder nor a folder holding one")
    merged = Manifest(
        name=out.name,
        sensor=manifest.sensor,
        classes=manifest.classes,
        part_names=manifest.part_names,
        generator=manifest.generator,
        has_color=manifest.has_color,
        has_parts=manifest.has_parts,
        extra={k: v for k, v in manifest.extra.items() if k != "shard"},
    )
    existed = out.is_dir() and any(out.iterdir())
    writer = DatasetWriter(out, merged, force=force)
    if existed:  # --force: drop the frames an earlier dataset left here
        _clear_stale(out)
    (out / "scene").mkdir(exist_ok=True)
    splits: dict[str, list[str]] = {"train": [], "val": []}
    total = sum(len(indices) for _, indices in shards)
    with tqdm(total=total, desc="merge", unit="frame", disable=not progress) as bar:
        for root, indices in shards:
            for split in SPLITS:
                if (root / "splits" / f"{split}.txt").is_file():
                    splits.setdefault(split, []).extend(read_split(root, split))
            for index in indices:
                for rel in frame_files(f"{index:06d}", manifest):
                    with open(root / rel, "rb") as src, atomic_open(out / rel, "wb", durable=False) as dst:
                        dst.write(src.read())
                bar.update()
    writer.finish({split: sorted(ids) for split, ids in splits.items()})
    return out
