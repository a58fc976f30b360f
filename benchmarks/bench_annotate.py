"""Auto-annotation against exact synthetic truth: per-stage ablation of hand/object IoU, acceptable frames, speed.

HSV thresholds are calibrated on frames of a separate seed; the pipeline never sees the truth of the frames it is
scored on. Usage: python benchmarks/bench_annotate.py [--frames 200] [--data DIR] [--calib-frames 24]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import RESULTS, markdown_table, write_results
from handseg.annotate.calibrate import calibrate
from handseg.annotate.config import AnnotateConfig
from handseg.annotate.pipeline import annotate_frame, depth_band, nearest_surface
from handseg.data.format import HandsegDataset

ACCEPT_IOU = 0.9
GOAL_ACCEPT, GOAL_FPS, PAPER_ACCEPT = 0.95, 100.0, 0.88
PAPER_STAGE = "+ contour filter (paper's pipeline)"
NO_DEPTH_SHARE = 0.2  # a frame this much of whose hand and object has no depth cannot be labelled from depth
NO_DEPTH_CAUSE = (
    f"hand/object largely without depth (>= {NO_DEPTH_SHARE:.0%} of their pixels: nearer than the sensor's range "
    "or in its shadow)"
)
OFF = {"theta": 0, "phi": 1e12}  # contour filter that keeps every segment
REAL_REPAIRS_OFF = {"body_radius_m": 0, "edge_colour_px": 0, "shadow_fill_px": 0, "contact_px": 0}  # found on D415


def stage_configs(cfg: AnnotateConfig) -> list[tuple[str, AnnotateConfig | None]]:
    """Cumulative stages of the paper, then our additions (None = band only: every band pixel is hand)."""
    no_morph = {"hand_open_px": 0, "hand_close_px": 0, "object_open_px": 0, "object_close_px": 0}
    full, cfg = cfg, replace(cfg, **REAL_REPAIRS_OFF)  # the real-sensor repairs come last, one row each
    bare = paper_config(cfg)
    aligned = replace(bare, align_search_px=cfg.align_search_px)
    planes = replace(aligned, plane_count=cfg.plane_count)
    later = {"fill_unassigned_px": 0, "edge_fill_px": 0, "hole_close_px": 0, "refine_rounds": 0, "neighbour_fill_px": 0,
             "colour_model": "", "depth_snap_px": 0}  # fmt: skip
    hsv = replace(cfg, colour_model="", depth_snap_px=0)
    body = replace(cfg, body_radius_m=full.body_radius_m)
    return [
        ("band only (all band = hand)", None),
        ("+ HSV skin (hand) vs rest (object)", replace(bare, **no_morph, **OFF)),
        ("+ morphology", replace(bare, **OFF)),
        (PAPER_STAGE, bare),
        ("+ misalignment repair (sub-pixel similarity)", aligned),
        ("+ table/wall plane removal", planes),
        ("+ growth along depth-continuous surfaces", replace(cfg, **later, grow_contact_px=0)),
        ("+ join surfaces the band occludes", replace(cfg, **later)),
        (
            "+ join pixels next to the band at its depth",
            replace(cfg, **{**later, "neighbour_fill_px": cfg.neighbour_fill_px}),
        ),
        ("+ fill depth holes in the band", replace(hsv, fill_unassigned_px=0, edge_fill_px=0, refine_rounds=0)),
        ("+ fill ragged depth-edge dropouts", replace(hsv, fill_unassigned_px=0, refine_rounds=0)),
        ("+ per-frame colour refinement", replace(hsv, fill_unassigned_px=0)),
        ("+ fill unassigned band pixels (without colour model)", hsv),
        (
            "+ calibrated colour model (replaces HSV + refinement)",
            replace(cfg, colour_adapt_rounds=0, depth_snap_px=0, colour_border_px=0),
        ),
        ("+ per-frame adaptation of the colour model", replace(cfg, depth_snap_px=0, colour_border_px=0)),
        ("+ forearm colours (band at the image border) lean to hand", replace(cfg, depth_snap_px=0)),
        ("+ depth snapping of the hand/object boundary", cfg),
        ("+ thick border-cut surfaces (a torso) leave the band", body),
        ("+ colour decides the band's depth-edge pixels", replace(body, edge_colour_px=full.edge_colour_px)),
        ("+ object segments must touch the hand (full)", full),
    ]


def paper_config(cfg: AnnotateConfig) -> AnnotateConfig:
    """Only the paper's steps (band, HSV, morphology, contour filter): every addition of ours switched off."""
    return replace(
        cfg, align_search_px=0, fill_unassigned_px=0, grow_max_m=0, hole_close_px=0, plane_count=0, refine_rounds=0,
        edge_fill_px=0, grow_contact_px=0, neighbour_fill_px=0, colour_model="", depth_snap_px=0, **REAL_REPAIRS_OFF,
    )  # fmt: skip


