"""Writing checkpoints and the RNG states they carry; reading them is handseg.loading's (re-exported here).

What a checkpoint holds is described in handseg.loading, the one place that rebuilds a model from one.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handseg.loading import load_model, model_spec, read_checkpoint
from handseg.utils.io import atomic_torch_save

__all__ = ["load_model", "model_spec", "read_checkpoint", "rng_state", "save_checkpoint", "set_rng_state"]


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a checkpoint atomically (temp file + rename): a kill never leaves a half-written file."""
    atomic_torch_save(state, path)


def rng_state() -> dict[str, Any]:
    """The random states of Python, NumPy and torch (CPU and CUDA) of this process."""
    kind, key, pos, has_gauss, cached = np.random.get_state()
    # Plain values only (no NumPy array), so the checkpoint loads with weights_only=True.
    numpy_state = (str(kind), [int(v) for v in key], int(pos), int(has_gauss), float(cached))
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() returned."""
    random.setstate(state["python"])
    kind, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(key, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
