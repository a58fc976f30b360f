"""Prediction on files, folders and datasets: label PNGs (or two part maps) plus overlays, batched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from handseg.errors import ConfigError, DataError


@dataclass
class InputItem:
    """One frame to segment: its output id and how to load it as a Sample-like dict."""

    id: str
    source: str
    load: Callable[[], dict[str, Any]]


def _png_loader(path: Path, modality: str, depth_scale: float) -> Callable[[], dict[str, Any]]:
    def load() -> dict[str, Any]:
        from handseg.utils.io import read_png

        if modality == "depth":
            raw = read_png(path)
            if raw.ndim != 2 or raw.dtype != np.uint16:
                raise DataError(path, f"a depth model needs single-channel uint16 PNGs, got {raw.dtype} {raw.shape}")
            return {"id": path.stem, "depth": raw.astype(np.float32) * np.float32(depth_scale), "color": None}
        color = read_png(path, color=True)
        if color.dtype != np.uint8:
            raise DataError(path, f"an RGB model needs 8-bit color PNGs, got {color.dtype}")
        return {"id": path.stem, "depth": np.zeros(color.shape[:2], np.float32), "color": color}

    return load


def collect_inputs(inputs: list[str | Path], modality: str, depth_scale: float = 0.001, split: str | None = None):
    """Expand PNG files, folders of PNGs and handseg-v1 datasets into InputItems with unique ids."""
    from handseg.data.format import HandsegDataset

    items: list[InputItem] = []
    for entry in map(Path, inputs):
        if (entry / "manifest.json").is_file():
            dataset = HandsegDataset(entry, split=split)
            items += [InputItem(i, str(entry), lambda d=dataset, i=i: d.load(i)) for i in dataset.ids]
        elif entry.is_dir():
            pngs = sorted(entry.glob("*.png"))
            if not pngs:
                raise DataError(entry, "folder holds no PNG files and is not a handseg dataset")
            items += [InputItem(p.stem, str(p), _png_loader(p, modality, depth_scale)) for p in pngs]
        elif entry.is_file():
            if entry.suffix.lower() != ".png":
                raise DataError(entry, "inputs must be PNG files, folders of them, or handseg datasets")
            items.append(InputItem(entry.stem, str(entry), _png_loader(entry, modality, depth_scale)))
        else:
            raise DataError(entry, "not found")
    if modality == "rgbd" and any(not Path(item.source).is_dir() for item in items):
        raise ConfigError("an RGB-D model needs aligned color+depth: give handseg datasets, not PNG files")
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise DataError(item.source, f"output id {item.id!r} also comes from {seen[item.id]}; predict them apart")
        seen[item.id] = item.source
    return items


@torch.no_grad()
def predict(
    ckpt: str | Path,
    inputs: list[str | Path],
    out_dir: str | Path,
    batch_size: int = 4,
    force: bool = False,
    depth_scale: float = 0.001,
    split: str | None = None,
    overlays: bool = True,
    device: str | None = None,
    progress: bool = True,
    backend: str = "auto",
) -> list[str]:
    """Segment every input with a checkpoint; write label/<id>.png (or parts/<id>_l.png, _r.png) and overlay/.

    `backend` is "pytorch" (a checkpoint or run folder), "onnxruntime" (a .onnx file from `handseg export`, which
    carries its config) or "auto" (by the file's suffix). Inputs are resized to the model's training size and the
    logits resized back to each input's size. Returns the ids written.
    """
    from tqdm import tqdm

    from handseg.data.preprocess import make_input
    from handseg.data.transforms import resize_sample
    from handseg.engine.evaluate import predict_labels
    from handseg.utils.io import prepare_output_dir

    model, config = _load_backend(ckpt, backend)
    task, modality, size = config["task"], config["data"]["modality"], tuple(config["data"]["size"])
    items = collect_inputs(inputs, modality, depth_scale, split)
    if not items:
        raise DataError(None, "no inputs to predict")
    out = prepare_output_dir(out_dir, force)
    device = device or ("cuda" if torch.cuda.is_available() and isinstance(model, torch.nn.Module) else "cpu")
    if isinstance(model, torch.nn.Module):
        model = model.to(device)
    written = []
    with tqdm(total=len(items), desc="predict", unit="frame", disable=not progress) as bar:
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            samples = [item.load() for item in chunk]
            for sample in samples:
                if modality != "depth" and sample.get("color") is None:
                    raise DataError(sample.get("id"), f"modality {modality!r} needs color images")
            resized = [resize_sample(s, size) for s in samples]
            x = np.stack([make_input(r["depth"], r.get("color"), modality) for r in resized])
            if isinstance(model, torch.nn.Module):
                logits = model(torch.from_numpy(x).to(device)).float()
            else:
                logits = torch.from_numpy(model.logits(x.astype(np.float32))).float()
            for item, sample, logit in zip(chunk, samples, logits):
                height, width = sample["depth"].shape
                full = F.interpolate(logit[None], size=(height, width), mode="bilinear", align_corners=False)
                pred = predict_labels(full, task)[0].cpu().numpy().astype(np.uint8)
                write_prediction(out, item.id, sample, pred, task, overlays)
                written.append(item.id)
            bar.update(len(chunk))
    return written


def _load_backend(ckpt: str | Path, backend: str) -> tuple[Any, dict[str, Any]]:
    """The model (torch module, or an ONNX Runtime predictor with .logits) and its config."""
    if backend == "auto":
        backend = "onnxruntime" if str(ckpt).lower().endswith(".onnx") else "pytorch"
    if backend == "pytorch":
        from handseg.engine.checkpoint import load_model

        return load_model(ckpt)
    if backend == "onnxruntime":
        from handseg.export.onnx import OnnxPredictor

        predictor = OnnxPredictor(ckpt, threads=torch.get_num_threads())
        if not predictor.config:
            raise ConfigError(f"{ckpt}: the ONNX file carries no handseg config; export it with `handseg export`")
        return predictor, predictor.config
    raise ConfigError(f"unknown backend {backend!r} (pytorch, onnxruntime or auto)")


def write_prediction(out: Path, frame_id: str, sample: dict[str, Any], pred: np.ndarray, task: str, overlays: bool):
    """Write one frame's label map (or two part maps) and its overlay picture."""
    from handseg.utils.io import atomic_write_png
    from handseg.viz.overlay import depth_gray, overlay_labels, overlay_parts, tile, with_legend

    # Labels over greyscale depth for depth models: coloured depth would blend with the label colours.
    base = sample["color"] if sample.get("color") is not None else depth_gray(sample["depth"])
    if task == "segmentation":
        atomic_write_png(out / "label" / f"{frame_id}.png", pred)
        picture = with_legend(tile([base, overlay_labels(base, pred)], columns=2), "labels")
    else:
        atomic_write_png(out / "parts" / f"{frame_id}_l.png", pred[0])
        atomic_write_png(out / "parts" / f"{frame_id}_r.png", pred[1])
        picture = tile([base, overlay_parts(base, pred[0]), overlay_parts(base, pred[1])], columns=3)
        picture = with_legend(picture, "parts")
    if overlays:
        atomic_write_png(out / "overlay" / f"{frame_id}.png", picture)
