"""Evaluation: metrics over a dataset (DDP-aware), per-frame scores, latency; `evaluate()` for the API and CLI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from handseg.data.forearm import IgnoreForearm
from handseg.data.format import IGNORE_INDEX, HandsegDataset
from handseg.data.torch_dataset import EpochSampler, SegmentationDataset, make_loader
from handseg.engine.report import write_eval_outputs
from handseg.errors import ConfigError
from handseg.loading import open_model
from handseg.models.tta import TTASpec
from handseg.tasks import get_task
from handseg.utils.io import check_output_dir, staged_output_dir
from handseg.utils.timing import time_fn


def headline(task: str) -> str:
    """The metric that picks best.ckpt: hand/object mean IoU, or part mIoU for amodal."""
    return get_task(task).headline


def frame_scores(
    pred: torch.Tensor, target: torch.Tensor, task: str, *, visible: torch.Tensor | None = None
) -> dict[str, float]:
    """Scores of one frame: FCN metrics of its own confusion matrix, or its part mIoU (amodal; with the visible
    part maps also its hidden- and visible-part mIoU)."""
    return get_task(task).frame_scores(pred, target, visible=visible)


class Tracker:
    """The task's streaming metric: ConfusionMatrix (segmentation) or AmodalPartIoU, summed over ranks."""

    def __init__(self, task: str, device: Any = None) -> None:
        self.task = task
        self.metric = get_task(task).tracker(device)
        self.visible_maps = get_task(task).visible_maps  # only part metrics score hidden/visible regions

    def update(self, pred: torch.Tensor, target: torch.Tensor, *, visible: torch.Tensor | None = None) -> None:
        """Add a batch of predicted labels and targets (amodal: and the visible part maps, if known)."""
        if self.visible_maps:
            self.metric.update(pred, target, visible=visible)
        else:
            self.metric.update(pred, target)

    def compute(self, fabric: Any = None) -> dict[str, Any]:
        """The metrics over every rank's data."""
        if fabric is not None and fabric.world_size > 1:
            self.metric.sync(fabric)
        return dict(self.metric.compute())


