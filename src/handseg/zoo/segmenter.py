"""The Python entry points for pretrained models: load_model(name or checkpoint) and Segmenter(...).predict(depth)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from handseg.data.preprocess import make_input
from handseg.data.transforms import resize_sample
from handseg.errors import ConfigError
from handseg.loading import open_model
from handseg.models.tta import TTASpec
from handseg.tasks import get_task


def load_model(ref: str | Path, *, device: str = "cpu") -> Any:
    """A zoo model by name, or a checkpoint / run folder, in eval mode; `.card` (zoo card or None), `.config`."""
    loaded = open_model(ref)
    model = loaded.model
    model.card = loaded.card
    model.config = loaded.config
    return model.to(device).eval()


class Segmenter:
    """Per-pixel labels of depth maps (metres) at their own size from a zoo model, checkpoint or run folder.

    Each frame is resized to the model's training size (nearest for depth, area for colour), normalised as in
    training, segmented, and its labels resized back with nearest. Labels: 0 background, 1 hand, 2 object
    (amodal models: 2 x H x W part maps, 0 none, 1..16 parts). `tta=TTASpec(flip=True, scales=(0.75, 1, 1.25))`
    averages the probabilities over mirrored and resized views (slower by the number of views).
    """

    def __init__(
        self, model: str | Path, *, device: str = "cpu", batch_size: int = 8, tta: TTASpec | None = None
    ) -> None:
        if batch_size < 1:
            raise ConfigError("batch_size must be at least 1")
        loaded = load_model(model, device=device)
        self.card: dict[str, Any] | None = loaded.card
        self.config: dict[str, Any] = loaded.config
        self.task: str = self.config.get("task", "segmentation")
        self.tta = tta or TTASpec()
        # with tta: the log of the mean probabilities over the test-time views (handseg.models.tta)
        self.model = get_task(self.task).test_time_augmentation(loaded, self.tta)
        self.modality: str = self.config["data"].get("modality", "depth")
        self.size: tuple[int, int] = tuple(int(v) for v in self.config["data"]["size"])  # (width, height)
        self.device = device
        self.batch_size = batch_size

    def _input(self, depth_m: Any, color: Any) -> tuple[np.ndarray, tuple[int, int]]:
        """C x h x w model input at the training size and the frame's own (height, width)."""
        if self.modality in ("rgb", "rgbd") and color is None:
            raise ConfigError(f"this model reads {self.modality}: pass color= (HxWx3 uint8 RGB aligned to depth)")
        if depth_m is None:
            if self.modality == "rgbd" or color is None:
                raise ConfigError("a depth map (HxW float metres) is needed")
            depth_m = np.zeros(np.asarray(color).shape[:2], np.float32)
        depth = np.asarray(depth_m)
        if depth.ndim != 2:
            raise ConfigError(f"depth_m must be an HxW array of metres, got shape {depth.shape}")
        if not np.issubdtype(depth.dtype, np.floating):
            raise ConfigError(
                f"depth_m must be float metres, got {depth.dtype} (multiply raw sensor units by the depth scale, "
                "e.g. 0.001 for millimetres)"
            )
        depth = np.nan_to_num(depth.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)  # NaN = missing = 0
        if color is not None:
            color = np.asarray(color)
            if color.shape != (*depth.shape, 3) or color.dtype != np.uint8:
                raise ConfigError(f"color must be {depth.shape[0]}x{depth.shape[1]}x3 uint8 RGB, got {color.shape}")
        sample = resize_sample({"depth": depth, "color": color}, self.size)
        return make_input(sample["depth"], sample.get("color"), self.modality), depth.shape

    def _logits(self, batch: np.ndarray) -> Any:
        x = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(self.device)
        with torch.inference_mode():
            return self.model(x).float().cpu()

    def _frames(self, depth_m: Any, color: Any) -> tuple[list[Any], list[Any], bool]:
        """The frames of a call as lists, and whether the call passed a single frame."""
        batched = isinstance(depth_m, np.ndarray) and depth_m.ndim == 3
        batched = batched or (isinstance(depth_m, Sequence) and not isinstance(depth_m, str | bytes))
        depths, single = (list(depth_m), False) if batched else ([depth_m], True)
        if color is None:
            colors = [None] * len(depths)
        elif single:
            colors = [color]
        else:
            colors = list(color)
            if len(colors) != len(depths):
                raise ConfigError(f"got {len(depths)} depth maps but {len(colors)} colour images")
        return depths, colors, single

    def _run(self, depth_m: Any, color: Any, finish: Any) -> Any:
        depths, colors, single = self._frames(depth_m, color)
        results = []
        for start in range(0, len(depths), self.batch_size):
            prepared = [self._input(d, c) for d, c in zip(depths[start : start + self.batch_size], colors[start:])]
            logits = self._logits(np.stack([x for x, _ in prepared]))
            results += [finish(logit, shape) for logit, (_, shape) in zip(logits, prepared)]
        if single:
            return results[0]
        if isinstance(depth_m, np.ndarray):
            return np.stack(results)
        return results

    def predict(self, depth_m: Any, *, color: Any = None) -> Any:
        """Labels (uint8 HxW; amodal 2xHxW) of one depth map, or of each map of an NxHxW array or a list."""

        def finish(logit: Any, shape: tuple[int, int]) -> np.ndarray:
            labels = get_task(self.task).labels(logit[None].numpy())[0]
            height, width = shape
            if labels.shape[-2:] == (height, width):
                return labels
            maps = labels if labels.ndim == 3 else labels[None]
            out = np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_NEAREST) for m in maps])
            return out if labels.ndim == 3 else out[0]

        return self._run(depth_m, color, finish)

    def predict_proba(self, depth_m: Any, *, color: Any = None) -> Any:
        """Class probabilities (float32 KxHxW; amodal: softmax per hand) resized bilinearly to each input's size."""

        def finish(logit: Any, shape: tuple[int, int]) -> np.ndarray:
            full = F.interpolate(logit[None], size=shape, mode="bilinear", align_corners=False)[0]
            return get_task(self.task).probabilities(full).numpy()

        return self._run(depth_m, color, finish)
