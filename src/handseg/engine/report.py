"""Evaluation outputs: metrics table (Markdown), metrics.json, per-frame CSV, confusion plot, worst-frame overlays."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handseg.utils.io import atomic_write_json, atomic_write_png, atomic_write_text

TABLE2 = (
    ("pixel acc.", "pixel_acc"),
    ("mean acc.", "mean_acc"),
    ("mean IU", "mean_iu"),
    ("f.w. IU", "fw_iu"),
    ("mean IOU (hand, object)", "miou_hand_object"),
)


def _pct(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}"


def metrics_table(metrics: dict[str, Any], name: str | None = None) -> str:
    """The Table 2 row (segmentation, in %) or the part mIoU row (amodal) as Markdown, with latency if measured."""
    name = name or str(metrics.get("model", "model"))
    latency = metrics.get("latency_ms")
    lat = f"{latency:.1f}" if latency is not None else "not measured"
    lat_head = f"latency ms ({metrics.get('latency_size', '640x480')}, batch 1, {metrics.get('latency_device', '-')})"
    if metrics.get("task", "segmentation") == "segmentation":
        head = ["model"] + [title for title, _ in TABLE2] + [lat_head]
        row = [name] + [_pct(metrics.get(key)) for _, key in TABLE2] + [lat]
        iu = metrics.get("iu") or metrics.get("iu_per_class")  # iu_per_class: older files
        extra = ""
        if iu:
            extra = f"\n\nIU per class (%): background {_pct(iu[0])}, hand {_pct(iu[1])}, object {_pct(iu[2])}"
    else:
        head = ["model", "part mIoU", "left hand", "right hand", lat_head]
        row = [name, _pct(metrics.get("miou")), _pct(metrics.get("miou_left")), _pct(metrics.get("miou_right")), lat]
        extra = ""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), "| " + " | ".join(row) + " |"]
    return "\n".join(lines) + extra + "\n"


def _render(sample: dict[str, Any], pred: np.ndarray, task: str, caption: str, modality: str = "depth") -> np.ndarray:
    """Side-by-side picture: input, truth, prediction (amodal: truth and prediction of each hand), with a legend.

    The background is what the model saw: greyscale depth for a depth model, the colour image otherwise. Panels
    are enlarged to display size before the captions are drawn, so text is never scaled up afterwards.
    """
    from handseg.viz.overlay import depth_gray, overlay_labels, overlay_parts, put_text, tile, to_display, with_legend

    use_color = modality != "depth" and sample.get("color") is not None
    base = sample["color"] if use_color else depth_gray(sample["depth"])
    if task == "segmentation":
        truth = sample.get("label")
        panels = [base.copy(), overlay_labels(base, truth if truth is not None else np.zeros_like(pred)),
                  overlay_labels(base, pred)]  # fmt: skip
        titles = [caption, "truth", "prediction"]
    else:
        truth = sample.get("parts")
        truth = truth if truth is not None else np.zeros_like(pred)
        base = (base * 0.55).astype(np.uint8)  # darker, so the light palm colour stands out
        panels = [overlay_parts(base, truth[0]), overlay_parts(base, pred[0]),
                  overlay_parts(base, truth[1]), overlay_parts(base, pred[1])]  # fmt: skip
        titles = [f"{caption} left truth", "left prediction", "right truth", "right prediction"]
    panels = [put_text(to_display(panel), title, org=(6, 20), scale=0.55) for panel, title in zip(panels, titles)]
    return with_legend(tile(panels, columns=len(panels)), "labels" if task == "segmentation" else "parts")


@torch.no_grad()
def predict_sample(model: torch.nn.Module, torch_ds: Any, index: int, device: Any) -> tuple[dict[str, Any], np.ndarray]:
    """The resized sample of a dataset index and the model's labels for it."""
    from handseg.engine.evaluate import predict_labels

    item = torch_ds[index]
    logits = model(item["input"][None].to(device)).float()
    return torch_ds.sample(index), predict_labels(logits, torch_ds.task)[0].cpu().numpy()


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
    """metrics.json, metrics.md, per_frame.csv, confusion.png and worst/<rank>_<id>.png overlays."""
    from handseg.engine.evaluate import headline, sort_worst

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
    if task == "segmentation" and "confusion" in metrics:
        from handseg.data.format import CLASSES
        from handseg.viz.plots import plot_confusion

        plot_confusion(metrics["confusion"], list(CLASSES), out_dir / "confusion.png", title=config["model"]["name"])
    key = headline(task)
    for rank, frame in enumerate(sort_worst(frames, key)[:worst]):
        sample, pred = predict_sample(model, torch_ds, frame["index"], device)
        modality = config.get("data", {}).get("modality", "depth")
        picture = _render(sample, pred, task, f"{frame['id']} mIoU {_pct(frame[key])}", modality)
        atomic_write_png(out_dir / "worst" / f"{rank:02d}_{frame['id']}.png", picture)
