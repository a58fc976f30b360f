"""Checkpoint files: RNG states stored as plain values (weights_only loads), older NumPy-array states still read."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from handseg.engine.checkpoint import read_checkpoint, rng_state, save_checkpoint, set_rng_state


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_rng_state_round_trips_through_a_weights_only_load(tmp_path: Path) -> None:
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.standard_normal()  # a cached Gaussian is part of NumPy's state
    state = rng_state()
    expected = _draws()
    save_checkpoint(tmp_path / "a.ckpt", {"model": {}, "config": {}, "rng": [state]})
    plain = torch.load(tmp_path / "a.ckpt", weights_only=True)  # no allowlist at all: nothing but plain values
    assert not isinstance(plain["rng"][0]["numpy"][1], np.ndarray)
    _draws()
    set_rng_state(read_checkpoint(tmp_path / "a.ckpt")["rng"][0])
    assert _draws() == expected


def test_older_checkpoints_with_numpy_rng_keys_still_load(tmp_path: Path) -> None:
    np.random.seed(5)
    legacy = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    assert isinstance(legacy["numpy"][1], np.ndarray)  # what rng_state() wrote before
    expected = float(np.random.rand())
    torch.save({"model": {}, "config": {}, "rng": [legacy]}, tmp_path / "old.ckpt")
    np.random.seed(99)
    set_rng_state(read_checkpoint(tmp_path / "old.ckpt")["rng"][0])
    assert float(np.random.rand()) == expected