def skin_like(rgb: list[int], cfg: AnnotateConfig) -> bool:
    """Whether an object colour (albedo, RGB) falls inside the HSV skin box by hue and saturation (value = lighting)."""
    h, sat, _ = cv2.cvtColor(np.uint8([[rgb]]), cv2.COLOR_RGB2HSV)[0, 0]
    hue_ok = (h >= cfg.hue_lo or h <= cfg.hue_hi) if cfg.hue_lo > cfg.hue_hi else cfg.hue_lo <= h <= cfg.hue_hi
    return bool(hue_ok and cfg.sat_lo <= sat <= cfg.sat_hi)


def capture_protocol(root: Path, ids: list[str], cfg: AnnotateConfig) -> np.ndarray:
    """Frames whose object would be allowed in an auto-annotation capture: no object colour is skin_like."""
    import json

    keep = []
    for sample_id in ids:
        scene = json.loads((root / "scene" / f"{sample_id}.json").read_text(encoding="utf-8"))
        keep.append(not any(skin_like(c, cfg) for c in scene["object"]["colors"]))
    return np.array(keep)


def scene_families(root: Path, ids: list[str]) -> np.ndarray:
    """Each frame's scene family from its scene file (`scene/<id>.json`; '?' when the generator did not record one)."""
    import json

    return np.array(
        [json.loads((root / "scene" / f"{i}.json").read_text(encoding="utf-8")).get("family", "?") for i in ids]
    )


FAMILY_COLUMNS = [
    "family",
    "stage",
    "frames",
    "without_depth",
    "hand_iou_mean",
    "object_iou_mean",
    "foreground_iou_mean",
    "acceptable",
]


def family_rows(
    stages: dict[str, dict], families: np.ndarray, names: tuple[str, ...], no_depth: np.ndarray
) -> list[dict]:
    """Per scene family and named stage: frames, frames without depth, mean IoUs and the acceptable share."""
    rows = []
    for family in sorted(set(families.tolist())):
        keep = families == family
        for name in names:
            scores = {k: round(v, 4) for k, v in subset_scores(stages[name]["per_frame"], keep).items()}
            rows.append({"family": family, "stage": name, "frames": int(keep.sum()),
                         "without_depth": int(no_depth[keep].sum()), **scores})  # fmt: skip
    return rows


def subset_scores(per_frame: list, keep: np.ndarray) -> dict[str, float]:
    """Mean hand, object and foreground IoU and the acceptable share of the frames `keep` selects."""
    arr = np.array(per_frame)[keep]
    ok = (arr[:, 0] >= ACCEPT_IOU) & (arr[:, 1] >= ACCEPT_IOU)
    return {"hand_iou_mean": float(arr[:, 0].mean()), "object_iou_mean": float(arr[:, 1].mean()),
            "foreground_iou_mean": float(arr[:, 2].mean()), "acceptable": float(ok.mean())}  # fmt: skip


def iou(pred: np.ndarray, true: np.ndarray, valid: np.ndarray) -> tuple[float, int, int]:
    """Per-frame IoU (1 when both are empty) plus intersection and union pixel counts."""
    inter = int(np.count_nonzero(pred & true & valid))
    union = int(np.count_nonzero((pred | true) & valid))
    return (inter / union if union else 1.0), inter, union


