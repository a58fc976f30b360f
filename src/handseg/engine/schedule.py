"""Optimizer and learning-rate schedule from a config: Adam(lr, weight decay) and a warm-up + decay schedule.

Every schedule is a closed-form factor of the optimisation step (lr = base lr x factor(step)), so a resumed run
recomputes exactly the lr an uninterrupted run would use. `warmup_steps` first raises the lr linearly (onecycle:
along a half cosine from lr / div_factor); the decay then runs over the remaining steps of the budget.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch

from handseg.config import DEFAULTS, check_schedule
from handseg.errors import ConfigError
from handseg.registry import OPTIMIZERS, SCHEDULES

Factor = Callable[[int], float]


# OPTIMIZERS: name -> (params, *, lr, weight_decay) -> optimizer
OPTIMIZERS.register("adam", torch.optim.Adam)
OPTIMIZERS.register("adamw", torch.optim.AdamW)
OPTIMIZERS.register("sgd", functools.partial(torch.optim.SGD, momentum=0.9))


def build_optimizer(params: Any, optim: dict[str, Any]) -> Any:
    """The config's optimizer (adam, adamw or sgd with momentum 0.9, or any registered in OPTIMIZERS)."""
    name, lr, wd = optim["name"], float(optim["lr"]), float(optim["weight_decay"])
    if name not in OPTIMIZERS:
        raise ConfigError(f"optim.name: unknown optimizer {name!r}")
    return OPTIMIZERS.get(name)(params, lr=lr, weight_decay=wd)


def _with_linear_warmup(decay: Callable[[int, int], float], spec: dict[str, Any], total: int) -> Factor:
    """Linear warm-up to factor 1 over warmup_steps, then `decay(t, T)` over the T steps after it."""
    warmup = int(spec["warmup_steps"])
    span = max(1, total - warmup)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return decay(min(step - warmup, span), span)

    return factor


def _step(spec: dict[str, Any], total: int) -> Factor:
    step_size, gamma = int(spec["step_size"]), float(spec["gamma"])
    return _with_linear_warmup(lambda t, span: gamma ** (t // step_size), spec, total)


def _cosine(spec: dict[str, Any], total: int) -> Factor:
    low = float(spec["min_lr_ratio"])
    return _with_linear_warmup(lambda t, span: low + (1 - low) * 0.5 * (1 + math.cos(math.pi * t / span)), spec, total)


def _poly(spec: dict[str, Any], total: int) -> Factor:
    low, power = float(spec["min_lr_ratio"]), float(spec["power"])
    return _with_linear_warmup(lambda t, span: low + (1 - low) * (1 - t / span) ** power, spec, total)


def _onecycle(spec: dict[str, Any], total: int) -> Factor:
    warmup = int(spec["warmup_steps"])
    start, end = 1 / float(spec["div_factor"]), 1 / float(spec["final_div_factor"])
    span = max(1, total - warmup)

    def cos_between(a: float, b: float, fraction: float) -> float:
        return b + (a - b) * 0.5 * (1 + math.cos(math.pi * fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return cos_between(start, 1.0, step / warmup)
        return cos_between(1.0, end, min(step - warmup, span) / span)

    return factor


# name -> (schedule spec, total steps) -> factor of the step
for _name, _factor in (("step", _step), ("cosine", _cosine), ("onecycle", _onecycle), ("poly", _poly)):
    SCHEDULES.register(_name, _factor)


class Schedule:
    """lr = base lr x factor(step) of a SCHEDULES entry; `step()` once per optimisation step.

    Its state (the schedule keys, the decay horizon and the step) goes into checkpoints; a resumed run takes the
    step from it and the horizon from its own budget, so extending the budget of a finished run stretches the
    decay instead of keeping the lr at its final value.
    """

    def __init__(self, optimizer: Any, spec: dict[str, Any], total_steps: int) -> None:
        check_schedule(spec)
        self.optimizer = optimizer
        self.spec = dict(spec)
        self.total_steps = int(spec["total_steps"] or total_steps)
        if self.spec["warmup_steps"] >= self.total_steps and self.spec["name"] != "step":
            raise ConfigError(
                f"schedule.warmup_steps: {self.spec['warmup_steps']} leaves no decay steps in a budget of "
                f"{self.total_steps}"
            )
        self.factor = SCHEDULES.get(self.spec["name"])(self.spec, self.total_steps)
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [float(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = 0  # optimisation steps taken (torch's name)
        self._apply()

    def _apply(self) -> None:
        scale = self.factor(self.last_epoch)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * scale

    def step(self) -> None:
        """Advance one optimisation step and set the lr of the next one."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The lr of every param group now."""
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Plain values only (no functions): schedule keys, horizon, step and base lrs."""
        return {
            "spec": dict(self.spec),
            "total_steps": self.total_steps,
            "last_epoch": self.last_epoch,
            "base_lrs": list(self.base_lrs),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume at the saved step (also from a torch StepLR state) with the lr this schedule gives there."""
        self.last_epoch = int(state_dict["last_epoch"])
        if "base_lrs" in state_dict:
            self.base_lrs = [float(v) for v in state_dict["base_lrs"]]
        self._apply()


def build_scheduler(optimizer: Any, schedule: dict[str, Any], total_steps: int = 1) -> Schedule:
    """The config's schedule over a budget of `total_steps` optimisation steps."""
    return Schedule(optimizer, {**DEFAULTS["schedule"], **schedule}, total_steps)
