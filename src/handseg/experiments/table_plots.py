"""Plots of an experiment table: mean IOU per row with error bars (synthetic and real) and validation curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from handseg.experiments.row_records import _value, group, summarize


def _pyplot() -> Any:
    """pyplot on the Agg backend, imported when a plot is drawn (~0.3 s): the backend must be chosen first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_miou(
    records: list[dict[str, Any]], rows: tuple[Any, ...], out_png: Path, key: str, real: bool, title: str
) -> Path:
    """Bars of the mean over seeds with +-1 sample std error bars, synthetic beside real, one group per row."""
    plt = _pyplot()
    by_key = group(records)
    shown = [row for row in rows if row.key in by_key]
    kinds = [("synthetic val (held-out objects)", False)] + ([("DexYCB real depth", True)] if real else [])
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 * len(shown) + 2), 4.2))
    x = np.arange(len(shown))
    width = 0.8 / len(kinds)
    for k, (label, is_real) in enumerate(kinds):
        means, errs, counts = [], [], []
        for row in shown:
            mean, std, n = summarize([v for r in by_key[row.key] if (v := _value(r, key, is_real)) is not None])
            means.append(100 * mean)
            errs.append(100 * std if std is not None else 0.0)
            counts.append(n)
        pos = x + (k - (len(kinds) - 1) / 2) * width
        ax.bar(pos, means, width, yerr=errs, capsize=3, label=label)
        for p, n in zip(pos, counts):
            if n:
                ax.text(p, 1, f"n={n}", ha="center", va="bottom", fontsize=7, rotation=90, color="black")
    ax.set_xticks(x)
    ax.set_xticklabels([row.label for row in shown], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("mean IOU of hand and object (%)" if key == "miou_hand_object" else f"{key} (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{title}: mean ± std over seeds")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def plot_curves(records: list[dict[str, Any]], rows: tuple[Any, ...], out_png: Path, key: str, title: str) -> Path:
    """Validation score against step for every (row, seed): one colour per row, one line style per seed."""
    plt = _pyplot()
    by_key = group(records)
    fig, ax = plt.subplots(figsize=(11, 5))
    styles = ["-", "--", ":", "-."]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, row in enumerate(r for r in rows if r.key in by_key):
        for j, record in enumerate(sorted(by_key[row.key], key=lambda r: r["seed"])):
            pts = [(p["step"], 100 * p[key]) for p in record.get("curve", []) if key in p]
            if not pts:
                continue
            steps, values = zip(*pts)
            ax.plot(
                steps,
                values,
                styles[j % len(styles)],
                color=colors[i % len(colors)],
                marker="o",
                markersize=2,
                linewidth=1,
                label=row.label if j == 0 else None,
            )
    ax.set_xlabel("optimisation step (contour rows: after their CE row's steps)")
    ax.set_ylabel("validation mean IOU (%)" if key == "miou_hand_object" else f"validation {key} (%)")
    ax.set_title(f"{title}: validation curves, one colour per row, one line style per seed (solid: lowest)")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
