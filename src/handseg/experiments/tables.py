"""The paper's Table 2 and Table 3, and the amodal experiments, on a synthetic benchmark at equal budgets.

Every row trains from the same synthetic dataset whose validation split shows only held-out object types, for
the same number of optimisation steps (a contour row spends the last `finetune_steps` of that budget on
contour fine-tuning), then is evaluated on the validation split with latency at 640x480, batch 1.
Rows run in parallel worker processes, one torch thread each; a finished row is skipped on a re-run and an
interrupted one resumes from its last.ckpt.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from handseg.errors import ConfigError

LOG = logging.getLogger("handseg.experiment")


@dataclass(frozen=True)
class Row:
    """One line of a table: a label, the config (relative to configs/) and the paper's figure if known."""

    key: str
    label: str
    config: str
    paper: str = ""


TABLES: dict[str, tuple[Row, ...]] = {
    "table2": (
        Row("fcn32s", "FCN-32s", "table2/fcn32s_cpu.yaml"),
        Row("fcn16s", "FCN-16s", "table2/fcn16s_cpu.yaml"),
        Row("fcn8s", "FCN-8s", "table2/fcn8s_cpu.yaml"),
        Row("gcn", "Large Kernel Matters (GCN, k=9)", "table2/gcn_cpu.yaml"),
        Row("refinenet", "RefineNet", "table2/refinenet_cpu.yaml"),
        Row("deeplabv3plus", "DeepLabv3+ (OS16)", "table2/deeplabv3plus_cpu.yaml", "47.8 ms"),
        Row("dense_attention_seg_noattn", "ours without attention", "table2/dense_attention_seg_noattn_cpu.yaml"),
        Row("dense_attention_seg", "DenseAttentionSeg", "table2/dense_attention_seg_cpu.yaml", "53.7 ms"),
        Row(
            "dense_attention_seg_contour",
            "DenseAttentionSeg + contour loss",
            "table2/dense_attention_seg_contour_cpu.yaml",
            "53.7 ms",
        ),
    ),
    "table3": (
        Row("dense_attention_seg_noattn", "no attention, CE", "table2/dense_attention_seg_noattn_cpu.yaml"),
        Row("noattn_contour", "no attention + contour", "table3/noattn_contour_cpu.yaml"),
        Row("attention_fine_only", "fine attention only, CE", "table3/attention_fine_only_cpu.yaml"),
        Row("attention_coarse_only", "coarse attention only, CE", "table3/attention_coarse_only_cpu.yaml"),
        Row("dense_attention_seg", "dense attention (fine + coarse), CE (k=64)", "table2/dense_attention_seg_cpu.yaml"),
        Row(
            "dense_attention_seg_contour",
            "dense attention + contour (beta 0.005)",
            "table2/dense_attention_seg_contour_cpu.yaml",
        ),
        Row(
            "attention_contour_beta005",
            "dense attention + contour (beta 0.05)",
            "table3/attention_contour_beta005_cpu.yaml",
        ),
        Row(
            "attention_unweighted_ce",
            "dense attention, unweighted CE (1/1/1)",
            "table3/attention_unweighted_ce_cpu.yaml",
        ),
        Row("attention_k32", "dense attention, k=32", "table3/attention_k32_cpu.yaml"),
        Row("attention_k128", "dense attention, k=128", "table3/attention_k128_cpu.yaml"),
        Row("attention_os8", "dense attention, output stride 8", "table3/attention_os8_cpu.yaml"),
    ),
    "amodal": (
        Row("unet_ce", "U-Net, CE", "amodal/unet_ce_cpu.yaml"),
        Row("unet_dice_ce", "U-Net, Dice+CE", "amodal/unet_dice_ce_cpu.yaml"),
        Row("unet_resnet50_scse_ce", "U-Net ResNet scSE hypercolumn, CE", "amodal/unet_resnet50_scse_ce_cpu.yaml"),
        Row(
            "unet_resnet50_scse_dice_ce",
            "U-Net ResNet scSE hypercolumn, Dice+CE",
            "amodal/unet_resnet50_scse_dice_ce_cpu.yaml",
        ),
        Row("attention_unet", "attention-gate U-Net, Dice+CE", "amodal/attention_unet_cpu.yaml"),
        Row(
            "unet_resnet50_scse_dice_ce_rgb",
            "U-Net ResNet scSE hypercolumn, Dice+CE, RGB in",
            "amodal/unet_resnet50_scse_dice_ce_rgb_cpu.yaml",
        ),
        Row(
            "unet_resnet50_scse_dice_ce_rgbd",
            "U-Net ResNet scSE hypercolumn, Dice+CE, RGB-D in",
            "amodal/unet_resnet50_scse_dice_ce_rgbd_cpu.yaml",
        ),
    ),
}


