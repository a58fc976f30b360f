"""A/B of training arms from `handseg experiment` row files: per-seed figures, means, differences, a plot.

    python benchmarks/bench_ab.py --arm "baseline=benchmarks/results/objects_ab/baseline_fcn8s_seed*.json" \
        --arm "in_range=benchmarks/results/range_ab/in_range_fcn8s_seed*.json" \
        --synthetic-eval "in_range=benchmarks/results/range_ab/eval/{arm}_seed{seed}_on_v3-320-20k.json" \
        --extra "in-range val frames=benchmarks/results/range_ab/eval/{arm}_seed{seed}_on_v3r-320-20k.json" \
        --out benchmarks/results/range_ab_table.md

The first arm is the reference: every other arm is compared with it (difference of means +- its standard error,
`handseg.experiments.table_report.mean_difference`, "up"/"down" beyond 2 of them as in Table 2's verdicts, and
the mean of the per-seed differences over the seeds both arms have). Synthetic figures come from each row file's
own validation split, or, for an arm named in `--synthetic-eval`, from `handseg eval` files (an arm trained on
other data, scored on the reference's validation frames); real figures from the row file's real-set evaluation.
`--extra TITLE=PATTERN` adds a column of mean IOU from `handseg eval` files ({arm} and {seed} filled in; missing
files are left out; PATTERN@GROUP takes one group of the file, such as a scene family). Writes OUT (.md), .json
and _ab.png beside it; refused if present without --force.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import parse_named
from handseg.experiments.row_records import summarize
from handseg.experiments.table_report import mean_difference

RESULTS = Path(__file__).resolve().parent / "results"
STANDALONE = False  # needs row files named on its command line: `make bench` skips it
FIGURES = (  # (key, title, source): source "synthetic" or "real"
    ("miou_hand_object", "synthetic mean IOU", "synthetic"),
    ("iu_hand", "synthetic hand IU", "synthetic"),
    ("iu_object", "synthetic object IU", "synthetic"),
    ("miou_hand_object", "DexYCB mean IOU", "real"),
    ("iu_hand", "DexYCB hand IU", "real"),
    ("iu_object", "DexYCB object IU", "real"),
)


def metric(metrics: dict[str, Any] | None, key: str) -> float | None:
    """One figure (iu_hand / iu_object from the iu list) of a metrics dict, in %; None when absent."""
    if not metrics:
        return None
    if key in ("iu_hand", "iu_object"):
        iu = metrics.get("iu") or []
        value = iu[1 if key == "iu_hand" else 2] if len(iu) == 3 else None
    else:
        value = metrics.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return 100.0 * float(value)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file, with a clear error naming it."""
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise SystemExit(f"bench_ab: error: {path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise SystemExit(f"bench_ab: error: {path}: not JSON ({exc})") from None


def load_arm(pattern: str) -> dict[int, dict[str, Any]]:
    """Row files matching a glob, by seed; each must be a row file (seed, metrics)."""
    paths = sorted(Path(p) for p in glob.glob(pattern))
    if not paths:
        raise SystemExit(f"bench_ab: error: no row files match {pattern!r}")
    out: dict[int, dict[str, Any]] = {}
    for path in paths:
        record = read_json(path)
        if not isinstance(record, dict) or "seed" not in record or "metrics" not in record:
            raise SystemExit(f"bench_ab: error: {path}: not a row file of handseg experiment (no seed/metrics)")
        if int(record["seed"]) in out:
            raise SystemExit(f"bench_ab: error: {path}: seed {record['seed']} appears twice in {pattern!r}")
        out[int(record["seed"])] = {**record, "_path": str(path)}
    return out


def eval_metrics(pattern: str, arm: str, seed: int) -> dict[str, Any] | None:
    """The metrics of `handseg eval` for (arm, seed) from a {arm}/{seed} pattern; None if the file is absent."""
    path = Path(pattern.format(arm=arm, seed=seed))
    return read_json(path) if path.is_file() else None


def extra_metrics(pattern: str, arm: str, seed: int) -> dict[str, Any] | None:
    """`eval_metrics` of PATTERN, or of one group of it with PATTERN@GROUP (e.g. a scene family of --group-by)."""
    path, _, group_name = pattern.partition("@")
    metrics = eval_metrics(path, arm, seed)
    if metrics is None or not group_name:
        return metrics
    return (metrics.get("groups") or {}).get(group_name)


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for fewer than two values)."""
    mean, std, _ = summarize(values)
    return mean, std


def collect(
    arms: list[tuple[str, str]], synthetic_eval: dict[str, str], extra: list[tuple[str, str]]
) -> dict[str, dict[int, dict[str, float | None]]]:
    """Per arm and seed: every figure of FIGURES and each extra column, in %."""
    table: dict[str, dict[int, dict[str, float | None]]] = {}
    for name, pattern in arms:
        table[name] = {}
        for seed, record in sorted(load_arm(pattern).items()):
            synthetic = record["metrics"]
            if name in synthetic_eval:
                synthetic = eval_metrics(synthetic_eval[name], name, seed)
            sources = {"synthetic": synthetic, "real": record.get("real")}
            row = {title: metric(sources[source], key) for key, title, source in FIGURES}
            for title, pattern_extra in extra:
                row[title] = metric(extra_metrics(pattern_extra, name, seed), "miou_hand_object")
            table[name][seed] = row
    return table


def compare(reference: dict[int, dict], arm: dict[int, dict], title: str) -> dict[str, Any]:
    """Difference of means with its standard error and verdict, and the mean per-seed (paired) difference."""
    a = [r[title] for r in arm.values() if r[title] is not None]
    b = [r[title] for r in reference.values() if r[title] is not None]
    out: dict[str, Any] = {"n": [len(a), len(b)]}
    if not a or not b:
        return out
    out["diff"], se = mean_difference(a, b)
    if se is not None:
        out["se"] = se
        out["verdict"] = "up" if out["diff"] > 2 * se else "down" if out["diff"] < -2 * se else "not resolved"
    paired = [
        arm[s][title] - reference[s][title]
        for s in arm
        if s in reference and arm[s][title] is not None and reference[s][title] is not None
    ]
    if paired:
        pm, ps = mean_std(paired)
        out["paired"] = {"seeds": len(paired), "mean": pm, "std": ps}
    return out


def _fmt(value: float | None, std: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" + (f" ± {std:.1f}" if std is not None else "")


def markdown(
    table: dict, comparisons: dict, titles: list[str], command: str, plot_name: str, intro: str = "", reading: str = ""
) -> str:
    """Per-seed table, means table and comparisons, after `intro` (title, question, design) and before `reading`."""
    names = list(table)
    lines = [intro.rstrip() + "\n"] if intro.strip() else []
    lines += [f"Made with `{command}`. Scores in %; ± is the sample standard deviation over seeds, and for a",
             "difference its standard error; 'up'/'down' = more than 2 standard errors; paired = mean (± std) of the",
             "per-seed differences over the seeds both arms have.", "",
             "| arm | seed | " + " | ".join(titles) + " |", "|---|---|" + "---|" * len(titles)]  # fmt: skip
    for name in names:
        for seed, row in table[name].items():
            lines.append(f"| {name} | {seed} | " + " | ".join(_fmt(row[t]) for t in titles) + " |")
    lines += ["", "| figure | " + " | ".join(f"{n} (n)" for n in names) + " | "
              + " | ".join(f"{n} - {names[0]}" for n in names[1:]) + " |",
              "|---|" + "---|" * (2 * len(names) - 1)]  # fmt: skip
    for title in titles:
        cells = []
        for name in names:
            values = [r[title] for r in table[name].values() if r[title] is not None]
            cells.append(f"{_fmt(*mean_std(values))} ({len(values)})" if values else "-")
        for name in names[1:]:
            c = comparisons[name][title]
            if "diff" not in c:
                cells.append("-")
                continue
            text = f"{c['diff']:+.1f}" + (f" ± {c['se']:.1f}, {c['verdict']}" if "se" in c else "")
            if "paired" in c:
                p = c["paired"]
                text += f"; paired {p['mean']:+.1f}" + (f" ± {p['std']:.1f}" if p["std"] is not None else "")
                text += f" ({p['seeds']} seeds)"
            cells.append(text)
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines += ["", f"![per-seed figures and means]({plot_name})", ""]
    if reading.strip():
        lines += [reading.rstrip(), ""]
    return "\n".join(lines)


def plot(table: dict, titles: list[str], path: Path) -> None:
    """One panel per figure: each seed as a dot, the mean +- std as a bar, one colour per arm, with a legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(titles))
    rows = math.ceil(len(titles) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    for ax, title in zip(axes.ravel(), titles, strict=False):
        for i, (name, seeds) in enumerate(table.items()):
            values = [r[title] for r in seeds.values() if r[title] is not None]
            if not values:
                continue
            mean, std = mean_std(values)
            ax.errorbar(i, mean, yerr=std or 0, fmt="s", color=f"C{i}", capsize=6, markersize=8, label=name)
            ax.scatter([i + 0.15] * len(values), values, color=f"C{i}", alpha=0.6, s=18)
        ax.set_xticks(range(len(table)), list(table), rotation=15)
        ax.set(title=title, ylabel="%")
        ax.grid(axis="y", alpha=0.3)
    for ax in axes.ravel()[len(titles) :]:
        ax.axis("off")
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, [f"{n} (square: mean ± std; dots: seeds)" for n in labels], loc="lower center",
               ncol=len(labels), frameon=False)  # fmt: skip
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Build the A/B report from row files (and eval files) and write it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arm", type=parse_named, action="append", required=True, help="NAME=GLOB of row files; first = reference"
    )
    parser.add_argument("--synthetic-eval", type=parse_named, action="append", default=[],
                        help="ARM=PATTERN: that arm's synthetic figures from eval files ({arm}, {seed})")  # fmt: skip
    parser.add_argument("--extra", type=parse_named, action="append", default=[],
                        help="TITLE=PATTERN: a mean-IOU column from handseg eval files ({arm}, {seed})")  # fmt: skip
    parser.add_argument("--intro", type=Path, help="Markdown placed before the tables (title, question, design)")
    parser.add_argument("--reading", type=Path, help="Markdown placed after the tables (what they say)")
    parser.add_argument("--out", type=Path, default=RESULTS / "ab.md", help="Markdown file (.json, _ab.png beside)")
    parser.add_argument("--force", action="store_true", help="overwrite existing results")
    args = parser.parse_args(argv)
    from handseg.utils.io import atomic_write_text

    names = [n for n, _ in args.arm]
    if len(set(names)) != len(names) or len(names) < 2:
        parser.error("give at least two arms with different names")
    unknown = [n for n, _ in args.synthetic_eval if n not in names]
    if unknown:
        parser.error(f"--synthetic-eval names arms that are not given: {', '.join(unknown)}")
    md_path, json_path = args.out.with_suffix(".md"), args.out.with_suffix(".json")
    png_path = args.out.with_name(args.out.stem + "_ab.png")
    for path in (md_path, json_path, png_path):
        if path.exists() and not args.force:
            print(f"bench_ab: error: {path}: exists; pass --force to overwrite", file=sys.stderr)
            return 1
    texts = {}
    for key in ("intro", "reading"):
        path = getattr(args, key)
        try:
            texts[key] = path.read_text(encoding="utf-8") if path else ""
        except (OSError, UnicodeDecodeError) as exc:
            print(f"bench_ab: error: {path}: cannot read ({exc})", file=sys.stderr)
            return 1
    table = collect(args.arm, dict(args.synthetic_eval), args.extra)
    titles = [title for _, title, _ in FIGURES] + [title for title, _ in args.extra]
    reference = table[names[0]]
    comparisons = {n: {t: compare(reference, table[n], t) for t in titles} for n in names[1:]}
    command = "python benchmarks/bench_ab.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    plot(table, titles, png_path)
    payload = {"command": command, "arms": {n: {str(s): r for s, r in t.items()} for n, t in table.items()},
               "comparisons": comparisons}  # fmt: skip
    atomic_write_text(json_path, json.dumps(payload, indent=1) + "\n")
    text = markdown(table, comparisons, titles, command, png_path.name, texts["intro"], texts["reading"])
    atomic_write_text(md_path, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
