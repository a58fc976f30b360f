"""Latency of every model at one input size, batch 1: PyTorch eager, channels_last, ONNX Runtime (CPU), OpenVINO
(CPU, fp32 and bf16; when the openvino package is installed), and on a CUDA GPU where present: fp32, bf16
autocast, torch.compile, CUDA graphs.

The GPU paths are written against the documented PyTorch APIs but were never run here (no GPU was lent).
"""

from __future__ import annotations

import copy
import logging
import statistics
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handseg.data.preprocess import input_channels
from handseg.errors import HandsegError
from handseg.export.onnx import OnnxPredictor, export_onnx
from handseg.export.openvino_backend import OpenVinoPredictor, openvino_available
from handseg.loading import load_model
from handseg.models import build_model, list_models
from handseg.models import model_io as registry_io
from handseg.models.flops import count_params
from handseg.utils.timing import time_fn, time_round_robin

LOG = logging.getLogger("handseg.bench")

CPU_MODES = ("eager", "channels_last", "onnxruntime")
OPENVINO_MODES = ("openvino", "openvino_bf16")  # optional package; openvino_bf16 only when asked for
GPU_MODES = ("cuda_fp32", "cuda_bf16", "cuda_compile", "cuda_graphs")


def model_io(name: str) -> tuple[int, int]:
    """(in_channels, num_classes) a benchmark feeds a registered model: depth -> 3 classes, amodal rgb -> 34."""
    return registry_io(name)


def _row(name: str, mode: str, times: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "model": name,
        "mode": mode,
        "median_ms": statistics.median(times) * 1000,
        "min_ms": min(times) * 1000,
        "repeats": len(times),
        **extra,
    }