@dataclass
class Budget:
    """The shared budget of every row of a run."""

    steps: int = 600
    finetune_steps: int = 150
    frames: int = 400
    size: tuple[int, int] = (160, 120)
    val_objects: tuple[str, ...] = ("mug", "torus")
    workers: int = 2
    latency_size: tuple[int, int] = (640, 480)
    latency_repeats: int = 5
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def row_config(row: Row, budget: Budget, data_root: Path) -> dict[str, Any]:
    """The row's cpu config with the shared data, seed and step budget."""
    from handseg.config import load_config
    from handseg.experiments.paths import config_path

    base = [
        f"data.root={data_root}",
        "data.synthetic=null",
        f"seed={budget.seed}",
        "runtime.accelerator=cpu",
        "data.workers=0",
    ]
    config = load_config(config_path(row.config), base)
    phases = config.get("phases") or []
    first = budget.steps - budget.finetune_steps if phases else budget.steps
    every = max(1, first // 4)
    config["train"].update({"max_steps": first, "val_every_steps": every, "ckpt_every_steps": every})
    config["train"].pop("epochs", None)
    if config.get("task") == "amodal" and int(config["schedule"].get("warmup_steps") or 0) >= first:
        config["schedule"]["warmup_steps"] = first // 4  # a tiny (--quick) budget still decays
    if phases:
        phases[-1]["train"] = {
            **phases[-1].get("train", {}),
            "max_steps": budget.finetune_steps,
            "val_every_steps": max(1, budget.finetune_steps // 2),
            "ckpt_every_steps": max(1, budget.finetune_steps // 2),
        }
        phases[-1]["train"].pop("epochs", None)
    return config


def _run_row(row: Row, budget: Budget, data_root: str, out: str) -> dict[str, Any]:
    """Train and evaluate one row in this (worker) process; cache the result in out/<key>/result.json."""
    import torch

    from handseg.engine.evaluate import evaluate
    from handseg.engine.train import train

    torch.set_num_threads(1)
    run_dir = Path(out) / row.key
    cached = run_dir / "result.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    config = row_config(row, budget, Path(data_root))
    start = time.perf_counter()
    train(config, run_dir, progress=False)
    train_s = time.perf_counter() - start
    metrics = evaluate(
        run_dir / "best.ckpt",
        data_root,
        split="val",
        out_dir=run_dir / "eval",
        latency=False,
        force=True,
        progress=False,
    )
    from handseg.engine.checkpoint import load_model
    from handseg.engine.evaluate import measure_latency

    model, _ = load_model(run_dir / "best.ckpt")
    latency = measure_latency(
        model,
        int(config["model"].get("in_channels", 1)),
        size=budget.latency_size,
        repeats=budget.latency_repeats,
        warmup=1,
    )
    params = sum(p.numel() for p in model.parameters())
    result = {
        "row": asdict(row),
        "metrics": _plain(metrics),
        "latency": latency,
        "params_m": params / 1e6,
        "train_s": train_s,
        "steps": budget.steps,
    }
    from handseg.utils.io import atomic_write_json

    atomic_write_json(cached, result)
    return result


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics without bulky entries (confusion, per-image lists), as JSON-able numbers."""
    import numpy as np

    out = {}
    for key, value in metrics.items():
        if key in ("per_image", "frames_list"):
            continue
        out[key] = value.tolist() if isinstance(value, np.ndarray) else value
    return out


def prepare_data(out: Path, budget: Budget) -> Path:
    """The shared synthetic benchmark (held-out object types in val), generated once."""
    from handseg.data.synth import generate_dataset

    root = out / "data"
    if not (root / "manifest.json").is_file():
        generate_dataset(
            root,
            budget.frames,
            seed=1000 + budget.seed,
            size=budget.size,
            force=True,
            val_objects=list(budget.val_objects),
            workers=budget.workers,
        )
    return root


AMODAL_SIZE = (128, 128)  # the amodal rows train on hand-centred crops of this size, as the ETH data


def prepare_amodal_data(out: Path, budget: Budget) -> Path:
    """The amodal rows' benchmark: hand-centred crops (held-out object types in val), generated once.

    budget.extra["amodal_data"] names an existing crop dataset to use instead (e.g. a larger one).
    """
    from handseg.data.synth import generate_dataset

    if budget.extra.get("amodal_data"):
        return Path(budget.extra["amodal_data"])
    root = out / "data-amodal"
    if not (root / "manifest.json").is_file():
        generate_dataset(
            root,
            int(budget.extra.get("amodal_frames", budget.frames)),
            seed=1000 + budget.seed,
            size=tuple(budget.extra.get("amodal_size", AMODAL_SIZE)),
            crop="hands",
            force=True,
            val_objects=list(budget.val_objects),
            workers=budget.workers,
        )
    return root


def run_tables(names: list[str], out: str | Path, budget: Budget, rows: list[str] | None = None) -> dict[str, list]:
    """Run the rows of the named tables (shared rows once) and return {table: [results in table order]}."""
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise ConfigError(f"unknown table(s) {unknown}; choose from {', '.join(TABLES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo: dict[str, Row] = {}
    for name in names:
        for row in TABLES[name]:
            if rows is None or row.key in rows:
                todo.setdefault(row.key, row)
    if rows is not None and (missing := set(rows) - set(todo)):
        raise ConfigError(f"unknown row(s) {sorted(missing)} for tables {names}")
    amodal = {row.key for row in TABLES["amodal"]}
    roots = {}
    if set(todo) - amodal:
        roots["frames"] = str(prepare_data(out, budget))
    if set(todo) & amodal:
        roots["crops"] = str(prepare_amodal_data(out, budget))
    results: dict[str, dict[str, Any]] = {}
    LOG.info(f"[experiment] {len(todo)} rows, {budget.steps} steps each, {budget.workers} worker(s) -> {out}")
    with ProcessPoolExecutor(max_workers=budget.workers) as pool:
        futures = {
            pool.submit(_run_row, row, budget, roots["crops" if key in amodal else "frames"], str(out)): key
            for key, row in todo.items()
        }
        for done, future in enumerate(as_completed(futures), 1):
            key = futures[future]
            results[key] = future.result()
            m = results[key]["metrics"]
            head = m.get("miou_hand_object", m.get("miou"))
            LOG.info(
                f"[experiment] {done}/{len(todo)} {key}: headline {100 * head:.2f} "
                f"({results[key]['train_s'] / 60:.1f} min)"
            )
    retime_latency(results, out, budget)
    return {name: [results[r.key] for r in TABLES[name] if r.key in results] for name in names}


def retime_latency(results: dict[str, dict[str, Any]], out: Path, budget: Budget) -> None:
    """Time every row's best model one after another in this process (one thread), so latencies compare."""
    import torch

    from handseg.engine.checkpoint import load_model
    from handseg.engine.evaluate import measure_latency

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for key, result in results.items():
            model, config = load_model(out / key / "best.ckpt")
            result["latency"] = measure_latency(
                model,
                int(config["model"].get("in_channels", 1)),
                size=budget.latency_size,
                repeats=budget.latency_repeats,
                warmup=1,
            )
            result["latency"]["when"] = "after training, rows timed one after another, 1 thread"
    finally:
        torch.set_num_threads(threads)
