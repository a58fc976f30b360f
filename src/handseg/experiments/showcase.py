"""A shipped model on frames it has never seen: fresh synthetic frames and, when given, real depth frames."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from handseg.data.crop import finish_frame
from handseg.data.forearm import ignore_forearm
from handseg.data.format import IGNORE_INDEX, HandsegDataset
from handseg.data.synth import render_frame
from handseg.errors import ConfigError
from handseg.metrics import scores_from_confusion
from handseg.metrics.amodal import AmodalPartIoU
from handseg.tasks import get_task
from handseg.utils.io import atomic_write_png
from handseg.viz.amodal import amodal_parts_picture
from handseg.viz.overlay import colorize_depth, depth_gray, overlay_labels, put_text, tile
from handseg.zoo import Segmenter


def _scores(hist: np.ndarray) -> dict[str, float]:
    """IU of hand and object and their mean (%) from a 3x3 confusion matrix (FCN definitions, DESIGN section 4)."""
    scores = scores_from_confusion(hist)
    return {"hand_iu": 100 * float(scores["iu"][1]), "object_iu": 100 * float(scores["iu"][2]),
            "miou_hand_object": 100 * float(scores["miou_hand_object"])}  # fmt: skip


def _confusion(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    keep = truth != IGNORE_INDEX
    return np.bincount(3 * truth[keep].astype(np.int64) + pred[keep], minlength=9).reshape(3, 3)


def _panel(depth_m: np.ndarray, truth: np.ndarray, pred: np.ndarray, caption: str, width: int = 320) -> np.ndarray:
    """Truth and prediction over greyscale depth, side by side, captioned (the model reads depth only)."""
    valid = depth_m[depth_m > 0]
    near, far = (float(np.percentile(valid, 1)), float(np.percentile(valid, 99))) if valid.size else (None, None)
    gray = colorize_depth(depth_m, near, far).mean(axis=2, keepdims=True).astype(np.uint8).repeat(3, axis=2)
    height = round(depth_m.shape[0] * width / depth_m.shape[1])
    tiles = []
    for name, labels in (("truth", np.where(truth == IGNORE_INDEX, 0, truth)), ("prediction", pred)):
        image = overlay_labels(gray, labels.astype(np.uint8))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        tiles.append(put_text(np.ascontiguousarray(image), f"{caption} {name}" if name == "truth" else name))
    return tile(tiles, columns=2, gap=2)


def showcase(
    out: str | Path,
    model: str | Path = "refinenet-160",
    *,
    frames: int = 8,
    seed: int = 12345,
    size: tuple[int, int] = (640, 480),
    real: str | Path | None = None,
    real_split: str = "test",
    pictures: int = 4,
) -> dict[str, Any]:
    """Segment `frames` fresh synthetic frames (a seed no shipped model trained on) and the frames of `real`.

    Writes `out/synthetic.png` and `out/real.png` (truth and prediction over depth) and returns the scores:
    mean IOU of hand and object over all frames of each set (synthetic: also with the forearm not scored, as the
    real wrist-length labels do), frames/s of the Segmenter, and the model's card.
    """
    out = Path(out)
    segmenter = Segmenter(model)
    result: dict[str, Any] = {"model": str(model), "card": segmenter.card}
    sets: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {"synthetic": []}
    no_forearm = []  # the synthetic truth as real wrist-length labels have it (handseg.data.forearm)
    for index in range(frames):
        frame = render_frame(seed, index, *size)
        depth = frame["depth"].astype(np.float32) * np.float32(frame["intrinsics"].depth_scale_m)
        sets["synthetic"].append((f"{frame['scene']['family']} {index}", depth, frame["label"]))
        sample = {"id": str(index), "label": frame["label"], "parts": frame["parts"]}
        no_forearm.append(ignore_forearm(sample)["label"].astype(np.uint8))  # type: ignore[arg-type]
    if real is not None:
        reader = HandsegDataset(real, split=real_split)
        sets["real"] = [(s["id"], s["depth"], s["label"].astype(np.uint8)) for s in reader]
    for name, items in sets.items():
        start = time.perf_counter()
        preds = segmenter.predict([depth for _, depth, _ in items])
        seconds = time.perf_counter() - start
        hist = sum(_confusion(truth, pred) for (_, _, truth), pred in zip(items, preds))
        picks = np.linspace(0, len(items) - 1, min(pictures, len(items))).round().astype(int)
        panels = [_panel(items[k][1], items[k][2], preds[k], items[k][0]) for k in picks]
        atomic_write_png(out / f"{name}.png", tile(panels, columns=1, gap=4), compression=6)
        result[name] = {**_scores(hist), "frames": len(items), "frames_per_s": len(items) / seconds,
                        "picture": f"{name}.png"}  # fmt: skip
        if name == "synthetic":
            hist = sum(_confusion(truth, pred) for truth, pred in zip(no_forearm, preds))
            result[name]["forearm_not_scored"] = _scores(hist)
    return result


def amodal_showcase(
    out: str | Path,
    model: str | Path = "amodal-rgbd",
    *,
    frames: int = 8,
    seed: int = 12345,
    render_size: tuple[int, int] = (640, 480),
    pictures: int = 3,
) -> dict[str, Any]:
    """Amodal parts of `frames` fresh synthetic hand crops (a seed no shipped model trained on), scored and drawn.

    Each frame is rendered at `render_size` and cut around both hands at the model's size (as `handseg synth
    --crop hands`). Writes `out/amodal.png`: per frame and hand, truth beside prediction over the depth image, parts
    hidden behind the other hand or the object hatched, a part legend below. Returns part mIoU (20-pixel rule) on
    all, visible and hidden part pixels, frames/s of the Segmenter, and the model's card.
    """
    out = Path(out)
    segmenter = Segmenter(model)
    if not get_task(segmenter.task).part_maps:
        raise ConfigError(f"{model}: amodal_showcase needs an amodal model, this one is a {segmenter.task} model")
    size = tuple(int(v) for v in segmenter.config["data"]["size"])
    settings = {"crop": {"mode": "hands", "size": list(size)}, "visible_parts": True}
    crops = []
    for index in range(frames):
        frame = finish_frame(render_frame(seed, index, *render_size), settings)
        crops.append((frame, frame["depth"].astype(np.float32) * np.float32(frame["intrinsics"].depth_scale_m)))
    colors = [frame["color"] for frame, _ in crops] if segmenter.modality != "depth" else None
    start = time.perf_counter()
    preds = segmenter.predict([depth for _, depth in crops], color=colors)
    seconds = time.perf_counter() - start
    metric = AmodalPartIoU()
    for (frame, _), pred in zip(crops, preds):
        metric.update(pred[None], frame["parts"][None].astype(np.int64), visible=frame["visible_parts"][None])
    scores = metric.compute()
    picks = np.linspace(0, frames - 1, min(pictures, frames)).round().astype(int)
    panels = []
    for k in picks:
        frame, depth = crops[k]
        image = depth_gray(depth)  # as handseg eval draws it: parts read better over grey than over colour
        caption = f"frame {k} mIoU {scores['per_image'][k]['left']:.2f}/{scores['per_image'][k]['right']:.2f}"
        panels.append(amodal_parts_picture(image, frame["parts"], preds[k], frame["visible_parts"], caption=caption))
    atomic_write_png(out / "amodal.png", tile(panels, columns=1, gap=4), compression=6)
    keys = ("miou", "miou_left", "miou_right", "visible_miou", "hidden_miou", "hidden_share", "per_part")
    return {"model": str(model), "card": segmenter.card, "frames": frames, "frames_per_s": frames / seconds,
            "picture": "amodal.png", **{k: scores[k] for k in keys}}  # fmt: skip
