"""Optimizer and learning-rate schedule from a config: Adam(lr, weight decay) and StepLR x gamma every N steps."""

from __future__ import annotations

from typing import Any

import torch

from handseg.errors import ConfigError


def build_optimizer(params: Any, optim: dict[str, Any]) -> torch.optim.Optimizer:
    """The config's optimizer (adam, adamw or sgd with momentum 0.9)."""
    name, lr, wd = optim["name"], float(optim["lr"]), float(optim["weight_decay"])
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd, momentum=0.9)
    raise ConfigError(f"optim.name: unknown optimizer {name!r}")


def build_scheduler(optimizer: torch.optim.Optimizer, schedule: dict[str, Any]) -> torch.optim.lr_scheduler.StepLR:
    """StepLR stepped once per optimisation step: lr x gamma every step_size steps (paper: x0.8 every 80k)."""
    return torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=int(schedule["step_size"]), gamma=float(schedule["gamma"])
    )
