"""Depth statistics of synthetic and real handseg-v1 datasets side by side: where the synthetic sensor differs.

    python benchmarks/bench_domain_gap.py --real /work/shared/realdata/dexycb --synthetic v2=DIR --synthetic v3=DIR

writes benchmarks/results/domain_gap.md (a table), .json (the numbers and histograms) and .png (the histograms).
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
from benchmarks.common import parse_named

RESULTS = Path(__file__).resolve().parent / "results"
EDGE_JUMP_M = 0.03  # a depth edge: neighbours (both valid) more than 3 cm apart
EDGE_BAND_PX = 3  # pixels within this (chessboard) distance of an edge count as "near an edge"
HAND_DEPTH_BINS = np.linspace(0.0, 2.0, 81)  # metres, 2.5 cm bins
GRADIENT_BINS = np.logspace(-1, 3, 65)  # mm per pixel, log-spaced
NEAREST_BINS = np.linspace(0.0, 2.0, 41)  # metres
HAND_PIXEL_BINS = np.logspace(1, 6, 41)  # pixels per frame
NEAREST_PERCENTILE = 1.0  # nearest surface = 1st percentile of valid depth (a few flying pixels do not count)


def depth_edges(depth: np.ndarray, jump_m: float = EDGE_JUMP_M) -> np.ndarray:
    """Pixels on either side of a jump of more than `jump_m` between 4-neighbours that both have depth."""
    valid = depth > 0
    edges = np.zeros(depth.shape, bool)
    horizontal = valid[:, 1:] & valid[:, :-1] & (np.abs(depth[:, 1:] - depth[:, :-1]) > jump_m)
    vertical = valid[1:] & valid[:-1] & (np.abs(depth[1:] - depth[:-1]) > jump_m)
    edges[:, 1:] |= horizontal
    edges[:, :-1] |= horizontal
    edges[1:] |= vertical
    edges[:-1] |= vertical
    return edges


def near(mask: np.ndarray, radius: int = EDGE_BAND_PX) -> np.ndarray:
    """Pixels within `radius` (chessboard distance) of a pixel of `mask`."""
    import cv2

    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


CLASS_HOLES = {  # where the holes lie, by label: the models read holes next to a hand as a cue (hole_cues.md)
    "hand": "hand pixels (label 1)",
    "object": "object pixels (label 2)",
    "ring": f"background within {EDGE_BAND_PX} px of hand or object",
    "background": "other background pixels (label 0)",
}


def class_masks(label: np.ndarray) -> dict[str, np.ndarray]:
    """Hand, object, the background ring around them and the rest of the background (255 in none)."""
    fg = (label == 1) | (label == 2)
    ring = (label == 0) & near(fg)
    return {"hand": label == 1, "object": label == 2, "ring": ring, "background": (label == 0) & ~ring}


def frame_kind(root: Path, sample_id: str) -> str | None:
    """A synthetic frame's scene family and camera model ("egocentric, sr300") from its scene JSON; None if absent."""
    path = root / "scene" / f"{sample_id}.json"
    try:
        scene = json.loads(path.read_text())
        return f"{scene['family']}, {scene['depth_sensor']['camera_model']}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def gradient_magnitude_mm(depth: np.ndarray) -> np.ndarray:
    """Depth-gradient magnitude in mm per pixel (forward differences) at pixels whose right and lower neighbours,
    and themselves, have depth."""
    valid = depth > 0
    both = valid[:-1, :-1] & valid[:-1, 1:] & valid[1:, :-1]
    gx = depth[:-1, 1:] - depth[:-1, :-1]
    gy = depth[1:, :-1] - depth[:-1, :-1]
    return 1000.0 * np.hypot(gx, gy)[both]


def frame_ids(root: Path, max_frames: int) -> list[str]:
    """Up to `max_frames` frame ids of the dataset, evenly spread over all of them."""
    from handseg.data.format import HandsegDataset

    ids = HandsegDataset(root, split=None).ids
    if len(ids) > max_frames:
        ids = [ids[i] for i in np.linspace(0, len(ids) - 1, max_frames).round().astype(int)]
    return ids


