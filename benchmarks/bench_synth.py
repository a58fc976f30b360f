"""Synthetic generator throughput at 640x480 including the PNG writes, per stage, with ISA-L and OpenCV PNG encoders."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import markdown_table, write_results  # benchmarks/ is on sys.path when run as a script

FRAMES = 60
ROUNDS = 3
STAGE_FRAMES = 24
COMMAND = "python benchmarks/bench_synth.py"
STAGES = ("scene", "render", "depth_sensor", "color", "png_encode", "write")


@contextmanager
def png_encoder(name: str) -> Iterator[None]:
    """Use the ISA-L encoder ("isal", the default) or OpenCV's ("opencv", as before) in this process."""
    import handseg.utils.io as io

    saved = io._ISAL
    if name == "opencv":
        io._ISAL = None
    try:
        yield
    finally:
        io._ISAL = saved


def measure(workers: int, frames: int, size: tuple[int, int], encoder: str = "isal") -> dict:
    """Generate `frames` frames into a temporary folder; wall and CPU (this process + children) time."""
    from handseg.data.synth import generate_dataset

    root = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        with png_encoder(encoder):
            generate_dataset(root / "warm", 2, seed=1, size=size, progress=False)  # imports, caches
            before = os.times()
            start = time.perf_counter()
            generate_dataset(root / "ds", frames, seed=0, size=size, workers=workers, progress=False)
            wall = time.perf_counter() - start
            after = os.times()
        cpu = sum(after[i] - before[i] for i in range(4))
        mib = sum(p.stat().st_size for p in (root / "ds").rglob("*") if p.is_file()) / 2**20
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "encoder": encoder,
        "workers": workers,
        "size": f"{size[0]}x{size[1]}",
        "frames": frames,
        "wall_s": wall,
        "fps_wall": frames / wall,
        "cpu_s": cpu,
        "fps_per_core_cpu": frames / cpu,
        "kib_per_frame": 1024 * mib / frames,
    }


def stage_times(frames: int = STAGE_FRAMES) -> dict[str, dict[str, float]]:
    """CPU milliseconds per 640x480 frame of each stage; both PNG encoders encode and write every frame (in
    alternating order), so their columns differ only by the encoder."""
    import cv2

    from handseg.data.format import scene_json
    from handseg.data.synth import generate as gen
    from handseg.utils.io import atomic_write_bytes, encode_png

    gen.keep_freed_memory()  # as generate_dataset does in its (single-threaded) workers
    cv2.setNumThreads(1)
    gen.render_frame(0, frames, 640, 480)  # warm-up: first-call costs (imports, caches, the heap) are not a stage's
    shared = dict.fromkeys(STAGES[:4], 0.0)
    own = {enc: {"png_encode": 0.0, "write": 0.0, "kib": 0.0} for enc in ("isal", "opencv")}
    out = Path(tempfile.mkdtemp(prefix="bench_synth_stages_"))
    try:
        for index in range(frames):
            stages: dict[str, float] = {}  # render_frame times its own stages
            frame = gen.render_frame(0, index, 640, 480, timings=stages)
            for key in STAGES[:4]:
                shared[key] += stages[key]
            color, depth, label, parts = frame["color"], frame["depth"], frame["label"], frame["parts"]
            scene_info = frame["scene"]
            for encoder in ("isal", "opencv")[:: 1 if index % 2 else -1]:
                t5 = time.process_time()
                with png_encoder(encoder):
                    pngs = [encode_png(color, 1, noisy=True)]
                    pngs += [encode_png(image, 1) for image in (depth, label, *parts)]
                t6 = time.process_time()
                for name, data in zip(("color", "depth", "label", "parts_l", "parts_r"), pngs):
                    atomic_write_bytes(out / f"{name}.png", data, durable=False)
                atomic_write_bytes(out / "scene.json", scene_json(scene_info), durable=False)
                t7 = time.process_time()
                own[encoder]["png_encode"] += 1000 * (t6 - t5)
                own[encoder]["write"] += 1000 * (t7 - t6)
                own[encoder]["kib"] += sum(len(p) for p in pngs) / 1024
    finally:
        shutil.rmtree(out, ignore_errors=True)
    result = {}
    for encoder, values in own.items():
        row = {key: value / frames for key, value in {**shared, **values}.items()}
        row["total"] = sum(row[key] for key in STAGES)
        row["fps_per_core"] = 1000 / row["total"]
        result[encoder] = row
    return result


def main() -> None:
    # the two encoders alternate, so a change in the machine's load hits both alike
    paired = [measure(1, FRAMES, (640, 480), enc) for _ in range(ROUNDS) for enc in ("opencv", "isal")]
    rows = [*paired, measure(2, FRAMES, (640, 480)), measure(1, FRAMES, (160, 120))]
    stages = stage_times()
    medians = {
        enc: statistics.median(r["fps_per_core_cpu"] for r in paired if r["encoder"] == enc)
        for enc in ("opencv", "isal")
    }
    columns = ["encoder", "workers", "size", "frames", "wall_s", "fps_wall", "cpu_s", "fps_per_core_cpu"]
    md = markdown_table(rows, [*columns, "kib_per_frame"])
    md += (
        f"\n\nMedian frames/s per core at 640x480 with one worker, {ROUNDS} runs each, alternating: "
        f"**ISA-L {medians['isal']:.1f}**, OpenCV {medians['opencv']:.1f} "
        f"(ratio {medians['isal'] / medians['opencv']:.2f}).\n\n"
        f"CPU milliseconds per 640x480 frame by stage ({STAGE_FRAMES} frames; each frame encoded and written with "
        "both encoders, in alternating order; `write` = the five PNG files and the scene JSON through atomic "
        "writes; `fps_per_core` = 1000 / `total`):\n\n"
    )
    md += markdown_table(
        [{"encoder": enc, **{k: round(v, 2) for k, v in row.items()}} for enc, row in stages.items()],
        ["encoder", *STAGES, "total", "fps_per_core", "kib"],
    )
    md += (
        "\n\n`fps_per_core_cpu` = frames / CPU seconds of all processes (robust to other load on the machine, though "
        "a loaded machine still slows each core: caches, memory bandwidth); `fps_wall` depends on how busy the "
        "machine was (see the load average above: other sessions' tests and training shared the two cores). "
        "`kib_per_frame`: the whole dataset on disk per frame; `kib`: the five PNGs. Goal: 30 frames/s per core."
    )
    write_results("synth", {"rows": rows, "median_fps_per_core": medians, "stage_ms": stages}, md, COMMAND)


if __name__ == "__main__":
    main()
