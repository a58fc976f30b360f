"""Convert any readable dataset into a handseg-v1 folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from handseg.data.format import DatasetWriter, Manifest, Sample
from handseg.data.readers.base import metres_to_raw, open_dataset
from handseg.errors import DataError, HandsegError
from handseg.utils.io import check_output_dir, staged_output_dir

# `handseg --help` imports this module (the CLI's option choices), so it imports only the standard library, numpy
# and handseg modules that --help loads anyway; tqdm is imported inside the functions that use them
# (tests/test_cli.py).


def _to_uint8(array: np.ndarray | None) -> np.ndarray | None:
    return None if array is None else array.astype(np.uint8)


def convert(
    src: str | Path,
    dst: str | Path,
    *,
    format: str = "auto",
    force: bool = False,
    skip_bad: bool = False,
    limit: int | None = None,
    progress: bool = True,
    **opts: Any,
) -> dict[str, Any]:
    """Read `src` with the reader of `format` and write it to `dst` as handseg-v1; return counts.

    The stats hold format, frames (in the source), written, skipped, skip_counts (problem -> count),
    skipped_examples (up to 10 "id: reason" lines), splits (split -> frames written) and seconds.
    """
    from tqdm import tqdm

    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise HandsegError(f"{dst}: the output must not be the source folder or inside it")
    if limit is not None and limit < 0:
        raise HandsegError(f"limit must be >= 0, got {limit}")
    start = time.perf_counter()
    check_output_dir(dst, force)  # before reading anything
    reader = open_dataset(src, format, skip_bad=skip_bad, **opts)
    ids = reader.ids if limit is None else reader.ids[:limit]
    manifest = Manifest(
        name=src.name,
        sensor=reader.intrinsics,
        has_color=reader.has_color,
        has_parts=reader.has_parts,
        extra={"source": reader.info()},
    )
    # Written into a temporary sibling and renamed at the end: a failed run leaves no folder behind.
    with staged_output_dir(dst, force) as staging:
        writer = DatasetWriter(staging, manifest, force=True)
        written: list[str] = []
        for sample_id in tqdm(ids, desc=f"convert {reader.name}", unit="frame", disable=not progress):
            sample = reader.try_load(sample_id)
            if sample is None:
                continue
            try:
                _write(writer, sample, reader.intrinsics.depth_scale_m)
            except DataError as exc:
                if not skip_bad:
                    raise
                reader.record_skip(sample_id, exc)
                continue
            written.append(sample_id)
        if ids and not written:
            kinds = "; ".join(f"{count} {kind}" for kind, count in reader.skip_counts.items())
            example = next(iter(reader.skipped.items()), None)
            hint = f" (e.g. {example[0]}: {example[1]})" if example else ""
            raise DataError(src, f"every one of {len(ids)} frames was skipped ({kinds}){hint}; nothing written")
        done = set(written)
        splits = {split: [i for i in split_ids if i in done] for split, split_ids in reader.splits().items()}
        splits = {split: split_ids for split, split_ids in splits.items() if split_ids}
        writer.finish(splits)
    return {
        "format": reader.name,
        "source": str(src),
        "output": str(dst),
        "frames": len(reader.ids),
        "considered": len(ids),
        "written": len(written),
        "skipped": len(reader.skipped),
        "skip_counts": dict(reader.skip_counts),
        "skipped_examples": [f"{k}: {v}" for k, v in list(reader.skipped.items())[:10]],
        "splits": {split: len(split_ids) for split, split_ids in splits.items()},
        "seconds": round(time.perf_counter() - start, 3),
    }


def _write(writer: DatasetWriter, sample: Sample, depth_scale_m: float) -> None:
    """Write one sample, depth converted back to uint16 sensor units."""
    writer.write(
        sample["id"],
        depth=metres_to_raw(sample["depth"], depth_scale_m),
        label=_to_uint8(sample["label"]),
        color=sample["color"],
        parts=_to_uint8(sample["parts"]),
    )
