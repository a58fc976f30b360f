"""The two tasks, segmentation (3 visible classes) and amodal (2 x 17 part channels), as objects.

A `Task` owns everything that differs between them: the logit channels, which sample key is the target and its
shape, the metric that picks best.ckpt, logits -> labels (torch and numpy), the streaming metric and per-frame
scores, the pictures of a prediction and how a prediction is written. Code elsewhere asks the task
(`get_task(config["task"])`) instead of comparing its name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handseg.data.format import CLASSES, IGNORE_INDEX, NUM_CLASSES, PART_NAMES, PARTS_PER_HAND
from handseg.data.preprocess import input_channels
from handseg.errors import ConfigError
from handseg.metrics import AmodalPartIoU, ConfusionMatrix, scores_from_confusion
from handseg.metrics.confusion import labels_from_logits
from handseg.models.tta import TestTimeAugmentation, TTASpec, average_views
from handseg.registry import TASKS
from handseg.utils.io import atomic_write_png
from handseg.viz.amodal import amodal_parts_picture
from handseg.viz.overlay import depth_gray, overlay_labels, overlay_parts, put_text, tile, to_display, with_legend

SEG_KEYS = ("pixel_acc", "mean_acc", "mean_iu", "fw_iu", "miou_hand_object")


def _argmax(logits: Any, dim: int = 1) -> Any:
    """Index of the largest logit along `dim` (first on ties): torch (the metrics' fast max().indices) or NumPy."""
    if isinstance(logits, torch.Tensor):
        return labels_from_logits(logits, dim)
    return np.asarray(logits).argmax(axis=dim).astype(np.uint8)


class Task:
    """What a task decides; see SegmentationTask and AmodalTask."""

    name: str = ""
    num_classes: int = 0  # logit channels
    target_key: str = ""  # the Sample key holding the target
    headline: str = ""  # the validation metric that picks best.ckpt (higher is better)
    legend: str = ""  # the overlay legend (handseg.viz.overlay.with_legend kind)
    default_modality: str = "depth"  # the input a model of this task is fed when nothing else says
    visible_maps: bool = False  # items carry the visible part maps (the hidden/visible region scores)
    part_maps: bool = False  # the prediction is two per-hand part maps (amodal), not one class map
    prediction_folder: str = ""  # the folder of `handseg predict` output that holds the label PNGs
    table_columns: tuple[tuple[str, str], ...] = ()  # (title, metric key) of the metrics.md row

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    def io(self, modality: str | None = None) -> tuple[int, int]:
        """(in_channels, num_classes) of a model of this task fed `modality` (default: the task's own)."""
        return input_channels(modality or self.default_modality), self.num_classes

    def target_shape(self, height: int, width: int) -> tuple[int, ...]:
        """The shape of one frame's target."""
        raise NotImplementedError

    def labels(self, logits: Any) -> Any:
        """Labels of N x K x H x W logits: a torch tensor gives int64 labels, a numpy array uint8 labels."""
        raise NotImplementedError

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax of K x H x W logits, one per channel group (amodal: per hand)."""
        return torch.cat([logits[a:b].softmax(0) for a, b in self.softmax_groups()])

    def softmax_groups(self) -> tuple[tuple[int, int], ...]:
        """The channel ranges that each form one softmax (one per hand for amodal)."""
        return ((0, self.num_classes),)

    def mirror_channels(self) -> tuple[int, ...] | None:
        """Channel order of a mirrored image's logits (a mirrored left hand is a right hand); None: unchanged."""
        return None

    def tta_logits(self, run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, spec: TTASpec) -> torch.Tensor:
        """Log of `run`'s mean probabilities over the views of `spec` (handseg.models.tta), this task's channels."""
        flip = self.mirror_channels()
        index = None if flip is None else torch.as_tensor(flip)
        return average_views(run, x, spec, groups=self.softmax_groups(), flip_index=index)

    def test_time_augmentation(self, model: torch.nn.Module, spec: TTASpec) -> torch.nn.Module:
        """`model` wrapped to average its probabilities over the views of `spec` (itself when spec adds none)."""
        if not spec.active:
            return model
        wrapped = TestTimeAugmentation(model, spec, groups=self.softmax_groups(), flip_channels=self.mirror_channels())
        return wrapped.train(model.training)

    def tracker(self, device: Any = None) -> Any:
        """A fresh streaming metric with update(pred, target, visible=...), compute() and sync(fabric)."""
        raise NotImplementedError

    def frame_scores(self, pred: torch.Tensor, target: torch.Tensor, *, visible: Any = None) -> dict[str, float]:
        """Scores of one frame's labels against its target."""
        raise NotImplementedError

    def named_metrics(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Extra scalar names the run log shows for the task's list-valued metrics."""
        return {}

    def picture(self, sample: dict[str, Any], pred: np.ndarray, caption: str, modality: str = "depth") -> np.ndarray:
        """Side-by-side picture of a sample's input, truth and prediction, with a legend."""
        raise NotImplementedError

    def prediction_picture(self, base: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """The picture `handseg predict` writes beside a frame's labels: the input and the labels over it."""
        raise NotImplementedError

    def overlay(self, base: np.ndarray, labels: np.ndarray, text: str) -> np.ndarray:
        """One streamed frame's labels over its image, captioned, with a legend."""
        return with_legend(put_text(self._overlay(base, labels), text), self.legend)

    def _overlay(self, base: np.ndarray, labels: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def label_files(self, frame_id: str) -> list[str]:
        """File names of one frame's label PNGs, one per label plane."""
        raise NotImplementedError

    def write_labels(self, folder: Path, frame_id: str, labels: np.ndarray) -> None:
        """Write one frame's labels as PNGs into `folder` (label_files names)."""
        planes = labels if len(self.label_files(frame_id)) > 1 else [labels]
        for name, plane in zip(self.label_files(frame_id), planes):
            atomic_write_png(Path(folder) / name, plane)

    def best_frames(self) -> bool:
        """Whether an evaluation also shows the best frames (not only the worst)."""
        return False

    def output_contract(self) -> dict[str, Any]:
        """What the logits mean (zoo cards)."""
        raise NotImplementedError

    def output_metadata(self) -> dict[str, Any]:
        """What the logits mean as flat 'output.*' keys (ONNX metadata)."""
        raise NotImplementedError


class SegmentationTask(Task):
    """Background / hand / object per pixel: N x 3 x H x W logits, an H x W label map."""

    name = "segmentation"
    num_classes = NUM_CLASSES
    target_key = "label"
    headline = "miou_hand_object"
    legend = "labels"
    default_modality = "depth"
    prediction_folder = "label"
    table_columns = (  # the paper's Table 2
        ("pixel acc.", "pixel_acc"),
        ("mean acc.", "mean_acc"),
        ("mean IU", "mean_iu"),
        ("f.w. IU", "fw_iu"),
        ("mean IOU (hand, object)", "miou_hand_object"),
    )

    def target_shape(self, height: int, width: int) -> tuple[int, ...]:
        return (height, width)

    def labels(self, logits: Any) -> Any:
        return _argmax(logits)

    def tracker(self, device: Any = None) -> Any:
        return ConfusionMatrix(num_classes=self.num_classes, ignore_index=IGNORE_INDEX, device=device)

    def frame_scores(self, pred: torch.Tensor, target: torch.Tensor, *, visible: Any = None) -> dict[str, float]:
        k = self.num_classes
        valid = target != IGNORE_INDEX
        index = target[valid] * k + pred[valid]
        hist = torch.bincount(index.reshape(-1), minlength=k * k)[: k * k].view(k, k).cpu().numpy()
        scores = scores_from_confusion(hist)
        return {key: scores[key] for key in SEG_KEYS}

    def named_metrics(self, metrics: dict[str, Any]) -> dict[str, Any]:
        iu = metrics.get("iu", ())
        if len(iu) != len(CLASSES):
            return {}
        return {f"iu_{name}": value for name, value in zip(CLASSES, iu)}

    def picture(self, sample: dict[str, Any], pred: np.ndarray, caption: str, modality: str = "depth") -> np.ndarray:
        base = _picture_base(sample, modality)
        truth = sample.get("label")
        panels = [base.copy(), overlay_labels(base, truth if truth is not None else np.zeros_like(pred)),
                  overlay_labels(base, pred)]  # fmt: skip
        titles = [caption, "truth", "prediction"]
        panels = [put_text(to_display(panel), title, org=(6, 20), scale=0.55) for panel, title in zip(panels, titles)]
        return with_legend(tile(panels, columns=len(panels)), self.legend)

    def prediction_picture(self, base: np.ndarray, pred: np.ndarray) -> np.ndarray:
        return with_legend(tile([base, overlay_labels(base, pred)], columns=2), self.legend)

    def _overlay(self, base: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return overlay_labels(base, labels)

    def label_files(self, frame_id: str) -> list[str]:
        return [f"{frame_id}.png"]

    def output_contract(self) -> dict[str, Any]:
        return {"logits": "N x 3 x H x W", "classes": list(CLASSES)}

    def output_metadata(self) -> dict[str, Any]:
        return {"output.layout": "N x 3 x H x W logits; argmax over channels", "output.classes": list(CLASSES)}


class AmodalTask(Task):
    """Amodal hand parts: N x 34 x H x W logits (17 a hand: none + 16 parts), two H x W part maps."""

    name = "amodal"
    part_maps = True
    num_classes = 2 * PARTS_PER_HAND
    target_key = "parts"
    headline = "miou"
    legend = "parts"
    default_modality = "rgb"
    visible_maps = True
    prediction_folder = "parts"
    table_columns = (
        ("part mIoU", "miou"),
        ("left hand", "miou_left"),
        ("right hand", "miou_right"),
        ("visible parts", "visible_miou"),
        ("hidden parts", "hidden_miou"),
    )

    def target_shape(self, height: int, width: int) -> tuple[int, ...]:
        return (2, height, width)

    def labels(self, logits: Any) -> Any:
        if logits.shape[1] != self.num_classes:
            raise ConfigError(f"amodal model must output {self.num_classes} channels, got {logits.shape[1]}")
        k = PARTS_PER_HAND
        if isinstance(logits, torch.Tensor):
            return torch.stack([_argmax(logits[:, :k]), _argmax(logits[:, k:])], 1)
        return np.stack([_argmax(logits[:, :k]), _argmax(logits[:, k:])], axis=1)

    def softmax_groups(self) -> tuple[tuple[int, int], ...]:
        return ((0, PARTS_PER_HAND), (PARTS_PER_HAND, 2 * PARTS_PER_HAND))

    def mirror_channels(self) -> tuple[int, ...] | None:
        k = PARTS_PER_HAND
        return tuple(range(k, 2 * k)) + tuple(range(k))

    def tracker(self, device: Any = None) -> Any:
        return AmodalPartIoU()

    def frame_scores(self, pred: torch.Tensor, target: torch.Tensor, *, visible: Any = None) -> dict[str, float]:
        metric = AmodalPartIoU()
        metric.update(pred[None], target[None], visible=None if visible is None else visible[None])
        result = metric.compute()
        return {key: float(result[key]) for key in ("miou", "hidden_miou", "visible_miou")}

    def picture(self, sample: dict[str, Any], pred: np.ndarray, caption: str, modality: str = "depth") -> np.ndarray:
        base = _picture_base(sample, modality)
        return amodal_parts_picture(base, sample.get("parts"), pred, sample.get("visible_parts"), caption=caption)

    def prediction_picture(self, base: np.ndarray, pred: np.ndarray) -> np.ndarray:
        picture = tile([base, overlay_parts(base, pred[0]), overlay_parts(base, pred[1])], columns=3)
        return with_legend(picture, self.legend)

    def _overlay(self, base: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return overlay_parts(base, labels)

    def label_files(self, frame_id: str) -> list[str]:
        return [f"{frame_id}_l.png", f"{frame_id}_r.png"]

    def best_frames(self) -> bool:
        return True  # to see what the model gets right, too

    def output_contract(self) -> dict[str, Any]:
        return {
            "logits": "N x 34 x H x W: channels 0-16 left hand, 17-33 right hand",
            "labels": "argmax per hand: 0 none, 1 palm, thumb 2-4, index 5-7, middle 8-10, ring 11-13, little 14-16",
        }

    def output_metadata(self) -> dict[str, Any]:
        return {
            "output.layout": "N x 34 x H x W logits: left hand channels 0..16, right hand 17..33; argmax per hand",
            "output.part_names": ["none", *PART_NAMES],
        }


def _picture_base(sample: dict[str, Any], modality: str) -> np.ndarray:
    """What the model saw: greyscale depth for a depth model, the colour image otherwise."""
    use_color = modality != "depth" and sample.get("color") is not None
    return sample["color"] if use_color else depth_gray(sample["depth"])


TASKS.register(SegmentationTask.name, SegmentationTask())
TASKS.register(AmodalTask.name, AmodalTask())


def get_task(task: str | Task) -> Task:
    """The Task of a name (a Task is returned as it is); ConfigError naming the tasks if unknown."""
    return task if isinstance(task, Task) else TASKS.get(task)