def score(frames: list[dict], cfg: AnnotateConfig | None) -> dict:
    """Per-frame and pooled hand/object IoU and the share of acceptable frames for one stage."""
    per_frame, pooled = [], np.zeros((2, 2))
    for f in frames:
        if cfg is None:
            base = AnnotateConfig()
            near = nearest_surface(f["depth"], base)
            label = np.zeros(f["label"].shape, np.uint8)
            if near is not None:
                label[depth_band(f["depth"], near, base)] = 1
        else:
            label = annotate_frame(f["depth"], f["color"], cfg, fx=f["intrinsics"].fx).label
        valid = f["label"] != 255
        h = iou(label == 1, f["label"] == 1, valid)
        o = iou(label == 2, f["label"] == 2, valid)
        fg = iou(label > 0, (f["label"] == 1) | (f["label"] == 2), valid)
        pooled += [[h[1], h[2]], [o[1], o[2]]]
        per_frame.append((h[0], o[0], fg[0]))
    arr = np.array(per_frame)
    return {
        "hand_iou_mean": float(arr[:, 0].mean()),
        "object_iou_mean": float(arr[:, 1].mean()),
        "mean_iou": float(arr[:, :2].mean()),
        "hand_iou_pooled": float(pooled[0, 0] / pooled[0, 1]),
        "object_iou_pooled": float(pooled[1, 0] / max(pooled[1, 1], 1)),
        "foreground_iou_mean": float(arr[:, 2].mean()),
        "acceptable": float(np.mean((arr[:, 0] >= ACCEPT_IOU) & (arr[:, 1] >= ACCEPT_IOU))),
        "per_frame": arr.round(4).tolist(),
    }


def missing_depth_share(frame: dict) -> float:
    """Share of the true hand and object pixels that have no depth (0 when the frame has none)."""
    fg = (frame["label"] == 1) | (frame["label"] == 2)
    return float((frame["depth"][fg] == 0).mean()) if fg.any() else 0.0


def failure_analysis(frames: list[dict], cfg: AnnotateConfig, per_frame: list) -> dict[str, int]:
    """Why frames miss the 0.9/0.9 bar: foreground (depth) wrong, or a skin-coloured object, or other colours."""
    from handseg.annotate.splitters import skin_mask

    causes = dict.fromkeys(
        ("acceptable", NO_DEPTH_CAUSE, "foreground IoU < 0.9 (depth steps)",
         "object mostly passes the skin test (colour cannot separate)", "other colour confusion"), 0
    )  # fmt: skip
    for f, (h, o, fg) in zip(frames, per_frame):
        if h >= ACCEPT_IOU and o >= ACCEPT_IOU:
            causes["acceptable"] += 1
        elif missing_depth_share(f) >= NO_DEPTH_SHARE:
            causes[NO_DEPTH_CAUSE] += 1
        elif fg < ACCEPT_IOU:
            causes["foreground IoU < 0.9 (depth steps)"] += 1
        else:
            result = annotate_frame(f["depth"], f["color"], cfg, fx=f["intrinsics"].fx)
            skin = skin_mask(result.aligned_color(f["color"]), cfg)
            obj = f["label"] == 2
            if obj.any() and skin[obj].mean() > 0.5:
                causes["object mostly passes the skin test (colour cannot separate)"] += 1
            else:
                causes["other colour confusion"] += 1
    return causes


def generator_version(root: Path) -> object:
    """The synthetic generator's version recorded in a dataset's manifest ('?' if absent)."""
    import json

    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return (manifest.get("generator") or manifest.get("extra", {}).get("generator") or {}).get("version", "?")


def load(root: Path) -> list[dict]:
    """Every frame of a dataset in memory."""
    ds = HandsegDataset(root, split=None)
    return [ds.load(i) for i in ds.ids]


