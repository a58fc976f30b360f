"""Predictors: one interface over a PyTorch model and an ONNX Runtime session (logits, labels, preprocessing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from handseg.data.preprocess import make_input
from handseg.errors import ConfigError
from handseg.tasks import PARTS_PER_HAND, get_task

__all__ = ["PARTS_PER_HAND", "Predictor", "TorchPredictor", "frame_input", "labels_from_logits", "load_predictor"]


class Predictor(Protocol):
    """What stream/predict need from a backend: its config and logits of an N x C x H x W float32 batch."""

    config: dict[str, Any]
    modality: str
    task: str

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """N x C x H x W float32 inputs -> N x K x H x W float32 logits."""
        ...


def labels_from_logits(logits: np.ndarray, task: str) -> np.ndarray:
    """Argmax of N x K x H x W logits: segmentation -> N x H x W uint8; amodal (K=34) -> N x 2 x H x W uint8."""
    return get_task(task).labels(np.asarray(logits))


def frame_input(predictor: Predictor, depth_m: np.ndarray | None, color: np.ndarray | None) -> np.ndarray:
    """1 x C x H x W model input of one frame (the shared normalisation), with a clear error for a missing channel."""
    if predictor.modality in ("rgb", "rgbd") and color is None:
        raise ConfigError(f"the model expects {predictor.modality} input but the source has no color stream")
    if predictor.modality in ("depth", "rgbd") and depth_m is None:
        raise ConfigError(f"the model expects {predictor.modality} input but the source has no depth")
    return make_input(depth_m, color, predictor.modality)[None]


def _config_fields(config: dict[str, Any]) -> tuple[str, str]:
    """(modality, task) of a checkpoint config."""
    modality = (config.get("data") or {}).get("modality", "depth")
    task = config.get("task", "segmentation")
    return modality, task


class TorchPredictor:
    """A PyTorch model in eval mode on CPU (or CUDA), optionally channels_last."""

    def __init__(self, model: Any, config: dict[str, Any], channels_last: bool = False, device: str = "cpu") -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.channels_last = channels_last
        self.model = model.eval().to(self.device)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.config = config
        self.modality, self.task = _config_fields(config)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        torch = self.torch
        x = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return self.model(x).float().cpu().numpy()


def load_predictor(
    ckpt: str | Path | None = None,
    onnx: str | Path | None = None,
    threads: int | None = None,
    device: str | None = None,
) -> TorchPredictor | Any:
    """A predictor from a checkpoint (PyTorch) or an exported .onnx file (ONNX Runtime); exactly one of them."""
    if (ckpt is None) == (onnx is None):
        raise ConfigError("give exactly one of a checkpoint (--ckpt) or an ONNX model (--onnx)")
    if onnx is not None:
        from handseg.export.onnx import OnnxPredictor

        return OnnxPredictor(onnx, threads=threads)
    import torch

    from handseg.engine.checkpoint import load_model

    if threads:
        torch.set_num_threads(threads)
    model, config = load_model(ckpt)
    return TorchPredictor(model, config, device=device or ("cuda" if torch.cuda.is_available() else "cpu"))
