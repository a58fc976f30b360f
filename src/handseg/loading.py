"""One way to load a model: a checkpoint, a run folder, a zoo name or an ONNX file -> a model or a Predictor, with
its config.

Every command and API that takes a model (train's init_from, eval, predict, stream, export, bench, the zoo's
Segmenter) comes through here. A checkpoint is a torch.save'd dict with at least
  "model":  the model's state_dict,
  "config": the resolved experiment config; config["model"] = {"name": registry name, **build kwargs},
            config["task"] = "segmentation" (3 visible classes) or "amodal" (2 x 17 part channels),
            config["data"]["modality"] = "depth" | "rgb" | "rgbd",
and, for training checkpoints, "optimizer", "scheduler", "step", "epoch", "best_metric", "rng".

Checkpoints are read with torch.load(weights_only=True): tensors, containers and plain Python values only, so a
crafted file cannot run code when loaded. The RNG states are stored as plain values (the NumPy key as a list of
ints); checkpoints written before that hold the key as a uint32 NumPy array, the only extra type allowed.

Zoo names and the graph runtimes (ONNX Runtime, OpenVINO) live in higher layers (handseg.zoo, handseg.export): they
register into STORES and RUNTIMES, which name them in `discover=` (as build_model's WEIGHTS does), so this module
looks them up without importing those layers.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

# `handseg --help` imports this module (the CLI's option choices), so it imports only the standard library, numpy
# and handseg modules that --help loads anyway; torch, handseg.config and handseg.models (which import torch) are
# imported inside the functions that use them (tests/test_cli.py).
from handseg.errors import CheckpointError, ConfigError, HandsegError
from handseg.registry import Registry

if TYPE_CHECKING:
    from handseg.models.tta import TTASpec

try:
    from numpy._core import multiarray
except ImportError:  # numpy < 2
    from numpy.core import multiarray  # type: ignore[no-redef]

BACKENDS = ("auto", "pytorch", "onnxruntime", "openvino", "openvino-bf16")
BACKEND_HELP = (
    "pytorch (checkpoints, run folders, zoo names), onnxruntime or openvino (.onnx files from `handseg export`; "
    "other models are exported to ONNX in memory first); openvino-bf16: OpenVINO with bf16 inference where the CPU "
    "has it (needs the openvino package: pip install 'handseg[openvino]'); auto: onnxruntime for .onnx, else pytorch"
)


class Predictor(Protocol):
    """What stream/predict need from a backend: its config and logits of an N x C x H x W float32 batch."""

    config: dict[str, Any]
    modality: str
    task: str

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """N x C x H x W float32 inputs -> N x K x H x W float32 logits."""
        ...


class ModelStore(Protocol):
    """Models found by name rather than path (the zoo): what load_model and init_from need of them."""

    def claims(self, ref: Any) -> bool:
        """Whether `ref` is spelled as one of this store's names (and names no existing file)."""
        ...

    def open(self, name: str) -> LoadedModel:
        """The named model in eval mode with its training config and card."""
        ...

    def load_into(self, model: Any, name: str, *, model_name: str, modality: str | None = None) -> None:
        """Copy the named model's weights into `model`, a `model_name` built from a config for `modality`'s input
        (None: the named model's own)."""
        ...


# "zoo" -> the zoo (handseg.zoo.store). A ref is offered to each store in name order before it is read as a path.
STORES: Registry[ModelStore] = Registry("model store", discover=("handseg.zoo.store",))
# Backend name -> open(ref, threads=..., is_onnx=...) -> Predictor for the graph runtimes (ONNX Runtime, OpenVINO);
# "pytorch" is this module's own TorchPredictor.
RUNTIMES: Registry[Callable[..., Any]] = Registry("backend", discover=("handseg.export.predictor",))


@dataclass
class LoadedModel:
    """A PyTorch model in eval mode, its training config, and where it came from (path, or zoo name and card)."""

    model: Any
    config: dict[str, Any]
    source: str
    card: dict[str, Any] | None = None


def config_fields(config: dict[str, Any]) -> tuple[str, str]:
    """(modality, task) of a checkpoint config."""
    modality = (config.get("data") or {}).get("modality", "depth")
    task = config.get("task", "segmentation")
    return modality, task


