"""Prediction on files, folders and datasets: label PNGs (or two part maps) plus overlays, batched."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from handseg.data.format import Frame, Intrinsics, depth_metres
from handseg.data.preprocess import make_input
from handseg.data.sources import DatasetSource
from handseg.data.transforms import resize_sample
from handseg.errors import ConfigError, DataError
from handseg.loading import open_predictor
from handseg.models.tta import TTASpec
from handseg.tasks import get_task
from handseg.utils.io import atomic_write_png, check_output_dir, read_file_bytes, read_png, staged_output_dir
from handseg.viz.overlay import depth_gray

SUFFIXES = (".png", ".npy", ".tif", ".tiff")
MAX_SIDE = 8192  # larger frames are refused: a 16k x 16k input needs tens of GB at the model's size


@dataclass
class InputItem:
    """One input to segment: its output id, where it comes from, and how to load it as a Frame."""

    id: str
    source: str
    load: Callable[[], Frame]


class PredictResult(list):
    """The ids written (a list), with `.skipped` (source -> reason) of the inputs --skip-bad left out."""

    skipped: dict[str, str]


def _read_array(path: Path) -> np.ndarray:
    """The pixels of a PNG, 16-bit TIFF or .npy file as stored (RGB order for colour)."""
    suffix = path.suffix.lower()
    if suffix == ".png":
        return read_png(path)
    if suffix == ".npy":
        try:
            array = np.load(io.BytesIO(read_file_bytes(path)), allow_pickle=False)
        except ValueError as exc:  # object arrays (pickles) and damaged headers
            raise DataError(path, f"not a plain .npy array ({str(exc).splitlines()[0][:80]})") from None
        except (OSError, EOFError) as exc:
            raise DataError(path, f"damaged .npy file ({str(exc)[:80]})") from None
        if not isinstance(array, np.ndarray):
            raise DataError(path, "not a .npy array")
        return array

    data = read_file_bytes(path)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None:
        raise DataError(path, "not a readable TIFF image")
    if image.ndim == 3:
        image = np.ascontiguousarray(image[..., :3][..., ::-1])  # BGR(A) -> RGB
    return image


def _check_size(path: Path, shape: tuple[int, ...]) -> None:
    if not (8 <= shape[0] <= MAX_SIDE and 8 <= shape[1] <= MAX_SIDE):
        raise DataError(path, f"image of {shape[1]}x{shape[0]} pixels; sides must be 8..{MAX_SIDE}")


def _file_loader(path: Path, modality: str, depth_scale: float) -> Callable[[], Frame]:
    """Load one file as a Frame, refusing a dtype, shape or modality the model cannot take."""

    def frame(depth: np.ndarray, color: np.ndarray | None) -> Frame:
        height, width = depth.shape
        return Frame(path.stem, depth, color, Intrinsics(depth_scale_m=depth_scale).scaled(width, height))

    def load() -> Frame:
        raw = _read_array(path)
        kind = f"{raw.dtype} {'x'.join(map(str, raw.shape))}"
        if raw.ndim not in (2, 3) or (raw.ndim == 3 and raw.shape[2] not in (3, 4)):
            raise DataError(path, f"expected an HxW depth map or an HxWx3 colour image, got {kind}")
        _check_size(path, raw.shape)
        if modality == "depth":
            if raw.ndim == 3:
                raise DataError(path, f"a colour image ({kind}) given to a depth model; give uint16 depth maps")
            if raw.dtype == np.uint16:
                depth = depth_metres(raw, depth_scale)
            elif raw.dtype in (np.float32, np.float64) and path.suffix.lower() == ".npy":
                if not np.isfinite(raw).all() or raw.min() < 0:
                    raise DataError(path, "depth in metres must be finite and >= 0 (0 = missing)")
                depth = raw.astype(np.float32)  # float .npy depth is in metres already
            else:
                raise DataError(
                    path, f"a depth model needs uint16 depth (or float metres in .npy), got {kind}; 8-bit is not depth"
                )
            return frame(depth, None)
        if raw.ndim != 3 or raw.dtype != np.uint8:
            looks = "a depth map" if raw.ndim == 2 and raw.dtype == np.uint16 else kind
            raise DataError(path, f"an RGB model needs 8-bit colour images (HxWx3), got {looks}")
        color = np.ascontiguousarray(raw[..., :3])
        return frame(np.zeros(color.shape[:2], np.float32), color)

    return load


def _dataset_loader(source: DatasetSource, sample_id: str, modality: str) -> Callable[[], Frame]:
    def load() -> Frame:
        frame = source.load(sample_id)
        if modality != "depth" and frame.color is None:
            path = source.dataset.path("color", sample_id)
            raise DataError(path, f"missing: a {modality} model needs the colour image of every frame")
        return frame

    return load


def collect_inputs(inputs: list[str | Path], modality: str, depth_scale: float = 0.001, split: str | None = None):
    """Expand image files (PNG, 16-bit TIFF, .npy), folders of them and handseg-v1 datasets into InputItems."""
    if not (np.isfinite(depth_scale) and depth_scale > 0):
        raise ConfigError(f"--depth-scale must be a positive number, got {depth_scale}")
    items: list[InputItem] = []
    for entry in map(Path, inputs):
        if (entry / "manifest.json").exists():
            source = DatasetSource(entry, need_color=False, split=split)
            items += [InputItem(i, str(entry), _dataset_loader(source, i, modality)) for i in source.ids]
        elif entry.is_dir():
            files = sorted(p for p in entry.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
            if not files:
                raise DataError(entry, f"folder holds no {', '.join(SUFFIXES)} files and is not a handseg dataset")
            items += [InputItem(p.stem, str(p), _file_loader(p, modality, depth_scale)) for p in files]
        elif entry.is_file():
            if entry.suffix.lower() not in SUFFIXES:
                raise DataError(entry, f"inputs must be {', '.join(SUFFIXES)} files, folders of them, or datasets")
            items.append(InputItem(entry.stem, str(entry), _file_loader(entry, modality, depth_scale)))
        else:
            raise DataError(entry, "not found")
    if modality == "rgbd" and any(not Path(item.source).is_dir() for item in items):
        raise ConfigError("an RGB-D model needs aligned color+depth: give handseg datasets, not image files")
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise DataError(item.source, f"output id {item.id!r} also comes from {seen[item.id]}; predict them apart")
        seen[item.id] = item.source
    return items


def check_inputs(items: list[InputItem], skip_bad: bool) -> tuple[list[InputItem], dict[str, str]]:
    """Load every input once before anything is written; bad ones stop the run, or are left out with skip_bad."""
    good, bad = [], {}
    first: DataError | None = None
    for item in items:
        try:
            item.load()
        except DataError as exc:
            first = first or exc
            where = item.source if Path(item.source).is_file() else f"{item.source} ({item.id})"
            bad[where] = exc.problem
            continue
        good.append(item)
    if bad and not skip_bad:
        more = f" ({len(bad)} of {len(items)} inputs are bad; --skip-bad leaves them out)" if len(bad) > 1 else ""
        raise DataError(first.path, f"{first.problem}{more}")
    if not good:
        raise DataError(None, f"no usable input: all {len(items)} were skipped (e.g. {next(iter(bad.items()))})")
    return good, bad


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
    *,
    skip_bad: bool = False,
    tta: TTASpec | None = None,
) -> PredictResult:
    """Segment every input with a checkpoint; write label/<id>.png (or parts/<id>_l.png, _r.png) and overlay/.

    `backend` is "pytorch" (a checkpoint, run folder or zoo name), "onnxruntime", "openvino" or "openvino-bf16"
    (a .onnx file from `handseg export`, which carries its config; other models are exported in memory first) or
    "auto" (by the file's suffix). Every input is read and checked (dtype, shape,
    modality) before anything is written; with `skip_bad` bad inputs are left out and listed in `.skipped` of
    the result. Output goes to a temporary sibling folder renamed to `out_dir` on success. Inputs are resized to
    the model's training size and the logits resized back to each input's size. With `tta`, each backend's
    probabilities are averaged over the test-time views it names (handseg.models.tta). Returns the ids written.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive integer, got {batch_size!r}")
    check_output_dir(out_dir, force)  # before loading a model or reading inputs
    predictor = _open_predictor(ckpt, backend, device, tta)
    config = predictor.config
    task, modality, size = config["task"], config["data"]["modality"], tuple(config["data"]["size"])
    items = collect_inputs(inputs, modality, depth_scale, split)
    if not items:
        raise DataError(None, "no inputs to predict")
    items, skipped = check_inputs(items, skip_bad)
    written = PredictResult()
    written.skipped = skipped
    with (
        staged_output_dir(out_dir, force) as out,
        tqdm(total=len(items), desc="predict", unit="frame", disable=not progress) as bar,
    ):
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            samples = [{"depth": frame.depth_m, "color": frame.color} for frame in (item.load() for item in chunk)]
            resized = [resize_sample(s, size) for s in samples]
            x = np.stack([make_input(r["depth"], r.get("color"), modality) for r in resized])
            logits = torch.from_numpy(predictor.logits(x.astype(np.float32))).float()
            for item, sample, logit in zip(chunk, samples, logits):
                height, width = sample["depth"].shape
                full = F.interpolate(logit[None], size=(height, width), mode="bilinear", align_corners=False)
                pred = get_task(task).labels(full)[0].numpy().astype(np.uint8)
                write_prediction(out, item.id, sample, pred, task, overlays)
                written.append(item.id)
            bar.update(len(chunk))
    return written


def _open_predictor(ckpt: str | Path, backend: str, device: str | None, tta: TTASpec | None = None) -> Any:
    """The Predictor (PyTorch, ONNX Runtime or OpenVINO) of `ckpt`; a graph must carry its handseg config."""
    predictor = open_predictor(ckpt, backend, threads=torch.get_num_threads(), device=device, tta=tta)
    if not predictor.config:
        raise ConfigError(f"{ckpt}: the ONNX file carries no handseg config; export it with `handseg export`")
    return predictor


def write_prediction(out: Path, frame_id: str, sample: dict[str, Any], pred: np.ndarray, task: str, overlays: bool):
    """Write one frame's label map (or two part maps) and its overlay picture."""
    spec = get_task(task)
    spec.write_labels(out / spec.prediction_folder, frame_id, pred)
    if overlays:
        # Labels over greyscale depth for depth models: coloured depth would blend with the label colours.
        base = sample["color"] if sample.get("color") is not None else depth_gray(sample["depth"])
        atomic_write_png(out / "overlay" / f"{frame_id}.png", spec.prediction_picture(base, pred))
