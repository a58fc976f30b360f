"""Markdown + JSON + plots of an experiment table from its row files: mean +- std over seeds, the paper beside ours."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from handseg.experiments.row_records import (
    FLAT_GAIN_POINTS,
    LATE_SHARE,
    _value,
    count_flat,
    group,
    late_gain,
    summarize,
)
from handseg.experiments.table_plots import plot_curves, plot_miou
from handseg.utils.io import atomic_write_json, atomic_write_text
from handseg.utils.timing import cpu_name

PAPER = (
    "Bo, Zhang, Yong, Xu: DenseAttentionSeg (arXiv 1903.12368), real InterSegHands validation data, 640x480, Titan Xp"
)
# The paper's claims checked here, as (better row, worse row, the paper's margin in mean IOU points).
CLAIMS = (
    ("dense_attention_seg", "dense_attention_seg_noattn", "dense attention helps (paper: +0.84)"),
    ("dense_attention_seg_contour", "dense_attention_seg", "contour fine-tuning helps (paper: +0.29)"),
    ("noattn_contour", "dense_attention_seg_noattn", "contour fine-tuning helps without attention"),
    ("dense_attention_seg", "attention_fine_only", "fine + coarse beat fine attention only (the design)"),
    ("dense_attention_seg", "attention_coarse_only", "fine + coarse beat coarse attention only (the design)"),
    ("dense_attention_seg", "attention_unweighted_ce", "class weights 1/5/5 beat unweighted CE (the design)"),
    ("dense_attention_seg_contour", "attention_contour_beta005", "contour beta 0.005 beats 0.05 (the paper's choice)"),
    ("dense_attention_seg", "attention_k32", "the paper's k beats half of it (k=16 vs 8 here; paper 64 vs 32)"),
    ("dense_attention_seg", "attention_k128", "the paper's k beats twice it (k=16 vs 32 here; paper 64 vs 128)"),
    ("dense_attention_seg", "attention_os8", "output stride 16 beats 8 (the design, chosen for speed)"),
    ("dense_attention_seg", "deeplabv3plus", "DenseAttentionSeg beats DeepLabv3+ (paper: +0.89)"),
    ("dense_attention_seg", "refinenet", "DenseAttentionSeg beats RefineNet (paper: +1.12)"),
    ("dense_attention_seg", "gcn", "DenseAttentionSeg beats GCN (paper: +1.10)"),
    ("fcn8s", "fcn16s", "FCN-8s beats FCN-16s (paper: +3.99)"),
    ("fcn16s", "fcn32s", "FCN-16s beats FCN-32s (paper: -0.01, a tie)"),
    ("deeplabv3plus", "fcn8s", "DeepLabv3+ beats FCN-8s (paper: +1.18)"),
)
HEADLINE = "miou_hand_object"


def machine_line() -> str:
    """CPU, cores, torch: the context of the timings."""
    return f"{cpu_name()}, {os.cpu_count()} logical cores, torch {torch.__version__}, no GPU"


def library_versions() -> dict[str, str]:
    """Versions of the libraries the synthetic frames and the training depend on (their bytes can change with them)."""
    import albumentations
    import cv2
    import numpy as np

    return {"numpy": np.__version__, "opencv": cv2.__version__, "albumentations": albumentations.__version__,
            "torch": torch.__version__}  # fmt: skip


def _cell(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    mean, std, n = summarize(values)
    if n == 0:
        return "-"
    text = f"{scale * mean:.{digits}f}"
    return text + (f" ± {scale * std:.{digits}f}" if std is not None else "")


def segmentation_table(records: list[dict[str, Any]], rows: tuple[Any, ...]) -> str:
    """Mean +- std over seeds: synthetic scores, DexYCB scores, size and speed, and the paper's figures."""
    head = [
        "row",
        "seeds",
        "mean IOU (hand, object)",
        "pixel acc.",
        "mean acc.",
        "mean IU",
        "f.w. IU",
        "IU hand",
        "IU object",
        "no-forearm mean IOU",
        "no-forearm IU hand",
        "DexYCB mean IOU",
        "DexYCB IU hand",
        "DexYCB IU object",
        "params (M)",
        "CPU ms",
        "train min",
        "last-quarter gain",
        "paper mean IOU",
        "paper pixel acc.",
        "paper mean IU",
        "paper ms (GPU)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_key = group(records)
    for row in rows:
        found = by_key.get(row.key, [])
        seeds = ",".join(str(r["seed"]) for r in found)

        def col(key: str, real: bool = False, found: list[dict[str, Any]] = found, source: str | None = None) -> str:
            return _cell([v for r in found if (v := _value(r, key, real, source=source)) is not None])

        paper = row.paper
        cells = [
            row.label,
            f"{len(found)} ({seeds})" if found else "0",
            col(HEADLINE),
            col("pixel_acc"),
            col("mean_acc"),
            col("mean_iu"),
            col("fw_iu"),
            col("iu_hand"),
            col("iu_object"),
            col(HEADLINE, source="no_forearm"),
            col("iu_hand", source="no_forearm"),
            col(HEADLINE, True),
            col("iu_hand", True),
            col("iu_object", True),
            f"{found[0]['params_m']:.2f}" if found else "-",
            _cell([r["latency"]["latency_ms"] for r in found], 1, 0),
            _cell([r["train_s"] / 60 for r in found], 1, 1),
            _cell([g for r in found if (g := late_gain(r)) is not None], 100, 1),
            f"{paper['miou_hand_object']:.2f}" if "miou_hand_object" in paper else "-",
            f"{paper['pixel_acc']:.2f}" if "pixel_acc" in paper else "-",
            f"{paper['mean_iu']:.2f}" if "mean_iu" in paper else "-",
            f"{paper['time_ms']:.1f}" if "time_ms" in paper else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


PART_TABLES = frozenset({"amodal"})  # experiments tables (handseg.experiments.tables.TABLES) of amodal rows


def _seeds_by(records: list[dict[str, Any]], value: Callable[[dict[str, Any]], str]) -> dict[str, dict[str, list[int]]]:
    """value -> row key -> the seeds of the row files with that value."""
    seeds: dict[str, dict[str, list[int]]] = {}
    for record in records:
        seeds.setdefault(value(record), {}).setdefault(record["row"]["key"], []).append(record["seed"])
    return seeds


def _where(seeds: dict[str, dict[str, list[int]]], width: int | None = None) -> str:
    """'value: row (seeds), row (seeds); value: ...' with each value cut to `width` characters."""
    return "; ".join(
        f"{value[:width]}: " + ", ".join(f"{key} ({', '.join(map(str, sorted(s)))})" for key, s in rows.items())
        for value, rows in seeds.items()
    )


def machines_line(records: list[dict[str, Any]]) -> str:
    """The CPU the rows trained on; with several, which (row, seeds) ran on each."""
    if not records:
        return f"Machine: {machine_line()}.  "
    seeds = _seeds_by(records, lambda record: record.get("machine", "unknown"))
    if len(seeds) == 1:
        return f"Machine: {next(iter(seeds))}.  "
    return (
        f"Machines: {_where(seeds)}. Training is bitwise exact on one CPU but not across CPUs, so a difference between "
        "rows of different machines also holds the machines' difference.  "
    )


def digests_line(records: list[dict[str, Any]]) -> str:
    """The data digest the rows trained on; with several, which (row, seeds) saw each."""
    seeds = _seeds_by(records, lambda record: record.get("data_sha256") or "not recorded")
    if len(seeds) <= 1:
        return f"Data digest (sha256 of the depth, label and split files): {next(iter(seeds), 'none')}.  "
    return (
        "Data digests (sha256 of the depth, label and split files; older row files: 'not recorded'): "
        f"{_where(seeds, width=16)}. Rows with different digests trained on different bytes.  "
    )


def claim_lines(records: list[dict[str, Any]]) -> list[str]:
    """Each paper claim whose rows are present: our difference of means (points) +- its standard error, a verdict."""
    by_key = group(records)
    lines = []
    for better, worse, text in CLAIMS:
        if better not in by_key or worse not in by_key:
            continue
        for real in (False, True):
            a = [v for r in by_key[better] if (v := _value(r, HEADLINE, real)) is not None]
            b = [v for r in by_key[worse] if (v := _value(r, HEADLINE, real)) is not None]
            if not a or not b:
                continue
            lines.append(f"| {text} | {'DexYCB' if real else 'synthetic'} | {verdict(a, b)} |")
    if not lines:
        return []
    return ["| claim | data | ours: difference of means (points), verdict |", "|---|---|---|", *lines]


def mean_difference(a: list[float], b: list[float]) -> tuple[float, float | None]:
    """Mean of `a` minus mean of `b`, and its standard error (None when either has fewer than two values)."""
    (ma, sa, na), (mb, sb, nb) = summarize(a), summarize(b)
    se = None if sa is None or sb is None else math.sqrt(sa**2 / na + sb**2 / nb)
    return ma - mb, se


def verdict(a: list[float], b: list[float]) -> str:
    """'+1.23 ± 0.40 (n 3/3): holds' style: the difference with its standard error and what 2 SE say."""
    diff, se = mean_difference(a, b)
    diff *= 100
    if se is None:
        return f"{diff:+.2f} (n {len(a)}/{len(b)}: no spread known, not decided)"
    se *= 100
    if diff > 2 * se:
        word = "holds"
    elif diff < -2 * se:
        word = "reversed"
    else:
        word = "not resolved (within 2 SE)"
    return f"{diff:+.2f} ± {se:.2f} (n {len(a)}/{len(b)}): {word}"


# The ETH report's ablation order (part mIoU, ascending): U-Net CE < U-Net Dice+CE < ResNet scSE hypercolumn Dice+CE.
AMODAL_ORDER = ("unet_ce", "unet_dice_ce", "unet_resnet50_scse_dice_ce")


def amodal_order_check(records: list[dict[str, Any]]) -> str:
    """Whether the rows present come out in the ETH ablation order (mean part mIoU ascending along AMODAL_ORDER)."""
    by_key = group(records)
    present = [k for k in AMODAL_ORDER if k in by_key]
    if len(present) < 2:
        return "ETH ablation order: not checked (fewer than two of its rows ran)."
    scores = [summarize([v for r in by_key[k] if (v := _value(r, "miou")) is not None])[0] for k in present]
    labels = " < ".join(by_key[k][0]["row"]["label"] for k in present)
    holds = all(a < b for a, b in itertools.pairwise(scores))
    figures = ", ".join(f"{100 * v:.2f}" for v in scores)
    return f"ETH ablation order ({labels}): {'holds' if holds else 'does not hold'} here ({figures})."


def amodal_table(records: list[dict[str, Any]], rows: tuple[Any, ...]) -> str:
    """Part mIoU (20-pixel rule, nanmean of nanmeans), mean +- std over seeds, for every row."""
    head = ["row", "seeds", "part mIoU", "left hand", "right hand", "visible parts", "hidden parts", "params (M)",
            "CPU ms", "train min"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_key = group(records)
    for row in rows:
        found = by_key.get(row.key, [])
        cells = [
            row.label,
            str(len(found)),
            _cell([v for r in found if (v := _value(r, "miou")) is not None]),
            _cell([v for r in found if (v := _value(r, "miou_left")) is not None]),
            _cell([v for r in found if (v := _value(r, "miou_right")) is not None]),
            _cell([v for r in found if (v := _value(r, "visible_miou")) is not None]),
            _cell([v for r in found if (v := _value(r, "hidden_miou")) is not None]),
            f"{found[0]['params_m']:.2f}" if found else "-",
            _cell([r["latency"]["latency_ms"] for r in found], 1, 0),
            _cell([r["train_s"] / 60 for r in found], 1, 1),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def flatness_line(records: list[dict[str, Any]]) -> str:
    """How flat the validation curves are: the rule and how many (row, seed) runs meet it."""
    flat, judged = count_flat(records)
    return (
        f"Flat curve: the best validation mean IOU of the last {LATE_SHARE:.0%} of a run's steps beats its best "
        f"before that by less than {FLAT_GAIN_POINTS:g} point (column 'last-quarter gain', points); "
        f"{flat} of {judged} (row, seed) runs here are flat."
    )


def write_table(
    name: str,
    records: list[dict[str, Any]],
    *,
    rows: tuple[Any, ...],
    command: str,
    results_dir: Path,
    seeds: tuple[int, ...] = (),
) -> Path:
    """Write <results_dir>/<name>.md, .json and the plots from the row files; return the Markdown path.

    `seeds`: the seeds every row should have (with those found in the files), to list what is missing.
    """
    amodal = name in PART_TABLES  # a table of amodal part results: the part table, no claims
    budget = records[0]["budget"] if records else {}
    expected = sorted(set(seeds) | {r["seed"] for r in records})
    missing = []
    for row in rows:
        have = {r["seed"] for r in records if r["row"]["key"] == row.key}
        if lacking := [s for s in expected if s not in have]:
            missing.append(f"{row.key} seed {','.join(map(str, lacking))}")
    size = "x".join(str(v) for v in budget.get("size", []))
    lat = "x".join(str(v) for v in budget.get("latency_size", []))
    commands = sorted({r.get("command", "") for r in records if r.get("command")})
    data = records[0]["data"] if records else "-"
    if amodal:  # the amodal rows keep their configs' crop size and batch; there is no contour phase or DexYCB
        data_line = (
            f"Data: {data}: hand-centred crops at each row config's size (128x128 "
            "for the shipped rows); the figures are on its whole validation split, whose object types (mug, torus) "
            "training never sees.  "
        )
        budget_line = (
            f"Budget: {budget.get('steps', '-')} optimisation steps per row at its config's batch size (warm-up + "
            "cosine, bf16 autocast, channels_last, one CPU thread).  "
        )
    else:
        data_line = (
            f"Data: {data} read at {size}; the synthetic figures are on its whole "
            "validation split, whose object types (mug, torus) training never sees; DexYCB: 74 real D415 depth "
            "frames (`--split test`, labels ignore the forearm), never trained on.  "
        )
        budget_line = (
            f"Budget: {budget.get('steps', '-')} optimisation steps per row (batch 8, warm-up + cosine, bf16 "
            "autocast, channels_last, one CPU thread); contour rows fine-tune the finished CE row of the same seed "
            f"(its best.ckpt) for {budget.get('contour_steps', '-')} more steps (the paper's 10 of 150 epochs) at "
            f"{budget.get('finetune_lr_ratio', '-')} x the lr.  "
        )
    intro = [
        f"# {name}: the paper's rows on the synthetic benchmark, seeds {', '.join(map(str, expected)) or 'none'}",
        "",
        f"Table rebuilt from the row files `{results_dir.as_posix()}/rows/*.json` by `{command}`.  ",
        ("Rows trained by: " + "; ".join(f"`{c}`" for c in commands) + ".  ") if commands else "",
        machines_line(records),
        digests_line(records),
        data_line,
        budget_line,
        f"Cells: mean ± sample std over the seeds listed (no ± with one seed). CPU ms: batch 1 at {lat}, one "
        "thread, median, measured right after each row's training while another training used the other core.  ",
        "" if amodal else flatness_line(records),
        "",
    ]
    if missing:
        intro += [f"Missing (row, seed) files: {'; '.join(missing)}.", ""]
    if amodal:
        body = [
            amodal_table(records, rows),
            "",
            "Part mIoU: per image and hand, IoU of parts 1..16 with at least 20 true pixels, nanmean per "
            "image-hand, then nanmean over all image-hands. Visible / hidden parts: the same score on the pixels "
            "where the hand's amodal part is seen / hidden behind the other hand or the object (truth elsewhere "
            "ignored). Amodal rows train on hand-centred crops (`--amodal-data`, or generated with "
            "`handseg synth --crop hands`); DexYCB has no part labels, so there is no real-data column.",
            "",
            amodal_order_check(records),
        ]
    else:
        claims = claim_lines(records)
        body = [
            segmentation_table(records, rows),
            "",
            f"Paper: {PAPER}. Ours: synthetic depth at {size}, ResNet-18 encoders at a quarter width with heads "
            "scaled by the same quarter; absolute figures are not comparable with the paper's, the orderings are.",
            "",
            "## The paper's claims here",
            "",
            "Difference of the mean IOU of hand and object (better row minus worse row, points) ± its standard "
            "error sqrt(s1²/n1 + s2²/n2); 'holds' when above 2 SE, 'reversed' when below -2 SE.",
            "",
            *(claims or ["No claim has both of its rows yet."]),
        ]
    if records:
        body += ["", f"![mean IOU per row]({name}_miou.png)", "", f"![validation curves]({name}_curves.png)"]
    results_dir.mkdir(parents=True, exist_ok=True)
    md = results_dir / f"{name}.md"
    atomic_write_text(md, "\n".join(intro + body) + "\n")
    atomic_write_json(
        results_dir / f"{name}.json",
        {"table": name, "command": command, "machine": machine_line(), "rows": records},
    )
    if records:
        key = "miou" if amodal else HEADLINE
        plot_miou(records, rows, results_dir / f"{name}_miou.png", key, real=not amodal, title=name)
        plot_curves(records, rows, results_dir / f"{name}_curves.png", key, title=name)
    return md
