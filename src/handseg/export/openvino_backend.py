"""OpenVINO (CPU) inference of an exported ONNX model, with the predictor interface of OnnxPredictor.

OpenVINO reads the .onnx file from `handseg export` directly; its metadata (the handseg config and the input
contract, `handseg.*` keys) is read with the onnx package, since OpenVINO does not carry ONNX metadata_props
over. The graph's batch, height and width are dynamic; each input shape gets its own statically shaped compiled
model (a few kept), which runs faster than the dynamic one and costs one compilation per new shape (stream and
predict feed one size). Precision is fp32 unless asked: on CPUs with bf16 OpenVINO would otherwise pick bf16 by
itself, and labels would then differ slightly from ONNX Runtime and PyTorch.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from handseg.errors import CheckpointError, ConfigError
from handseg.export.onnx import _metadata_config, check_graph_config
from handseg.loading import config_fields

PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
MAX_SHAPES = 4  # compiled models kept, one per input shape
INSTALL_HINT = "pip install 'handseg[openvino]' (or: pip install openvino)"


def import_openvino() -> Any:
    """The openvino module, or a ConfigError that names the missing package and how to install it."""
    try:
        import openvino
    except ImportError as exc:
        raise ConfigError(f"the OpenVINO backend needs the openvino package ({exc}): {INSTALL_HINT}") from None
    return openvino


def openvino_available() -> bool:
    """Whether openvino can be imported here."""
    try:
        import_openvino()
    except ConfigError:
        return False
    return True


def cpu_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin reports native bf16 support on this machine."""
    core = import_openvino().Core()
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def onnx_metadata(path: Path) -> dict[str, str]:
    """The metadata_props of an ONNX file (handseg config and input contract), as a dict."""
    import onnx  # ~0.6 s to import: only reading an ONNX file's metadata needs it

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise CheckpointError(f"{path}: not a loadable ONNX model ({str(exc).splitlines()[0][:120]})") from None
    return {entry.key: entry.value for entry in proto.metadata_props}


class OpenVinoPredictor:
    """OpenVINO (CPU) model of an exported .onnx file: .config, .modality, .task, .metadata, .logits()."""

    def __init__(
        self,
        path: str | Path,
        threads: int | None = None,
        config: dict[str, Any] | None = None,
        *,
        precision: str = "fp32",
        require_metadata: bool = True,
    ) -> None:
        ov = import_openvino()  # before reading anything: the missing package is the first thing to fix
        if precision not in PRECISIONS:
            raise ConfigError(f"OpenVINO precision {precision!r} is not one of {', '.join(PRECISIONS)}")
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: ONNX model not found")
        if path.suffix.lower() != ".onnx":
            raise CheckpointError(f"{path}: the OpenVINO backend reads .onnx files (from `handseg export`)")
        self.metadata = onnx_metadata(path)
        self.core = ov.Core()
        if precision == "bf16" and "BF16" not in self.core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            raise ConfigError("OpenVINO bf16 needs a CPU with native bf16 (AVX512_BF16 or AMX); use fp32 here")
        try:
            self.model = self.core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            raise CheckpointError(f"{path}: OpenVINO cannot read it ({str(exc).splitlines()[0][:160]})") from None
        inputs = self.model.inputs
        if len(inputs) != 1 or len(self.model.outputs) != 1 or inputs[0].get_partial_shape().rank.get_length() != 4:
            raise CheckpointError(f"{path}: expected one N x C x H x W input and one output, found {inputs}")
        channels = inputs[0].get_partial_shape()[1]
        self.in_channels = channels.get_length() if channels.is_static else None
        if config is None:
            config = _metadata_config(path, self.metadata, require_metadata)
        check_graph_config(path, config, self.in_channels, require_metadata)
        self.config = config
        self.modality, self.task = config_fields(config)
        self.path = path
        self.precision = precision
        self.properties: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
            "PERFORMANCE_HINT": "LATENCY",  # one stream: batch-1 latency is what stream and predict need
        }
        if threads:
            self.properties["INFERENCE_NUM_THREADS"] = int(threads)
        self._compiled: OrderedDict[tuple[int, ...], Any] = OrderedDict()

    def _request(self, shape: tuple[int, ...]) -> Any:
        """An infer request of the model compiled for this static input shape (compiled on first use, cached)."""
        if shape in self._compiled:
            self._compiled.move_to_end(shape)
            return self._compiled[shape]
        model = self.model.clone()
        model.reshape({model.inputs[0]: list(shape)})
        try:
            compiled = self.core.compile_model(model, "CPU", self.properties)
        except Exception as exc:  # e.g. a size the graph cannot take
            raise CheckpointError(f"{self.path}: OpenVINO cannot compile it for input {shape} ({exc})") from None
        request = compiled.create_infer_request()
        self._compiled[shape] = request
        if len(self._compiled) > MAX_SHAPES:
            self._compiled.popitem(last=False)
        return request

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """N x C x H x W float32 -> N x K x H x W float32 logits."""
        batch = np.ascontiguousarray(batch, np.float32)
        if batch.ndim != 4:
            raise ConfigError(f"{self.path}: expected an N x C x H x W batch, got shape {batch.shape}")
        if self.in_channels is not None and batch.shape[1] != self.in_channels:
            raise ConfigError(f"{self.path}: model takes {self.in_channels} channels, got {batch.shape[1]}")
        request = self._request(tuple(int(v) for v in batch.shape))
        request.infer({0: batch})
        return request.get_output_tensor(0).data.copy()  # the request reuses its output buffer
