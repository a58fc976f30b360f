"""Inference backends side by side: PyTorch eager, ONNX Runtime, OpenVINO fp32 and OpenVINO bf16 on zoo models.

    nice -n 10 python benchmarks/bench_backends.py --models das-rt,das-r18 --sizes 320x240,640x480 --threads 1,2

Batch-1 latency of each zoo model at each input size (the graph takes any size; 640x480 is the full frame, not
the model's training size) and thread count, the backends called in turn (round-robin, so load changes hit all
alike), median of --repeats calls after 2 warm-up calls each. Then label agreement at the model's own size:
OpenVINO fp32 vs ONNX Runtime, OpenVINO bf16 vs OpenVINO fp32, on synthetic frames (render_frame) and on the
real DexYCB frames (evaluation only: no training, no tuning). Writes benchmarks/results/backends.{md,json}.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import write_results

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("pytorch", "onnxruntime", "openvino", "openvino_bf16")


def _predictors(path: Path, threads: int, bf16: bool) -> dict[str, Any]:
    """ONNX Runtime and OpenVINO (fp32, and bf16 where the CPU has it) predictors of one exported graph."""
    from handseg.export.onnx import OnnxPredictor
    from handseg.export.openvino_backend import OpenVinoPredictor

    out = {
        "onnxruntime": OnnxPredictor(path, threads=threads),
        "openvino": OpenVinoPredictor(path, threads=threads),
    }
    if bf16:
        out["openvino_bf16"] = OpenVinoPredictor(path, threads=threads, precision="bf16")
    return out


def latency(models: dict[str, tuple[Any, Path]], sizes, threads_list, repeats: int, bf16: bool) -> list[dict]:
    """Median ms per (model, size, threads, backend)."""
    import numpy as np
    import torch

    from handseg.export.latency import time_round_robin

    rows = []
    for threads in threads_list:
        torch.set_num_threads(threads)
        for name, (model, path) in models.items():
            predictors = _predictors(path, threads, bf16)
            for width, height in sizes:
                x = np.random.default_rng(0).standard_normal((1, 1, height, width), np.float32)
                xt = torch.from_numpy(x)
                fns = {"pytorch": lambda m=model, xt=xt: m(xt)}
                fns |= {key: (lambda p=p, x=x: p.logits(x)) for key, p in predictors.items()}
                with torch.inference_mode():
                    times = time_round_robin(fns, repeats)
                row: dict[str, Any] = {"model": name, "size": f"{width}x{height}", "threads": threads}
                for key, values in times.items():
                    row[f"{key}_ms"] = round(1000 * statistics.median(values), 2)
                rows.append(row)
                print(row, flush=True)
    return rows


def _frames(count: int, real: Path | None) -> dict[str, list]:
    """Depth frames (metres) to compare labels on: synthetic renders, and the real set's test split if given."""
    from handseg.data.format import HandsegDataset
    from handseg.data.synth import render_frame

    frames = {"synthetic": [render_frame(11, i)["depth"] for i in range(count)]}
    if real is not None:
        dataset = HandsegDataset(real, split="test")
        step = max(1, len(dataset) // count)
        frames["dexycb"] = [dataset.load(i)["depth"] for i in dataset.ids[::step][:count]]
    return frames


def agreement(models: dict[str, tuple[Any, Path]], frames: dict[str, list], threads: int, bf16: bool) -> list[dict]:
    """Share of pixels whose labels agree: OpenVINO fp32 vs ONNX Runtime, OpenVINO bf16 vs fp32 (model's size)."""
    import numpy as np

    from handseg.data.preprocess import make_input
    from handseg.data.transforms import resize_sample
    from handseg.export.predictor import labels_from_logits

    rows = []
    for name, (_, path) in models.items():
        predictors = _predictors(path, threads, bf16)
        size = tuple(predictors["onnxruntime"].config["data"]["size"])
        for source, depths in frames.items():
            counts: dict[str, list[float]] = {}
            fg = []
            for depth in depths:
                resized = resize_sample({"depth": depth}, size)
                x = make_input(resized["depth"], None, "depth")[None]
                labels = {k: labels_from_logits(p.logits(x), "segmentation") for k, p in predictors.items()}
                fg.append(float((labels["onnxruntime"] > 0).mean()))
                pairs = {"openvino_vs_onnxruntime": ("openvino", "onnxruntime")}
                if "openvino_bf16" in labels:
                    pairs["openvino_bf16_vs_fp32"] = ("openvino_bf16", "openvino")
                for key, (a, b) in pairs.items():
                    same = labels[a] == labels[b]
                    either = (labels[a] > 0) | (labels[b] > 0)  # hand or object in either: where labels matter
                    counts.setdefault(key, []).append(float(same.mean()))
                    if either.any():
                        counts.setdefault(f"{key}_fg", []).append(float(same[either].mean()))
            row: dict[str, Any] = {"model": name, "frames": source, "count": len(depths)}
            row["hand_or_object_pixels"] = round(float(np.mean(fg)), 4)
            for key, values in counts.items():
                row[f"{key}_mean"] = round(float(np.mean(values)), 6)
                row[f"{key}_min"] = round(float(np.min(values)), 6)
            rows.append(row)
            print(row, flush=True)
    return rows


def _ratio(row: dict, num: str, den: str) -> str:
    a, b = row.get(f"{num}_ms"), row.get(f"{den}_ms")
    return f"{a / b:.2f}" if a and b else ""


def main(argv: list[str] | None = None) -> int:
    """Measure and write benchmarks/results/backends.{md,json}."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="das-rt,das-r18", help="comma-separated zoo model names")
    parser.add_argument("--sizes", default="320x240,640x480")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--agree-frames", type=int, default=16, help="frames per source for the label agreement")
    parser.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "realdata" / "dexycb")
    parser.add_argument("--name", default="backends", help="results file name: benchmarks/results/NAME.{md,json}")
    parser.add_argument("--note", default="", help="a sentence on the conditions, written into the result file")
    args = parser.parse_args(argv)

    import torch

    from handseg import __version__
    from handseg.commands.options import parse_size
    from handseg.export.onnx import export_onnx
    from handseg.export.openvino_backend import cpu_has_bf16, import_openvino
    from handseg.zoo import load_pretrained

    ov = import_openvino()
    bf16 = cpu_has_bf16()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    threads_list = [int(t) for t in args.threads.split(",")]
    real = args.real if args.real.is_dir() else None
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as tmp:
        models = {}
        for name in names:
            model, config, _ = load_pretrained(name)
            path = Path(tmp) / f"{name}.onnx"
            export_onnx(model, path, 1, config=config)
            models[name] = (model.eval(), path)
        rows = latency(models, sizes, threads_list, args.repeats, bf16)
        agree = agreement(models, _frames(args.agree_frames, real), max(threads_list), bf16)
    load_end = os.getloadavg()[0]

    columns = [b for b in BACKENDS if any(f"{b}_ms" in r for r in rows)]
    lines = [
        "Batch-1 latency of the zoo models on the CPU, each backend called in turn (round-robin) so that load changes "
        f"hit all alike; median of {args.repeats} calls after 2 warm-up calls. Inputs are random N(0,1) arrays of the "
        "given size (the graphs take any size: 640x480 is the full frame, both models were trained at 320x240). "
        f"PyTorch eager fp32; ONNX Runtime CPU fp32; OpenVINO {ov.__version__} CPU fp32 and bf16 "
        f"(INFERENCE_PRECISION_HINT; this CPU {'has' if bf16 else 'lacks'} native bf16), each statically compiled "
        "for the input shape, PERFORMANCE_HINT=LATENCY. handseg " + __version__ + ".",
        "",
    ]
    lines += [f"1-min load average at the start {load_start:.1f}, at the end {load_end:.1f} (2 logical cores).", ""]
    if args.note:
        lines += [f"**Conditions:** {args.note}", ""]
    header = ["model", "size", "threads", *[f"{c} (ms)" for c in columns]]
    header += ["PyTorch / ORT", "OpenVINO fp32 / ORT"] + (["OpenVINO bf16 / ORT"] if bf16 else [])
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["model"], r["size"], str(r["threads"]), *[f"{r[f'{c}_ms']:.1f}" for c in columns]]
        cells += [_ratio(r, "pytorch", "onnxruntime"), _ratio(r, "openvino", "onnxruntime")]
        if bf16:
            cells.append(_ratio(r, "openvino_bf16", "onnxruntime"))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Ratios are time / ONNX Runtime time in the same round (below 1: faster than ONNX Runtime).",
        "",
        "## Label agreement (share of pixels with the same label, at the model's own size)",
        "",
        "Frames resized to the model's training size as `handseg predict` does; `synthetic`: render_frame(11, i); "
        "`dexycb`: the real D415 frames of ../shared/realdata/dexycb (test split, evaluation only). Columns `_fg`: "
        "the same share over only the pixels that either labelling calls hand or object; mean and minimum over "
        "the frames.",
        "",
    ]
    keys = [k for k in ("openvino_vs_onnxruntime", "openvino_bf16_vs_fp32") if any(f"{k}_mean" in a for a in agree)]
    keys = [x for k in keys for x in (k, f"{k}_fg")]
    head = ["model", "frames", "n", "hand+object px", *[f"{k} mean / min" for k in keys]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a in agree:
        cells = [a["model"], a["frames"], str(a["count"]), f"{100 * a['hand_or_object_pixels']:.1f} %"]
        cells += [f"{100 * a[f'{k}_mean']:.3f} % / {100 * a[f'{k}_min']:.3f} %" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    payload = {"rows": rows, "agreement": agree, "openvino": ov.__version__, "cpu_bf16": bf16, "note": args.note}
    payload["load_average_1min"] = {"start": load_start, "end": load_end}
    payload["torch_threads_default"] = torch.get_num_threads()
    command = (
        f"nice -n 10 python benchmarks/bench_backends.py --models {args.models} --sizes {args.sizes} "
        f"--threads {args.threads} --repeats {args.repeats} --agree-frames {args.agree_frames}"
        + (f" --name {args.name}" if args.name != "backends" else "")
    )
    write_results(args.name, payload, "\n".join(lines), command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
