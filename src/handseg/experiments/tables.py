"""The paper's Table 2 and Table 3, and the amodal experiments, on a synthetic benchmark at equal budgets.

Every (row, seed) trains from the same synthetic dataset, whose validation split shows only held-out object
types, for the same number of optimisation steps, then is evaluated on the whole validation split (and, given a
real dataset, on its test split), timed at 640x480, batch 1, and written to its own file
`<results>/rows/<row>_seed<k>.json`. Tables are built from those files only, so runs can span several sittings.
A contour row fine-tunes the finished CE row of the same seed (its best.ckpt) for the paper's share of the
budget (10 contour epochs after 140 CE epochs) instead of retraining the CE phase. A finished (row, seed) is
skipped on a re-run; an interrupted one resumes exactly from its last.ckpt.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handseg.config import deep_merge, load_config, validate
from handseg.data.format import HandsegDataset, dataset_digest, dataset_pixel_digest
from handseg.data.synth import generate_dataset
from handseg.engine.evaluate import evaluate, measure_latency
from handseg.engine.train import train
from handseg.errors import ConfigError, DataError
from handseg.experiments.paths import config_path
from handseg.experiments.table_report import library_versions, machine_line
from handseg.loading import load_model
from handseg.tasks import get_task
from handseg.utils.io import atomic_write_json

LOG = logging.getLogger("handseg.experiment")

# The paper's Table 2 on real InterSegHands validation data (Titan Xp, 640x480): mean IOU of hand and object,
# pixel acc., mean acc., mean IU, f.w. IU (%), time (ms).
PAPER_COLUMNS = ("miou_hand_object", "pixel_acc", "mean_acc", "mean_iu", "fw_iu", "time_ms")


def _paper(*values: float) -> dict[str, float]:
    return dict(zip(PAPER_COLUMNS, values))


@dataclass(frozen=True)
class Row:
    """One line of a table: key, label, config (relative to configs/), the paper's figures, the CE row it tunes."""

    key: str
    label: str
    config: str
    paper: dict[str, float] = field(default_factory=dict)
    finetunes: str | None = None  # contour rows: the CE row whose best.ckpt the contour phase starts from


DAS_PAPER = _paper(93.65, 99.74, 97.48, 95.77, 99.50, 53.7)
DAS_CL_PAPER = _paper(93.94, 99.75, 97.67, 95.99, 99.51, 53.7)
# Table 3: 92.81 mean IOU without attention at 51.1 ms (the text says the attention adds 0.84; its table swaps labels)
NOATTN = {"miou_hand_object": 92.81, "time_ms": 51.1}