def read_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint dict, with a clear error for a missing, corrupt or foreign file."""
    import torch

    path = Path(path)
    if path.is_dir():
        for name in ("best.ckpt", "last.ckpt"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise CheckpointError(f"{path}: run folder holds neither best.ckpt nor last.ckpt")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with torch.serialization.safe_globals(_legacy_numpy_globals()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": the error below says enough
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged or unsafe file
        raise CheckpointError(f"{path}: {_load_failure(exc)}") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{path}: not a handseg checkpoint (needs 'model' and 'config' entries)")
    ckpt["path"] = str(path)
    return ckpt


def _legacy_numpy_globals() -> list[Any]:
    """What an older checkpoint's NumPy RNG key (a uint32 array) needs from the unpickler, and nothing more."""
    return [multiarray._reconstruct, np.ndarray, np.dtype, np.dtypes.UInt32DType]


def _load_failure(exc: Exception) -> str:
    """One line saying why torch.load refused or failed to read a checkpoint."""
    text = str(exc)
    found = re.search(r"unsupported global:? (?:GLOBAL )?(\S+)", text, re.IGNORECASE)
    if found:
        what = found.group(1).rstrip(".")
        return f"refused to load checkpoint: it asks for {what}, which a handseg checkpoint never does (crafted file?)"
    opcode = re.search(r"Unsupported operand (\d+)", text)
    if opcode or "Weights only load failed" in text:
        detail = (
            f"pickle opcode {opcode.group(1)} is not allowed" if opcode else "it holds more than tensors and values"
        )
        return f"refused to load checkpoint: {detail} (damaged, crafted or not a handseg checkpoint)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"cannot read checkpoint ({type(exc).__name__}: {lines[0][:200] if lines else 'no detail'})"


