"""Tiny models, checkpoints and recordings for the export/stream/bench tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

TINY = {"backbone": "resnet18", "backbone_width": 8, "aspp_channels": 8}


def tiny_config(name: str = "dense_attention_seg", modality: str = "depth") -> dict[str, Any]:
    """A checkpoint config following engine/checkpoint.py's contract."""
    in_ch = {"depth": 1, "rgb": 3, "rgbd": 4}[modality]
    model = {"name": name, "in_channels": in_ch, "num_classes": 3, **TINY}
    if name.startswith("dense_attention_seg"):
        model["k"] = 8
    return {"model": model, "task": "segmentation", "data": {"modality": modality}}


def tiny_model(name: str = "dense_attention_seg", modality: str = "depth", seed: int = 0) -> tuple[Any, dict]:
    """A randomly initialised tiny model (eval mode, BN statistics perturbed so outputs vary) and its config."""
    from handseg.models import build_model

    torch.manual_seed(seed)
    config = tiny_config(name, modality)
    spec = dict(config["model"])
    model = build_model(spec.pop("name"), **spec)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval(), config


def write_checkpoint(path: Path, name: str = "dense_attention_seg", modality: str = "depth") -> Path:
    """A checkpoint dict written by hand: {"model": state_dict, "config": ...}."""
    model, config = tiny_model(name, modality)
    torch.save({"model": model.state_dict(), "config": config}, path)
    return path


@pytest.fixture
def tiny() -> Any:
    """tiny_model as a fixture."""
    return tiny_model


@pytest.fixture
def tiny_ckpt(tmp_path: Path) -> Path:
    """A tiny depth checkpoint file."""
    return write_checkpoint(tmp_path / "tiny.ckpt")


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    """A 5-frame 64x48 depth+color .db3 recording made with pyrealsense2's software device."""
    pytest.importorskip("pyrealsense2", exc_type=ImportError)  # libusb missing: skip, with the reason
    from handseg.data.format import Intrinsics
    from handseg.data.realsense import write_recording

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    frames = []
    for i in range(5):
        depth = (0.5 + 0.003 * xx + 0.002 * yy + 0.02 * i).astype(np.float32)
        depth[rng.random((48, 64)) < 0.05] = 0.0
        frames.append((depth, rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)))
    return write_recording(tmp_path / "rec.db3", frames, Intrinsics(64, 48, 50.0, 50.0, 31.5, 23.5))
