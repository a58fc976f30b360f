"""Test-time augmentation, measured: each model's scores with and without mirrored / rescaled views, and its cost.

    python benchmarks/bench_tta.py das-rt das-r18 --synthetic data/synth-v3-320-12k-s2 \
        --real ../shared/realdata/dexycb [--amodal amodal-depth --amodal-data data/amodal-crops-6k] [--cache F]

Every segmentation model is evaluated (`handseg eval ... --tta-flip --tta-scales ...`, in-process) on the
synthetic set's val split (object types training never saw), with the forearm scored and not scored, and on the
real set's test split, once per arm: no views, flip, scales 0.75/1/1.25, flip + those scales. An amodal model is
evaluated on its crops' val split with and without flip (a mirrored view swaps the hands). The arm to recommend
is chosen on the synthetic figures only; the real frames are only evaluated. Cost: batch-1 forward time of each
arm at the model's training size, 1 thread, arms round-robin (a ratio to no views).

Writes benchmarks/results/tta.{md,json,png}; `--cache` (JSON lines) keeps finished evaluations across a restart.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import RESULTS, hand_object_scores, machine, markdown_table
from handseg.utils.io import atomic_write_json, atomic_write_text

STANDALONE = False  # needs models or datasets named on its command line: `make bench` skips it

ARMS = {
    "none": {"flip": False, "scales": (1.0,)},
    "flip": {"flip": True, "scales": (1.0,)},
    "scales": {"flip": False, "scales": (0.75, 1.0, 1.25)},
    "flip + scales": {"flip": True, "scales": (0.75, 1.0, 1.25)},
}
AMODAL_ARMS = ("none", "flip")
# (name, split, evaluate keywords) of the evaluations of one segmentation model
SEGMENTATION_SETS = (
    ("synthetic", "val", {}),
    ("synthetic, forearm not scored", "val", {"ignore_forearm": True}),
    ("DexYCB", "test", {}),
)


def _cached(cache: Path | None) -> dict[str, dict[str, Any]]:
    if cache is None or not cache.is_file():
        return {}
    lines = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {line["key"]: line for line in lines}


def _remember(cache: Path | None, row: dict[str, Any]) -> None:
    if cache is not None:
        with cache.open("a", encoding="utf-8") as handle:  # one line per finished evaluation
            handle.write(json.dumps(row) + "\n")


def evaluate_arms(
    model: str, sets: list[tuple[str, Path, str, dict[str, Any]]], arms: tuple[str, ...], cache: Path | None
) -> list[dict[str, Any]]:
    """One row per (data set, arm): the headline scores of `handseg eval` with that arm's views."""
    from handseg.engine.evaluate import evaluate
    from handseg.models.tta import TTASpec

    done, rows = _cached(cache), []
    for title, data, split, keywords in sets:
        for arm in arms:
            key = f"{model}|{title}|{arm}"
            if key not in done:
                start = time.perf_counter()
                spec = TTASpec(**ARMS[arm])
                metrics = evaluate(model, data, split=split, progress=False, tta=spec, **keywords)
                row = {"key": key, "model": model, "data": title, "arm": arm, "views": spec.views}
                row["seconds"] = round(time.perf_counter() - start, 1)
                if metrics["task"] == "amodal":
                    row |= {k: 100 * metrics[k] for k in ("miou", "visible_miou", "hidden_miou")}
                else:
                    row |= hand_object_scores(metrics)
                done[key] = row
                _remember(cache, row)
                print(json.dumps(row), flush=True)
            rows.append(done[key])
    return rows


