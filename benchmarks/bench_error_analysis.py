"""Where a segmentation model's errors come from: its own training scenes against fresh ones, seen against unseen
object types, per scene family, and which class the wrong pixels go to.

    python benchmarks/bench_error_analysis.py das-rt das-r18 \
        --train das-rt=data/v3-320-20k --train das-r18=data/synth-v3-320-12k-s2 \
        --set "fresh scenes, seen object types=data/probe-seen-300:val" \
        --set "held-out object types=data/synth-v3-320-12k-s2:val" \
        --set "DexYCB (real)=../shared/realdata/dexycb:test" --frames 300

Every (model, set) pair is one in-process `handseg eval` (grouped by scene family). `--train MODEL=DATA` adds the
first `--frames` frames of DATA's train split, scored as that model's "own training scenes": a model that scores
there about what it scores on fresh scenes underfits (more capacity or training helps), one that scores much
higher there overfits (more or more varied data helps). The error shares come from each set's confusion matrix.
Writes benchmarks/results/error_analysis.{md,json,png}; `--rebuild` rewrites the .md and .png from the .json
(e.g. with another `--note-file`) without evaluating again.
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
from benchmarks.common import RESULTS, hand_object_scores, machine, markdown_table, open_set, parse_set
from handseg.utils.io import atomic_write_json, atomic_write_text

STANDALONE = False  # needs models or datasets named on its command line: `make bench` skips it

TRAIN_TITLE = "own training scenes"
SCORE_COLUMNS = ["mean IOU", "hand IU", "object IU"]
# (column, true class, predicted class, normalised by): the share of a class's true (or predicted) pixels
ERROR_COLUMNS = (
    ("object -> hand", 2, 1, "truth"),
    ("object -> background", 2, 0, "truth"),
    ("hand -> object", 1, 2, "truth"),
    ("hand -> background", 1, 0, "truth"),
    ("predicted hand that is background", 0, 1, "prediction"),
    ("predicted object that is background", 0, 2, "prediction"),
)


def error_shares(confusion: list[list[int]]) -> dict[str, float]:
    """The ERROR_COLUMNS of a 3x3 confusion matrix (true i, predicted j), in %."""
    hist = np.asarray(confusion, dtype=np.float64)
    shares = {}
    for column, true, predicted, by in ERROR_COLUMNS:
        total = hist[true].sum() if by == "truth" else hist[:, predicted].sum()
        shares[column] = float(100 * hist[true, predicted] / total) if total > 0 else float("nan")
    return shares


def analyse(model: str, title: str, data: Path, split: str, limit: int | None) -> dict[str, Any]:
    """One evaluation: overall scores, error shares and per-family scores."""
    from handseg.engine.evaluate import evaluate

    metrics = evaluate(model, open_set(data, split, limit), progress=False)
    if metrics["task"] != "segmentation":
        raise SystemExit(f"{model}: error analysis is for hand/object segmentation models, not {metrics['task']}")
    row = {"model": model, "data": title, "path": str(data), "split": split, "frames": metrics["frames"]}
    row |= hand_object_scores(metrics) | error_shares(metrics["confusion"])
    row["families"] = {
        name: {"frames": group["frames"], **hand_object_scores(group), **error_shares(group["confusion"])}
        for name, group in (metrics.get("groups") or {}).items()
    }
    print({k: v for k, v in row.items() if k != "families"}, flush=True)
    return row


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Per model: mean IOU of each set, overall and per scene family (bars), with a legend of the sets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models):
        mine = [r for r in rows if r["model"] == model]
        groups = ["all", *sorted({f for r in mine for f in r["families"]})]
        width = 0.8 / len(mine)
        for i, row in enumerate(mine):
            values = [row["mean IOU"] if g == "all" else row["families"].get(g, {}).get("mean IOU", np.nan)
                      for g in groups]  # fmt: skip
            ax.bar([j + i * width for j in range(len(groups))], values, width, label=f"{row['data']}")
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(groups))], groups, fontsize=8)
        ax.set_ylabel("mean IOU of hand and object (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"{model}: by scene family")
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    """Floats to one decimal (the tables' precision)."""
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}


