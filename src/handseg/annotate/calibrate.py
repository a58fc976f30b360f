"""Fit the HSV skin thresholds (percentiles, then coordinate ascent) and a colour model on frames with known labels."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from handseg.annotate.align import register, warp_crop
from handseg.annotate.colour_model import ColourModel, hsv_bins
from handseg.annotate.config import AnnotateConfig
from handseg.annotate.pipeline import HAND, OBJECT, annotate_frame, depth_band, nearest_surface
from handseg.data.format import IGNORE_INDEX
from handseg.errors import ConfigError

# candidate bounds: these percentiles of the hand pixels' values, from each end of the range
PERCENTILES = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 18.0, 25.0)


def collect_pixels(
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    cfg: AnnotateConfig,
    per_frame: int = 20000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """HSV values (N x 3 uint8) and is-hand flags of labelled hand/object pixels inside each frame's depth band."""
    rng = np.random.default_rng(seed)
    values, flags = [], []
    for depth_m, color, label in frames:
        near = nearest_surface(depth_m, cfg)
        if near is None:
            continue
        band = depth_band(depth_m, near, cfg)
        m = register(color, band, cfg)
        hsv = cv2.cvtColor(warp_crop(color, m, slice(0, band.shape[0]), slice(0, band.shape[1])), cv2.COLOR_RGB2HSV)
        fg = band & ((label == HAND) | (label == OBJECT))
        ys, xs = np.nonzero(fg)
        if ys.size > per_frame:
            pick = rng.choice(ys.size, per_frame, replace=False)
            ys, xs = ys[pick], xs[pick]
        values.append(hsv[ys, xs])
        flags.append(label[ys, xs] == HAND)
    if not values or not np.concatenate(flags).any():
        raise ValueError("no labelled hand pixels inside the depth band of the calibration frames")
    return np.concatenate(values), np.concatenate(flags)


def _rotated_hue(hue: np.ndarray, centre: int) -> np.ndarray:
    """Hue rotated so that `centre` sits at 90 (removes the wrap at red)."""
    return (hue.astype(np.int16) - centre + 90) % 180


def hand_iou(pred: np.ndarray, is_hand: np.ndarray) -> float:
    """IoU of predicted and true hand pixels."""
    inter = np.count_nonzero(pred & is_hand)
    union = np.count_nonzero(pred | is_hand)
    return inter / union if union else 1.0


def mean_iou(pred: np.ndarray, is_hand: np.ndarray) -> float:
    """Mean of hand IoU and object IoU when every pixel not predicted hand is called object."""
    return 0.5 * (hand_iou(pred, is_hand) + hand_iou(~pred, ~is_hand))


def fit_hsv(values: np.ndarray, is_hand: np.ndarray, rounds: int = 3) -> tuple[dict[str, int], dict[str, Any]]:
    """Thresholds (hue_lo, ..., val_hi) maximising the mean of hand and object IoU over the given pixels."""
    hand_hue = values[is_hand, 0].astype(np.float64) * (np.pi / 90)  # circular mean of hand hue
    centre = round(float(np.angle(np.exp(1j * hand_hue).mean())) * 90 / np.pi) % 180
    channels = np.stack([_rotated_hue(values[:, 0], centre), values[:, 1], values[:, 2]], axis=1).astype(np.int16)
    hand = channels[is_hand]
    bounds = np.array(
        [[np.percentile(hand[:, c], 1), np.percentile(hand[:, c], 99)] for c in range(3)], np.float64
    ).round()
    candidates = [
        (np.unique(np.percentile(hand[:, c], PERCENTILES).round()),
         np.unique(np.percentile(hand[:, c], [100 - p for p in PERCENTILES]).round()))
        for c in range(3)
    ]  # fmt: skip

    def predict(b: np.ndarray) -> np.ndarray:
        return np.all((channels >= b[:, 0]) & (channels <= b[:, 1]), axis=1)

    start_iou = best_iou = mean_iou(predict(bounds), is_hand)
    for _ in range(rounds):
        improved = False
        for c in range(3):
            for side in (0, 1):
                for value in candidates[c][side]:
                    trial = bounds.copy()
                    trial[c, side] = value
                    if trial[c, 0] > trial[c, 1]:
                        continue
                    iou = mean_iou(predict(trial), is_hand)
                    if iou > best_iou + 1e-6:
                        bounds, best_iou, improved = trial, iou, True
        if not improved:
            break
    hue_lo = int(bounds[0, 0] + centre - 90) % 180
    hue_hi = int(bounds[0, 1] + centre - 90) % 180
    fitted = {
        "hue_lo": hue_lo,
        "hue_hi": hue_hi,
        "sat_lo": int(max(bounds[1, 0], 0)),
        "sat_hi": int(min(bounds[1, 1], 255)),
        "val_lo": int(max(bounds[2, 0], 0)),
        "val_hi": int(min(bounds[2, 1], 255)),
    }
    report = {"pixels": int(values.shape[0]), "hand_pixels": int(is_hand.sum()), "hue_centre": centre,
              "mean_iou_start": round(float(start_iou), 4), "mean_iou": round(float(best_iou), 4),
              "hand_iou": round(float(hand_iou(predict(bounds), is_hand)), 4)}  # fmt: skip
    return fitted, report