def speed(frames: list[dict], cfg: AnnotateConfig) -> dict:
    """annotate_frame on one core (OpenCV with one thread): frames per CPU-second of this process, and per wall second.

    CPU time is what the machine's load does not inflate (much); the median is of per-frame CPU times.
    """
    cpu_times = []
    for f in frames[:3]:
        annotate_frame(f["depth"], f["color"], cfg, fx=f["intrinsics"].fx)
    wall = time.perf_counter()
    for f in frames:
        start = time.process_time()
        annotate_frame(f["depth"], f["color"], cfg, fx=f["intrinsics"].fx)
        cpu_times.append(time.process_time() - start)
    wall = time.perf_counter() - wall
    median, p95 = statistics.median(cpu_times) * 1e3, float(np.percentile(cpu_times, 95)) * 1e3
    return {"median_cpu_ms": median, "p95_cpu_ms": p95, "fps_cpu": len(cpu_times) / sum(cpu_times),
            "fps_wall": len(frames) / wall}  # fmt: skip


def end_to_end(root: Path, cfg: AnnotateConfig, frames: int) -> dict:
    """`handseg annotate` throughput with PNG reading and writing (one worker), with and without overlays."""
    from handseg.annotate.runner import annotate_source
    from handseg.data.sources import DatasetSource

    source = DatasetSource(root)
    source.ids = source.ids[:frames]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for overlays in (False, True):
            summary = annotate_source(source, Path(tmp) / f"o{overlays}", cfg, overlays=overlays, progress=False)
            out["with_overlays" if overlays else "no_overlays"] = summary["frames"] / summary["seconds"]
    return out


