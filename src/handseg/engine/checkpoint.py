"""Checkpoint files: what they hold and how a model is rebuilt from one.

A checkpoint is a torch.save'd dict with at least
  "model":  the model's state_dict,
  "config": the resolved experiment config; config["model"] = {"name": registry name, **build kwargs},
            config["task"] = "segmentation" (3 visible classes) or "amodal" (2 x 17 part channels),
            config["data"]["modality"] = "depth" | "rgb" | "rgbd",
and, for training checkpoints, "optimizer", "scheduler", "step", "epoch", "best_metric", "rng".

Checkpoints are read with torch.load(weights_only=True): tensors, containers and plain Python values only, so a
crafted file cannot run code when loaded. The RNG states are stored as plain values (the NumPy key as a list of
ints); checkpoints written before that hold the key as a uint32 NumPy array, the only extra type allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handseg.errors import CheckpointError


def read_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load a checkpoint dict, with a clear error for a missing, corrupt or foreign file."""
    import warnings

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
    import numpy as np

    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    return [multiarray._reconstruct, np.ndarray, np.dtype, np.dtypes.UInt32DType]


def _load_failure(exc: Exception) -> str:
    """One line saying why torch.load refused or failed to read a checkpoint."""
    import re

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


def load_model(path: str | Path, map_location: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """Rebuild the model of a checkpoint, run folder or zoo name (eval mode); return it with its training config.

    Every command that takes a model (eval, predict, export, stream, bench) resolves it here: an existing path is
    a checkpoint or run folder; a name like "das-rt" that is not a path is looked up in the zoo (sha256 checked).
    """
    from handseg.config import check_model_config
    from handseg.errors import HandsegError
    from handseg.models import build_model
    from handseg.zoo.store import is_zoo_name, load_pretrained

    if is_zoo_name(path):
        model, config, _ = load_pretrained(str(path))
        return model, config
    ckpt = read_checkpoint(path, map_location)
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
    return model.eval(), ckpt["config"]


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a checkpoint atomically (temp file + rename): a kill never leaves a half-written file."""
    from handseg.utils.io import atomic_torch_save

    atomic_torch_save(state, path)


def rng_state() -> dict[str, Any]:
    """The random states of Python, NumPy and torch (CPU and CUDA) of this process."""
    import random

    import numpy as np
    import torch

    kind, key, pos, has_gauss, cached = np.random.get_state()
    # Plain values only (no NumPy array), so the checkpoint loads with weights_only=True.
    numpy_state = (str(kind), [int(v) for v in key], int(pos), int(has_gauss), float(cached))
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() returned."""
    import random

    import numpy as np
    import torch

    random.setstate(state["python"])
    kind, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(key, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