def frame_score(frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]], cfg: AnnotateConfig) -> float:
    """Mean over frames of the mean of hand IoU and object IoU of the whole pipeline."""
    scores = []
    for depth_m, color, label in frames:
        pred = annotate_frame(depth_m, color, cfg).label
        valid = label != IGNORE_INDEX
        ious = []
        for cls in (HAND, OBJECT):
            p, t = (pred == cls) & valid, (label == cls) & valid
            union = np.count_nonzero(p | t)
            ious.append(np.count_nonzero(p & t) / union if union else 1.0)
        scores.append(sum(ious) / 2)
    return float(np.mean(scores))


HSV_STEPS = {"hue_lo": (2, 5), "hue_hi": (2, 5), "sat_lo": (8, 20), "sat_hi": (8, 20), "val_lo": (8, 20),
             "val_hi": (8, 20)}  # fmt: skip


def tune_pipeline(
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]], cfg: AnnotateConfig, rounds: int = 2
) -> tuple[AnnotateConfig, float, float]:
    """Coordinate ascent of the six HSV bounds on the whole pipeline's frame_score; returns (cfg, start, end)."""
    start = best = frame_score(frames, cfg)
    for _ in range(rounds):
        improved = False
        for name, steps in HSV_STEPS.items():
            for step in (*steps, *(-s for s in steps)):
                value = getattr(cfg, name) + step
                value = value % 180 if name.startswith("hue") else min(max(value, 0), 255)
                try:
                    trial = replace(cfg, **{name: value})
                except ConfigError:
                    continue
                score = frame_score(frames, trial)
                if score > best + 1e-4:
                    cfg, best, improved = trial, score, True
        if not improved:
            break
    return cfg, start, best


def calibrate(
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    base: AnnotateConfig | None = None,
    tune: bool = True,
    colour_model: bool = True,
    tune_frames: int = 24,
) -> tuple[AnnotateConfig, dict[str, Any], ColourModel | None]:
    """HSV thresholds and a colour model fitted on (depth_m, color, label) frames; other parameters from `base`.

    First the thresholds that best split labelled hand from object pixels in the depth band (fit_hsv) and, with
    `colour_model`, HSV histograms of the same pixels (ColourModel); then, with `tune`, a coordinate ascent of the
    thresholds on the whole pipeline's per-frame IoU without the model (tune_pipeline, on at most `tune_frames`
    evenly spaced frames): the thresholds serve the HSV path and the colours the model never saw.
    The returned config's colour_model path is left as in `base`: the caller saves the model and names its file.
    """
    base = base or AnnotateConfig()
    values, is_hand = collect_pixels(frames, base)
    fitted, report = fit_hsv(values, is_hand)
    model = ColourModel.fit(hsv_bins(values), is_hand) if colour_model else None
    cfg = replace(base, **fitted)
    if tune:
        picks = np.unique(np.linspace(0, len(frames) - 1, min(tune_frames, len(frames))).round().astype(int))
        hsv_path = replace(cfg, colour_model="")  # the HSV path, whatever model `base` names: the model's own fallback
        tuned, start, end = tune_pipeline([frames[k] for k in picks], hsv_path)
        cfg = replace(tuned, colour_model=cfg.colour_model)
        report |= {"pipeline_iou_start": round(start, 4), "pipeline_iou": round(end, 4)}
    return cfg, report, model
