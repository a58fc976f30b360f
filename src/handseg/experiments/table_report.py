"""Markdown + JSON of an experiment table, with the paper's figures and the ordering check beside ours."""

from __future__ import annotations

import itertools
import math
import platform
from pathlib import Path
from typing import Any

from handseg.utils.io import atomic_write_json, atomic_write_text

PAPER = "Bo, Zhang, Yong, Xu: DenseAttentionSeg (arXiv 1903.12368), InterSegHands, 640x480, Titan Xp"
# The paper's claim checked here: DenseAttentionSeg + contour > without contour > DeepLabv3+ > FCN-8s (mean IOU).
ORDER = ("dense_attention_seg_contour", "dense_attention_seg", "deeplabv3plus", "fcn8s")


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * float(value):.2f}"


def machine_line() -> str:
    """CPU, cores, torch: the context of the timings."""
    import os

    import torch

    cpu = platform.processor()
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__}, no GPU"


def ordering_check(results: list[dict[str, Any]]) -> str:
    """Whether mean IOU follows the paper's ordering, with the values."""
    by_key = {r["row"]["key"]: r["metrics"].get("miou_hand_object") for r in results}
    present = [k for k in ORDER if by_key.get(k) is not None]
    if len(present) < 2:
        return "Ordering not checked (rows missing)."
    values = [by_key[k] for k in present]
    holds = all(a > b for a, b in itertools.pairwise(values))
    expected = " > ".join(present)
    measured = ", ".join(f"{k} {_pct(by_key[k])}" for k in present)
    verdict = "holds" if holds else "does NOT hold"
    return f"The paper's ordering ({expected}) {verdict} here; mean IOU of hand and object (%): {measured}."


def segmentation_table(results: list[dict[str, Any]]) -> str:
    """Table 2 columns for every row."""
    head = [
        "row",
        "pixel acc.",
        "mean acc.",
        "mean IU",
        "f.w. IU",
        "mean IOU (hand, object)",
        "IU hand",
        "IU object",
        "params (M)",
        "CPU latency ms",
        "paper latency (GPU)",
        "train min",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        m = r["metrics"]
        iu = m.get("iu") or m.get("iu_per_class") or [None, None, None]  # iu_per_class: older files
        cells = [
            r["row"]["label"],
            _pct(m.get("pixel_acc")),
            _pct(m.get("mean_acc")),
            _pct(m.get("mean_iu")),
            _pct(m.get("fw_iu")),
            _pct(m.get("miou_hand_object")),
            _pct(iu[1]),
            _pct(iu[2]),
            f"{r['params_m']:.1f}",
            f"{r['latency']['latency_ms']:.0f}",
            r["row"]["paper"] or "-",
            f"{r['train_s'] / 60:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# The ETH report's ablation order (part mIoU, ascending): U-Net CE < U-Net Dice+CE < ResNet scSE hypercolumn Dice+CE.
AMODAL_ORDER = ("unet_ce", "unet_dice_ce", "unet_resnet50_scse_dice_ce")


def amodal_table(results: list[dict[str, Any]]) -> str:
    """Part mIoU (20-pixel rule, nanmean of nanmeans), per hand, on visible and on hidden parts, for every row."""
    head = ["row", "part mIoU", "left hand", "right hand", "visible parts", "hidden parts", "params (M)",
            "CPU latency ms", "train min"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        m = r["metrics"]
        cells = [
            r["row"]["label"],
            _pct(m.get("miou")),
            _pct(m.get("miou_left")),
            _pct(m.get("miou_right")),
            _pct(m.get("visible_miou")),
            _pct(m.get("hidden_miou")),
            f"{r['params_m']:.1f}",
            f"{r['latency']['latency_ms']:.0f}",
            f"{r['train_s'] / 60:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def amodal_order_check(results: list[dict[str, Any]]) -> str:
    """Whether the rows present come out in the ETH ablation order (part mIoU ascending along AMODAL_ORDER)."""
    by_key = {r["row"]["key"]: r for r in results}
    present = [k for k in AMODAL_ORDER if k in by_key]
    if len(present) < 2:
        return "ETH ablation order: not checked (fewer than two of its rows ran)."
    scores = [float(by_key[k]["metrics"].get("miou", float("nan"))) for k in present]
    labels = " < ".join(by_key[k]["row"]["label"] for k in present)
    holds = all(a < b for a, b in itertools.pairwise(scores))
    figures = ", ".join(f"{100 * v:.2f}" for v in scores)
    return f"ETH ablation order ({labels}): {'holds' if holds else 'does not hold'} here ({figures})."


def _amodal_data(budget: Any) -> str:
    """Where the amodal rows' hand crops came from."""
    extra = getattr(budget, "extra", {}) or {}
    if extra.get("amodal_data"):
        return f"the hand-crop dataset {extra['amodal_data']}"
    w, h = extra.get("amodal_size", (128, 128))
    return f"{budget.frames} synthetic hand-centred crops at {w}x{h} (`handseg synth --crop hands`)"


def write_table(name: str, results: list[dict[str, Any]], budget: Any, command: str, results_dir: Path) -> Path:
    """Write <results_dir>/<name>.md and .json; return the Markdown path."""
    w, h = budget.size
    lw, lh = budget.latency_size
    amodal = name == "amodal"
    intro = [
        f"# {name}: measured on the synthetic benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine_line()}.  ",
        (
            f"Data: {_amodal_data(budget)}"
            if amodal
            else f"Data: {budget.frames} synthetic frames at {w}x{h} (`handseg synth`)"
        )
        + ", validation split with held-out "
        f"object types only ({', '.join(budget.val_objects)}). Every row: the cpu preset of its config "
        f"(ResNet-18 encoders or small widths), {budget.steps} optimisation steps in all, seed {budget.seed}"
        + ("" if amodal else f"; contour rows spend the last {budget.finetune_steps} of them on contour fine-tuning")
        + ".  ",
        f"Latency: batch 1 at {lw}x{lh}, one CPU thread, median of {budget.latency_repeats}; every row's best "
        "model timed one after another in one process after all training (side by side, same conditions). "
        "'train min': wall minutes of the row's last training call (two rows at a time on a shared machine; a row "
        "resumed after an interruption shows only the resumed part).",
        "",
    ]
    if amodal:
        body = [
            amodal_table(results),
            "",
            "Part mIoU: per image and hand, IoU of parts 1..16 with at least 20 true pixels, nanmean per "
            "image-hand, then nanmean over all image-hands. Visible / hidden parts: the same score on the pixels "
            "where the hand's amodal part is seen / hidden behind the other hand or the object (truth elsewhere "
            "ignored); the 20-pixel rule counts the region's pixels.",
            "",
            amodal_order_check(results),
        ]
    else:
        body = [
            segmentation_table(results),
            "",
            ordering_check(results),
            "",
            f"Paper: {PAPER}. The accuracy figures of the paper's tables could not be read on this offline "
            "machine, so only its latencies (Titan Xp GPU, 640x480) and its ordering are given beside ours; "
            "our numbers are on synthetic data with a CPU budget and are not comparable to the paper's.",
        ]
    results_dir.mkdir(parents=True, exist_ok=True)
    md = results_dir / f"{name}.md"
    atomic_write_text(md, "\n".join(intro + body) + "\n")
    atomic_write_json(
        results_dir / f"{name}.json",
        {"table": name, "command": command, "machine": machine_line(), "budget": budget.__dict__, "rows": results},
    )
    return md
