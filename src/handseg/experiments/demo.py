"""The end-to-end demo: synthesize, train DenseAttentionSeg, contour fine-tune, evaluate, export, report."""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handseg.config import apply_overrides, load_config
from handseg.data.format import HandsegDataset
from handseg.data.synth import generate_dataset
from handseg.data.torch_dataset import SegmentationDataset
from handseg.engine.evaluate import evaluate
from handseg.engine.report import _render, predict_sample
from handseg.engine.train import train
from handseg.experiments.demo_report import write_demo_report
from handseg.experiments.figures import attention_figure, contour_figure
from handseg.experiments.paths import config_path
from handseg.experiments.showcase import amodal_showcase, showcase
from handseg.export.onnx import OnnxPredictor, export_onnx
from handseg.loading import load_model
from handseg.utils.io import atomic_write_json, atomic_write_png, prepare_output_dir
from handseg.utils.timing import median_ms
from handseg.zoo.store import find_model

DEMO_CONFIG = "table2/dense_attention_seg_contour_cpu.yaml"


@dataclass
class DemoSettings:
    """How big the demo is; the defaults fit in about 15 minutes on 2 CPU cores."""

    frames: int = 240
    size: tuple[int, int] = (160, 120)
    steps: int = 600
    finetune_steps: int = 150
    latency_size: tuple[int, int] = (640, 480)
    eval_latency: bool = True
    seed: int = 0
    device: str = "cpu"  # where training and evaluation run (cpu or cuda)
    zoo_model: str | None = "refinenet-160"  # the shipped model the demo shows first (None: skip that step)
    zoo_frames: int = 8  # fresh synthetic frames it segments
    zoo_size: tuple[int, int] = (640, 480)
    real: str | None = None  # a real handseg-v1 dataset (its test split) the shipped model also segments
    amodal_model: str | None = "amodal-rgbd"  # the shipped amodal model shown on fresh hand crops (None: skip)
    amodal_frames: int = 8

    @classmethod
    def quick(cls) -> DemoSettings:
        """A tiny demo for tests: seconds, not minutes."""
        return cls(frames=8, size=(64, 48), steps=4, finetune_steps=2, latency_size=(64, 48), eval_latency=False,
                   zoo_frames=2, zoo_size=(160, 120), amodal_frames=2)  # fmt: skip


LOG = logging.getLogger("handseg.demo")


def _log(message: str) -> None:
    LOG.info(f"[demo] {message}")


