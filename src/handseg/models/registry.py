"""The model registry: @register_model("name", task=...) on a builder; build_model(name, **kwargs)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from handseg.errors import ConfigError

TASKS = ("segmentation", "amodal")


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its builder, task and one-line description."""

    name: str
    builder: Callable[..., nn.Module]
    task: str
    description: str


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str, task: str = "segmentation"
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a class or function that builds a model from keyword arguments."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        doc = (inspect.getdoc(builder) or "").strip().splitlines()
        _REGISTRY[name] = ModelEntry(name, builder, task, doc[0] if doc else "")
        return builder

    return decorator


def list_models(task: str | None = None) -> list[str]:
    """Registered model names (sorted), optionally only those of one task."""
    return sorted(n for n, e in _REGISTRY.items() if task is None or e.task == task)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of `name`; ConfigError listing the known names if unknown."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _REGISTRY[name]


def build_model(name: str, *, weights: str | None = None, **kwargs: Any) -> nn.Module:
    """Build the registered model `name` with its keyword arguments (in_channels, num_classes, backbone, ...).

    `weights` names a zoo model of this architecture: its card's build options are the defaults (`kwargs`
    override them) and its checked weights are loaded; the model is returned in train mode as any built model.
    """
    if weights is not None:
        from handseg.zoo.store import get_model, load_state_into

        zoo = get_model(weights)
        if zoo.card["model"]["name"] != name:
            raise ConfigError(f"zoo model {weights!r} is a {zoo.card['model']['name']!r}, not a {name!r}")
        return load_state_into(build_model(name, **{**zoo.card["model"]["kwargs"], **kwargs}), zoo)
    entry = model_entry(name)
    params = inspect.signature(entry.builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            known = ", ".join(p for p in params if p != "self")
            raise ConfigError(f"model {name!r} has no option(s) {', '.join(unknown)}; options: {known}")
    return entry.builder(**kwargs)
