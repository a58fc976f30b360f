"""Shared fixtures: tiny synthetic data, a tiny untrained checkpoint, one torch thread per worker, headless plots."""

from __future__ import annotations

import os
from pathlib import Path

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


def make_checkpoint(path: Path, data_root: Path, *, seed: int = 0) -> Path:
    """A handseg checkpoint of a tiny DenseAttentionSeg (no training: random weights with varied labels)."""
    import torch

    from handseg.config import validate
    from handseg.models import build_model
    from handseg.utils.io import atomic_torch_save

    config = validate(
        {
            "name": "tiny_zoo",
            "model": {"name": "dense_attention_seg", "backbone": "resnet18", "backbone_width": 8, "k": 8},
            "data": {"root": str(data_root), "size": [64, 48], "workers": 0},
            "train": {"batch_size": 2, "max_steps": 1},
            "runtime": {"accelerator": "cpu"},
        }
    )
    torch.manual_seed(seed)
    model = build_model(config["model"]["name"], **{k: v for k, v in config["model"].items() if k != "name"})
    with torch.no_grad():  # an untrained decoder varies little: amplify it so all three classes occur
        model.classifier.weight.mul_(500.0)
        model.classifier.bias.zero_()
    atomic_torch_save({"model": model.state_dict(), "config": config, "step": 1, "best_metric": 0.5}, path)
    return path


@pytest.fixture(scope="session")
def zoo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic 64x48 frames (handseg-v1, generator manifest), the tiny model's 'training data'."""
    from handseg.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("zoo_data") / "synth64"
    generate_dataset(root, 4, seed=3, size=(64, 48), val_fraction=0.5, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory, zoo_data: Path) -> Path:
    """A run folder holding best.ckpt of the tiny model."""
    run = tmp_path_factory.mktemp("zoo_run") / "run"
    run.mkdir()
    make_checkpoint(run / "best.ckpt", zoo_data)
    return run


@pytest.fixture(scope="session")
def checkpoint_factory():
    """make_checkpoint (tests cannot import conftest under importlib mode)."""
    return make_checkpoint
