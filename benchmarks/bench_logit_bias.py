"""How far to undo the class-weighted loss's prior shift at inference: mean IOU against tau, where each model's
logits get -tau * log(class weight) (`model.logit_bias`, handseg.models.logit_bias), tau chosen on synthetic
training frames only.

    python benchmarks/bench_logit_bias.py refinenet-160 das-rt das-r18 \
        --select refinenet-160=data/v3-320-20k --select das-rt=data/v3-320-20k \
        --select das-r18=data/synth-v3-320-12k-s2 --frames 500 \
        --set "held-out synthetic=data/synth-v3-320-12k-s2:val" \
        --set "DexYCB (real)=../shared/realdata/dexycb:test"

`--select MODEL=DATA`: the first `--frames` frames of DATA's train split (frames the model trained on), where the
tau with the highest mean IOU of hand and object is chosen; every `--set` is only reported, so a held-out or real
set never picks the offset. The class weights are each model's own `loss.weights`. Every (model, tau, set) is one
in-process `handseg eval` with the offset set on the model as `logit_bias` sets it. Writes
benchmarks/results/logit_bias.{md,json,png}.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import (
    RESULTS,
    hand_object_scores,
    machine,
    machine_line,
    markdown_table,
    open_set,
    parse_set,
)
from handseg.utils.io import atomic_write_json, atomic_write_text

STANDALONE = False  # needs models and datasets named on its command line: `make bench` skips it

SELECT_TITLE = "selection: own training frames"
DEFAULT_TAUS = (0.0, 0.25, 0.5, 0.75, 1.0)


def sweep(ref: str, sets: list[tuple[str, Path, str, int | None]], taus: list[float]) -> list[dict[str, Any]]:
    """One row per (tau, set): hand/object scores of model `ref` with the offset of that tau."""
    from handseg.engine.evaluate import evaluate
    from handseg.loading import open_model
    from handseg.models.logit_bias import prior_correction, set_logit_bias

    loaded = open_model(ref)
    if loaded.config.get("task", "segmentation") != "segmentation":
        raise SystemExit(f"{ref}: the offset sweep is for hand/object segmentation models")
    weights = list((loaded.config.get("loss") or {}).get("weights") or [1.0, 1.0, 1.0])
    readers = [(title, path, split, open_set(path, split, limit)) for title, path, split, limit in sets]
    rows = []
    for tau in taus:
        bias = prior_correction(weights, tau)
        set_logit_bias(loaded.model, bias)
        for title, path, split, reader in readers:
            metrics = evaluate(loaded.model, reader, config=loaded.config, progress=False, group_by=None)
            row = {"model": ref, "weights": weights, "tau": tau, "logit_bias": bias, "data": title}
            row |= {"path": str(path), "split": split, "frames": metrics["frames"]} | hand_object_scores(metrics)
            print({k: row[k] for k in ("model", "tau", "data", "mean IOU")}, flush=True)
            rows.append(row)
    return rows


def choose(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per model: the tau with the highest selection-set mean IOU (ties: the smaller tau) and its offset."""
    chosen: dict[str, Any] = {}
    for row in rows:
        if row["data"] != SELECT_TITLE:
            continue
        best = chosen.get(row["model"])
        if best is None or row["mean IOU"] > best["selection mean IOU"] + 1e-9:
            chosen[row["model"]] = {
                "tau": row["tau"],
                "logit_bias": row["logit_bias"],
                "selection mean IOU": row["mean IOU"],
            }
    return chosen


