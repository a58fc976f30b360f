"""Parameter and FLOP counts: FLOPs of convolutions, deconvolutions and matmuls via torch's FlopCounterMode."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_shape: tuple[int, ...], device: str | torch.device = "meta") -> int:
    """FLOPs (2 per multiply-accumulate) of one eval-mode forward on a zero input of `input_shape`.

    On the default "meta" device nothing is computed: the model is copied to meta tensors first, so counting a
    ResNet-50 model at 640x480 takes a fraction of a second.
    """
    was_training = model.training
    model.eval()
    try:
        if str(device) == "meta":
            model = _to_meta(model)
        x = torch.zeros(input_shape, device=device)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(x)
        return int(counter.get_total_flops())
    finally:
        model.train(was_training)


def _to_meta(model: nn.Module) -> nn.Module:
    """A meta-device copy of `model` (no data), for shape-only passes."""
    meta = copy.deepcopy(model) if not _is_meta(model) else model
    return meta.to("meta")


def _is_meta(model: nn.Module) -> bool:
    """Whether every parameter already lives on the meta device."""
    return all(p.is_meta for p in model.parameters())
