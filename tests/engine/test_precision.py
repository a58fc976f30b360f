"""bf16 autocast on the CPU and channels_last in the training loop: what actually runs in the convolutions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import handseg.engine.train as train_module
from handseg.engine.checkpoint import read_checkpoint
from handseg.engine.train import train


def spy_on_convs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record, for every Conv2d call of the model the Trainer builds: mode, input/output dtype, memory format."""
    calls: list[dict[str, Any]] = []
    build = train_module.build_model_from_config

    def hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        x = inputs[0]
        calls.append({
            "training": module.training,
            "in": x.dtype,
            "out": output.dtype,
            "weight": module.weight.dtype,
            "channels_last": x.shape[1] > 1 and x.is_contiguous(memory_format=torch.channels_last),
            "nchw": x.shape[1] > 1 and x.is_contiguous(),
        })  # fmt: skip

    def spied(config: dict) -> torch.nn.Module:
        model = build(config)
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.register_forward_hook(hook)
        return model

    monkeypatch.setattr(train_module, "build_model_from_config", spied)
    return calls


def test_bf16_mixed_autocasts_forward_with_fp32_weights(
    tiny_dataset: Path, tmp_path: Path, tiny_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_on_convs(monkeypatch)
    losses: list[tuple[torch.dtype, torch.dtype]] = []
    build_loss = train_module.build_loss

    def spied_loss(name: str, **kwargs: Any) -> torch.nn.Module:
        module = build_loss(name, **kwargs)
        module.register_forward_hook(lambda m, inputs, out: losses.append((inputs[0].dtype, out.dtype)))
        return module

    monkeypatch.setattr(train_module, "build_loss", spied_loss)
    config = tiny_config(tiny_dataset, max_steps=2, val_every_steps=2, channels_last=True)
    config["runtime"]["precision"] = "bf16-mixed"
    result = train(config, tmp_path / "run", progress=False)
    training = [c for c in calls if c["training"]]
    evaluating = [c for c in calls if not c["training"]]
    assert training and evaluating
    for phase in (training, evaluating):  # the forward of both runs in bf16 on fp32 master weights
        assert all(c["out"] == torch.bfloat16 and c["weight"] == torch.float32 for c in phase)
    # channels_last reaches the convolutions (multi-channel inputs; a 1-channel input is both formats)
    multi = [c for c in training if c["channels_last"] or c["nchw"]]
    assert multi and all(c["channels_last"] for c in multi)
    ckpt = read_checkpoint(tmp_path / "run" / "last.ckpt")
    assert all(v.dtype == torch.float32 for v in ckpt["model"].values() if v.is_floating_point())
    assert losses and all(logits == torch.float32 and loss == torch.float32 for logits, loss in losses)
    assert result["last"]["loss"] == pytest.approx(result["last"]["loss"])  # finite, not NaN


def test_fp32_nchw_stays_fp32_and_nchw(
    tiny_dataset: Path, tmp_path: Path, tiny_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_on_convs(monkeypatch)
    train(tiny_config(tiny_dataset, max_steps=1, val_every_steps=0), tmp_path / "run", progress=False)
    assert calls and all(c["out"] == torch.float32 for c in calls)
    multi = [c for c in calls if c["channels_last"] or c["nchw"]]
    assert multi and not any(c["channels_last"] and not c["nchw"] for c in multi)
