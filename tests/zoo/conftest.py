"""A tiny checkpoint (untrained DenseAttentionSeg, 64x48) published into a temporary zoo on HANDSEG_ZOO_PATH."""

from __future__ import annotations

from pathlib import Path

import pytest


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
def published(tmp_path_factory: pytest.TempPathFactory, tiny_ckpt: Path) -> Path:
    """A zoo folder with 'tiny' (fp32) and 'tiny16' (fp16) published from tiny_ckpt."""
    from handseg.zoo import publish

    folder = tmp_path_factory.mktemp("zoo")
    publish(tiny_ckpt, name="tiny", out=folder)
    publish(tiny_ckpt, name="tiny16", out=folder, fp16=True)
    return folder


@pytest.fixture()
def zoo(published: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The published zoo folder, first on HANDSEG_ZOO_PATH for this test."""
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(published))
    return published


@pytest.fixture(scope="session")
def checkpoint_factory():
    """make_checkpoint (tests cannot import conftest under importlib mode)."""
    return make_checkpoint
