"""What limits real-data quality: trained models' scores on real depth under controlled changes of that depth.

    python benchmarks/bench_real_probe.py das-rt RUN ... --real ../shared/realdata/dexycb

Each model segments the real frames as they are and after one change at a time: white noise (the synthetic
sensor's grain), edge-blind smoothing (a smoother sensor), the scene moved nearer or farther (depth scaled, the
image unchanged), a mirror image (labels mirrored back), and, as a label-using diagnosis only, everything labelled
background replaced by a far wall (the hand and object without their table and room). A change that moves the
scores points at what the synthetic training data gets wrong; one that does not rules that cause out. The real
frames are only evaluated, never trained on.

Writes benchmarks/results/real_probe.md (table), .json and .png (hand and object IU per change and model).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import RESULTS, machine, markdown_table
from handseg.utils.io import atomic_write_json, atomic_write_text

STANDALONE = False  # needs models or datasets named on its command line: `make bench` skips it

FAR_WALL_M = 2.5
Change = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


def white_noise(std_m: float) -> Change:
    """Gaussian noise on the valid pixels (missing ones stay 0)."""

    def change(depth: np.ndarray, _label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noisy = depth + rng.normal(0.0, std_m, depth.shape).astype(np.float32)
        return np.where(depth > 0, np.maximum(noisy, 1e-4), 0).astype(np.float32)

    return change


def smooth(sigma_px: float) -> Change:
    """Gaussian smoothing of the valid pixels (normalised by the valid weight, so holes do not bleed in)."""

    def change(depth: np.ndarray, _label: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
        weight = cv2.GaussianBlur((depth > 0).astype(np.float32), (0, 0), sigma_px)
        blurred = cv2.GaussianBlur(depth, (0, 0), sigma_px)
        return np.where(depth > 0, blurred / np.maximum(weight, 1e-6), 0).astype(np.float32)

    return change


def scaled(factor: float) -> Change:
    """Every depth times `factor`: the same image of a scene that many times farther away."""
    return lambda depth, _label, _rng: (depth * np.float32(factor)).astype(np.float32)


def background_to_wall(depth: np.ndarray, label: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    """Diagnosis only (reads the labels): pixels labelled background become a wall FAR_WALL_M away."""
    return np.where(label == 0, np.float32(FAR_WALL_M), depth).astype(np.float32)


MIRROR = "mirrored (labels mirrored back)"
CHANGES: dict[str, Change] = {
    "as recorded": lambda depth, _label, _rng: depth,
    "white noise 2 mm": white_noise(0.002),
    "white noise 5 mm": white_noise(0.005),
    "smoothed, sigma 1.5 px": smooth(1.5),
    "smoothed, sigma 3 px": smooth(3.0),
    "scene 0.8x as far": scaled(0.8),
    "scene 1.25x as far": scaled(1.25),
    MIRROR: lambda depth, _label, _rng: np.ascontiguousarray(depth[:, ::-1]),
    f"background -> wall at {FAR_WALL_M} m (uses labels)": background_to_wall,
}


def probe(model: str, real: Path, seed: int = 0) -> list[dict[str, Any]]:
    """Hand IU, object IU and their mean (%) of one model on the real frames under every change."""
    import torch

    from handseg.data.format import HandsegDataset
    from handseg.metrics.confusion import ConfusionMatrix
    from handseg.zoo.segmenter import Segmenter

    dataset = HandsegDataset(real, split="test", skip=("color", "parts"))
    frames = [dataset[i] for i in range(len(dataset))]
    segmenter = Segmenter(model)
    rows = []
    for name, change in CHANGES.items():
        rng = np.random.default_rng(seed)
        depths = [change(np.asarray(f["depth"], np.float32), np.asarray(f["label"]), rng) for f in frames]
        preds = segmenter.predict(depths)
        if name == MIRROR:
            preds = [np.ascontiguousarray(p[:, ::-1]) for p in preds]
        confusion = ConfusionMatrix()
        for pred, frame in zip(preds, frames):
            confusion.update(
                torch.from_numpy(pred.astype(np.int64))[None],
                torch.from_numpy(np.asarray(frame["label"], np.int64))[None],
            )
        iu = confusion.compute()["iu"]
        hand, obj = 100 * float(iu[1]), 100 * float(iu[2])
        rows.append({"model": model, "change": name, "hand IU": round(hand, 1), "object IU": round(obj, 1),
                     "mean IOU": round((hand + obj) / 2, 1)})  # fmt: skip
        print(f"{model}: {name}: hand {hand:.1f} object {obj:.1f}", flush=True)
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Grouped bars: hand and object IU per change, one panel per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in rows))
    changes = list(CHANGES)
    cols = min(3, len(models))
    grid = -(-len(models) // cols)
    fig, axes = plt.subplots(grid, cols, figsize=(5.5 * cols, 5.2 * grid), sharey=True, squeeze=False)
    for ax in axes.flat[len(models) :]:
        ax.set_visible(False)
    for ax, model in zip(axes.flat, models):
        mine = {r["change"]: r for r in rows if r["model"] == model}
        x = np.arange(len(changes))
        ax.bar(x - 0.2, [mine[c]["hand IU"] for c in changes], 0.4, label="hand IU", color="#d9534f")
        ax.bar(x + 0.2, [mine[c]["object IU"] for c in changes], 0.4, label="object IU", color="#428bca")
        ax.axhline(mine["as recorded"]["hand IU"], color="#d9534f", lw=0.8, ls="--")
        ax.axhline(mine["as recorded"]["object IU"], color="#428bca", lw=0.8, ls="--")
        ax.set_xticks(x, changes, rotation=55, ha="right", fontsize=8)
        ax.set_title(Path(model).name)
        ax.set_ylim(0, 100)
    for row in axes:
        row[0].set_ylabel("IU on the real frames (%)")
    axes[0][0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Real-depth scores under controlled changes (dashed: as recorded)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Probe the models, write the table, JSON and plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="zoo names, run folders or checkpoints")
    parser.add_argument("--real", type=Path, required=True, help="a handseg-v1 real dataset (split test)")
    parser.add_argument("--out", type=Path, default=RESULTS / "real_probe.md")
    parser.add_argument("--note", default="", help="a reading appended under the table")
    parser.add_argument("--force", action="store_true", help="overwrite existing results")
    args = parser.parse_args(argv)
    if not (args.real / "splits" / "test.txt").is_file():
        parser.error(f"{args.real}: not a handseg-v1 dataset with a test split (splits/test.txt missing)")
    outputs = [args.out, args.out.with_suffix(".json"), args.out.with_suffix(".png")]
    if not args.force and any(p.exists() for p in outputs):
        parser.error(f"{args.out} (or its .json/.png) exists: pass --force to overwrite")
    rows = [row for model in args.models for row in probe(model, args.real)]
    command = "python benchmarks/bench_real_probe.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    info = machine()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, outputs[2])
    text = [
        "# What limits real-data quality: scores on real depth under controlled changes",
        "",
        f"Measured with `{command}` on {info['cpu']} ({info['logical_cores']} logical cores, torch "
        f"{info.get('torch')}; commit {info.get('git_commit')}).",
        "",
        f"Real frames: `{args.real}` (evaluated only). IU in %, ignore-labelled pixels (forearm) skipped; mean IOU is "
        "the mean of hand and object IU. Each model segments the frames as recorded and after one change at a time "
        "(noise drawn with seed 0). The last row reads the labels and is a diagnosis, not a usable input.",
        "",
        markdown_table(rows, ["model", "change", "hand IU", "object IU", "mean IOU"]),
        "",
        f"![scores per change]({outputs[2].name})",
    ]
    if args.note:
        text += ["", args.note]
    atomic_write_text(args.out, "\n".join(text) + "\n")
    atomic_write_json(outputs[1], {"command": command, "machine": info, "rows": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