def dataset_stats(root: str | Path, max_frames: int = 200) -> dict[str, Any]:
    """The depth statistics of up to `max_frames` frames of a handseg-v1 dataset (labels: 1 hand, 255 ignored)."""
    from handseg.data.format import HandsegDataset

    root = Path(root)
    ids = frame_ids(root, max_frames)
    dataset = HandsegDataset(root, split=None, ids=ids)
    hand_depth = np.zeros(len(HAND_DEPTH_BINS) - 1)
    gradient = np.zeros(len(GRADIENT_BINS) - 1)
    pixels = invalid = band = band_invalid = gradient_count = 0
    hand_pixels: list[int] = []
    nearest: list[float] = []
    hand_depths: list[float] = []
    labelled = 0
    by_class = {name: [0, 0] for name in CLASS_HOLES}  # pixels, invalid pixels
    by_kind: dict[str, list[int]] = {}  # synthetic frames: frames, hand px, invalid, object px, invalid
    for sample_id in ids:
        sample = dataset.load(sample_id)
        depth = sample["depth"]
        valid = depth > 0
        pixels += depth.size
        invalid += int((~valid).sum())
        in_band = near(depth_edges(depth))
        band += int(in_band.sum())
        band_invalid += int((in_band & ~valid).sum())
        grad = gradient_magnitude_mm(depth)
        gradient += np.histogram(np.clip(grad, GRADIENT_BINS[0], GRADIENT_BINS[-1]), GRADIENT_BINS)[0]
        gradient_count += grad.size
        if valid.any():
            nearest.append(float(np.percentile(depth[valid], NEAREST_PERCENTILE)))
        if sample["label"] is not None:
            labelled += 1
            hand = sample["label"] == 1
            hand_pixels.append(int(hand.sum()))
            values = depth[hand & valid]
            hand_depth += np.histogram(values, HAND_DEPTH_BINS)[0]
            hand_depths.append(float(np.median(values)) if values.size else float("nan"))
            masks = class_masks(sample["label"])
            for name, mask in masks.items():
                by_class[name][0] += int(mask.sum())
                by_class[name][1] += int((mask & ~valid).sum())
            if (kind := frame_kind(root, sample_id)) is not None:
                counts = [1] + [int(n) for c in ("hand", "object") for n in (masks[c].sum(), (masks[c] & ~valid).sum())]
                by_kind[kind] = [a + b for a, b in zip(by_kind.get(kind, [0] * 5), counts, strict=True)]
    hand_total = hand_depth.sum()
    counts = np.array(hand_pixels, float)
    return {
        "root": str(root),
        "frames": len(ids),
        "frames_with_labels": labelled,
        "size": f"{dataset.intrinsics.width}x{dataset.intrinsics.height}",
        "fx": dataset.intrinsics.fx,
        "invalid_share": invalid / max(pixels, 1),
        "edge_band_share": band / max(pixels, 1),
        "invalid_share_near_edges": band_invalid / band if band else float("nan"),
        **{f"invalid_share_{name}": bad / n if n else float("nan") for name, (n, bad) in by_class.items()},
        "invalid_by_kind": {
            kind: {"frames": n, "hand": bad_h / hand if hand else None, "object": bad_o / obj if obj else None}
            for kind, (n, hand, bad_h, obj, bad_o) in sorted(by_kind.items())
        },
        "gradient_median_mm_per_px": _hist_quantile(gradient, GRADIENT_BINS, 0.5, log=True),
        "gradient_share_over_10mm": float(gradient[GRADIENT_BINS[:-1] >= 10].sum() / max(gradient_count, 1)),
        "hand_depth_median_m": _hist_quantile(hand_depth, HAND_DEPTH_BINS, 0.5),
        "hand_depth_p10_m": _hist_quantile(hand_depth, HAND_DEPTH_BINS, 0.1),
        "hand_depth_p90_m": _hist_quantile(hand_depth, HAND_DEPTH_BINS, 0.9),
        "hand_pixels_median": float(np.median(counts)) if counts.size else float("nan"),
        "hand_pixels_mean": float(counts.mean()) if counts.size else float("nan"),
        "frames_without_hand": int((counts == 0).sum()),
        "nearest_surface_median_m": float(np.median(nearest)) if nearest else float("nan"),
        "nearest_surface_p10_m": float(np.percentile(nearest, 10)) if nearest else float("nan"),
        "histograms": {
            "hand_depth_m": {"bins": HAND_DEPTH_BINS.tolist(), "density": _density(hand_depth, HAND_DEPTH_BINS)},
            "gradient_mm_per_px": {
                "bins": GRADIENT_BINS.tolist(),
                "share": (gradient / max(gradient.sum(), 1)).tolist(),
            },
            "hand_pixels": hand_pixels,
            "nearest_surface_m": nearest,
            "hand_pixels_total": int(hand_total),
        },
    }


def _density(counts: np.ndarray, bins: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / (total * np.diff(bins)) if total else np.zeros_like(counts)).tolist()


