"""The graph runtimes of the one inference path (ONNX Runtime, OpenVINO), registered into handseg.loading.RUNTIMES.

Predictor, TorchPredictor, load_predictor and the backend names live in handseg.loading and are re-exported here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from handseg.data.preprocess import input_channels, make_input
from handseg.errors import ConfigError
from handseg.export.onnx import OnnxPredictor, export_onnx
from handseg.export.openvino_backend import OpenVinoPredictor, import_openvino
from handseg.loading import (
    BACKEND_HELP,
    BACKENDS,
    RUNTIMES,
    Predictor,
    TorchPredictor,
    load_predictor,
    open_model,
    resolve_backend,
)
from handseg.tasks import PARTS_PER_HAND, get_task

__all__ = [
    "BACKENDS",
    "BACKEND_HELP",
    "PARTS_PER_HAND",
    "Predictor",
    "TorchPredictor",
    "frame_input",
    "labels_from_logits",
    "load_graph_predictor",
    "load_predictor",
    "resolve_backend",
]


def labels_from_logits(logits: np.ndarray, task: str) -> np.ndarray:
    """The task's labels of N x K x H x W logits: segmentation -> N x H x W; amodal (K=34) -> N x 2 x H x W uint8."""
    return get_task(task).labels(np.asarray(logits))


def frame_input(predictor: Predictor, depth_m: np.ndarray | None, color: np.ndarray | None) -> np.ndarray:
    """1 x C x H x W model input of one frame (the shared normalisation), with a clear error for a missing channel."""
    if predictor.modality in ("rgb", "rgbd") and color is None:
        raise ConfigError(f"the model expects {predictor.modality} input but the source has no color stream")
    if predictor.modality in ("depth", "rgbd") and depth_m is None:
        raise ConfigError(f"the model expects {predictor.modality} input but the source has no depth")
    return make_input(depth_m, color, predictor.modality)[None]


def load_graph_predictor(model: str | Path, backend: str, threads: int | None = None, *, is_onnx: bool = False) -> Any:
    """An ONNX Runtime or OpenVINO predictor of a .onnx file (`is_onnx`: whatever its name), or of a checkpoint, run
    folder or zoo name exported to ONNX (with its config and input contract in the metadata) in a temporary folder."""

    def make(path: str | Path) -> Any:
        if backend == "onnxruntime":
            return OnnxPredictor(path, threads=threads)

        return OpenVinoPredictor(path, threads=threads, precision="bf16" if backend == "openvino-bf16" else "fp32")

    if backend not in ("onnxruntime", "openvino", "openvino-bf16"):
        raise ConfigError(f"backend {backend!r} does not run ONNX graphs (onnxruntime, openvino, openvino-bf16)")
    if is_onnx or str(model).lower().endswith(".onnx"):
        return make(model)
    if backend.startswith("openvino"):
        import_openvino()  # a missing package is reported before the export's work

    loaded = open_model(model)
    zoo = None
    if loaded.card is not None:  # the metadata names the zoo model, as `handseg export` writes it
        zoo = {"name": str(model), "version": loaded.card.get("version")}
    modality = (loaded.config.get("data") or {}).get("modality", "depth")
    with tempfile.TemporaryDirectory(prefix="handseg-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(loaded.model, path, input_channels(modality), config=loaded.config, zoo=zoo)
        return make(path)  # both runtimes hold the graph in memory: the file may go


def _runtime(backend: str) -> Any:
    """open(model, threads=..., is_onnx=...) of one graph backend, as handseg.loading.RUNTIMES holds it."""

    def open_graph(model: str | Path, *, threads: int | None = None, is_onnx: bool = False) -> Any:
        return load_graph_predictor(model, backend, threads, is_onnx=is_onnx)

    open_graph.__doc__ = f"{backend}: a .onnx file, or another model exported to ONNX in memory."
    return open_graph


for _name in ("onnxruntime", "openvino", "openvino-bf16"):
    RUNTIMES.register(_name, _runtime(_name))