TABLES: dict[str, tuple[Row, ...]] = {
    "table2": (
        Row("fcn32s", "FCN-32s", "rows/fcn32s.yaml", _paper(87.60, 99.28, 94.12, 91.69, 98.60, 35.4)),
        Row("fcn16s", "FCN-16s", "rows/fcn16s.yaml", _paper(87.59, 99.39, 94.48, 91.67, 98.83, 35.6)),
        Row("fcn8s", "FCN-8s", "rows/fcn8s.yaml", _paper(91.58, 99.62, 96.32, 94.38, 99.26, 33.5)),
        Row("gcn", "Large Kernel Matters (GCN, k=9)", "rows/gcn.yaml", _paper(92.55, 99.69, 96.95, 95.10, 99.40, 49.5)),
        Row("refinenet", "RefineNet", "rows/refinenet.yaml", _paper(92.53, 99.64, 96.74, 94.98, 99.30, 61.9)),
        Row(
            "deeplabv3plus",
            "DeepLabv3+ (OS16)",
            "rows/deeplabv3plus.yaml",
            _paper(92.76, 99.64, 96.99, 95.16, 99.31, 47.8),
        ),
        Row("dense_attention_seg_noattn", "ours without attention", "rows/dense_attention_seg_noattn.yaml", NOATTN),
        Row("dense_attention_seg", "DenseAttentionSeg", "rows/dense_attention_seg.yaml", DAS_PAPER),
        Row(
            "dense_attention_seg_contour",
            "DenseAttentionSeg + contour loss",
            "rows/dense_attention_seg_contour.yaml",
            DAS_CL_PAPER,
            finetunes="dense_attention_seg",
        ),
    ),
    "table3": (
        Row("dense_attention_seg_noattn", "no attention, CE", "rows/dense_attention_seg_noattn.yaml", NOATTN),
        Row(
            "noattn_contour",
            "no attention + contour",
            "rows/noattn_contour.yaml",
            finetunes="dense_attention_seg_noattn",
        ),
        Row("attention_fine_only", "fine attention only, CE", "rows/attention_fine_only.yaml"),
        Row("attention_coarse_only", "coarse attention only, CE", "rows/attention_coarse_only.yaml"),
        Row("dense_attention_seg", "dense attention (fine + coarse), CE", "rows/dense_attention_seg.yaml", DAS_PAPER),
        Row(
            "dense_attention_seg_contour",
            "dense attention + contour (beta 0.005)",
            "rows/dense_attention_seg_contour.yaml",
            DAS_CL_PAPER,
            finetunes="dense_attention_seg",
        ),
        Row(
            "attention_contour_beta005",
            "dense attention + contour (beta 0.05)",
            "rows/attention_contour_beta005.yaml",
            finetunes="dense_attention_seg",
        ),
        Row("attention_unweighted_ce", "dense attention, unweighted CE (1/1/1)", "rows/attention_unweighted_ce.yaml"),
        Row("attention_k32", "dense attention, k=8 (paper's k=32 at 1/4 scale)", "rows/attention_k32.yaml"),
        Row("attention_k128", "dense attention, k=32 (paper's k=128 at 1/4 scale)", "rows/attention_k128.yaml"),
        Row("attention_os8", "dense attention, output stride 8", "rows/attention_os8.yaml"),
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

# The paper's share of the budget spent on contour fine-tuning: 10 epochs after 140 CE epochs.
CONTOUR_SHARE = 10 / 140


@dataclass
class Budget:
    """The shared budget of every row of a run."""

    steps: int = 2000
    finetune_steps: int | None = None  # None: round(steps x 10 / 140), the paper's share
    finetune_lr_ratio: float = 0.1  # contour fine-tuning lr as a fraction of optim.lr (the CE run ended near 0)
    val_every: int | None = None  # None: steps / 6
    frames: int = 400  # frames generated when no dataset is given
    size: tuple[int, int] = (160, 120)
    val_objects: tuple[str, ...] = ("mug", "torus")
    workers: int = 1
    latency_size: tuple[int, int] = (640, 480)
    latency_repeats: int = 5
    seeds: tuple[int, ...] = (0,)
    extra: list[str] = field(default_factory=list)  # more config overrides (key=value) for every row
    amodal_data: str | None = None  # an existing hand-crop dataset for the amodal rows (else generated)
    amodal_size: tuple[int, int] = (128, 128)  # the amodal rows' hand-centred crops, as the ETH data
    amodal_frames: int | None = None  # crops generated when no amodal_data is given (None: frames)

    @property
    def contour_steps(self) -> int:
        """Steps of contour fine-tuning."""
        if self.finetune_steps is not None:
            return self.finetune_steps
        return max(1, round(self.steps * CONTOUR_SHARE))

    @property
    def every(self) -> int:
        """Validation (and checkpoint) interval of a CE row."""
        return self.val_every or max(1, self.steps // 6)


def row_config(row: Row, budget: Budget, data_root: Path, seed: int = 0, ce_best: Path | None = None) -> dict:
    """The row's config with the shared data, seed and step budget; a contour row as a fine-tuning of `ce_best`."""
    base = [
        f"data.root={data_root}",
        "data.synthetic=null",
        f"seed={seed}",
        "runtime.accelerator=cpu",
        "data.workers=0",
        *budget.extra,
    ]
    config = load_config(config_path(row.config), base)
    if not get_task(config["task"]).part_maps:  # the amodal rows keep their own (hand-crop) size
        config["data"]["size"] = list(budget.size)
    phases = config.pop("phases", None) or []
    config["train"].pop("epochs", None)
    if row.finetunes is None:
        every = budget.every
        config["train"].update({"max_steps": budget.steps, "val_every_steps": every, "ckpt_every_steps": every})
        if budget.steps <= int(config["schedule"].get("warmup_steps", 0)):
            config["schedule"]["warmup_steps"] = budget.steps // 10  # tiny (test) budgets
        return validate(config)
    if not phases:
        raise ConfigError(f"{config_path(row.config)}: a contour row needs phases (CE, then contour)")
    if ce_best is None:
        raise ConfigError(f"row {row.key}: fine-tuning needs the best.ckpt of row {row.finetunes}")
    tune = {k: v for k, v in phases[-1].items() if k != "name"}
    config = deep_merge(config, tune)
    steps = budget.contour_steps
    config["train"].pop("epochs", None)
    config["train"].update(
        {"max_steps": steps, "val_every_steps": max(1, steps // 4), "ckpt_every_steps": max(1, steps // 4)}
    )
    config["optim"]["lr"] = float(config["optim"]["lr"]) * budget.finetune_lr_ratio
    config["schedule"].update({"warmup_steps": 0})
    config["init_from"] = str(ce_best)
    return validate(config)


def read_curve(metrics_csv: Path, offset: int = 0) -> list[dict[str, float]]:
    """The validation points of a run (step + offset, wall s, mean IOU, IU hand, IU object) from its metrics.csv."""
    if not metrics_csv.is_file():
        return []
    points = []
    with metrics_csv.open(newline="", encoding="utf-8") as handle:
        for rec in csv.DictReader(handle):
            if rec.get("kind") != "val":
                continue
            point = {"step": int(float(rec["step"])) + offset}
            for key in ("wall_s", "miou_hand_object", "iu_hand", "iu_object", "miou"):
                if rec.get(key):
                    point[key] = float(rec[key])
            points.append(point)
    return points


def row_file(results_dir: Path, key: str, seed: int) -> Path:
    """Where a finished (row, seed) is recorded."""
    return Path(results_dir) / "rows" / f"{key}_seed{seed}.json"


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics without bulky entries (confusion, per-image lists), as JSON-able numbers."""
    out = {}
    for key, value in metrics.items():
        if key in ("per_image", "frames_list"):
            continue
        out[key] = value.tolist() if isinstance(value, np.ndarray) else value
    return out


def run_row(
    row: Row,
    seed: int,
    *,
    budget: Budget,
    data_root: str,
    out: str,
    results_dir: str,
    real: str | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Train (or resume) and evaluate one (row, seed) in this process; write and return its row file."""
    target = row_file(Path(results_dir), row.key, seed)
    if target.is_file():
        return json.loads(target.read_text(encoding="utf-8"))
    torch.set_num_threads(1)
    seed_dir = Path(out) / f"seed{seed}"
    run_dir = seed_dir / row.key
    ce_best, offset, ce_curve = None, 0, []
    if row.finetunes is not None:
        ce_best = seed_dir / row.finetunes / "best.ckpt"
        if not ce_best.is_file():
            raise ConfigError(f"{ce_best}: row {row.key} fine-tunes row {row.finetunes} of seed {seed}; train it first")
        offset = budget.steps
        ce_curve = read_curve(seed_dir / row.finetunes / "metrics.csv")
    config = row_config(row, budget, Path(data_root), seed, ce_best)
    start = time.perf_counter()
    summary = train(config, run_dir, progress=False)
    session_s = time.perf_counter() - start
    synthetic = evaluate(
        run_dir / "best.ckpt", data_root, split="val", out_dir=run_dir / "eval", force=True, progress=False
    )
    segmentation = not get_task(config["task"]).part_maps  # the forearm and the real set's labels need a class map
    no_forearm = None
    if segmentation and HandsegDataset(data_root, split="val").manifest.has_parts:
        # scored as real hand masks that stop at the wrist are (DexYCB): the figure comparable to the real one
        no_forearm = _plain(
            evaluate(
                run_dir / "best.ckpt",
                data_root,
                split="val",
                out_dir=run_dir / "eval_no_forearm",
                force=True,
                progress=False,
                ignore_forearm=True,
            )
        )
    real_metrics = None
    if real is not None and segmentation:  # the real set has labels, no parts
        real_metrics = _plain(
            evaluate(
                run_dir / "best.ckpt", real, split="test", out_dir=run_dir / "eval_real", force=True, progress=False
            )
        )
    model, _ = load_model(run_dir / "best.ckpt")
    latency = measure_latency(
        model,
        int(config["model"].get("in_channels", 1)),
        size=budget.latency_size,
        repeats=budget.latency_repeats,
        warmup=1,
    )
    latency["when"] = "right after the row's training, in its process, 1 thread"
    result = {
        "row": asdict(row),
        "seed": seed,
        "metrics": _plain(synthetic),
        "metrics_no_forearm": no_forearm,
        "real": real_metrics,
        "real_data": str(real) if real else None,
        "data": str(data_root),
        "data_sha256": dataset_digest(data_root),  # tells whether rows trained on other machines saw the same bytes
        "data_pixels_sha256": dataset_pixel_digest(data_root),  # ...and the same pixels (PNG encoders differ)
        "latency": latency,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "train_s": float(summary.get("wall_s", session_s)),
        "steps": budget.steps,
        "own_steps": int(config["train"]["max_steps"]),
        "init_from": str(ce_best) if ce_best else None,
        "best_step": (summary.get("best") or {}).get("step"),
        "curve": ce_curve + read_curve(run_dir / "metrics.csv", offset),
        "curve_split": f"val, first {config['data']['val_max_frames'] or 'all'} frames",
        "budget": _budget_record(budget),
        "model": config["model"],
        "command": command,
        "machine": machine_line(),
        "libraries": library_versions(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic_write_json(target, result)
    return result


def _budget_record(budget: Budget) -> dict[str, Any]:
    """The budget fields that must agree between the row files of one table."""
    return {
        "steps": budget.steps,
        "contour_steps": budget.contour_steps,
        "finetune_lr_ratio": budget.finetune_lr_ratio,
        "size": list(budget.size),
        "latency_size": list(budget.latency_size),
        "extra": list(budget.extra),
    }


def prepare_data(out: Path, budget: Budget) -> Path:
    """The shared synthetic benchmark (held-out object types in val), generated once when no dataset is given."""
    root = out / "data"
    if not (root / "manifest.json").is_file():
        generate_dataset(
            root,
            budget.frames,
            seed=1000,
            size=budget.size,
            force=True,
            val_objects=list(budget.val_objects),
            workers=budget.workers,
        )
    return root


def prepare_amodal_data(out: Path, budget: Budget) -> Path:
    """The amodal rows' benchmark: hand-centred crops (held-out object types in val), generated once."""
    if budget.amodal_data:
        return Path(budget.amodal_data)
    root = out / "data-amodal"
    if not (root / "manifest.json").is_file():
        generate_dataset(
            root,
            budget.amodal_frames or budget.frames,
            seed=1000,
            size=budget.amodal_size,
            crop="hands",
            force=True,
            val_objects=list(budget.val_objects),
            workers=budget.workers,
        )
    return root


def plan(names: list[str], rows: list[str] | None, seeds: tuple[int, ...]) -> list[tuple[Row, int]]:
    """(row, seed) jobs in order: every requested row of seed 0, then of seed 1, ...; a CE row before its contour."""
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise ConfigError(f"unknown table(s) {unknown}; choose from {', '.join(TABLES)}")
    chosen: dict[str, Row] = {}
    for name in names:
        for row in TABLES[name]:
            if rows is None or row.key in rows:
                chosen.setdefault(row.key, row)
    if rows is not None and (missing := set(rows) - set(chosen)):
        raise ConfigError(f"unknown row(s) {sorted(missing)} for tables {names}")
    every = {row.key: row for name in TABLES for row in TABLES[name]}
    ordered: dict[str, Row] = {}
    for key, row in chosen.items():
        if row.finetunes is not None:
            ordered.setdefault(row.finetunes, every[row.finetunes])
        ordered.setdefault(key, row)
    plain = [r for r in ordered.values() if r.finetunes is None]
    tuned = [r for r in ordered.values() if r.finetunes is not None]
    return [(row, seed) for seed in seeds for row in plain + tuned]


def run_rows(
    names: list[str],
    out: str | Path,
    *,
    budget: Budget,
    results_dir: str | Path,
    rows: list[str] | None = None,
    data: str | Path | None = None,
    real: str | Path | None = None,
    command: str = "",
) -> list[dict[str, Any]]:
    """Run every missing (row, seed) of the named tables, one process at a time unless budget.workers > 1."""
    jobs = plan(names, rows, budget.seeds)
    out = Path(out)
    if data is not None:
        data_root = Path(data)
        if not (data_root / "manifest.json").is_file():
            raise DataError(data_root, "not a handseg-v1 dataset (no manifest.json)")
    if real is not None and not (Path(real) / "splits" / "test.txt").is_file():
        raise DataError(Path(real) / "splits" / "test.txt", "real dataset has no test split")
    todo = [(row, seed) for row, seed in jobs if not row_file(Path(results_dir), row.key, seed).is_file()]
    LOG.info(f"[experiment] {len(todo)} of {len(jobs)} (row, seed) jobs to run, {budget.steps} steps each -> {out}")
    if not todo:
        return []
    out.mkdir(parents=True, exist_ok=True)
    amodal = {row.key for row in TABLES["amodal"]}
    roots: dict[bool, str] = {}  # is an amodal row -> its data: full frames, or hand crops
    if any(row.key not in amodal for row, _ in todo):
        roots[False] = str(data_root if data is not None else prepare_data(out, budget))
    if any(row.key in amodal for row, _ in todo):
        roots[True] = str(prepare_amodal_data(out, budget))
    rest = {"out": str(out), "results_dir": str(results_dir), "real": str(real) if real else None, "command": command}

    def job(row: Row, seed: int) -> tuple[Row, int, dict[str, Any]]:
        return row, seed, {"budget": budget, "data_root": roots[row.key in amodal], **rest}

    results = []
    if budget.workers <= 1:
        for done, (row, seed) in enumerate(todo, 1):
            results.append(_run_job(job(row, seed)))
            _say(done, len(todo), results[-1])
        return results
    # parallel: CE rows first, then the contour rows that need them
    with ProcessPoolExecutor(max_workers=budget.workers) as pool:
        for stage in (False, True):
            batch = [(r, s) for r, s in todo if (r.finetunes is not None) == stage]
            for done, result in enumerate(pool.map(_run_job, [job(r, s) for r, s in batch]), 1):
                results.append(result)
                _say(done, len(batch), result)
    return results


def _run_job(job: tuple[Row, int, dict[str, Any]]) -> dict[str, Any]:
    row, seed, options = job
    return run_row(row, seed, **options)


def _say(done: int, total: int, result: dict[str, Any]) -> None:
    m = result["metrics"]
    head = m.get("miou_hand_object", m.get("miou"))
    LOG.info(
        f"[experiment] {done}/{total} {result['row']['key']} seed {result['seed']}: headline {100 * head:.2f} "
        f"({result['train_s'] / 60:.1f} min)"
    )


def load_row_files(results_dir: str | Path, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """{table: [row files of its rows, every seed]} from <results_dir>/rows/; every file must share one budget."""
    folder = Path(results_dir) / "rows"
    wanted = {row.key for name in names for row in TABLES[name]}
    found: dict[str, list[dict[str, Any]]] = {}
    budget, budget_file = None, None
    for path in sorted(folder.glob("*_seed*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            key = record["row"]["key"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise DataError(path, f"not a row file ({type(exc).__name__}: {exc})") from None
        if key not in wanted:
            continue
        if budget is not None and record.get("budget") != budget:
            raise DataError(path, f"budget {record.get('budget')} differs from {budget_file}'s {budget}")
        budget, budget_file = record.get("budget"), path.name
        found.setdefault(key, []).append(record)
    return {
        name: [record for row in TABLES[name] for record in sorted(found.get(row.key, []), key=lambda r: r["seed"])]
        for name in names
    }
