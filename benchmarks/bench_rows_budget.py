"""Is the step budget of the experiment rows enough? The same rows at several budgets, side by side.

    python benchmarks/bench_rows_budget.py [RUN[:LABEL] ...] --budget benchmarks/results/rows \
        --budget benchmarks/results/long/rows [--budget ...] [--curve-row dense_attention_seg] [--note TEXT]

Each --budget is a folder of experiment row files (`<row>_seed<k>.json`, one step budget per folder); each RUN is a
`handseg train` run folder (its metrics.csv), e.g. a probe of one row at another budget. Writes
benchmarks/results/rows_budget.{md,json,png}: per row and budget the held-out synthetic and DexYCB mean IOU of hand
and object (mean ± std over seeds), how many of its runs are flat (the tables' last-quarter criterion), the change
from the budget before; then the validation curves of --curve-row's seed 0 at every budget and of the RUNs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handseg.experiments.row_records import FLAT_GAIN_POINTS, LATE_SHARE, count_flat, summarize
from handseg.experiments.tables import TABLES, read_curve
from handseg.utils.io import atomic_write_json, atomic_write_text

KEY = "miou_hand_object"


def read_budget(folder: Path) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    """The row files of one folder grouped by row key, and their common step budget."""
    by_row: dict[str, list[dict[str, Any]]] = {}
    steps: set[int] = set()
    for path in sorted(folder.glob("*_seed*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record["row"].get("finetunes") is None:  # contour rows: a short fine-tune, not a budget of their own
            steps.add(int(record["steps"]))
        by_row.setdefault(record["row"]["key"], []).append(record)
    if len(steps) != 1:
        raise SystemExit(f"{folder}: expected row files of one step budget, found {sorted(steps) or 'none'}")
    return steps.pop(), by_row


def cell(values: list[float]) -> str:
    """'mean ± std (n)' in points, '-' when empty."""
    if not values:
        return "-"
    mean, std, count = summarize([100 * v for v in values])
    return f"{mean:.1f}" + (f" ± {std:.1f}" if std is not None else "") + f" ({count})"


def main() -> int:
    """Collect the budgets and curves, write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="probe run folders, optionally RUN:LABEL")
    parser.add_argument("--budget", action="append", default=[], help="a folder of row files of one step budget")
    parser.add_argument("--curve-row", default="dense_attention_seg", help="the row whose seed-0 curves are drawn")
    parser.add_argument("--note", default="", help="a paragraph for the report (how the budget was decided)")
    parser.add_argument("--out", default="benchmarks/results", help="where rows_budget.{md,json,png} go")
    args = parser.parse_args()
    probes: list[tuple[str, list[dict[str, Any]]]] = []
    for spec in args.runs:
        path, _, label = spec.partition(":")
        curve = read_curve(Path(path) / "metrics.csv")
        if not curve:
            parser.error(f"{path}: no validation points in metrics.csv")
        probes.append((label or Path(path).name, curve))
    budgets = sorted((read_budget(Path(folder)) for folder in args.budget), key=lambda item: item[0])
    table_order = [row.key for rows_of_table in TABLES.values() for row in rows_of_table]
    found = {key for _, by_row in budgets for key in by_row}
    rows = [key for key in dict.fromkeys(table_order) if key in found] + sorted(found - set(table_order))
    labels = {r["row"]["key"]: r["row"]["label"] for _, by_row in budgets for rs in by_row.values() for r in rs}

    lines = ["# Step budget of the experiment rows", "", args.note, ""]
    header = "| row | " + " | ".join(f"{steps} steps: synthetic | DexYCB | flat runs" for steps, _ in budgets)
    lines += [
        f"Cells: mean ± sample std (seeds) of the mean IOU of hand and object (%); 'flat runs': runs whose best "
        f"validation score of the last {LATE_SHARE:.0%} of steps beats the best before by less than "
        f"{FLAT_GAIN_POINTS:g} point; 'change': the synthetic mean minus the budget before's, over the seeds "
        "both have.",
        "",
        header + " | " + " | ".join(f"change to {steps}" for steps, _ in budgets[1:]) + " |",
        "|---|" + "---|---|---|" * len(budgets) + "---|" * (len(budgets) - 1),
    ]
    summary: dict[str, Any] = {}
    for key in rows:
        cells, changes, per_budget = [], [], {}
        for index, (steps, by_row) in enumerate(budgets):
            records = by_row.get(key, [])
            flat, judged = count_flat(records)
            synthetic = [r["metrics"][KEY] for r in records]
            real = [r["real"][KEY] for r in records if r.get("real")]
            cells += [cell(synthetic), cell(real), f"{flat} of {judged}" if judged else "-"]
            per_budget[steps] = {
                "seeds": [r["seed"] for r in records],
                "synthetic": synthetic,
                "real": real,
                "flat": flat,
            }
            if index:
                before = {r["seed"]: r["metrics"][KEY] for r in budgets[index - 1][1].get(key, [])}
                paired = [100 * (r["metrics"][KEY] - before[r["seed"]]) for r in records if r["seed"] in before]
                changes.append(f"{statistics.fmean(paired):+.1f} ({len(paired)})" if paired else "-")
        summary[key] = per_budget
        lines.append(f"| {labels.get(key, key)} | " + " | ".join(cells + changes) + " |")

    curves = [
        (f"{args.curve_row} seed 0, {steps}-step budget", r["curve"])
        for steps, by_row in budgets
        for r in by_row.get(args.curve_row, [])
        if r["seed"] == 0
    ] + probes
    lines += ["", f"Validation curves (step: mean IOU %) of {args.curve_row} seed 0 and the probes:", ""]
    for label, curve in curves:
        lines.append(f"- {label}: " + ", ".join(f"{p['step']}: {100 * p[KEY]:.1f}" for p in curve))
    lines += ["", "![budgets and curves](rows_budget.png)", ""]
    out = Path(args.out)
    atomic_write_text(out / "rows_budget.md", "\n".join(lines))
    atomic_write_json(
        out / "rows_budget.json", {"command": " ".join(sys.argv), "rows": summary, "curves": dict(curves)}
    )
    table2 = {row.key for row in TABLES["table2"]}
    plot(budgets, [key for key in rows if key in table2] or rows, labels, curves, out / "rows_budget.png")
    print((out / "rows_budget.md").read_text())
    return 0


