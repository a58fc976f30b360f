"""The paper-size DenseAttentionSeg (ResNet-50, OS16, 640x480) on a GPU, as one short prepared run: synthetic data,
a time-boxed bf16 training, training images/s, batch-1 latency per precision, held-out synthetic and real scores.

    python benchmarks/bench_gpu.py --out $OUT --real .device-carry/dexycb --minutes 5      # on the lent GPU
    python benchmarks/bench_gpu.py --out /tmp/g --device cpu --tiny                        # the CPU check (tests)

Steps (each prints its wall time): render `--frames` synthetic frames at `--size` (object types mug and torus only
in the val split) with `--workers` processes; train `--config` (default the paper's Table 2 DenseAttentionSeg,
`configs/table2/dense_attention_seg.yaml`) with bf16 autocast, channels_last, Adam and a warm-up + cosine schedule
over `--steps`, stopped after `--minutes` of training wall time whichever comes first; time batch-1 inference at
640x480 in fp32, bf16 autocast and fp16 weights (median of `--repeats`, CUDA-synchronised); evaluate best.ckpt on
the held-out split (forearm scored and not scored) and on `--real` (test split). The run folder and data live
under `--work`; `--out` gets only the report (gpu.md, gpu.json, curves.png, metrics.csv), which fits what a
device call brings back. Nothing here needs a GPU to run: `--device cpu --tiny` runs every step at toy size.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import hand_object_scores, machine
from handseg.utils.io import atomic_write_json, atomic_write_text

STANDALONE = False  # needs a CUDA GPU (or --device cpu --tiny): `make bench` skips it

ROOT = Path(__file__).resolve().parent.parent
PAPER_CONFIG = ROOT / "configs" / "table2" / "dense_attention_seg.yaml"
# --tiny: every step at toy size (the CPU check of this script; numbers mean nothing)
TINY = {"frames": 12, "size": "64x48", "steps": 6, "batch_size": 2, "repeats": 2, "latency_size": "64x48"}
TINY_MODEL = ["model.backbone=resnet18", "model.backbone_width=8", "model.aspp_channels=8", "model.k=4"]


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


class Steps:
    """Prints each step's start and wall time, and keeps the times for the report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def run(self, name: str, fn: Any) -> Any:
        print(f"[bench_gpu] {name} ...", flush=True)
        start = time.perf_counter()
        result = fn()
        self.seconds[name] = round(time.perf_counter() - start, 1)
        print(f"[bench_gpu] {name}: {self.seconds[name]} s", flush=True)
        return result


def latency(model: Any, in_channels: int, size: tuple[int, int], device: str, repeats: int) -> dict[str, float]:
    """Median batch-1 forward ms in fp32, bf16 autocast (channels_last) and fp16 weights, on `device`."""
    import copy

    import torch

    from handseg.utils.timing import time_fn

    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    x = torch.randn(1, in_channels, size[1], size[0], device=device)
    model = model.to(device).eval()
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    x_last = x.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)

    def bf16() -> Any:
        with autocast:
            return fast(x_last)

    modes: dict[str, Any] = {"fp32": lambda: model(x), "bf16 autocast, channels_last": bf16}
    if device.startswith("cuda"):  # fp16 convolutions are a GPU path; on a CPU they are slower than fp32
        half, x_half = copy.deepcopy(fast).half(), x_last.half()
        modes["fp16 weights, channels_last"] = lambda: half(x_half)
    result = {}
    with torch.inference_mode():
        for name, fn in modes.items():
            result[name] = 1000 * statistics.median(time_fn(fn, repeats, warmup=3, sync=sync))
    return result


def train_speed(run_dir: Path) -> dict[str, float | None]:
    """Median training images/s over the logged steps (validation excluded) and the steps done."""
    from handseg.engine.runlog import read_metrics_csv

    rows = [r for r in read_metrics_csv(run_dir / "metrics.csv") if r.get("kind") == "train"]
    speeds = [r["images_per_s"] for r in rows[1:] if r.get("images_per_s")]  # the first row holds the warm-up
    steps = int(rows[-1]["step"]) if rows else 0
    return {"images_per_s": statistics.median(speeds) if speeds else None, "steps": steps}


