"""The model registry: @register_model("name", task=...) on a builder; build_model(name, **kwargs)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from handseg.errors import ConfigError
from handseg.models.logit_bias import add_logit_bias, check_logit_bias
from handseg.registry import TASKS as TASK_REGISTRY
from handseg.registry import Registry

TASKS = ("segmentation", "amodal")


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its builder, task and one-line description."""

    name: str
    builder: Callable[..., nn.Module]
    task: str
    description: str


MODELS: Registry[Callable[..., nn.Module]] = Registry("model", discover=("handseg.models",))
# Where build_model(weights=...) finds weights: (model name, weights name, build options) -> model. The zoo
# registers "zoo" (handseg.zoo.store); a lower layer cannot import it, so the registry discovers it.
WEIGHTS: Registry[Callable[..., nn.Module]] = Registry("weights source", discover=("handseg.zoo.store",))


def register_model(
    name: str, task: str = "segmentation", *, description: str | None = None, **defaults: Any
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a class or function that builds a model from keyword arguments.

    `defaults` fix options of this entry (a variant: `register_model("x_noattn", attention=False)(X)`); they
    are not options a config may set. `description` replaces the first line of the builder's docstring.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.register(name, _fixed(builder, defaults, description) if defaults else builder, task=task)
        if description is not None:
            MODELS.describe(name, description)
        return builder

    return decorator


def _fixed(
    builder: Callable[..., nn.Module], defaults: dict[str, Any], description: str | None
) -> Callable[..., nn.Module]:
    """`builder` with `defaults` fixed; its signature (for option checks) lists the other options only."""

    def build(**kwargs: Any) -> nn.Module:
        return builder(**defaults, **kwargs)

    params = [p for p in inspect.signature(builder).parameters.values() if p.name not in defaults]
    build.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    build.__doc__ = description or builder.__doc__
    build.__name__ = build.__qualname__ = getattr(builder, "__name__", "build")
    return build


def list_models(task: str | None = None) -> list[str]:
    """Registered model names (sorted), optionally only those of one task."""
    return MODELS.names() if task is None else MODELS.names(task=task)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of `name`; ConfigError listing the known names if unknown."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    entry = MODELS.entry(name)
    return ModelEntry(name, entry.obj, entry.info["task"], entry.description)


def model_io(name: str, modality: str | None = None) -> tuple[int, int]:
    """(in_channels, num_classes) of the registered model `name`: its task's classes, `modality`'s channels
    (default: the task's own modality, depth for segmentation, rgb for amodal)."""
    return TASK_REGISTRY.get(model_entry(name).task).io(modality)


def checked_logit_bias(name: str, bias: Any, kwargs: dict[str, Any]) -> list[float]:
    """`bias` checked as a logit offset of model `name` built with `kwargs` (one finite number per output channel)."""
    return check_logit_bias(bias, kwargs.get("num_classes", model_io(name)[1]), name)


def build_model(name: str, *, weights: str | None = None, **kwargs: Any) -> nn.Module:
    """Build the registered model `name` with its keyword arguments (in_channels, num_classes, backbone, ...).

    `weights` names a zoo model of this architecture: its card's build options are the defaults (`kwargs`
    override them) and its checked weights are loaded; the model is returned in train mode as any built model.
    `logit_bias` (any model): one number per output channel added to the logits in eval mode
    (handseg.models.logit_bias).
    """
    if weights is not None:
        return WEIGHTS.get("zoo")(name, weights, kwargs)
    entry = model_entry(name)
    logit_bias = kwargs.pop("logit_bias", None)
    if logit_bias is not None:
        logit_bias = checked_logit_bias(name, logit_bias, kwargs)
    params = inspect.signature(entry.builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            known = ", ".join(p for p in params if p != "self")
            raise ConfigError(f"model {name!r} has no option(s) {', '.join(unknown)}; options: {known}")
    model = entry.builder(**kwargs)
    return model if logit_bias is None else add_logit_bias(model, logit_bias)
