"""Which synthetic score predicts the real one: hand IU with the forearm scored or ignored, over many trained runs.

    python benchmarks/bench_forearm_convention.py RUNS_ROOT ... --synthetic DATA --real ../shared/realdata/dexycb

Every run folder with a best.ckpt under the roots (e.g. the experiment rows' <out>/seed<k>/<row>) is evaluated on
the first --frames frames of the synthetic val split twice, with the forearm scored as hand (handseg's labels) and
not scored (`handseg eval --ignore-forearm`, the rule of DexYCB's wrist-length hand masks), and on the real frames.
The correlation across runs says which synthetic figure tracks the real one.

Writes benchmarks/results/forearm_convention.md (table and correlations), .json and .png (scatter plots).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import RESULTS, machine, markdown_table
from handseg.utils.io import atomic_write_json, atomic_write_text

STANDALONE = False  # needs models or datasets named on its command line: `make bench` skips it


def find_runs(roots: list[Path]) -> list[Path]:
    """Run folders (holding best.ckpt) under the roots, sorted."""
    return sorted({p.parent for root in roots for p in root.rglob("best.ckpt")})


def scores(run: Path, synthetic: Any, real: Path) -> dict[str, Any]:
    """Hand and object IU (%) of one run: synthetic frames (a reader) forearm scored / ignored, and real."""
    from handseg.engine.evaluate import evaluate

    row: dict[str, Any] = {"run": str(run)}
    for key, dataset, split, ignore in (("synthetic", synthetic, None, False),
                                        ("synthetic_no_forearm", synthetic, None, True),
                                        ("real", real, "test", False)):  # fmt: skip
        metrics = evaluate(run, dataset, split=split, progress=False, ignore_forearm=ignore, worst=0)
        row[f"{key} hand IU"] = round(100 * metrics["iu"][1], 2)
        row[f"{key} object IU"] = round(100 * metrics["iu"][2], 2)
    print(json.dumps(row), flush=True)
    return row


def correlations(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pearson and Spearman correlation of each synthetic hand IU with the real hand IU across runs."""
    real = np.array([r["real hand IU"] for r in rows])
    out = []
    for key in ("synthetic hand IU", "synthetic_no_forearm hand IU"):
        synth = np.array([r[key] for r in rows])
        pearson = float(np.corrcoef(synth, real)[0, 1])
        ranks = [np.argsort(np.argsort(v)) for v in (synth, real)]
        spearman = float(np.corrcoef(*ranks)[0, 1])
        gap = synth - real
        out.append({"synthetic figure": key.replace(" hand IU", ""), "runs": len(rows), "Pearson r": round(pearson, 3),
                    "Spearman rho": round(spearman, 3), "mean synthetic - real (points)": round(float(gap.mean()), 1),
                    "its std over runs": round(float(gap.std()), 1)})  # fmt: skip
    return out


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Real hand IU against each synthetic hand IU, one dot per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharey=True)
    real = [r["real hand IU"] for r in rows]
    panels = (
        (axes[0], "synthetic hand IU", "forearm scored as hand (handseg labels)"),
        (axes[1], "synthetic_no_forearm hand IU", "forearm not scored (as the real labels)"),
    )
    for ax, key, title in panels:
        ax.scatter([r[key] for r in rows], real, s=18, color="#d9534f", alpha=0.8, label="one trained run")
        ax.plot([0, 100], [0, 100], color="grey", lw=0.8, ls="--", label="synthetic = real")
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_xlabel("synthetic val hand IU (%)")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("real (DexYCB) hand IU (%)")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Does the synthetic hand score predict the real one?")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Evaluate the runs, write the table, correlations and plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path, help="folders searched for run folders (best.ckpt)")
    parser.add_argument("--synthetic", type=Path, required=True, help="synthetic handseg-v1 set with part maps")
    parser.add_argument("--real", type=Path, required=True, help="real handseg-v1 set (split test)")
    parser.add_argument("--frames", type=int, default=200, help="synthetic val frames per run (default 200)")
    parser.add_argument("--out", type=Path, default=RESULTS / "forearm_convention.md")
    parser.add_argument("--note", default="", help="a reading appended under the tables")
    parser.add_argument("--force", action="store_true", help="overwrite existing results")
    parser.add_argument(
        "--cache", type=Path, help="JSON-lines file of runs already measured (same --frames): reused, and appended to"
    )
    args = parser.parse_args(argv)
    for path, what in ((args.synthetic / "splits" / "val.txt", "a val split"),
                       (args.real / "splits" / "test.txt", "a test split")):  # fmt: skip
        if not path.is_file():
            parser.error(f"{path.parent.parent}: not a handseg-v1 dataset with {what} ({path} missing)")
    outputs = [args.out, args.out.with_suffix(".json"), args.out.with_suffix(".png")]
    if not args.force and any(p.exists() for p in outputs):
        parser.error(f"{args.out} (or its .json/.png) exists: pass --force to overwrite")
    runs = find_runs(args.roots)
    if len(runs) < 3:
        parser.error(f"found {len(runs)} run folders with best.ckpt under {args.roots}: need at least 3")
    done: dict[str, dict[str, Any]] = {}
    if args.cache is not None and args.cache.is_file():
        for line in args.cache.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["run"]] = row
    from handseg.data.format import HandsegDataset, read_split

    subset = HandsegDataset(args.synthetic, split=None, ids=read_split(args.synthetic, "val")[: args.frames])
    rows = []
    for run in runs:
        if str(run) not in done:
            done[str(run)] = scores(run, subset, args.real)
            if args.cache is not None:  # one line per finished run: a killed benchmark resumes where it stopped
                with args.cache.open("a") as cache:
                    cache.write(json.dumps(done[str(run)]) + "\n")
        rows.append(done[str(run)])
    table = correlations(rows)
    command = "python benchmarks/bench_forearm_convention.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    info = machine()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, outputs[2])
    columns = ["run", "synthetic hand IU", "synthetic_no_forearm hand IU", "real hand IU", "synthetic object IU",
               "real object IU"]  # fmt: skip
    text = [
        "# Which synthetic score predicts the real one: the forearm convention",
        "",
        f"Measured with `{command}` on {info['cpu']} ({info['logical_cores']} logical cores, torch "
        f"{info.get('torch')}; commit {info.get('git_commit')}).",
        "",
        f"Each run's best.ckpt, on the first {args.frames} frames of `{args.synthetic}`'s val split (object types "
        "training never saw) with the forearm scored as hand and with it not scored (`handseg eval "
        f"--ignore-forearm`), and on the real frames of `{args.real}` (forearm labelled ignore). IU in %.",
        "",
        markdown_table(table, list(table[0])),
        "",
        f"![real against synthetic hand IU]({outputs[2].name})",
    ]
    if args.note:
        text += ["", args.note]
    text += ["", "Per run:", "", markdown_table(rows, columns)]
    atomic_write_text(args.out, "\n".join(text) + "\n")
    atomic_write_json(outputs[1], {"command": command, "machine": info, "correlations": table, "rows": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
