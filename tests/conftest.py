"""Shared fixtures: tiny synthetic data, one torch thread per test worker, headless plotting."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> None:
    """Keep each pytest-xdist worker on one thread so two workers share two cores."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory: pytest.TempPathFactory):
    """A tiny synthetic handseg-v1 dataset (8 frames, 160x120, seed 0: 6 train, 2 val), made once per session."""
    from handseg.data.synth import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("synth") / "tiny", 8, seed=0, size=(160, 120), progress=False)
