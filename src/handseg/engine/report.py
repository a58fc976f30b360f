"""Evaluation outputs: metrics table (Markdown), metrics.json, per-frame CSV, confusion plot, worst-frame overlays."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handseg.data.format import CLASSES, PART_NAMES
from handseg.tasks import get_task
from handseg.utils.io import atomic_write_json, atomic_write_png, atomic_write_text
from handseg.viz.plots import plot_confusion


def _pct(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}"


def metrics_table(metrics: dict[str, Any], name: str | None = None) -> str:
    """The Table 2 row (segmentation, in %) or the part mIoU row (amodal) as Markdown, with latency if measured."""
    name = name or str(metrics.get("model", "model"))
    latency = metrics.get("latency_ms")
    lat = f"{latency:.1f}" if latency is not None else "not measured"
    lat_head = f"latency ms ({metrics.get('latency_size', '640x480')}, batch 1, {metrics.get('latency_device', '-')})"
    columns = get_task(metrics.get("task", "segmentation")).table_columns
    head = ["model"] + [title for title, _ in columns] + [lat_head]
    row = [name] + [_pct(metrics.get(key)) for _, key in columns] + [lat]
    iu = metrics.get("iu") or metrics.get("iu_per_class")  # segmentation (iu_per_class: older files)
    extra = ""
    if iu:
        extra = f"\n\nIU per class (%): background {_pct(iu[0])}, hand {_pct(iu[1])}, object {_pct(iu[2])}"
        if metrics.get("forearm") == "ignored":
            extra += " (forearm pixels not scored: hand = palm and fingers)"
    extra += _per_part_table(metrics)  # amodal
    extra += groups_table(metrics)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), "| " + " | ".join(row) + " |"]
    return "\n".join(lines) + extra + "\n"


def groups_table(metrics: dict[str, Any]) -> str:
    """The task's table columns (segmentation: and IU per class) of each frame group (e.g. scene family), in %."""
    groups = metrics.get("groups")
    if not groups:
        return ""
    columns = get_task(metrics.get("task", "segmentation")).table_columns
    per_class = any(len(g.get("iu") or ()) == len(CLASSES) for g in groups.values())
    head = [str(metrics.get("group_by", "group")), "frames"] + [title for title, _ in columns]
    head += [f"IU {name}" for name in CLASSES] if per_class else []
    lines = ["", "", f"By {metrics.get('group_by', 'group')} (%):", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]  # fmt: skip
    for name, group in groups.items():
        row = [name, str(group.get("frames", "-"))] + [_pct(group.get(key)) for _, key in columns]
        row += [_pct(v) for v in group.get("iu") or [None] * len(CLASSES)] if per_class else []
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _per_part_table(metrics: dict[str, Any]) -> str:
    """Per-part IoU (%) of all, visible and hidden pixels, and the hidden share, as Markdown (amodal)."""
    rows = [("all pixels", metrics.get("per_part")), ("visible parts", metrics.get("visible_per_part")),
            ("hidden parts", metrics.get("hidden_per_part"))]  # fmt: skip
    rows = [(title, values) for title, values in rows if values]
    if not rows:
        return ""
    lines = ["", "", "Per-part IoU (%):", "", "| region | " + " | ".join(PART_NAMES) + " |",
             "|" + "---|" * (len(PART_NAMES) + 1)]  # fmt: skip
    lines += ["| " + " | ".join([title] + [_pct(v) for v in values]) + " |" for title, values in rows]
    share = metrics.get("hidden_share")
    if share is not None and not math.isnan(share):
        lines += ["", f"Hidden amodal part pixels: {_pct(share)} % of all amodal part pixels."]
    return "\n".join(lines)


def _render(sample: dict[str, Any], pred: np.ndarray, task: str, caption: str, modality: str = "depth") -> np.ndarray:
    """Side-by-side picture: input, truth, prediction (amodal: truth and prediction of each hand, hidden parts
    hatched), with a legend (the task's picture)."""
    return get_task(task).picture(sample, pred, caption, modality)


@torch.no_grad()
def predict_sample(model: torch.nn.Module, torch_ds: Any, index: int, device: Any) -> tuple[dict[str, Any], np.ndarray]:
    """The resized sample of a dataset index and the model's labels for it."""
    item = torch_ds[index]
    logits = model(item["input"][None].to(device)).float()
    return torch_ds.sample(index), get_task(torch_ds.task).labels(logits)[0].cpu().numpy()


def write_eval_outputs(
    out_dir: Path,
    model: torch.nn.Module,
    torch_ds: Any,
    config: dict[str, Any],
    metrics: dict[str, Any],
    frames: list[dict[str, Any]],
    worst: int,
    device: Any,
) -> None:
    """metrics.json, metrics.md, per_frame.csv, confusion.png, worst/<rank>_<id>.png (amodal: also best/)."""
    task = config["task"]
    atomic_write_json(out_dir / "metrics.json", {k: v for k, v in metrics.items() if k != "per_image"})
    atomic_write_text(out_dir / "metrics.md", metrics_table(metrics, metrics.get("name")))
    keys = [k for k in frames[0] if k not in ("index", "id")] if frames else []
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["id", *keys])
    for frame in frames:
        writer.writerow([frame["id"]] + [f"{frame[k]:.6g}" for k in keys])
    atomic_write_text(out_dir / "per_frame.csv", text.getvalue())
    if "confusion" in metrics:  # the segmentation tracker's matrix
        plot_confusion(metrics["confusion"], list(CLASSES), out_dir / "confusion.png", title=config["model"]["name"])
    key = get_task(task).headline
    ranked = sort_worst(frames, key)
    chosen = [("worst", ranked[:worst])]
    if get_task(task).best_frames():
        scored = [f for f in ranked if not math.isnan(f[key])]
        chosen.append(("best", scored[::-1][:worst]))
    modality = config.get("data", {}).get("modality", "depth")
    for folder, picked in chosen:
        for rank, frame in enumerate(picked):
            sample, pred = predict_sample(model, torch_ds, frame["index"], device)
            picture = _render(sample, pred, task, f"{frame['id']} mIoU {_pct(frame[key])}", modality)
            atomic_write_png(out_dir / folder / f"{rank:02d}_{frame['id']}.png", picture)


def sort_worst(frames: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Frames by ascending score (NaN last)."""
    return sorted(frames, key=lambda f: (math.isnan(f[key]), f[key]))
