"""Annotate every frame of a source into a handseg-v1 dataset with overlays and per-frame diagnostics."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from handseg.annotate.colour_model import load_colour_model
from handseg.annotate.config import AnnotateConfig
from handseg.annotate.pipeline import annotate_frame
from handseg.data.format import DatasetWriter, Intrinsics, Manifest
from handseg.data.sources import Frame, Source
from handseg.errors import DataError
from handseg.utils.io import atomic_write_png, atomic_write_text
from handseg.viz.overlay import depth_gray, overlay_labels, with_legend

DIAGNOSTIC_COLUMNS = (
    "id", "near_m", "plane_px", "band_px", "hand_px", "object_px", "hand_kept", "hand_dropped",
    "object_kept", "object_dropped", "shift_dx", "shift_dy",
    "align_rotation_deg", "align_scale", "ms",
)  # fmt: skip


def render_overlay(color: np.ndarray, depth_m: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Side-by-side picture for review: labels over color | labels over coloured depth."""
    left = overlay_labels(color, label, alpha=0.45)
    right = overlay_labels(depth_gray(depth_m), label, alpha=0.45)
    gap = np.full((color.shape[0], 4, 3), 255, np.uint8)
    return with_legend(np.concatenate([left, gap, right], axis=1), "labels")


class _FrameWriter:
    """Annotates frames and writes their files; one per process."""

    def __init__(self, root: Path, cfg: AnnotateConfig, intrinsics: Intrinsics, overlays: bool) -> None:
        self.root, self.cfg, self.overlays = root, cfg, overlays
        self.depth_scale_m = intrinsics.depth_scale_m
        self.shape = (intrinsics.height, intrinsics.width)
        self.source: Source | None = None

    def __call__(self, frame: Frame) -> dict[str, Any]:
        if frame.color is None:
            raise DataError(frame.id, "frame has no color (auto-annotation needs color)")
        if frame.color.shape[:2] != frame.depth_m.shape:
            raise DataError(frame.id, "color and depth sizes differ (align color to depth first)")
        if frame.depth_m.shape != self.shape:
            raise DataError(frame.id, f"size {frame.depth_m.shape[::-1]} differs from the first frame's")
        start = time.perf_counter()
        result = annotate_frame(frame.depth_m, frame.color, self.cfg, fx=frame.intrinsics.fx)
        elapsed_ms = (time.perf_counter() - start) * 1e3
        raw = np.clip(np.rint(frame.depth_m / self.depth_scale_m), 0, 65535).astype(np.uint16)
        name = f"{frame.id}.png"
        atomic_write_png(self.root / "depth" / name, raw)
        color = result.aligned_color(frame.color)  # color repaired onto the depth grid
        atomic_write_png(self.root / "color" / name, color)
        atomic_write_png(self.root / "label" / name, result.label)
        if self.overlays:
            atomic_write_png(self.root / "overlays" / name, render_overlay(color, frame.depth_m, result.label))
        return {"id": frame.id, **result.diagnostics, "ms": round(elapsed_ms, 2)}


_WORKER: _FrameWriter | None = None


def _init_worker(writer: _FrameWriter) -> None:
    global _WORKER
    _WORKER = writer

    cv2.setNumThreads(1)


def _work(sample_id: str) -> dict[str, Any]:
    """Load and annotate one frame of a random-access source in a worker process."""
    assert _WORKER is not None and _WORKER.source is not None
    return _WORKER(_WORKER.source.load(sample_id))  # type: ignore[union-attr]


def annotate_source(
    source: Source,
    out: str | Path,
    cfg: AnnotateConfig,
    *,
    force: bool = False,
    workers: int = 1,
    overlays: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Annotate every frame of `source` into the handseg-v1 dataset `out`; return a summary."""
    out = Path(out)
    ids = getattr(source, "ids", None)
    first = source.load(ids[0]) if ids else None  # type: ignore[union-attr]
    intr = first.intrinsics if first is not None else None
    if intr is None:  # a recording: peek at the first frame for the camera
        frames_iter = iter(source)
        try:
            first = next(frames_iter)
        except StopIteration:
            raise DataError(getattr(source, "path", None), "recording holds no frames") from None
        intr = first.intrinsics
    manifest = Manifest(
        name=out.name,
        sensor=intr,
        has_color=True,
        has_parts=False,
        extra={"annotation": {"source": str(getattr(source, "root", getattr(source, "path", ""))),
                              "source_kind": source.kind, "config": cfg.to_dict()}},
    )  # fmt: skip
    writer = DatasetWriter(out, manifest, force=force)
    if overlays:
        (out / "overlays").mkdir(exist_ok=True)
    frame_writer = _FrameWriter(out, cfg, intr, overlays)
    if cfg.colour_model:  # keep a copy of the colour model with the parameters, so OUT is self-contained
        load_colour_model(cfg.colour_model).save(out / "annotate.colour.npz")
        cfg = replace(cfg, colour_model=str(out / "annotate.colour.npz"))
        frame_writer.cfg = cfg
    saved = replace(cfg, colour_model="annotate.colour.npz") if cfg.colour_model else cfg
    atomic_write_text(out / "annotate.yaml", saved.dump_yaml(f"handseg annotate parameters used for {out.name}"))
    rows: list[dict[str, Any]] = []
    total = len(ids) if ids else None
    bar = tqdm(total=total, desc="annotate", unit="frame", disable=not progress)
    start = time.perf_counter()
    if ids is not None and workers > 1:
        frame_writer.source = source
        ctx = get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(frame_writer,)) as pool:
            for row in pool.map(_work, ids, chunksize=4):
                rows.append(row)
                bar.update()
    else:
        frames: Iterator[Frame]
        if ids is not None:
            frames = (source.load(i) for i in ids)  # type: ignore[union-attr]
        else:
            frames = _chain(first, frames_iter)  # type: ignore[arg-type]
        for frame in frames:
            rows.append(frame_writer(frame))
            bar.update()
    bar.close()
    seconds = time.perf_counter() - start
    ids_out = [row["id"] for row in rows]
    if len(set(ids_out)) != len(ids_out):
        raise DataError(out, "two frames share an id")
    atomic_write_text(out / "diagnostics.csv", diagnostics_csv(rows))
    writer.finish({})
    return {"frames": len(rows), "seconds": seconds, "out": str(out), "rows": rows}


def _chain(first: Frame, rest: Iterator[Frame]) -> Iterator[Frame]:
    yield first
    yield from rest


def diagnostics_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of the per-frame diagnostics."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=DIAGNOSTIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