def _cpu_rows(model: Any, name: str, x: Any, modes: tuple[str, ...], repeats: int, threads: int | None) -> list[dict]:
    """Eager, channels_last, ONNX Runtime and OpenVINO timings, measured round-robin."""
    fns: dict[str, Callable[[], Any]] = {}
    extra: dict[str, dict[str, Any]] = {}
    if "eager" in modes:
        fns["eager"] = lambda: model(x)
    if "channels_last" in modes:
        cl_model = copy.deepcopy(model).to(memory_format=torch.channels_last)
        xc = x.contiguous(memory_format=torch.channels_last)
        fns["channels_last"] = lambda: cl_model(xc)
    with tempfile.TemporaryDirectory(prefix="handseg-bench-") as tmp:
        graph_modes = [m for m in modes if m == "onnxruntime" or m in OPENVINO_MODES]
        if graph_modes:
            path = Path(tmp) / f"{name}.onnx"
            report = export_onnx(model, path, x.shape[1], trace_size=(x.shape[3] // 4, x.shape[2] // 4))
            diff = {"onnx_max_abs_diff": max(report["max_abs_diff"].values())}
            batch = x.numpy()
            for mode in graph_modes:
                predictor = _graph_predictor(path, mode, threads or torch.get_num_threads())
                fns[mode] = lambda p=predictor: p.logits(batch)
                extra[mode] = diff
        with torch.inference_mode():
            times = time_round_robin(fns, repeats)
    return [_row(name, mode, t, **extra.get(mode, {})) for mode, t in times.items()]


def _graph_predictor(path: Path, mode: str, threads: int) -> Any:
    """The ONNX Runtime or OpenVINO predictor of an exported graph for a bench mode."""
    if mode == "onnxruntime":
        return OnnxPredictor(path, threads=threads, require_metadata=False)

    precision = "bf16" if mode == "openvino_bf16" else "fp32"
    return OpenVinoPredictor(path, threads=threads, precision=precision, require_metadata=False)


def default_modes(gpu: bool) -> tuple[str, ...]:
    """Modes timed when none are named: the CPU ones, OpenVINO fp32 where installed, the GPU ones on a GPU."""
    return CPU_MODES + (("openvino",) if openvino_available() else ()) + (GPU_MODES if gpu else ())


def _gpu_rows(model: Any, name: str, x: Any, modes: tuple[str, ...], repeats: int) -> list[dict]:
    """CUDA timings (untested here: no GPU was available when this was written)."""
    rows = []
    model = model.cuda().eval()
    xg = x.cuda()
    sync = torch.cuda.synchronize
    with torch.inference_mode():
        if "cuda_fp32" in modes:
            rows.append(_row(name, "cuda_fp32", time_fn(lambda: model(xg), repeats, warmup=3, sync=sync)))
        if "cuda_bf16" in modes:

            def bf16() -> Any:
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    return model(xg)

            rows.append(_row(name, "cuda_bf16", time_fn(bf16, repeats, warmup=3, sync=sync)))
    if "cuda_compile" in modes:
        compiled = torch.compile(model, mode="max-autotune-no-cudagraphs")
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            rows.append(_row(name, "cuda_compile", time_fn(lambda: compiled(xg), repeats, warmup=3, sync=sync)))
    if "cuda_graphs" in modes:
        static_x = xg.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            with torch.cuda.stream(stream):
                for _ in range(3):
                    model(static_x)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                model(static_x)
        rows.append(_row(name, "cuda_graphs", time_fn(graph.replay, repeats, warmup=3, sync=sync)))
    model.cpu()
    return rows


def _bench_model(name: str, model_args: dict[str, Any] | None) -> tuple[Any, int]:
    """(model in eval mode, input channels): a registry model built fresh, or a zoo model with its trained weights."""
    if name not in list_models():
        model, config = load_model(name)  # a zoo model is timed as published: --model-arg does not apply
        return model, input_channels(config["data"].get("modality", "depth"))
    in_ch, classes = model_io(name)
    return build_model(name, in_channels=in_ch, num_classes=classes, **(model_args or {})).eval(), in_ch


def bench_models(
    names: list[str],
    size: tuple[int, int] = (640, 480),
    repeats: int = 5,
    modes: tuple[str, ...] | None = None,
    model_args: dict[str, Any] | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Latency rows (model, mode, median_ms, min_ms, ...) for every model and mode at `size` (width, height)."""
    if threads:
        torch.set_num_threads(threads)
    gpu = torch.cuda.is_available()
    modes = tuple(modes or default_modes(gpu))
    known = CPU_MODES + OPENVINO_MODES + GPU_MODES
    unknown = set(modes) - set(known)
    if unknown:
        raise HandsegError(f"unknown bench mode(s) {', '.join(sorted(unknown))}; modes: {', '.join(known)}")
    width, height = size
    rows: list[dict[str, Any]] = []
    for name in names:
        model, in_ch = _bench_model(name, model_args)
        x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, in_ch, height, width), np.float32))
        params = count_params(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model_rows = _cpu_rows(model, name, x, modes, repeats, threads)
            if gpu and any(m in GPU_MODES for m in modes):
                model_rows += _gpu_rows(model, name, x, modes, repeats)
        for row in model_rows:
            row.update(size=f"{width}x{height}", params_m=params / 1e6)
            if progress:
                LOG.info(f"  {name:28s} {row['mode']:14s} {row['median_ms']:9.1f} ms")
        rows += model_rows
    return rows


def pivot(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per model with a median-ms column per mode and the eager/ONNX Runtime speed-up."""
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = table.setdefault(row["model"], {"model": row["model"], "params (M)": row["params_m"]})
        entry[f"{row['mode']} (ms)"] = row["median_ms"]
    for entry in table.values():
        eager, ort = entry.get("eager (ms)"), entry.get("onnxruntime (ms)")
        if eager and ort:
            entry["ORT speed-up vs eager"] = eager / ort
    return list(table.values())


def markdown(rows: list[dict[str, Any]]) -> str:
    """Markdown table of pivoted latency rows (columns in a fixed order, blank where not measured)."""
    table = pivot(rows)
    columns = ["model", "params (M)"]
    for mode in CPU_MODES + OPENVINO_MODES + GPU_MODES:
        if any(f"{mode} (ms)" in e for e in table):
            columns.append(f"{mode} (ms)")
    if any("ORT speed-up vs eager" in e for e in table):
        columns.append("ORT speed-up vs eager")

    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if value < 100 else f"{value:.0f}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(e.get(c)) for c in columns) + " |" for e in table]
    return "\n".join(lines)
