"""Synthetic generator throughput: frames per second at 640x480 with 1 worker, including writing 5 PNGs per frame."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from common import markdown_table, write_results  # benchmarks/ is on sys.path when run as a script

FRAMES = 60
COMMAND = "python benchmarks/bench_synth.py"


def measure(workers: int, frames: int, size: tuple[int, int]) -> dict:
    """Generate `frames` frames into a temporary folder; wall and CPU (this process + children) time."""
    import os

    from handseg.data.synth import generate_dataset

    root = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        generate_dataset(root / "warm", 2, seed=1, size=size, progress=False)  # imports, caches
        before = os.times()
        start = time.perf_counter()
        generate_dataset(root / "ds", frames, seed=0, size=size, workers=workers, progress=False)
        wall = time.perf_counter() - start
        after = os.times()
        cpu = sum(after[i] - before[i] for i in range(4))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "workers": workers,
        "size": f"{size[0]}x{size[1]}",
        "frames": frames,
        "wall_s": wall,
        "fps_wall": frames / wall,
        "cpu_s": cpu,
        "fps_per_core_cpu": frames / cpu,
    }


def stage_times(frames: int = 20) -> dict:
    """CPU milliseconds per frame of each stage at 640x480 (scene sampling, render, sensor, colour, PNG writes)."""
    import cv2
    import numpy as np

    from handseg.data.synth.generate import OBJECT_TYPES, camera, keep_freed_memory
    from handseg.data.synth.render import render_scene
    from handseg.data.synth.scene import sample_scene
    from handseg.data.synth.sensor import color_image, depth_image, shading_normals
    from handseg.utils.io import encode_png

    keep_freed_memory()  # as generate_dataset does in its (single-threaded) workers
    cv2.setNumThreads(1)
    intr = camera(640, 480)
    totals = dict.fromkeys(("scene", "render", "depth", "color", "png"), 0.0)
    for index in range(frames):
        rng = np.random.default_rng([0, index])
        t0 = time.process_time()
        scene = sample_scene(rng, intr, OBJECT_TYPES)
        t1 = time.process_time()
        render = render_scene(scene.prims(), scene.planes, intr)
        t2 = time.process_time()
        normals = shading_normals(render.depth, intr)
        depth, _ = depth_image(render, intr, rng, normals[2])
        t3 = time.process_time()
        color, _ = color_image(render, scene.materials, scene.planes, rng, normals)
        t4 = time.process_time()
        encode_png(color, 1, noisy=True)
        for image in (depth, render.label, render.parts[0], render.parts[1]):
            encode_png(image, 1)
        t5 = time.process_time()
        for key, dt in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            totals[key] += dt
    return {key: 1000 * value / frames for key, value in totals.items()}


def main() -> None:
    rows = [measure(1, FRAMES, (640, 480)), measure(2, FRAMES, (640, 480)), measure(1, FRAMES, (160, 120))]
    stages = stage_times()
    md = markdown_table(rows, ["workers", "size", "frames", "wall_s", "fps_wall", "cpu_s", "fps_per_core_cpu"])
    md += "\n\nCPU milliseconds per 640x480 frame by stage:\n\n"
    md += markdown_table([{k: round(v, 1) for k, v in stages.items()}], list(stages))
    md += (
        "\n\n`fps_per_core_cpu` = frames / CPU seconds of all processes (robust to other load on the machine); "
        "`fps_wall` depends on how busy the machine was (see the load average above). Goal: 25 frames/s per core."
    )
    write_results("synth", {"rows": rows, "stage_ms": stages}, md, COMMAND)


if __name__ == "__main__":
    main()