def model_spec(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Registry name and build kwargs from a config's model section."""
    spec = dict(config.get("model") or {})
    name = spec.pop("name", None)
    if not name:
        raise CheckpointError("config has no model.name")
    return name, spec


def find_store(ref: Any) -> ModelStore | None:
    """The store (the zoo) whose name `ref` is, or None for a path."""
    for name in STORES.names():
        store = STORES.get(name)
        if store.claims(ref):
            return store
    return None


def model_from_checkpoint(ckpt: dict[str, Any]) -> Any:
    """The model of a read checkpoint, built from its config and its weights loaded (eval mode)."""
    from handseg.config import check_model_config
    from handseg.models import build_model

    check_model_config(ckpt["config"], ckpt["path"])
    name, kwargs = model_spec(ckpt["config"])
    try:
        model = build_model(name, **kwargs)
    except HandsegError as exc:
        raise CheckpointError(f"{ckpt['path']}: {exc}") from None
    except (TypeError, ValueError, RuntimeError) as exc:  # options of the wrong type or range for the builder
        raise CheckpointError(f"{ckpt['path']}: cannot build model {name!r} from its config ({exc})") from None
    try:
        model.load_state_dict(ckpt["model"], strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(
            f"{ckpt['path']}: weights do not match model {name!r} built from the checkpoint's config ({first})"
        ) from None
    return model.eval()


def open_model(ref: str | Path, map_location: str = "cpu") -> LoadedModel:
    """The PyTorch model of a checkpoint, run folder or zoo name (eval mode), with its config and source.

    An existing path is a checkpoint or run folder; a name like "das-rt" that is not a path is looked up in the
    zoo (sha256 checked).
    """
    store = find_store(ref)
    if store is not None:
        return store.open(str(ref))
    ckpt = read_checkpoint(ref, map_location)
    return LoadedModel(model_from_checkpoint(ckpt), ckpt["config"], ckpt["path"])


def load_model(path: str | Path, map_location: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """Rebuild the model of a checkpoint, run folder or zoo name (eval mode); return it with its training config."""
    loaded = open_model(path, map_location)
    return loaded.model, loaded.config


def load_weights_into(model: Any, ref: str | Path, *, model_name: str, modality: str | None = None) -> None:
    """Load the weights of a checkpoint, run folder or zoo name into `model` (a `model_name` built from a config);
    a model for another input `modality` (e.g. rgbd from depth) gets the shared input channels' weights."""
    store = find_store(ref)
    if store is not None:  # fine-tune a zoo model
        store.load_into(model, str(ref), model_name=model_name, modality=modality)
        return
    source = Path(ref).expanduser()
    if not source.exists():
        raise CheckpointError(f"{source}: init_from checkpoint not found (train the previous phase first)")
    ckpt = read_checkpoint(source)
    other = ckpt["config"].get("model", {}).get("name")
    if other != model_name:
        raise CheckpointError(f"{ckpt['path']}: holds model {other!r}, this config trains {model_name!r}")
    state = ckpt["model"]
    own_modality = ckpt["config"].get("data", {}).get("modality", "depth")
    if modality is not None and modality != own_modality:
        state = adapt_input_channels(state, model.state_dict(), own_modality, modality, where=str(ckpt["path"]))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{ckpt['path']}: weights do not fit this config's model ({first})") from None


def adapt_input_channels(
    state: dict[str, Any], own: dict[str, Any], source: str, target: str, *, where: str
) -> dict[str, Any]:
    """`state` (weights for `source`'s input channels) with its input convolution laid out for `target`'s: each
    channel both modalities have keeps its weights, a new channel starts at zero, so the adapted model computes
    exactly what the source model did until training teaches it to use the new channels (e.g. depth -> rgbd)."""
    from handseg.data.preprocess import CHANNELS

    for name in (source, target):
        if name not in CHANNELS:
            raise ConfigError(f"{where}: unknown modality {name!r} (one of {', '.join(CHANNELS)})")
    old, new = CHANNELS[source], CHANNELS[target]
    if not set(old) & set(new):
        raise CheckpointError(f"{where}: a {source} model shares no input channel with a {target} model")
    # the input convolution: the one 4-d weight whose input-channel count is all that differs from the model's
    stems = [
        key
        for key, value in state.items()
        if key in own
        and getattr(value, "ndim", 0) == 4
        and value.shape[1] == len(old) != len(new)
        and tuple(own[key].shape) == (value.shape[0], len(new), *value.shape[2:])
    ]
    if len(stems) != 1:
        raise CheckpointError(
            f"{where}: cannot find the one input convolution to adapt from {source} to {target} "
            f"(candidates: {', '.join(stems) or 'none'})"
        )
    weight = state[stems[0]]
    adapted = weight.new_zeros((weight.shape[0], len(new), *weight.shape[2:]))
    for i, channel in enumerate(new):
        if channel in old:
            adapted[:, i] = weight[:, old.index(channel)]
    return {**state, stems[0]: adapted}


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


class TTAPredictor:
    """A Predictor whose logits are the log of its inner predictor's mean probabilities over test-time views."""

    def __init__(self, inner: Predictor, spec: TTASpec) -> None:
        self.inner, self.spec = inner, spec
        self.config, self.modality, self.task = inner.config, inner.modality, inner.task

    def logits(self, batch: np.ndarray) -> np.ndarray:
        import torch

        from handseg.tasks import get_task

        def run(x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(np.asarray(self.inner.logits(np.ascontiguousarray(x.numpy())), np.float32))

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, np.float32))
            return get_task(self.task).tta_logits(run, x, self.spec).numpy()


def open_predictor(
    model: str | Path,
    backend: str = "auto",
    *,
    threads: int | None = None,
    device: str | None = None,
    is_onnx: bool = False,
    tta: TTASpec | None = None,
) -> Any:
    """A Predictor of a checkpoint, run folder, zoo name or .onnx file on `backend` (see BACKEND_HELP).

    `is_onnx` says `model` is an ONNX graph whatever its name. PyTorch runs on `device` (default: CUDA where
    present); the graph runtimes on the CPU with `threads` threads. With `tta`, every backend's logits are
    averaged over the test-time views it names (handseg.models.tta).
    """
    predictor = _open_backend(model, backend, threads=threads, device=device, is_onnx=is_onnx)
    return TTAPredictor(predictor, tta) if tta is not None and tta.active else predictor


def _open_backend(
    model: str | Path, backend: str, *, threads: int | None, device: str | None, is_onnx: bool
) -> Predictor:
    """open_predictor without test-time views."""
    if is_onnx:
        if backend == "pytorch":
            raise ConfigError(f"{model}: an ONNX model runs with --backend onnxruntime or openvino, not pytorch")
        backend = "onnxruntime" if backend == "auto" else resolve_backend(model, backend)
    else:
        backend = resolve_backend(model, backend)
    if backend != "pytorch":
        return RUNTIMES.get(backend)(model, threads=threads, is_onnx=is_onnx)
    import torch

    if threads:
        torch.set_num_threads(threads)
    loaded = open_model(model)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return TorchPredictor(loaded.model, loaded.config, device=device)


def load_predictor(
    ckpt: str | Path | None = None,
    onnx: str | Path | None = None,
    threads: int | None = None,
    device: str | None = None,
    backend: str = "auto",
) -> Any:
    """A predictor from a checkpoint, run folder or zoo name (PyTorch, or exported to ONNX in memory for the other
    backends) or an exported .onnx file (ONNX Runtime or OpenVINO); exactly one of `ckpt` and `onnx`."""
    if (ckpt is None) == (onnx is None):
        raise ConfigError("give exactly one of a checkpoint (--ckpt) or an ONNX model (--onnx)")
    if onnx is not None:
        return open_predictor(onnx, backend, threads=threads, device=device, is_onnx=True)
    return open_predictor(ckpt, backend, threads=threads, device=device)
