"""ONNX export with dynamic batch/height/width, checked against PyTorch, and an ONNX Runtime predictor.

The exporter is the TorchScript tracer (`dynamo=False`; the dynamo exporter needs onnxscript, not installed).
Tracing bakes Python branches on shapes, so the graph pads the input to a multiple of the model's stride itself
(replicate padding, the same as the model's own forward) and crops the logits back: the model's internal
"already a multiple?" branches then take the same path at every input size. The check runs ONNX Runtime on an
input of another size than the trace size, which is what would catch a baked shape.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from handseg.config import check_model_config
from handseg.data.preprocess import input_channels
from handseg.errors import CheckpointError, ConfigError, HandsegError
from handseg.export.contract import input_contract
from handseg.utils.io import atomic_write_bytes, check_can_write_file

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
CONFIG_KEY = "handseg_config"


def _padded_wrapper(model: Any) -> Any:
    """nn.Module that pads to the model's stride with traced (dynamic) pad sizes, runs it, crops the logits."""
    stride = int(getattr(model, "stride", 1) or 1)

    class PaddedExport(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h, w = x.shape[-2], x.shape[-1]
            if stride > 1:
                pad_h = (stride - h % stride) % stride
                pad_w = (stride - w % stride) % stride
                x = F.pad(x, [0, pad_w, 0, pad_h], mode="replicate")
            return self.model(x)[..., :h, :w]

    return PaddedExport().eval()


def export_onnx(
    model: Any,
    path: str | Path,
    in_channels: int,
    *,
    opset: int = 17,
    config: dict[str, Any] | None = None,
    trace_size: tuple[int, int] = (160, 120),
    check_size: tuple[int, int] | None = None,
    atol: float = 1e-3,
    force: bool = False,
    zoo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Export `model` to ONNX (dynamic N, H, W), verify it against PyTorch at another size; return the check report.

    Sizes are (width, height). The checkpoint config, if given, is stored in the model's metadata so that
    OnnxPredictor knows the modality and task, with the input contract (`handseg.*` keys, see contract.py; `zoo`
    adds its name and version) for users of plain ONNX Runtime. Raises HandsegError when the outputs differ by
    more than `atol`.
    """
    import onnx  # ~0.6 s to import: only export needs it

    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise ConfigError(f"{path}: the ONNX file name must end in .onnx")
    check_can_write_file(path, force)
    if opset < 17:
        raise ConfigError(f"opset {opset} is too old; use 17 or newer")
    model = model.eval()
    wrapper = _padded_wrapper(model)
    tw, th = trace_size
    example = torch.randn(1, in_channels, th, tw)
    buffer = io.BytesIO()
    dynamic = {0: "batch", 2: "height", 3: "width"}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape branches: the size check below is the test
            torch.onnx.export(
                wrapper,
                (example,),
                buffer,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                opset_version=opset,
                dynamic_axes={INPUT_NAME: dynamic, OUTPUT_NAME: dynamic},
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as exc:  # the exporter raises many types
        raise HandsegError(f"ONNX export failed ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    proto = onnx.load_from_string(buffer.getvalue())
    if config is not None:
        contract = input_contract(config, zoo)
        for key, value in {CONFIG_KEY: json.dumps(config, default=str), **contract}.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        proto.doc_string = "handseg model; input contract in the metadata keys handseg.* (see the handseg README)"
    proto.producer_name = "handseg"
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()

    check_w, check_h = check_size or (tw + 29, th + 13)  # deliberately not a multiple of any stride
    report = {"opset": opset, "trace_size": f"{tw}x{th}", "max_abs_diff": {}}
    session = _session(data, threads=None)
    generator = torch.Generator().manual_seed(0)
    for w, h in ((tw, th), (check_w, check_h)):
        x = torch.randn(1, in_channels, h, w, generator=generator)
        with torch.no_grad():
            reference = model(x).numpy()
        output = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
        if output.shape != reference.shape:
            raise HandsegError(f"ONNX output shape {output.shape} != PyTorch {reference.shape} at {w}x{h}")
        report["max_abs_diff"][f"{w}x{h}"] = float(np.abs(output - reference).max())
    worst = max(report["max_abs_diff"].values())
    if worst > atol:
        raise HandsegError(f"ONNX outputs differ from PyTorch by {worst:.3g} (> {atol}): {report['max_abs_diff']}")
    atomic_write_bytes(path, data)
    report["path"] = str(path)
    report["bytes"] = len(data)
    return report


def _session(model: bytes | str, threads: int | None) -> Any:
    """A CPU ONNX Runtime session with all graph optimisations."""
    import onnxruntime as ort  # loads its native runtime: only ONNX inference needs it

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _metadata_config(path: Path, meta: dict[str, str], required: bool) -> dict[str, Any]:
    """The handseg config in an ONNX file's metadata ({} when absent and not required)."""
    if CONFIG_KEY not in meta:
        if required:
            raise CheckpointError(f"{path}: no handseg metadata ({CONFIG_KEY}); export the model with `handseg export`")
        return {}
    try:
        config = json.loads(meta[CONFIG_KEY])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: metadata {CONFIG_KEY} is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: metadata {CONFIG_KEY} is not a JSON object (got {type(config).__name__})")
    return config


def check_graph_config(path: Path, config: dict[str, Any], in_channels: Any, required: bool) -> None:
    """Check a graph's config (when present or required) and that its input channels fit the config's modality."""
    if not (config or required):
        return

    check_model_config(config, path)
    needed = input_channels((config.get("data") or {}).get("modality", "depth"))
    if isinstance(in_channels, int) and in_channels != needed:
        raise CheckpointError(
            f"{path}: the graph takes {in_channels} input channels, its config's modality needs {needed}"
        )


class OnnxPredictor:
    """ONNX Runtime (CPU) session of an exported model with the predictor interface: .config, .modality, .logits()."""

    def __init__(
        self,
        path: str | Path,
        threads: int | None = None,
        config: dict[str, Any] | None = None,
        *,
        require_metadata: bool = True,
    ) -> None:
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: ONNX model not found")
        try:
            self.session = _session(str(path), threads)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise CheckpointError(f"{path}: not a loadable ONNX model ({str(exc).splitlines()[0]})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise CheckpointError(f"{path}: expected one N x C x H x W input, found {[i.shape for i in inputs]}")
        self.input_name = inputs[0].name
        self.in_channels = inputs[0].shape[1]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        if config is None:
            config = _metadata_config(path, self.metadata, require_metadata)
        check_graph_config(path, config, self.in_channels, require_metadata)
        self.config = config
        self.modality = (config.get("data") or {}).get("modality", "depth")
        self.task = config.get("task", "segmentation")
        self.path = path

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """N x C x H x W float32 -> N x K x H x W float32 logits."""
        batch = np.ascontiguousarray(batch, np.float32)
        if isinstance(self.in_channels, int) and batch.shape[1] != self.in_channels:
            raise ConfigError(f"{self.path}: model takes {self.in_channels} channels, got {batch.shape[1]}")
        return self.session.run(None, {self.input_name: batch})[0]