def _hist_quantile(counts: np.ndarray, bins: np.ndarray, q: float, log: bool = False) -> float:
    """The q-quantile of the values a histogram counts (interpolated within the bin; geometric for log bins)."""
    total = counts.sum()
    if not total:
        return float("nan")
    cumulative = np.cumsum(counts) / total
    i = int(np.searchsorted(cumulative, q))
    before = cumulative[i - 1] if i else 0.0
    t = (q - before) / max(cumulative[i] - before, 1e-12)
    lo, hi = bins[i], bins[i + 1]
    return float(lo * (hi / lo) ** t if log else lo + t * (hi - lo))


ROWS = [
    ("frames", "frames measured", "{:d}"),
    ("size", "image size", "{}"),
    ("fx", "focal length fx (px)", "{:.0f}"),
    ("invalid_share", "invalid (0) pixels, all", "{:.1%}"),
    *((f"invalid_share_{name}", f"invalid share of {title}", "{:.1%}") for name, title in CLASS_HOLES.items()),
    ("edge_band_share", f"pixels within {EDGE_BAND_PX} px of a depth edge (> {EDGE_JUMP_M * 100:.0f} cm)", "{:.1%}"),
    ("invalid_share_near_edges", f"invalid pixels within {EDGE_BAND_PX} px of a depth edge", "{:.1%}"),
    ("gradient_median_mm_per_px", "depth gradient, median (mm/px, valid pixels)", "{:.2f}"),
    ("gradient_share_over_10mm", "depth gradient > 10 mm/px (share of valid pixels)", "{:.1%}"),
    ("hand_depth_p10_m", "hand depth, 10th percentile (m)", "{:.3f}"),
    ("hand_depth_median_m", "hand depth, median (m)", "{:.3f}"),
    ("hand_depth_p90_m", "hand depth, 90th percentile (m)", "{:.3f}"),
    ("hand_pixels_median", "hand pixels per frame, median", "{:.0f}"),
    ("hand_pixels_mean", "hand pixels per frame, mean", "{:.0f}"),
    ("frames_without_hand", "frames without hand pixels", "{:d}"),
    (
        "nearest_surface_p10_m",
        f"nearest surface ({NEAREST_PERCENTILE:g}st pct of depth), 10th pct of frames (m)",
        "{:.3f}",
    ),
    (
        "nearest_surface_median_m",
        f"nearest surface ({NEAREST_PERCENTILE:g}st pct of depth), median frame (m)",
        "{:.3f}",
    ),
]


