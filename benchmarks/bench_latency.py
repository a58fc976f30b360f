"""Latency of every model at 640x480 batch 1 (PyTorch eager, channels_last, ONNX Runtime side by side, measured
round-robin in one run), and the real-time preset's end-to-end `handseg stream` frames/s at 320x240.

The stream figure runs the real CLI on a RealSense .db3 recording (made with pyrealsense2's software device from
synthetic 640x480 depth+color frames): playback, alignment, resize to 320x240, normalisation, ONNX Runtime, argmax,
and, in a second run, the overlay mp4. Writes benchmarks/results/latency.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import write_results
from handseg.config import load_config
from handseg.export.latency import bench_models, markdown
from handseg.models import build_model, list_models

ROOT = Path(__file__).resolve().parent.parent
PRESET = ROOT / "configs" / "realtime_cpu.yaml"
GOAL_ORT_SPEEDUP = 1.3
GOAL_STREAM_FPS = 25.0


def make_recording(path: Path, frames: int, distinct: int = 8) -> Path:
    """A 640x480 depth+color .db3 of synthetic frames (`distinct` rendered frames, cycled)."""
    from handseg.data.realsense import write_recording
    from handseg.data.synth import render_frame

    rendered = [render_frame(0, i) for i in range(distinct)]
    pairs = ((rendered[i % distinct]["depth"], rendered[i % distinct]["color"]) for i in range(frames))
    return write_recording(path, pairs, rendered[0]["intrinsics"], depth_units=0.001)


def stream_fps(tmp: Path, frames: int) -> dict:
    """End-to-end `handseg stream` of the real-time preset (random weights: speed does not depend on them)."""
    config = load_config(PRESET)
    spec = dict(config["model"])
    model = build_model(spec.pop("name"), **spec).eval()
    ckpt = tmp / "realtime.ckpt"
    torch.save({"model": model.state_dict(), "config": config}, ckpt)
    onnx = tmp / "realtime.onnx"
    handseg = [sys.executable, "-m", "handseg"]
    subprocess.run([*handseg, "export", str(ckpt), "--onnx", str(onnx)], check=True, capture_output=True)
    recording = make_recording(tmp / "rec640.db3", frames)
    results = {"preset": str(PRESET.relative_to(ROOT)), "model": config["model"], "frames": frames}
    runs = {  # tag: (threads, extra options)
        "labels_in_memory": (1, []),
        "labels_in_memory_2_threads": (2, []),
        "overlay_mp4": (1, ["--video", str(tmp / "overlay.mp4")]),
        "label_pngs": (1, ["--labels"]),
    }
    for tag, (run_threads, extra) in runs.items():
        out = tmp / f"out_{tag}"
        command = [*handseg, "stream", str(recording), "--onnx", str(onnx), "--size", "320x240", "--out", str(out)]
        command += ["--threads", str(run_threads), "--no-progress", *extra]
        subprocess.run(command, check=True, capture_output=True, text=True)
        results[tag] = json.loads((out / "stream.json").read_text()) | {"threads": run_threads}
    return results


def main() -> int:
    """Measure and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="all")
    parser.add_argument("--stream-frames", type=int, default=90)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = list_models() if args.models == "all" else args.models.split(",")
    print(f"latency of {len(names)} models at 640x480 ...", flush=True)
    rows = bench_models(names, (640, 480), args.repeats, ("eager", "channels_last", "onnxruntime"), None, args.threads)
    by = {(r["model"], r["mode"]): r["median_ms"] for r in rows}
    speedup = None
    if ("dense_attention_seg", "onnxruntime") in by:
        speedup = by[("dense_attention_seg", "eager")] / by[("dense_attention_seg", "onnxruntime")]
    print("real-time preset stream ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        stream = stream_fps(Path(tmp), args.stream_frames)

    lines = [
        "All models at 640x480, batch 1, fp32, median ms of "
        f"{args.repeats} calls after 2 warm-up calls, {args.threads} threads; eager, channels_last and ONNX Runtime "
        "(CPU) timed round-robin in one run, so load changes hit all three alike. Random weights, default model "
        "options (ResNet-50 encoders). No GPU was available: the CUDA modes of `handseg bench` (fp32, bf16 autocast, "
        "torch.compile, CUDA graphs) were not measured.",
        "",
        markdown(rows),
        "",
    ]
    if speedup is not None:
        verdict = "meets" if speedup >= GOAL_ORT_SPEEDUP else "misses"
        lines.append(
            f"**DenseAttentionSeg: ONNX Runtime is {speedup:.2f}x faster than eager PyTorch** "
            f"(goal >= {GOAL_ORT_SPEEDUP}x: {verdict})."
        )
        lines.append("")
    runs = {
        "labels_in_memory": "none (labels in memory)",
        "labels_in_memory_2_threads": "none (labels in memory)",
        "overlay_mp4": "overlay mp4",
        "label_pngs": "label PNGs",
    }
    fps = {k: stream[k]["fps"] for k in runs}
    best = max(fps["labels_in_memory"], fps["labels_in_memory_2_threads"])
    verdict = "meets" if best >= GOAL_STREAM_FPS else "misses"
    options = ", ".join(f"{k}={v}" for k, v in stream["model"].items() if k != "name")
    lines += [
        f"## Real-time preset (`{stream['preset']}`), `handseg stream` end to end at 320x240",
        "",
        f"Model: `{stream['model']['name']}` {options}."
        f" Source: a 640x480 depth+color .db3 RealSense recording ({stream['frames']} frames, pyrealsense2 software "
        "device), played back (a depth model reads no color), resized to 320x240; ONNX Runtime; frames/s over all "
        "frames after the first. Process CPU time (every thread, the player's included) is the work per frame, "
        "which the machine's load does not change as much as the wall time.",
        "",
        "| outputs | ORT threads | frames/s | read+preprocess (ms) | model+argmax (ms) | write (ms) "
        "| process CPU (ms/frame) |",
        "|---|---|---|---|---|---|---|",
    ]
    for tag, label in runs.items():
        ms, cpu = stream[tag]["ms_per_frame"], stream[tag]["cpu_ms_per_frame"]
        lines.append(
            f"| {label} | {stream[tag]['threads']} | {fps[tag]:.1f} | {ms['read']:.1f} | {ms['model']:.1f} "
            f"| {ms['write']:.1f} | {cpu:.1f} |"
        )
    lines += ["", f"Goal >= {GOAL_STREAM_FPS:.0f} frames/s: {verdict} (best {best:.1f} frames/s)."]
    payload = {"rows": rows, "ort_speedup_dense_attention_seg": speedup, "stream": stream}
    command = f"python benchmarks/bench_latency.py --repeats {args.repeats} --threads {args.threads}"
    write_results("latency", payload, "\n".join(lines), command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