def report(result: dict[str, Any]) -> str:
    """gpu.md: what ran, training speed, latency per precision, scores."""
    info, cfg = result["machine"], result["config"]
    lines = [
        "# bench_gpu: the paper-size DenseAttentionSeg on one GPU\n",
        f"Measured with `{result['command']}` on {result['device_name']} (host: {info.get('cpu')}, torch "
        f"{info.get('torch', '-')}; commit {info.get('git_commit', '?')}).\n",
        f"Model: `{cfg['model']['name']}` {cfg['model'].get('backbone')} at {cfg['data']['size'][0]}x"
        f"{cfg['data']['size'][1]}, {result['parameters_m']:.1f} M parameters (fp16 file about "
        f"{result['fp16_mb']:.0f} MB: {'within' if result['fp16_mb'] <= 20 else 'over'} the zoo's 20 MB per file). "
        f"Data: {result['frames']} synthetic frames rendered here ({result['data']}); val = object types training "
        f"never saw. Training: batch {cfg['train']['batch_size']}, bf16 autocast, channels_last, "
        f"{result['train']['steps']} steps in {result['train_minutes']:.1f} min (limit {result['minutes_limit']} "
        f"min or {cfg['train']['max_steps']} steps).\n",
        "| figure | value |",
        "|---|---|",
        f"| training images/s (median over logged steps) | {_fmt(result['train']['images_per_s'])} |",
    ]
    for mode, ms in result["latency_ms"].items():
        lines.append(f"| latency {result['latency_size']} batch 1, {mode} (ms) | {ms:.2f} |")
    for title, values in result["scores"].items():
        lines.append(
            f"| {title}: mean IOU / hand IU / object IU (%) | {values['mean IOU']:.1f} / {values['hand IU']:.1f} "
            f"/ {values['object IU']:.1f} |"
        )
    lines += ["", "Step wall times (s): " + ", ".join(f"{k} {v}" for k, v in result["step_seconds"].items())]
    lines += ["", "![training curves](curves.png)" if result.get("curves") else "", ""]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    """Render, train, time, evaluate; write gpu.md, gpu.json, curves.png and metrics.csv to --out."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="report folder (created; refused if not empty)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/handseg-gpu"), help="data and run folder")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--config", type=Path, default=PAPER_CONFIG, help="training config (default: the paper's)")
    parser.add_argument("--set", action="append", default=[], dest="overrides", help="config override KEY=VALUE")
    parser.add_argument("--frames", type=int, default=3000, help="synthetic frames rendered (default 3000)")
    parser.add_argument("--size", default="640x480", help="frame and model size WIDTHxHEIGHT (default 640x480)")
    parser.add_argument("--steps", type=int, default=3000, help="schedule length in steps (default 3000)")
    parser.add_argument("--minutes", type=float, default=5.0, help="training wall-time limit (default 5)")
    parser.add_argument("--batch-size", type=int, default=16, help="training batch (default 16)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3, the paper's)")
    parser.add_argument("--workers", type=int, default=12, help="render and loader processes (default 12)")
    parser.add_argument("--repeats", type=int, default=50, help="timed forward passes per precision (default 50)")
    parser.add_argument("--real", type=Path, help="a real handseg-v1 set to evaluate on (test split), e.g. DexYCB")
    parser.add_argument("--tiny", action="store_true", help="toy sizes for a CPU check of every step")
    args = parser.parse_args(argv)

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA device here: run on the lent GPU, or pass --device cpu --tiny for the CPU check")
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out}: not empty")
    marker = args.work / ".bench_gpu"  # --work is emptied on each run: only a folder this script made
    if args.work.exists() and any(args.work.iterdir()) and not marker.is_file():
        parser.error(f"{args.work}: not empty and not made by bench_gpu.py; give another --work")
    if args.real is not None and not (args.real / "manifest.json").is_file():
        parser.error(f"{args.real}: not a handseg-v1 dataset folder (no manifest.json)")
    config_path = args.config
    if not config_path.is_file():
        parser.error(f"{config_path}: no such config")
    frames, size, steps, batch, repeats = args.frames, _size(args.size), args.steps, args.batch_size, args.repeats
    latency_size = (640, 480)
    overrides = list(args.overrides)
    if args.tiny:
        frames, size, steps, batch, repeats = (TINY[k] for k in ("frames", "size", "steps", "batch_size", "repeats"))
        size, latency_size = _size(size), _size(TINY["latency_size"])
        overrides = TINY_MODEL + overrides

    from handseg.config import load_config
    from handseg.data.preprocess import input_channels
    from handseg.data.synth import generate_dataset
    from handseg.engine.evaluate import evaluate
    from handseg.engine.train import train
    from handseg.loading import load_model

    steps_timer = Steps()
    data, run_dir = args.work / "data", args.work / "run"
    if args.work.exists():
        shutil.rmtree(args.work)  # this script's scratch folder (checked above)
    args.work.mkdir(parents=True)
    marker.touch()
    steps_timer.run(
        "render data",
        lambda: generate_dataset(
            data, frames, seed=1, size=size, workers=args.workers, val_fraction=0.1, val_objects=("mug", "torus"),
            progress=False,
        ),
    )  # fmt: skip
    accelerator = "cuda" if args.device.startswith("cuda") else "cpu"
    config = load_config(
        config_path,
        [
            f"data.root={data}", "data.synthetic=null", f"data.size=[{size[0]},{size[1]}]",
            f"data.workers={min(args.workers, 8)}", "data.val_max_frames=300",
            f"train.batch_size={batch}", f"train.max_steps={steps}", f"train.val_every_steps={max(steps // 6, 1)}",
            f"train.ckpt_every_steps={max(steps // 6, 1)}", f"train.log_every_steps={min(10, max(steps // 3, 1))}",
            "train.channels_last=true",
            f"runtime.accelerator={accelerator}", "runtime.precision=bf16-mixed",
            f"optim.lr={args.lr}", "schedule.name=cosine", f"schedule.warmup_steps={max(steps // 20, 1)}",
            *overrides,
        ],
    )  # fmt: skip
    limit_s = args.minutes * 60
    result_train = steps_timer.run("train", lambda: train(config, run_dir, stop_after_s=limit_s, progress=False))
    model, loaded_config = load_model(run_dir / "best.ckpt")
    channels = input_channels(loaded_config["data"].get("modality", "depth"))
    parameters = sum(p.numel() for p in model.parameters())
    latency_ms = steps_timer.run("latency", lambda: latency(model, channels, latency_size, args.device, repeats))
    sets = [("held-out synthetic", data, "val", {}), ("held-out synthetic, forearm not scored", data, "val",
            {"ignore_forearm": True})]  # fmt: skip
    if args.real is not None:
        sets.append((f"real ({args.real.name})", args.real, "test", {}))
    found: dict[str, dict[str, float]] = {}
    for title, root, split, keywords in sets:
        metrics = steps_timer.run(
            f"evaluate {title}",
            lambda r=root, s=split, k=keywords: evaluate(run_dir / "best.ckpt", r, split=s, progress=False,
                                                          device=args.device, **k),
        )  # fmt: skip
        found[title] = hand_object_scores(metrics)
    args.out.mkdir(parents=True, exist_ok=True)
    curves = run_dir / "curves.png"
    if curves.is_file():
        shutil.copy(curves, args.out / "curves.png")
    shutil.copy(run_dir / "metrics.csv", args.out / "metrics.csv")
    command = "python benchmarks/bench_gpu.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    result = {
        "command": command,
        "machine": machine(),
        "device_name": torch.cuda.get_device_name(0) if accelerator == "cuda" else "CPU",
        "config": config,
        "frames": frames,
        "data": f"generate_dataset(frames={frames}, seed=1, size={size}, val_fraction=0.1, val_objects=mug,torus)",
        "parameters_m": parameters / 1e6,
        "fp16_mb": parameters * 2 / 1e6,
        "minutes_limit": args.minutes,
        "train_minutes": steps_timer.seconds["train"] / 60,
        "train": train_speed(run_dir),
        "best": {k: v for k, v in result_train.get("best", {}).items() if isinstance(v, int | float)},
        "latency_size": f"{latency_size[0]}x{latency_size[1]}",
        "latency_ms": latency_ms,
        "scores": found,
        "step_seconds": steps_timer.seconds,
        "curves": curves.is_file(),
    }
    atomic_write_json(args.out / "gpu.json", result)
    atomic_write_text(args.out / "gpu.md", report(result))
    print(json.dumps({k: result[k] for k in ("train", "latency_ms", "scores")}, indent=1))
    print(f"wrote {args.out}/ (gpu.md, gpu.json, curves.png, metrics.csv)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