def demo_config(settings: DemoSettings, data_root: Path) -> dict[str, Any]:
    """The cpu preset of DenseAttentionSeg + contour loss, pointed at the demo's data and budget."""
    w, h = settings.size
    ce_val = max(1, settings.steps // 4)
    overrides = [
        f"data.root={data_root}",
        "data.synthetic=null",
        f"data.size=[{w}, {h}]",
        f"seed={settings.seed}",
        f"train.max_steps={settings.steps}",
        f"train.val_every_steps={ce_val}",
        f"train.ckpt_every_steps={max(1, settings.steps // 6)}",
        f"runtime.accelerator={'cpu' if settings.device == 'cpu' else 'gpu'}",
    ]
    config = load_config(config_path(DEMO_CONFIG), overrides)
    phases = config["phases"]
    phases[-1]["train"] = {
        **phases[-1].get("train", {}),
        "max_steps": settings.finetune_steps,
        "val_every_steps": max(1, settings.finetune_steps // 3),
    }
    return apply_overrides(config, [])


def _frame_rows(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="") as handle:
        return [{k: (v if k == "id" else float(v)) for k, v in row.items()} for row in csv.DictReader(handle)]


def run_demo(out: str | Path, settings: DemoSettings | None = None, force: bool = False) -> Path:
    """Run every step into `out` and return the path of report.html."""
    settings = settings or DemoSettings()
    out = prepare_output_dir(out, force)
    timings: dict[str, float] = {}
    start = time.perf_counter()

    zoo = _zoo_step(out, settings, timings)
    amodal = _amodal_step(out, settings, timings)
    _log(f"1/6 synthesizing {settings.frames} frames at {settings.size[0]}x{settings.size[1]} -> {out / 'data'}")
    generate_dataset(out / "data", settings.frames, seed=settings.seed, size=settings.size, force=True)
    timings["synthesize_s"] = time.perf_counter() - start

    _log(f"2/6 training DenseAttentionSeg ({settings.steps} CE steps, then {settings.finetune_steps} contour steps)")
    config = demo_config(settings, out / "data")
    t0 = time.perf_counter()
    train(config, out / "run", force=True)
    timings["train_s"] = time.perf_counter() - t0
    phase_dirs = sorted(p for p in (out / "run").iterdir() if p.is_dir() and p.name.startswith("phase"))

    _log("3/6 evaluating both phases on the validation split")
    t0 = time.perf_counter()
    metrics = {}
    for phase_dir in phase_dirs:
        name = phase_dir.name.split("_", 1)[1]
        metrics[name] = evaluate(
            phase_dir / "best.ckpt",
            out / "data",
            split="val",
            out_dir=out / "eval" / name,
            latency=settings.eval_latency,
            force=True,
            progress=False,
            device=settings.device,
        )
    timings["evaluate_s"] = time.perf_counter() - t0

    _log("4/6 exporting the fine-tuned model to ONNX and timing PyTorch vs ONNX Runtime")
    model, model_config = load_model(out / "run" / "best.ckpt")
    export = export_onnx(
        model, out / "model.onnx", in_channels=1, config=model_config, trace_size=settings.size, force=True
    )
    latency = onnx_vs_torch_latency(model, out / "model.onnx", settings.latency_size)

    _log("5/6 drawing attention maps, contour maps, best and worst frames")
    figures = out / "figures"
    reader = HandsegDataset(out / "data", split="val")
    torch_ds = SegmentationDataset(reader, "segmentation", "depth", settings.size)
    rows = _frame_rows(out / "eval" / phase_dirs[-1].name.split("_", 1)[1] / "per_frame.csv")
    ranked = sorted(
        (r for r in rows if r["miou_hand_object"] == r["miou_hand_object"]), key=lambda r: r["miou_hand_object"]
    )
    picks = {"best": ranked[::-1][:3], "worst": ranked[:3]}
    for kind, chosen in picks.items():
        for rank, row in enumerate(chosen):
            index = reader.ids.index(row["id"])
            sample, pred = predict_sample(model, torch_ds, index, "cpu")
            caption = f"{row['id']} mIoU {100 * row['miou_hand_object']:.1f}"
            atomic_write_png(figures / f"{kind}_{rank}.png", _render(sample, pred, "segmentation", caption))
    example = reader.ids.index(picks["worst"][-1]["id"]) if picks["worst"] else 0
    item, sample = torch_ds[example]["input"], torch_ds.sample(example)
    attention_figure(model, item, sample, figures / "attention.png")
    ce_model, _ = load_model(phase_dirs[0] / "best.ckpt")
    contour_figure({"CE only": ce_model, "CE + contour": model}, item, sample, figures / "contour.png")

    _log("6/6 writing the report")
    timings["total_s"] = time.perf_counter() - start
    summary = {
        "settings": settings.__dict__,
        "metrics": metrics,
        "onnx_check": export,
        "latency": latency,
        "timings": timings,
        "zoo": {k: v for k, v in (zoo or {}).items() if k != "card"},
        "amodal": {k: v for k, v in (amodal or {}).items() if k != "card"},
    }
    atomic_write_json(out / "summary.json", _jsonable(summary))
    report = write_demo_report(out, settings=settings, metrics=metrics, export=export, latency=latency, timings=timings,
                               phase_dirs=phase_dirs, zoo=zoo, amodal=amodal)  # fmt: skip
    _log(f"done in {timings['total_s'] / 60:.1f} min; report: {report.resolve()}")
    return report


def _shipped_step(
    name: str | None, kind: str, message: str, timings: dict[str, float], key: str, run: Any
) -> dict[str, Any] | None:
    """Step 0: run `run()` (a showcase of the shipped model `name`) and time it, or skip when not in the zoo."""
    if not name:
        return None
    if find_model(name) is None:
        _log(f"0/6 skipped: no shipped {kind}named {name!r} in the zoo")
        return None
    _log(f"0/6 the shipped model {name} {message}")
    t0 = time.perf_counter()
    result = run()
    timings[key] = time.perf_counter() - t0
    return result


def _zoo_step(out: Path, settings: DemoSettings, timings: dict[str, float]) -> dict[str, Any] | None:
    """Step 0: the shipped model segments fresh synthetic frames (and the real frames given) in seconds."""
    where = f" and {settings.real}" if settings.real else ""
    return _shipped_step(
        settings.zoo_model, "model ", f"segments {settings.zoo_frames} fresh synthetic frames{where}", timings,
        "zoo_s", lambda: showcase(out / "zoo", settings.zoo_model, frames=settings.zoo_frames,
                                  size=settings.zoo_size, real=settings.real),
    )  # fmt: skip


def _amodal_step(out: Path, settings: DemoSettings, timings: dict[str, float]) -> dict[str, Any] | None:
    """Step 0b: the shipped amodal model draws both hands' parts, hidden ones included, on fresh hand crops."""
    return _shipped_step(
        settings.amodal_model, "amodal model ", f"finds hand parts in {settings.amodal_frames} fresh crops", timings,
        "amodal_s", lambda: amodal_showcase(out / "zoo", settings.amodal_model, frames=settings.amodal_frames),
    )  # fmt: skip


def onnx_vs_torch_latency(model: torch.nn.Module, onnx_path: Path, size: tuple[int, int], repeats: int = 5) -> dict:
    """Median batch-1 latency (ms) of eager PyTorch, channels_last PyTorch and ONNX Runtime at `size`."""
    w, h = size
    x = torch.randn(1, 1, h, w)
    session = OnnxPredictor(onnx_path, threads=torch.get_num_threads())
    result: dict[str, Any] = {"size": f"{w}x{h}", "threads": torch.get_num_threads(), "repeats": repeats}
    with torch.inference_mode():
        result["pytorch_eager_ms"] = median_ms(lambda: model(x), repeats)
        model.to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        result["pytorch_channels_last_ms"] = median_ms(lambda: model(x_cl), repeats)
        model.to(memory_format=torch.contiguous_format)
    result["onnxruntime_ms"] = median_ms(lambda: session.logits(x.numpy()), repeats)
    return result


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
