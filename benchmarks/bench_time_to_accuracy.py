"""Time to accuracy of a training run: validation mean IOU of hand and object against wall-clock minutes.

Usage:
  python benchmarks/bench_time_to_accuracy.py RUN_DIR [--out benchmarks/results/time_to_accuracy] [--force]
  python benchmarks/bench_time_to_accuracy.py RUN_DIR --train CONFIG --minutes M [--set KEY=VALUE ...]

Reads RUN_DIR/metrics.csv (every row carries `wall_s`, the training wall time summed over resumes) and writes
OUT.png (mean IOU, hand IU and object IU of each validation against minutes, with the 90 % goal line) and OUT.md
(a table: minutes, step, images seen, mean IOU, hand IU, object IU). With --train it first trains CONFIG into
RUN_DIR until M minutes of training wall time (resuming RUN_DIR if it holds that run), validating at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, markdown_table

GOAL = 0.90


def validation_points(run_dir: Path) -> tuple[list[dict[str, Any]], int]:
    """The run's validation rows (minutes, step, images, scores) and its batch size."""
    from handseg.config import read_yaml
    from handseg.engine.runlog import read_metrics_csv
    from handseg.errors import DataError

    path = run_dir / "metrics.csv"
    if not path.is_file():
        raise DataError(path, "not found: not a handseg run folder (train it first, or pass --train CONFIG)")
    batch = int(read_yaml(run_dir / "config.yaml")["train"]["batch_size"])
    points = []
    tb_seconds: dict[int, float] | None = None
    for row in read_metrics_csv(path):
        if row.get("kind") != "val" or row.get("miou_hand_object") is None:
            continue
        if row.get("wall_s") is None:  # a run older than the wall_s column: TensorBoard's event times tell
            tb_seconds = tensorboard_wall_s(run_dir) if tb_seconds is None else tb_seconds
            if int(row["step"]) not in tb_seconds:
                raise DataError(path, "has no wall_s column and its TensorBoard events do not time its validations")
            row["wall_s"] = tb_seconds[int(row["step"])]
            row["time_source"] = "tensorboard"
        points.append(
            {
                "minutes": row["wall_s"] / 60,
                "step": int(row["step"]),
                "images_seen": int(row["step"]) * batch,
                "mean_iou": row["miou_hand_object"],
                "hand_iu": row.get("iu_hand"),
                "object_iu": row.get("iu_object"),
                "time_source": row.get("time_source", "wall_s"),
            }
        )
    if not points:
        raise DataError(path, "has no validation rows with miou_hand_object (a segmentation run with validation)")
    return points, batch


def tensorboard_wall_s(run_dir: Path) -> dict[int, float]:
    """Training seconds at each validation step from RUN/tb event files: each file is one process (a resume),
    timed from its first to its last event; earlier files' spans are added (start-up before a file's first
    event is not counted, so the figures are slightly low)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[int, float] = {}
    offset = 0.0
    for events in sorted((run_dir / "tb").glob("**/events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        tags = acc.Tags().get("scalars", [])
        times = [e.wall_time for tag in tags for e in acc.Scalars(tag)]
        if not times:
            continue
        first = min(times)
        if "val/miou_hand_object" in tags:
            for event in acc.Scalars("val/miou_hand_object"):
                out[int(event.step)] = offset + event.wall_time - first
        offset += max(times) - first
    return out


def plot(points: list[dict[str, Any]], title: str) -> bytes:
    """PNG bytes: the three validation scores against wall minutes, the goal line, a legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [p["minutes"] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(minutes, [p["mean_iou"] for p in points], "o-", label="mean IOU (hand, object)", linewidth=2)
    for key, label in (("hand_iu", "hand IU"), ("object_iu", "object IU")):
        if all(p[key] is not None for p in points):
            ax.plot(minutes, [p[key] for p in points], ".--", label=label, alpha=0.7)
    ax.axhline(GOAL, color="tab:red", linestyle=":", label=f"goal {GOAL:.0%}")
    ax.set_xlabel("training wall time (minutes)")
    ax.set_ylabel("validation score")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def report(run_dir: Path, out: Path, force: bool = False) -> dict[str, Any]:
    """Write OUT.png, OUT.md and OUT.json for the run; return the summary."""
    from handseg.errors import OutputExistsError
    from handseg.utils.io import atomic_write_bytes, atomic_write_text

    targets = [out.with_suffix(s) for s in (".png", ".md", ".json")]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise OutputExistsError(f"{existing[0]}: exists; pass --force to overwrite")
    points, batch = validation_points(run_dir)
    reached = next((p for p in points if p["mean_iou"] >= GOAL), None)
    best = max(points, key=lambda p: p["mean_iou"])
    summary = {
        "run_dir": str(run_dir),
        "batch_size": batch,
        "goal": GOAL,
        "goal_reached": reached,
        "best": best,
        "points": points,
        "machine": machine(),
    }
    if reached:
        verdict = f"goal {GOAL:.0%} reached after {reached['minutes']:.1f} min (step {reached['step']})"
    else:
        verdict = f"goal {GOAL:.0%} not reached; best {best['mean_iou']:.4f} after {best['minutes']:.1f} min"
    info = summary["machine"]
    rows = [{**p, "minutes": round(p["minutes"], 2)} for p in points]
    md = (
        f"# Time to accuracy: {run_dir.name}\n\n"
        f"Run `{run_dir}` (batch {batch}); minutes are training wall time summed over resumes ("
        + (
            "TensorBoard event times, the run predating metrics.csv's `wall_s`"
            if points[0]["time_source"] == "tensorboard"
            else "metrics.csv `wall_s`"
        )
        + f", validation included) on {info.get('cpu')} ({info.get('logical_cores')} logical cores, "
        f"1-min load {info.get('load_average_1min', 0):.2f} when this report was written). {verdict}.\n\n"
        + markdown_table(rows, ["minutes", "step", "images_seen", "mean_iou", "hand_iu", "object_iu"])
        + f"\n\n![time to accuracy]({out.with_suffix('.png').name})\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(targets[0], plot(points, f"{run_dir.name}: {verdict}"))
    atomic_write_text(targets[1], md)
    atomic_write_text(targets[2], json.dumps(summary, indent=2, default=str) + "\n")
    print(md)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run folder (handseg train --out RUN_DIR)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/time_to_accuracy"),
                        help="output prefix: OUT.png, OUT.md, OUT.json")  # fmt: skip
    parser.add_argument("--train", type=Path, metavar="CONFIG", help="train this config into RUN_DIR first")
    parser.add_argument("--minutes", type=float, help="with --train: minutes of training wall time")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--force", action="store_true", help="overwrite the outputs")
    args = parser.parse_args(argv)
    from handseg.errors import HandsegError

    try:
        if args.train:
            if not args.minutes or args.minutes <= 0:
                parser.error("--train needs --minutes M (M > 0)")
            from handseg.config import load_config
            from handseg.engine.train import format_summary, train

            config = load_config(args.train, args.overrides)
            config["name"] = config.get("name") or args.train.stem
            print(format_summary(train(config, args.run_dir, stop_after_s=args.minutes * 60)))
        elif args.minutes or args.overrides:
            parser.error("--minutes and --set need --train CONFIG")
        report(args.run_dir, args.out, force=args.force)
    except HandsegError as exc:
        print(f"bench_time_to_accuracy: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
