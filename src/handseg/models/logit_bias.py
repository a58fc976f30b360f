"""A constant per-class offset added to a model's logits at inference (`model.logit_bias` in a config or card).

Why: a class-weighted cross-entropy (the paper's 1/5/5) moves the decision towards the weighted classes: where a
pixel is hand with probability p, the weighted loss is lowest when the model calls it hand as soon as 5p > 1 - p,
i.e. p > 1/6. Adding -tau * log(weight) to each class's logit at inference undoes that shift (tau 1: the decision
of the unweighted loss; Menon et al., "Long-tail learning via logit adjustment", ICLR 2021). Training never sees
the offset (the model is trained as configured); validation, evaluation, prediction and export do, so every figure
and every exported graph describes the same decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from handseg.errors import ConfigError


def prior_correction(weights: Sequence[float], tau: float) -> list[float]:
    """The logit offsets -tau * log(w / w_0) that undo a class-weighted loss's prior shift (class 0 keeps 0)."""
    if not weights or any(not math.isfinite(float(w)) or float(w) <= 0 for w in weights):
        raise ConfigError(f"class weights must be positive numbers, got {list(weights)!r}")
    if not math.isfinite(tau) or tau < 0:
        raise ConfigError(f"tau must be a finite number >= 0, got {tau!r}")
    base = math.log(float(weights[0]))
    return [round(-tau * (math.log(float(w)) - base), 6) + 0.0 for w in weights]  # + 0.0: no -0.0


def check_logit_bias(bias: Any, num_classes: int | None, model_name: str) -> list[float]:
    """`bias` as a list of finite floats, one per output channel (when the channel count is known)."""
    if isinstance(bias, str | bytes) or not isinstance(bias, Sequence):
        raise ConfigError(f"model {model_name!r}: logit_bias must be a list of numbers, got {bias!r:.80}")
    try:
        values = [float(b) for b in bias]
    except (TypeError, ValueError):
        raise ConfigError(f"model {model_name!r}: logit_bias must be a list of numbers, got {bias!r:.80}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"model {model_name!r}: logit_bias must hold finite numbers, got {values!r:.80}")
    if num_classes is not None and len(values) != num_classes:
        raise ConfigError(
            f"model {model_name!r}: logit_bias has {len(values)} values, the model has {num_classes} output channels"
        )
    return values


def _add_in_eval(module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
    """Forward hook: logits + the offset, in eval mode only."""
    if module.training:
        return output
    bias = module.get_buffer("logit_bias")
    if not torch.jit.is_tracing() and output.shape[1] != bias.shape[1]:  # a traced graph keeps no check
        raise ConfigError(f"logit_bias has {bias.shape[1]} values, the model put out {output.shape[1]} channels")
    return output + bias.to(output.dtype)


def add_logit_bias(model: nn.Module, bias: Sequence[float]) -> nn.Module:
    """`model` with `bias` added to its logits in eval mode; its state dict is unchanged (the offset lives in the
    config), so weights saved with or without an offset load into either."""
    model.register_buffer(
        "logit_bias", torch.tensor(list(bias), dtype=torch.float32).view(1, -1, 1, 1), persistent=False
    )
    model.register_forward_hook(_add_in_eval)
    return model


def set_logit_bias(model: nn.Module, bias: Sequence[float]) -> nn.Module:
    """Give a built model the offset `bias`, replacing the one it has (e.g. to compare offsets on one model)."""
    if "logit_bias" not in dict(model.named_buffers()):
        return add_logit_bias(model, bias)
    current = model.get_buffer("logit_bias")
    if current.shape[1] != len(bias):
        raise ConfigError(f"logit_bias has {len(bias)} values, the model's offset has {current.shape[1]}")
    current.copy_(torch.tensor(list(bias), dtype=current.dtype).view(1, -1, 1, 1))
    return model
