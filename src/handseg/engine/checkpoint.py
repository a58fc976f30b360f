"""Checkpoint files: what they hold and how a model is rebuilt from one.

A checkpoint is a torch.save'd dict with at least
  "model":  the model's state_dict,
  "config": the resolved experiment config; config["model"] = {"name": registry name, **build kwargs},
            config["task"] = "segmentation" (3 visible classes) or "amodal" (2 x 17 part channels),
            config["data"]["modality"] = "depth" | "rgb" | "rgbd",
and, for training checkpoints, "optimizer", "scheduler", "step", "epoch", "best_metric", "rng".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handseg.errors import CheckpointError


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
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{path}: not a handseg checkpoint (needs 'model' and 'config' entries)")
    ckpt["path"] = str(path)
    return ckpt


def model_spec(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Registry name and build kwargs from a config's model section."""
    spec = dict(config.get("model") or {})
    name = spec.pop("name", None)
    if not name:
        raise CheckpointError("config has no model.name")
    return name, spec


def load_model(path: str | Path, map_location: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """Rebuild the model of a checkpoint (eval mode) and return it with the checkpoint's config."""
    from handseg.config import check_model_config
    from handseg.errors import HandsegError
    from handseg.models import build_model

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

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() returned."""
    import random

    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