def forward_cost(model: str, arms: tuple[str, ...], repeats: int) -> dict[str, float]:
    """Median batch-1 forward ms of each arm at the model's training size, 1 thread, arms round-robin."""
    import torch

    from handseg.data.preprocess import input_channels
    from handseg.loading import load_model
    from handseg.models.tta import TTASpec
    from handseg.tasks import get_task

    torch.set_num_threads(1)
    net, config = load_model(model)
    width, height = config["data"]["size"]
    x = torch.rand(1, input_channels(config["data"].get("modality", "depth")), height, width)
    wrapped = {arm: get_task(config["task"]).test_time_augmentation(net, TTASpec(**ARMS[arm])) for arm in arms}
    times: dict[str, list[float]] = {arm: [] for arm in arms}
    with torch.inference_mode():
        for arm in arms:  # warm-up
            wrapped[arm](x)
        for _ in range(repeats):
            for arm in arms:
                start = time.perf_counter()
                wrapped[arm](x)
                times[arm].append(1000 * (time.perf_counter() - start))
    return {arm: statistics.median(values) for arm, values in times.items()}


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Mean IOU per arm, one panel per segmentation model, synthetic (both conventions) beside DexYCB."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r["model"] for r in rows if "mean IOU" in r})
    if not models:
        return
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models):
        mine = [r for r in rows if r["model"] == model]
        sets = list(dict.fromkeys(r["data"] for r in mine))
        arms = list(dict.fromkeys(r["arm"] for r in mine))
        width = 0.8 / len(arms)
        for i, arm in enumerate(arms):
            values = [next(r["mean IOU"] for r in mine if r["data"] == s and r["arm"] == arm) for s in sets]
            ax.bar([j + i * width for j in range(len(sets))], values, width, label=arm)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(sets))], sets, fontsize=8)
        ax.set_ylabel("mean IOU of hand and object (%)")
        ax.set_ylim(0, 1.45 * max(r["mean IOU"] for r in mine))  # room above the bars for the legend
        ax.set_title(model)
        ax.legend(title="test-time views", fontsize=8, ncol=2, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Evaluate every arm, time it, write tta.{md,json,png}."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="segmentation models: zoo names, run folders or checkpoints")
    parser.add_argument("--synthetic", type=Path, required=True, help="held-out synthetic dataset (val split)")
    parser.add_argument("--real", type=Path, required=True, help="real dataset (test split)")
    parser.add_argument("--amodal", help="an amodal model to check the mirrored view's hand swap on")
    parser.add_argument("--amodal-data", type=Path, help="its crops (val split)")
    parser.add_argument("--repeats", type=int, default=7, help="timed forward passes per arm")
    parser.add_argument("--cache", type=Path, help="JSON lines of finished evaluations (resume)")
    parser.add_argument("--out", type=Path, default=RESULTS / "tta.md")
    parser.add_argument("--note", default="", help="a reading appended under the tables")
    parser.add_argument("--force", action="store_true", help="overwrite existing results")
    args = parser.parse_args(argv)
    for path in (args.synthetic, args.real, *([args.amodal_data] if args.amodal else [])):
        if path is None or not path.is_dir():
            parser.error(f"{path}: not a dataset folder")
    if args.out.exists() and not args.force:
        parser.error(f"{args.out} exists; pass --force to replace it")

    arms = tuple(ARMS)
    sets = [
        (title, args.synthetic if split == "val" else args.real, split, kw) for title, split, kw in SEGMENTATION_SETS
    ]
    rows = [row for model in args.models for row in evaluate_arms(model, sets, arms, args.cache)]
    amodal_rows = []
    if args.amodal:
        amodal_rows = evaluate_arms(args.amodal, [("crops", args.amodal_data, "val", {})], AMODAL_ARMS, args.cache)
    cost = {model: forward_cost(model, arms, args.repeats) for model in args.models}
    if args.amodal:
        cost[args.amodal] = forward_cost(args.amodal, AMODAL_ARMS, args.repeats)

    table = [{k: v for k, v in r.items() if k not in ("key", "seconds")} for r in rows]
    timing = [
        {"model": m, "arm": arm, "forward ms (1 thread)": ms, "x no views": ms / per_arm["none"]}
        for m, per_arm in cost.items()
        for arm, ms in per_arm.items()
    ]
    command = "python benchmarks/bench_tta.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    info = machine()
    text = [
        f"# tta\n\nMeasured with `{command}` on {info.get('cpu')} ({info.get('logical_cores')} logical cores, "
        f"torch {info.get('torch', '-')}, 1-min load {info.get('load_average_1min', 0):.2f}; commit "
        f"{info.get('git_commit', '?')}).\n",
        "Scores in % at each model's training size: synthetic = the val split of "
        f"`{args.synthetic}` (object types training never saw), with the forearm scored as hand and not scored; "
        f"DexYCB = `{args.real}` (74 real D415 frames, labels ignore the forearm; only evaluated). Views: flip = "
        "the mirrored frame, scales = the frame resized by 0.75, 1 and 1.25; their class probabilities are "
        "averaged (`handseg eval/predict --tta-flip --tta-scales 0.75,1,1.25`, `Segmenter(..., tta=...)`).\n",
        markdown_table(table, ["model", "data", "arm", "views", "mean IOU", "hand IU", "object IU"]),
    ]
    if amodal_rows:
        text += [
            "\nAmodal parts (part mIoU, visible and hidden parts; a mirrored view's hands swapped back):\n",
            markdown_table(
                [{k: v for k, v in r.items() if k not in ("key", "seconds")} for r in amodal_rows],
                ["model", "data", "arm", "views", "miou", "visible_miou", "hidden_miou"],
            ),
        ]
    text += ["\nCost (median batch-1 forward, arms round-robin in one process):\n"]
    text += [markdown_table(timing, ["model", "arm", "forward ms (1 thread)", "x no views"])]
    if args.note:
        text += ["\n" + args.note]
    payload = {"benchmark": "tta", "command": command, "machine": info, "rows": rows, "amodal": amodal_rows}
    payload["cost_ms"] = cost
    atomic_write_json(args.out.with_suffix(".json"), payload)
    plot(rows, args.out.with_suffix(".png"))
    text += [f"\n![mean IOU per arm]({args.out.with_suffix('.png').name})"]
    atomic_write_text(args.out, "\n".join(text) + "\n")
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
