"""Plots of runs: loss and metric curves from metrics.csv, confusion matrices (PNG, written atomically)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from handseg.utils.io import atomic_write_bytes

# matplotlib (~0.3 s with pyplot) is imported when a plot is drawn, after selecting the Agg backend.
CURVE_METRICS = ("miou_hand_object", "mean_iu", "pixel_acc", "miou", "visible_miou", "hidden_miou")  # amodal: part mIoU


def _save(fig: Any, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def plot_curves(rows: list[dict[str, Any]], out_png: str | Path, title: str = "") -> Path:
    """Training/validation loss (left) and validation metrics (right) against steps, from metrics.csv rows
    (handseg.engine.runlog.read_metrics_csv)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.6))
    for kind, style in (("train", "-"), ("val", "o-")):
        pts = [(r["step"], r["loss"]) for r in rows if r["kind"] == kind and r.get("loss") is not None]
        if pts:
            ax_loss.plot(*zip(*pts), style, label=f"{kind} loss", markersize=3)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    if any(r.get("loss") for r in rows):
        ax_loss.set_yscale("log")
    ax_loss.legend(loc="upper right")
    ax_loss.grid(alpha=0.3)
    for key in CURVE_METRICS:
        pts = [(r["step"], r[key]) for r in rows if r["kind"] == "val" and r.get(key) is not None]
        if pts:
            ax_metric.plot(*zip(*pts), "o-", label=key, markersize=3)
    ax_metric.set_xlabel("step")
    ax_metric.set_ylabel("validation score")
    ax_metric.set_ylim(0, 1)
    ax_metric.grid(alpha=0.3)
    if ax_metric.lines:
        ax_metric.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    _save(fig, out_png)
    return Path(out_png)


def plot_confusion(hist: Any, classes: list[str], out_png: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (true rows, predicted columns) with pixel counts in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist = np.asarray(hist, np.float64)
    rows = hist.sum(1, keepdims=True)
    norm = np.divide(hist, rows, out=np.zeros_like(hist), where=rows > 0)
    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            color = "white" if norm[i, j] > 0.5 else "black"
            ax.text(j, i, f"{norm[i, j]:.3f}\n{int(hist[i, j])}", ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title)
    _save(fig, out_png)
    return Path(out_png)