def plot(rows: list[dict[str, Any]], chosen: dict[str, Any], path: Path) -> None:
    """Per model a panel: mean IOU against tau, one line per set, the chosen tau marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        mine = [r for r in rows if r["model"] == model]
        for title in dict.fromkeys(r["data"] for r in mine):
            points = [(r["tau"], r["mean IOU"]) for r in mine if r["data"] == title]
            ax.plot(*zip(*points, strict=True), marker="o", label=title)
        if model in chosen:
            ax.axvline(chosen[model]["tau"], color="grey", linestyle="--", label=f"chosen tau {chosen[model]['tau']:g}")
        ax.set_title(model)
        ax.set_xlabel("tau (logit offset = -tau * log(class weight))")
        ax.set_ylabel("mean IOU of hand and object (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(rows: list[dict[str, Any]], chosen: dict[str, Any], command: str, info: dict[str, Any], image: str) -> str:
    """The report: the chosen offsets, then per model a table of tau x set."""
    text = [
        "# logit_bias: undoing the class-weighted loss's prior shift at inference\n",
        f"Measured with `{command}` on {machine_line(info)}.\n",
        "A class-weighted cross-entropy (1/5/5) trains a model to call a pixel hand once it is hand with probability"
        " above 1/6; adding -tau * log(class weight) to the logits at inference moves that threshold back (tau 1: the"
        " decision of the unweighted loss). tau is chosen per model on the first frames of its own training split"
        f" (*{SELECT_TITLE}*); the other sets are only reported. Scores in %, mean IOU = mean of hand and object IU.\n",
        markdown_table(
            [{"model": m, "chosen tau": c["tau"], "logit_bias": str(c["logit_bias"])} for m, c in chosen.items()],
            ["model", "chosen tau", "logit_bias"],
        ),
        "",
    ]
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        titles = list(dict.fromkeys(r["data"] for r in mine))
        table = []
        for tau in dict.fromkeys(r["tau"] for r in mine):
            line: dict[str, Any] = {"tau": f"**{tau:g}**" if chosen.get(model, {}).get("tau") == tau else f"{tau:g}"}
            for r in mine:
                if r["tau"] == tau:
                    line[r["data"]] = f"{r['mean IOU']:.1f} ({r['hand IU']:.1f} / {r['object IU']:.1f})"
            table.append(line)
        frames = ", ".join(f"{t}: {next(r['frames'] for r in mine if r['data'] == t)} frames" for t in titles)
        text += [
            f"## {model}\n",
            f"Mean IOU (hand IU / object IU); {frames}.\n",
            markdown_table(table, ["tau", *titles]),
            "",
        ]
    text.append(f"![mean IOU against tau]({image})\n")
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    """Sweep tau for every model over its selection set and the --set sets; write logit_bias.{md,json,png}."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="segmentation models: zoo names, run folders or checkpoints")
    parser.add_argument("--select", action="append", default=[], help="MODEL=DATA: its training set (tau chosen there)")
    parser.add_argument("--frames", type=int, default=500, help="frames of each selection set (default 500)")
    parser.add_argument("--set", action="append", default=[], dest="sets", help="TITLE=PATH:SPLIT[:N] (repeat)")
    parser.add_argument("--taus", default=",".join(f"{t:g}" for t in DEFAULT_TAUS), help="comma-separated taus >= 0")
    parser.add_argument("--out", type=Path, default=RESULTS / "logit_bias.md")
    parser.add_argument("--force", action="store_true", help="overwrite existing results")
    args = parser.parse_args(argv)
    try:
        sets = [parse_set(text) for text in args.sets]
        taus = sorted({float(t) for t in args.taus.split(",")})
    except ValueError as exc:
        parser.error(str(exc))
    if not taus or any(t < 0 for t in taus):
        parser.error(f"--taus {args.taus!r}: give numbers >= 0")
    select = dict(text.split("=", 1) for text in args.select if "=" in text)
    if len(select) != len(args.select) or set(select) != set(args.models):
        parser.error("--select takes MODEL=DATA, once for every model")
    for path in [p for _, p, _, _ in sets] + [Path(p) for p in select.values()]:
        if not (path / "manifest.json").is_file():
            parser.error(f"{path}: not a handseg-v1 dataset folder (no manifest.json)")
    if args.frames < 1:
        parser.error("--frames must be >= 1")
    if args.out.exists() and not args.force:
        parser.error(f"{args.out} exists; pass --force to replace it")

    rows = []
    for model in args.models:
        rows += sweep(model, [(SELECT_TITLE, Path(select[model]), "train", args.frames), *sets], taus)
    chosen = choose(rows)
    command = "python benchmarks/bench_logit_bias.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    info = machine()
    atomic_write_json(
        args.out.with_suffix(".json"), {"command": command, "machine": info, "chosen": chosen, "rows": rows}
    )
    atomic_write_text(args.out, markdown(rows, chosen, command, info, args.out.with_suffix(".png").name))
    plot(rows, chosen, args.out.with_suffix(".png"))
    print(json.dumps(chosen))
    print(f"wrote {args.out} (.json, .png)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