def markdown(stats: dict[str, dict[str, Any]], command: str, plot_name: str) -> str:
    """The Markdown report: one column per dataset, one row per statistic."""
    names = list(stats)
    lines = [
        "# Domain gap: depth statistics, synthetic against real",
        "",
        f"Measured with `{command}`. Labels: 1 = hand (incl. forearm), 2 = object, 255 ignored. A depth edge is a "
        f"jump of more than {EDGE_JUMP_M * 100:.0f} cm between two 4-neighbours that both have depth; gradients are "
        "forward differences in mm per pixel, so they also depend on the focal length (fx row); "
        f"zero gradients fall in the lowest bin ({GRADIENT_BINS[0]:g} mm/px) of the plot.",
        "",
        "| statistic | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key, title, fmt in ROWS:
        cells = []
        for name in names:
            value = stats[name].get(key)
            is_nan = isinstance(value, float) and np.isnan(value)
            cells.append("-" if value is None or is_nan else fmt.format(value))
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    for name, s in stats.items():
        if s.get("invalid_by_kind"):
            lines += ["", f"Invalid share of hand and object pixels by frame kind ({name}; scene family, camera):", ""]
            lines += ["| frame kind | frames | hand pixels invalid | object pixels invalid |", "|---|---|---|---|"]
            for kind, row in s["invalid_by_kind"].items():
                cells = ["-" if row[c] is None else f"{row[c]:.1%}" for c in ("hand", "object")]
                lines.append(f"| {kind} | {row['frames']} | " + " | ".join(cells) + " |")
    lines += ["", "Datasets: " + "; ".join(f"{n} = `{s['root']}`" for n, s in stats.items()), ""]
    lines += [f"![histograms]({plot_name})", ""]
    return "\n".join(lines)


def plot(stats: dict[str, dict[str, Any]], path: Path) -> None:
    """Four histograms and the invalid-pixel shares, one colour per dataset, with legends and axis labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    ax_hand, ax_grad, ax_pix, ax_near, ax_invalid, ax_class = axes.ravel()
    for name, s in stats.items():
        h = s["histograms"]
        bins = np.array(h["hand_depth_m"]["bins"])
        ax_hand.stairs(h["hand_depth_m"]["density"], bins, label=name)
        bins = np.array(h["gradient_mm_per_px"]["bins"])
        ax_grad.stairs(h["gradient_mm_per_px"]["share"], bins, label=name)
        for ax, values, bins in (
            (ax_pix, np.maximum(h["hand_pixels"], HAND_PIXEL_BINS[0]), HAND_PIXEL_BINS),
            (ax_near, np.asarray(h["nearest_surface_m"]), NEAREST_BINS),
        ):
            if len(values):  # share of frames per bin
                ax.hist(values, bins, histtype="step", weights=np.full(len(values), 1 / len(values)), label=name)
    ax_hand.set(xlabel="hand-pixel depth (m)", ylabel="density (1/m)", title="Depth of hand pixels (label 1)")
    ax_grad.set(xscale="log", xlabel="depth-gradient magnitude (mm/px)", ylabel="share of valid pixels",
                title="Depth gradient on valid pixels")  # fmt: skip
    ax_pix.set(xscale="log", xlabel="hand pixels per frame", ylabel="share of frames", title="Hand size in the image")
    ax_near.set(xlabel=f"nearest surface ({NEAREST_PERCENTILE:g}st percentile of depth, m)", ylabel="share of frames",
                title="Distance of the nearest surface")  # fmt: skip
    names = list(stats)
    x = np.arange(len(names))
    ax_invalid.bar(x - 0.2, [stats[n]["invalid_share"] * 100 for n in names], 0.4, label="all pixels")
    near_edges = [np.nan_to_num(stats[n]["invalid_share_near_edges"]) * 100 for n in names]
    ax_invalid.bar(x + 0.2, near_edges, 0.4, label=f"within {EDGE_BAND_PX} px of a depth edge")
    top = max([stats[n]["invalid_share"] * 100 for n in names] + near_edges + [1.0])
    ax_invalid.set(ylabel="invalid (0) pixels (%)", title="Missing depth", ylim=(0, 1.3 * top))
    width = 0.8 / len(CLASS_HOLES)
    tops = [1.0]
    for k, (key, title) in enumerate(CLASS_HOLES.items()):
        values = [np.nan_to_num(stats[n].get(f"invalid_share_{key}", np.nan)) * 100 for n in names]
        ax_class.bar(x - 0.4 + width * (k + 0.5), values, width, label=title)
        tops += values
    ax_class.set(ylabel="invalid (0) pixels (%)", title="Missing depth by label", ylim=(0, 1.35 * max(tops)))
    for ax in (ax_invalid, ax_class):
        ax.set_xticks(x, names, rotation=12)
    for ax in (ax_hand, ax_grad, ax_pix, ax_near, ax_invalid, ax_class):
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _no_nan(value: Any) -> Any:
    """NaN (a statistic without data) as null, so the JSON is standard."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    """Compare the datasets and write the Markdown table, the JSON numbers and the PNG plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, action="append", default=[], help="a real handseg-v1 dataset")
    parser.add_argument("--synthetic", type=parse_named, action="append", default=[], help="NAME=DIR, repeatable")
    parser.add_argument("--out", type=Path, default=RESULTS / "domain_gap.md", help="Markdown file (.json/.png beside)")
    parser.add_argument("--max-frames", type=int, default=200, help="frames per dataset, evenly spread (default 200)")
    parser.add_argument("--force", action="store_true", help="overwrite existing results")
    args = parser.parse_args(argv)
    from handseg.errors import HandsegError, OutputExistsError
    from handseg.utils.io import atomic_write_text

    named = [(f"real: {p.name}" if len(args.real) > 1 else "real", p) for p in args.real] + list(args.synthetic)
    if not named:
        parser.error("give at least one dataset (--real DIR, --synthetic NAME=DIR)")
    if len({n for n, _ in named}) != len(named):
        parser.error("dataset names must differ")
    md_path, json_path, png_path = (args.out.with_suffix(s) for s in (".md", ".json", ".png"))
    try:
        for path in (md_path, json_path, png_path):
            if path.exists() and not args.force:
                raise OutputExistsError(f"{path}: exists; pass --force to overwrite")
        stats = {name: dataset_stats(root, args.max_frames) for name, root in named}
    except HandsegError as exc:
        print(f"bench_domain_gap: error: {exc}", file=sys.stderr)
        return 1
    command = "python benchmarks/bench_domain_gap.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    plot(stats, png_path)
    payload = _no_nan({"command": command, "datasets": stats})
    atomic_write_text(json_path, json.dumps(payload, indent=1, allow_nan=False) + "\n")
    text = markdown(stats, command, png_path.name)
    atomic_write_text(md_path, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