def picture(frames: list[dict], cfg: AnnotateConfig, per_frame: list, path: Path) -> None:
    """Examples: color | truth | auto labels, for the best, median and worst frames by min(hand, object IoU)."""
    from handseg.utils.io import atomic_write_png
    from handseg.viz.overlay import overlay_labels, put_text, tile

    worst = np.argsort([min(h, o) for h, o, _ in per_frame])
    picks = [int(worst[-1]), int(worst[len(worst) // 2]), int(worst[len(worst) // 4]), int(worst[0])]
    images = []
    for k in picks:
        f = frames[k]
        label = annotate_frame(f["depth"], f["color"], cfg, fx=f["intrinsics"].fx).label
        truth = np.where(f["label"] == 255, 0, f["label"]).astype(np.uint8)
        h, o, _ = per_frame[k]
        row = [put_text(f["color"].copy(), f"{f['id']} color"),
               put_text(overlay_labels(f["color"], truth), "truth"),
               put_text(overlay_labels(f["color"], label), f"auto: hand {h:.2f} object {o:.2f}")]  # fmt: skip
        images += [cv2.resize(im, (320, 240), interpolation=cv2.INTER_AREA) for im in row]
    atomic_write_png(path, tile(images, columns=3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--calib-frames", type=int, default=24)
    parser.add_argument("--data", type=Path, help="folder to keep the generated datasets in (reused if present)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    from handseg.data.synth import generate_dataset

    tmp = tempfile.TemporaryDirectory()
    data = args.data or Path(tmp.name)
    test_root, calib_root = data / f"test-{args.frames}", data / f"calib-{args.calib_frames}"
    for root, n, seed in ((test_root, args.frames, 0), (calib_root, args.calib_frames, 1)):
        if not (root / "manifest.json").exists():
            generate_dataset(root, n, seed=seed, size=(640, 480), force=True, progress=True)
    calib = load(calib_root)
    cfg, report, model = calibrate([(f["depth"], f["color"], f["label"]) for f in calib], AnnotateConfig())
    model.save(data / "colour.npz")
    cfg = replace(cfg, colour_model=str(data / "colour.npz"))
    frames = load(test_root)
    rows, stages = [], {}
    for name, stage_cfg in stage_configs(cfg):
        result = score(frames, stage_cfg)
        stages[name] = result
        rows.append({"stage": name, **{k: v for k, v in result.items() if k != "per_frame"}})
        print(rows[-1], flush=True)
    full = stages[rows[-1]["stage"]]
    causes = failure_analysis(frames, cfg, full["per_frame"])
    protocol = capture_protocol(test_root, [f["id"] for f in frames], cfg)
    subset_rows = []
    for name, result in stages.items():
        scores = subset_scores(result["per_frame"], protocol)
        scores.pop("foreground_iou_mean")  # the subset table and its JSON keep their three columns
        subset_rows.append({"stage": name, **scores})
    sub_full = subset_rows[-1]
    sub_causes = failure_analysis([f for f, k in zip(frames, protocol) if k], cfg,
                                  [p for p, k in zip(full["per_frame"], protocol) if k])  # fmt: skip
    families = scene_families(test_root, [f["id"] for f in frames])
    no_depth = np.array([missing_depth_share(f) >= NO_DEPTH_SHARE for f in frames])
    by_family = family_rows(stages, families, (PAPER_STAGE, rows[-1]["stage"]), no_depth)
    cv2.setNumThreads(1)
    timing = {"paper": speed(frames, paper_config(cfg)), "full": speed(frames, cfg),
              "full without colour model (HSV + refinement)": speed(frames, replace(cfg, colour_model="")),
              "full without depth snapping": speed(frames, replace(cfg, depth_snap_px=0)),
              "full, integer shift search": speed(frames, replace(cfg, align_subpixel=0))}  # fmt: skip
    e2e = end_to_end(test_root, cfg, min(len(frames), 60))
    picture(frames, cfg, full["per_frame"], RESULTS / "annotate_examples.png")

    hsv = {k: getattr(cfg, k) for k in ("hue_lo", "hue_hi", "sat_lo", "sat_hi", "val_lo", "val_hi")}
    md = [
        f"{len(frames)} synthetic frames at 640x480 (`generate_dataset(seed=0)`), scored against their exact labels "
        f"(pixels labelled 255 ignored). HSV thresholds calibrated on {len(calib)} frames of seed 1 "
        f"(`calibrate`: pixel split mean IoU {report['mean_iou_start']} -> {report['mean_iou']}, then whole-pipeline "
        f"tuning {report['pipeline_iou_start']} -> {report['pipeline_iou']}): {hsv}; from the same labelled pixels "
        f"a colour model (`handseg.annotate.colour_model`: HSV histograms of {model.hand_pixels} hand and "
        f"{model.object_pixels} object pixels, the file `handseg annotate --calibrate` writes). "
        f"Other parameters: `configs/annotate.yaml` defaults. Generator version {generator_version(test_root)} "
        "(version 3 adds scene families: people facing the camera with torso, head and upper arms labelled "
        "background, clutter on the table, a D400-like sensor; version 2 scored 90.5% acceptable frames).\n",
        "## Per-stage ablation\n",
        "IoU columns are means over frames; *pooled* pools pixels over all frames; *acceptable* = share of frames "
        f"with hand IoU and object IoU both >= {ACCEPT_IOU} (paper: {PAPER_ACCEPT:.0%}; goal: {GOAL_ACCEPT:.0%}). "
        "Band only labels the whole band hand, so its object IoU is 0; its foreground IoU shows the band itself.\n",
        markdown_table(
            rows,
            [
                "stage",
                "hand_iou_mean",
                "object_iou_mean",
                "mean_iou",
                "hand_iou_pooled",
                "object_iou_pooled",
                "foreground_iou_mean",
                "acceptable",
            ],
        ),
        f"\n(a) All generator frames, full pipeline: **{full['acceptable']:.1%} acceptable frames** "
        f"({'meets' if full['acceptable'] >= GOAL_ACCEPT else 'misses'} the {GOAL_ACCEPT:.0%} goal), "
        f"mean IoU {full['mean_iou']:.3f}.\n",
        "## Why frames fail (full pipeline, all frames)\n",
        markdown_table([{"frames": n, "cause": c} for c, n in causes.items()], ["cause", "frames"]),
        "\n## (b) Capture protocol: objects that are not skin-coloured\n",
        "The generator paints some objects brown or orange like skin; no colour rule can tell those from a hand, and "
        "a real auto-annotation capture (as in the paper) uses objects that are not skin-coloured. Rule, from the "
        "scene file `scene/<id>.json` (never from the labels): a frame belongs to the capture-protocol subset when "
        "none of its object's colours (`object.colors`, albedo RGB) lies inside the calibrated HSV skin box by hue and "
        "saturation (value is left out: it depends on the lighting). "
        f"{int(protocol.sum())} of {len(frames)} frames qualify.\n",
        markdown_table(subset_rows, ["stage", "hand_iou_mean", "object_iou_mean", "acceptable"]),
        f"\n(b) Capture-protocol subset, full pipeline: **{sub_full['acceptable']:.1%} acceptable frames** "
        f"({'meets' if sub_full['acceptable'] >= GOAL_ACCEPT else 'misses'} the {GOAL_ACCEPT:.0%} goal).\n",
        markdown_table([{"frames": n, "cause": c} for c, n in sub_causes.items()], ["cause", "frames"]),
        "\n## (c) By scene family\n",
        "The paper's capture (one person holds an object in front of the camera, nothing else within the 16 cm band) "
        "is the `closeup` family; `egocentric` comes near it; in `frontal` and `tabletop` scenes a torso, a table "
        "edge or lying clutter share the band with the hand, which the paper's pipeline never had to handle. Family "
        "from the scene file (`scene/<id>.json`). *without_depth*: frames where at least "
        f"{NO_DEPTH_SHARE:.0%} of the true hand and object pixels have no depth (nearer than the sensor's range, as "
        "egocentric hands often are, or in its shadow): no depth-based annotator can label them.\n",
        markdown_table(
            by_family,
            FAMILY_COLUMNS,
        ),
        "\n## Speed (one core, `cv2.setNumThreads(1)`)\n",
        "frames_per_cpu_s = frames per second of this process's CPU time (what one free core would do; the machine is "
        "shared); frames_per_wall_s for context.\n",
        markdown_table(
            [
                {
                    "what": f"annotate_frame, {name}",
                    "median_cpu_ms": t["median_cpu_ms"],
                    "p95_cpu_ms": t["p95_cpu_ms"],
                    "frames_per_cpu_s": t["fps_cpu"],
                    "frames_per_wall_s": t["fps_wall"],
                }
                for name, t in timing.items()
            ]
            + [
                {"what": "handseg annotate, PNG in/out, no overlays", "frames_per_wall_s": e2e["no_overlays"]},
                {"what": "handseg annotate, PNG in/out, with overlays", "frames_per_wall_s": e2e["with_overlays"]},
            ],
            ["what", "median_cpu_ms", "p95_cpu_ms", "frames_per_cpu_s", "frames_per_wall_s"],
        ),
        f"\nGoal >= {GOAL_FPS:.0f} frames/s on one core: paper's pipeline "
        f"{'met' if timing['paper']['fps_cpu'] >= GOAL_FPS else 'missed'} ({timing['paper']['fps_cpu']:.0f} frames per "
        f"CPU-second), full pipeline {'met' if timing['full']['fps_cpu'] >= GOAL_FPS else 'missed'} "
        f"({timing['full']['fps_cpu']:.0f}).\n",
        "## Examples\n",
        "Best, median, lower-quartile and worst frame (by min of hand and object IoU); red hand, blue object.\n",
        "![examples](annotate_examples.png)\n",
    ]
    payload = {"frames": len(frames), "calibration": {**report, **hsv}, "config": cfg.to_dict(),
               "stages": stages, "speed": timing, "end_to_end_fps": e2e, "failures": causes,
               "capture_protocol": {"frames": int(protocol.sum()), "stages": subset_rows,
                                    "failures": sub_causes},
               "by_family": by_family}  # fmt: skip
    write_results("annotate", payload, "\n".join(md), "python benchmarks/bench_annotate.py")
    tmp.cleanup()


if __name__ == "__main__":
    main()
