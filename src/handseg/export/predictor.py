"""Predictors: one interface over a PyTorch model and an ONNX Runtime session (logits, labels, preprocessing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from handseg.data.preprocess import make_input
from handseg.errors import ConfigError
from handseg.export.contract import config_fields
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
        self.modality, self.task = config_fields(config)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        torch = self.torch
        x = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return self.model(x).float().cpu().numpy()


BACKENDS = ("auto", "pytorch", "onnxruntime", "openvino", "openvino-bf16")
BACKEND_HELP = (
    "pytorch (checkpoints, run folders, zoo names), onnxruntime or openvino (.onnx files from `handseg export`; "
    "other models are exported to ONNX in memory first); openvino-bf16: OpenVINO with bf16 inference where the CPU "
    "has it (needs the openvino package: pip install 'handseg[openvino]'); auto: onnxruntime for .onnx, else pytorch"
)


def resolve_backend(model: str | Path, backend: str = "auto") -> str:
    """The backend that runs `model`: "auto" picks onnxruntime for a .onnx file and pytorch otherwise."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    is_onnx = str(model).lower().endswith(".onnx")
    if backend == "auto":
        return "onnxruntime" if is_onnx else "pytorch"
    if backend == "pytorch" and is_onnx:
        raise ConfigError(f"{model}: an .onnx file runs with --backend onnxruntime or openvino, not pytorch")
    return backend


def load_graph_predictor(model: str | Path, backend: str, threads: int | None = None, *, is_onnx: bool = False) -> Any:
    """An ONNX Runtime or OpenVINO predictor of a .onnx file (`is_onnx`: whatever its name), or of a checkpoint, run
    folder or zoo name exported to ONNX (with its config and input contract in the metadata) in a temporary folder."""
    import tempfile

    from handseg.export.onnx import OnnxPredictor

    def make(path: str | Path) -> Any:
        if backend == "onnxruntime":
            return OnnxPredictor(path, threads=threads)
        from handseg.export.openvino_backend import OpenVinoPredictor

        return OpenVinoPredictor(path, threads=threads, precision="bf16" if backend == "openvino-bf16" else "fp32")

    if backend not in ("onnxruntime", "openvino", "openvino-bf16"):
        raise ConfigError(f"backend {backend!r} does not run ONNX graphs (onnxruntime, openvino, openvino-bf16)")
    if is_onnx or str(model).lower().endswith(".onnx"):
        return make(model)
    if backend.startswith("openvino"):
        from handseg.export.openvino_backend import import_openvino

        import_openvino()  # a missing package is reported before the export's work
    from handseg.data.preprocess import input_channels
    from handseg.engine.checkpoint import load_model
    from handseg.export.onnx import export_onnx
    from handseg.zoo.store import get_model, is_zoo_name

    torch_model, config = load_model(model)
    zoo = None
    if is_zoo_name(model):  # the metadata names the zoo model, as `handseg export` writes it
        zoo = {"name": str(model), "version": get_model(str(model)).card.get("version")}
    modality = (config.get("data") or {}).get("modality", "depth")
    with tempfile.TemporaryDirectory(prefix="handseg-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(torch_model, path, input_channels(modality), config=config, zoo=zoo)
        return make(path)  # both runtimes hold the graph in memory: the file may go


def load_predictor(
    ckpt: str | Path | None = None,
    onnx: str | Path | None = None,
    threads: int | None = None,
    device: str | None = None,
    backend: str = "auto",
) -> TorchPredictor | Any:
    """A predictor from a checkpoint, run folder or zoo name (PyTorch, or exported to ONNX in memory for the other
    backends) or an exported .onnx file (ONNX Runtime or OpenVINO); exactly one of `ckpt` and `onnx`."""
    if (ckpt is None) == (onnx is None):
        raise ConfigError("give exactly one of a checkpoint (--ckpt) or an ONNX model (--onnx)")
    if onnx is not None:
        if backend == "pytorch":
            raise ConfigError(f"{onnx}: an ONNX model runs with --backend onnxruntime or openvino, not pytorch")
        backend = "onnxruntime" if backend == "auto" else resolve_backend(onnx, backend)
        return load_graph_predictor(onnx, backend, threads, is_onnx=True)
    backend = resolve_backend(ckpt, backend)
    if backend != "pytorch":
        return load_graph_predictor(ckpt, backend, threads)
    import torch

    from handseg.engine.checkpoint import load_model

    if threads:
        torch.set_num_threads(threads)
    model, config = load_model(ckpt)
    return TorchPredictor(model, config, device=device or ("cuda" if torch.cuda.is_available() else "cpu"))
