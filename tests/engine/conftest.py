"""Tiny handseg-v1 datasets for the engine tests: a hand disc and an object box at distinct depths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handseg.data.format import DatasetWriter, Intrinsics, Manifest


def write_tiny_dataset(root: Path, frames: int = 4, width: int = 64, height: int = 48, seed: int = 0) -> Path:
    """`frames` frames, all in both train and val; labels, color and part maps (left/right hand halves)."""
    rng = np.random.default_rng(seed)
    manifest = Manifest(name="tiny", sensor=Intrinsics(width=width, height=height))
    writer = DatasetWriter(root, manifest, force=True)
    yy, xx = np.mgrid[0:height, 0:width]
    ids = []
    for k in range(frames):
        cx, cy, r = rng.integers(14, width - 14), rng.integers(12, height - 12), rng.integers(7, 11)
        hand = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
        ox, oy = rng.integers(2, width - 18), rng.integers(2, height - 14)
        obj = (xx >= ox) & (xx < ox + 16) & (yy >= oy) & (yy < oy + 12) & ~hand
        depth = np.full((height, width), 900, np.uint16)
        depth[hand], depth[obj] = 500, 420
        depth[rng.random((height, width)) < 0.03] = 0
        label = np.zeros((height, width), np.uint8)
        label[hand], label[obj] = 1, 2
        color = np.zeros((height, width, 3), np.uint8)
        color[hand], color[obj] = (200, 150, 120), (40, 90, 200)
        parts = np.zeros((2, height, width), np.uint8)
        parts[0][hand & (xx < cx)] = 1
        parts[1][hand & (xx >= cx)] = 2
        ids.append(f"f{k:03d}")
        writer.write(ids[-1], depth, label=label, color=color, parts=parts)
    writer.finish({"train": ids, "val": ids})
    return root


def make_tiny_config(root: Path, **train: object) -> dict:
    """A config for a small U-Net on the tiny dataset (CPU, no workers)."""
    return {
        "seed": 0,
        "model": {"name": "unet", "width": 8, "depth": 2},
        "data": {"root": str(root), "size": [64, 48], "workers": 0},
        "loss": {"name": "ce", "weights": [1, 5, 5]},
        "optim": {"lr": 0.01, "weight_decay": 0.0},
        "train": {"batch_size": 2, "max_steps": 8, "log_every_steps": 2, "ckpt_every_steps": 2, **train},
        "runtime": {"accelerator": "cpu"},
    }


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 64x48 frames (train = val)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def trained_run(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A tiny U-Net trained to overfit the four frames (shared by the overfit, eval and predict tests)."""
    from handseg.engine.train import train

    run_dir = tmp_path_factory.mktemp("run") / "overfit"
    result = train(make_tiny_config(tiny_dataset, max_steps=100, val_every_steps=50), run_dir, progress=False)
    return run_dir, result


@pytest.fixture(scope="session")
def tiny_config():
    """The config factory make_tiny_config (tests cannot import conftest under importlib mode)."""
    return make_tiny_config


@pytest.fixture(scope="session")
def write_dataset():
    """The dataset writer write_tiny_dataset."""
    return write_tiny_dataset