def markdown(rows: list[dict[str, Any]], command: str, note: str) -> str:
    """The report: scores and error shares per (model, set), then per family."""
    info = machine()
    flat = [_rounded({k: v for k, v in r.items() if k not in ("families", "path", "split")}) for r in rows]
    family_rows = [
        _rounded({"model": r["model"], "data": r["data"], "family": name, **values})
        for r in rows
        for name, values in r["families"].items()
    ]
    sets = "; ".join(
        dict.fromkeys(
            f"{r['data']} ({r['model']}) = `{r['path']}` split {r['split']}"
            if r["data"] == TRAIN_TITLE
            else f"{r['data']} = `{r['path']}` split {r['split']}"
            for r in rows
        )
    )
    text = [
        f"# error_analysis\n\nMeasured with `{command}` on {info.get('cpu')} ({info.get('logical_cores')} logical "
        f"cores, torch {info.get('torch', '-')}; commit {info.get('git_commit', '?')}).\n",
        f"Scores in % at each model's training size. Sets: {sets}. '{TRAIN_TITLE}': the first frames of the "
        "model's own training split (the data it was fitted to). Error shares: 'object -> hand' = share of the "
        "true object pixels labelled hand; 'predicted hand that is background' = share of the pixels labelled "
        "hand whose truth is background (a false-positive share).\n",
        markdown_table(flat, ["model", "data", "frames", *SCORE_COLUMNS, *(c for c, *_ in ERROR_COLUMNS)]),
        "\nPer scene family (the synthetic sets; the real frames have no family):\n",
        markdown_table(family_rows, ["model", "data", "family", "frames", *SCORE_COLUMNS, "object -> hand",
                                     "predicted hand that is background", "predicted object that is background"]),
        "\n![mean IOU by set and family](error_analysis.png)\n",
    ]  # fmt: skip
    if note:
        text.append("\n" + note.strip() + "\n")
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    """Evaluate every (model, set), write error_analysis.{md,json,png}."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="segmentation models: zoo names, run folders or checkpoints")
    parser.add_argument("--set", action="append", default=[], dest="sets", help="TITLE=PATH:SPLIT[:N] (repeat)")
    parser.add_argument("--train", action="append", default=[], help="MODEL=DATA: that model's training set")
    parser.add_argument("--frames", type=int, default=300, help="frames of each --train set scored (default 300)")
    parser.add_argument("--out", type=Path, default=RESULTS / "error_analysis.md")
    parser.add_argument("--note-file", type=Path, help="a reading (Markdown) appended under the tables")
    parser.add_argument("--rebuild", action="store_true", help="rewrite .md/.png from the .json (new note)")
    parser.add_argument("--force", action="store_true", help="overwrite existing results")
    args = parser.parse_args(argv)
    if args.note_file is not None and not args.note_file.is_file():
        parser.error(f"{args.note_file}: no such file")
    note = args.note_file.read_text(encoding="utf-8") if args.note_file else ""
    if args.rebuild:
        saved = json.loads(args.out.with_suffix(".json").read_text(encoding="utf-8"))
        atomic_write_text(args.out, markdown(saved["rows"], saved["command"], note))
        plot(saved["rows"], args.out.with_suffix(".png"))
        print(f"rebuilt {args.out} (.png) from {args.out.with_suffix('.json')}")
        return 0
    if not args.models:
        parser.error("name at least one model (or pass --rebuild)")
    try:
        sets = [parse_set(text) for text in args.sets]
    except ValueError as exc:
        parser.error(str(exc))
    train = dict(text.split("=", 1) for text in args.train if "=" in text)
    if len(train) != len(args.train) or set(train) - set(args.models):
        parser.error("--train takes MODEL=DATA with MODEL one of the models")
    for path in [p for _, p, _, _ in sets] + [Path(p) for p in train.values()]:
        if not (path / "manifest.json").is_file():
            parser.error(f"{path}: not a handseg-v1 dataset folder (no manifest.json)")
    if not sets and not train:
        parser.error("give at least one --set or --train")
    if args.out.exists() and not args.force:
        parser.error(f"{args.out} exists; pass --force to replace it")

    rows = []
    for model in args.models:
        mine = ([(TRAIN_TITLE, Path(train[model]), "train", args.frames)] if model in train else []) + sets
        rows += [analyse(model, title, data, split, limit) for title, data, split, limit in mine]
    command = "python benchmarks/bench_error_analysis.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    atomic_write_json(args.out.with_suffix(".json"), {"command": command, "machine": machine(), "rows": rows})
    atomic_write_text(args.out, markdown(rows, command, note))
    plot(rows, args.out.with_suffix(".png"))
    print(f"wrote {args.out} (.json, .png)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
