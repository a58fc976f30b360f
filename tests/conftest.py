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