@torch.no_grad()
def run_eval(
    model: nn.Module,
    loader: Any,
    task: str,
    *,
    device: Any = "cpu",
    fabric: Any = None,
    loss_fn: nn.Module | None = None,
    per_frame: bool = False,
    channels_last: bool = False,
    progress: bool = False,
    groups: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """Metrics (+ mean loss) over a loader; with per_frame, a list of per-frame scores by dataset index; with
    `groups` (a group name per dataset index, None = in no group), the same metrics per group."""
    was_training = model.training
    model.eval()
    tracker = Tracker(task, device)
    group_trackers = {name: Tracker(task, device) for name in sorted({g for g in groups or () if g is not None})}
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    count = torch.zeros((), dtype=torch.float64, device=device)
    frames: list[dict[str, Any]] = []
    for batch in tqdm(loader, desc="eval", unit="batch", disable=not progress, leave=False):
        x = batch["input"].to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        target = batch["target"].to(device, non_blocking=True)
        logits = model(x).float()
        if loss_fn is not None:
            loss_sum += loss_fn(logits, target).double() * x.shape[0]
        count += x.shape[0]
        pred = get_task(task).labels(logits)
        visible = batch.get("visible")
        if visible is not None and bool((visible == IGNORE_INDEX).all()):
            visible = None  # no visible maps in this batch: the region scores stay out
        visible = None if visible is None else visible.to(device, non_blocking=True)
        tracker.update(pred, target, visible=visible)
        if group_trackers:
            _update_groups(group_trackers, groups, batch["index"].tolist(), pred, target, visible)
        if per_frame:
            for k, index in enumerate(batch["index"].tolist()):
                seen = None if visible is None else visible[k]
                frames.append({"index": index, **frame_scores(pred[k], target[k], task, visible=seen)})
    if fabric is not None and fabric.world_size > 1:
        loss_sum = fabric.all_reduce(loss_sum, reduce_op="sum")
        count = fabric.all_reduce(count, reduce_op="sum")
        if per_frame:
            gathered: list[Any] = [None] * fabric.world_size
            torch.distributed.all_gather_object(gathered, frames)
            frames = sorted((f for part in gathered for f in part), key=lambda f: f["index"])
    metrics = tracker.compute(fabric)
    metrics["frames_evaluated"] = int(count.item())
    if group_trackers:
        metrics["groups"] = {}
        for name, group_tracker in group_trackers.items():
            scores = {k: v for k, v in group_tracker.compute(fabric).items() if k != "per_image"}
            metrics["groups"][name] = {**scores, "frames": sum(g == name for g in groups or ())}
    if loss_fn is not None and count.item() > 0:
        metrics["loss"] = float(loss_sum.item() / count.item())
    model.train(was_training)
    result: dict[str, Any] = {"metrics": metrics}
    if per_frame:
        result["frames"] = frames
    return result


def _update_groups(
    trackers: dict[str, Tracker], groups: Any, indices: list[int], pred: Any, target: Any, visible: Any
) -> None:
    """Add each frame of a batch to the tracker of its group (frames of one group in one update)."""
    names = [groups[i] for i in indices]
    for name in set(names) - {None}:
        rows = [k for k, n in enumerate(names) if n == name]
        trackers[name].update(pred[rows], target[rows], visible=None if visible is None else visible[rows])


def frame_groups(reader: Any, key: str | None) -> list[str | None] | None:
    """The value of scene key `key` (e.g. the synthetic scene family) of every frame of a reader, or None when
    the reader has no per-frame scene files or none of them has the key."""
    if not key or not hasattr(reader, "scene") or getattr(reader, "ids", None) is None:
        return None
    values = []
    for sample_id in reader.ids:
        value = (reader.scene(sample_id) or {}).get(key)
        values.append(None if value is None or isinstance(value, dict | list) else str(value))
    return values if any(v is not None for v in values) else None


@torch.no_grad()
def measure_latency(
    model: nn.Module,
    in_channels: int,
    *,
    size: tuple[int, int] = (640, 480),
    device: Any = "cpu",
    repeats: int = 10,
    warmup: int = 2,
    channels_last: bool = False,
) -> dict[str, Any]:
    """Forward latency (ms) at batch 1 and `size` (width, height) on `device`: median, min, mean."""
    model.eval()
    x = torch.randn(1, in_channels, size[1], size[0], device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else None
    times = [t * 1000 for t in time_fn(lambda: model(x), repeats, warmup=warmup, sync=sync)]
    return {
        "latency_ms": float(np.median(times)),
        "latency_min_ms": float(min(times)),
        "latency_mean_ms": float(np.mean(times)),
        "latency_size": f"{size[0]}x{size[1]}",
        "latency_device": str(device),
        "latency_threads": torch.get_num_threads(),
    }


def evaluate(
    model_or_ckpt: nn.Module | str | Path,
    dataset: Any,
    *,
    config: dict[str, Any] | None = None,
    split: str | None = "val",
    batch_size: int | None = None,
    out_dir: str | Path | None = None,
    latency: bool = False,
    device: str | None = None,
    workers: int = 0,
    worst: int = 8,
    force: bool = False,
    progress: bool = True,
    ignore_forearm: bool = False,
    tta: TTASpec | None = None,
    group_by: str | None = "family",
) -> dict[str, Any]:
    """Evaluate a model (or checkpoint / run folder) on a dataset (handseg-v1 folder or a Sample reader).

    Inputs are resized to the training size of the config (config["data"]["size"]). Returns the metrics dict;
    with out_dir, also writes metrics.json, metrics.md, per_frame.csv, confusion.png (segmentation) and
    overlays of the worst frames (worst/). With `ignore_forearm`, hand pixels outside the part maps are not scored
    (the convention of real datasets whose hand masks stop at the wrist, handseg.data.forearm). With `tta`, the
    model's probabilities are averaged over the test-time views it names (handseg.models.tta). With `group_by`
    (default: the synthetic scene family), frames whose scene file has that key are also scored per value
    (metrics["groups"]; None or a key no frame has: no groups).
    """
    zoo_name = None
    if isinstance(model_or_ckpt, str | Path):
        loaded = open_model(model_or_ckpt)
        model, config = loaded.model, loaded.config
        zoo_name = (loaded.card or {}).get("name")  # a zoo model is reported by its zoo name
    else:
        model = model_or_ckpt
        if config is None:
            raise ConfigError("evaluate(model, ...) needs the model's config")
    if out_dir is not None:
        check_output_dir(out_dir, force)  # refused early; written (via a temp sibling) only once all frames ran
    task, data_cfg = config["task"], config["data"]
    reader = HandsegDataset(dataset, split=split) if isinstance(dataset, str | Path) else dataset
    if len(reader) == 0:
        raise ConfigError(f"{dataset}: split {split!r} has no frames")
    groups = frame_groups(reader, group_by)
    if ignore_forearm:
        if get_task(task).part_maps:
            raise ConfigError(f"ignore_forearm applies to hand/object segmentation, not to a {task} model")
        if isinstance(reader, HandsegDataset) and not reader.manifest.has_parts:
            raise ConfigError(f"{dataset}: has no part maps, so the forearm cannot be told from the hand")
        reader = IgnoreForearm(reader)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device).eval()
    tta = tta or TTASpec()
    model = get_task(task).test_time_augmentation(model, tta)
    crop = {"crop": data_cfg.get("crop"), "crop_margin": data_cfg.get("crop_margin", 0.15)}
    torch_ds = SegmentationDataset(reader, task, data_cfg["modality"], tuple(data_cfg["size"]), **crop)
    batch_size = batch_size or int(config.get("eval", {}).get("batch_size", 4))
    sampler = EpochSampler(len(torch_ds), batch_size, shuffle=False)
    loader = make_loader(torch_ds, sampler, batch_size, workers, pin_memory=device.startswith("cuda"))
    result = run_eval(model, loader, task, device=device, per_frame=True, progress=progress, groups=groups)
    metrics = result["metrics"]
    frames = result["frames"]
    ids = getattr(reader, "ids", None)
    for frame in frames:
        frame["id"] = ids[frame["index"]] if ids is not None else str(frame["index"])
    if latency:
        metrics.update(measure_latency(model, int(config["model"]["in_channels"]), device=device))
    metrics["frames"] = len(frames)
    metrics["model"] = config["model"]["name"]
    metrics["name"] = zoo_name or config.get("name") or config["model"]["name"]
    metrics["task"] = task
    metrics["forearm"] = "ignored" if ignore_forearm else "scored as hand"
    metrics["tta"] = tta.describe()
    if groups is not None:
        metrics["group_by"] = group_by
    if out_dir is not None:
        with staged_output_dir(out_dir, force) as staging:
            write_eval_outputs(staging, model, torch_ds, config, metrics, frames, worst, device)
    return metrics