def plot(budgets: list, rows: list[str], labels: dict[str, str], curves: list, path: Path) -> None:
    """Left: mean IOU against the step budget per Table 2 row (synthetic solid, DexYCB dashed); right: the curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (left, right) = plt.subplots(1, 2, figsize=(16, 4.8), gridspec_kw={"wspace": 0.85})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, key in enumerate(rows):
        colour = colours[index % len(colours)]
        for field, style in (("metrics", "o-"), ("real", "s--")):
            xs, ys = [], []
            for steps, by_row in budgets:
                values = [r[field][KEY] for r in by_row.get(key, []) if r.get(field)]
                if values:
                    xs.append(steps)
                    ys.append(100 * statistics.fmean(values))
            label = labels.get(key, key) if field == "metrics" else None
            left.plot(xs, ys, style, color=colour, markersize=4, label=label, alpha=1.0 if field == "metrics" else 0.6)
    left.set_xscale("log")
    left.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    left.set_xticks([steps for steps, _ in budgets], [str(steps) for steps, _ in budgets])
    left.set_xlabel("step budget (batch 8); solid: held-out synthetic, dashed: DexYCB")
    left.set_ylabel("mean IOU of hand and object (%), mean over seeds")
    left.grid(alpha=0.3)
    left.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    for label, curve in curves:
        right.plot([p["step"] for p in curve], [100 * p[KEY] for p in curve], "o-", markersize=3, label=label)
    right.set_xlabel("optimisation step (batch 8)")
    right.set_ylabel("validation mean IOU of hand and object (%)")
    right.grid(alpha=0.3)
    right.legend(fontsize=7, loc="lower right")
    fig.savefig(path, bbox_inches="tight", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
