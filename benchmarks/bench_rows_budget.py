"""How the step budget of the experiment rows was chosen: validation curves of one row at several budgets.

    python benchmarks/bench_rows_budget.py RUN[:LABEL] ... [--row-file benchmarks/results/rows/X_seed0.json]

Each RUN is a `handseg train` run folder (its metrics.csv); each row file adds the curve it recorded. Writes
benchmarks/results/rows_budget.{md,json,png}: per curve the final validation mean IOU of hand and object, its gain
over the last quarter of its budget, and every validation point.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handseg.experiments.tables import read_curve
from handseg.utils.io import atomic_write_json, atomic_write_text

KEY = "miou_hand_object"


def last_quarter_gain(curve: list[dict[str, Any]]) -> float | None:
    """Final value minus the value at (or just before) 3/4 of the last step, in points."""
    pts = [(p["step"], p[KEY]) for p in curve if KEY in p]
    if len(pts) < 2:
        return None
    end_step, end = pts[-1]
    before = [v for s, v in pts if s <= 0.75 * end_step]
    return 100 * (end - before[-1]) if before else None


def main() -> int:
    """Collect the curves, write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="run folders, optionally RUN:LABEL")
    parser.add_argument("--row-file", action="append", default=[], help="an experiment row file (its curve)")
    parser.add_argument("--note", default="", help="a paragraph for the report (how the budget was decided)")
    parser.add_argument("--out", default="benchmarks/results", help="where rows_budget.{md,json,png} go")
    args = parser.parse_args()
    curves: list[tuple[str, list[dict[str, Any]]]] = []
    for spec in args.runs:
        path, _, label = spec.partition(":")
        curve = read_curve(Path(path) / "metrics.csv")
        if not curve:
            parser.error(f"{path}: no validation points in metrics.csv")
        curves.append((label or Path(path).name, curve))
    for path in args.row_file:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        curves.append(
            (f"{record['row']['key']} seed {record['seed']} ({record['steps']} steps, row file)", record["curve"])
        )
    lines = [
        "# Step budget of the experiment rows",
        "",
        args.note,
        "",
        "| curve | steps | final val mean IOU | IU hand | IU object | gain over the last quarter (points) |",
        "|---|---|---|---|---|---|",
    ]
    for label, curve in curves:
        end = curve[-1]
        gain = last_quarter_gain(curve)
        lines.append(
            f"| {label} | {end['step']} | {100 * end[KEY]:.2f} | {100 * end.get('iu_hand', float('nan')):.2f} | "
            f"{100 * end.get('iu_object', float('nan')):.2f} | {'-' if gain is None else f'{gain:+.2f}'} |"
        )
    lines += ["", "Every validation point (step: mean IOU %):", ""]
    for label, curve in curves:
        lines.append(f"- {label}: " + ", ".join(f"{p['step']}: {100 * p[KEY]:.1f}" for p in curve))
    lines += ["", "![validation curves](rows_budget.png)", ""]
    out = Path(args.out)
    atomic_write_text(out / "rows_budget.md", "\n".join(lines))
    atomic_write_json(out / "rows_budget.json", {"command": " ".join(sys.argv), "curves": dict(curves)})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, curve in curves:
        ax.plot([p["step"] for p in curve], [100 * p[KEY] for p in curve], "o-", markersize=3, label=label)
    ax.set_xlabel("optimisation step (batch 8)")
    ax.set_ylabel("validation mean IOU of hand and object (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "rows_budget.png", dpi=110)
    plt.close(fig)
    print((out / "rows_budget.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
