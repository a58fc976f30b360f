"""build_loss(name, **kwargs): every loss by its config name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from handseg.errors import ConfigError
from handseg.losses.amodal import AmodalLoss, amodal_kwargs
from handseg.losses.ce import CrossEntropyLoss
from handseg.losses.contour import CEContourLoss, ContourLoss
from handseg.losses.dice import DiceCELoss, DiceLoss
from handseg.losses.focal import FocalLoss
from handseg.losses.jaccard import JaccardLoss
from handseg.losses.topk import TopKCrossEntropyLoss


def _amodal_ce(**kwargs: Any) -> nn.Module:
    outer, inner = amodal_kwargs(kwargs)
    inner.setdefault("weights", None)
    return AmodalLoss(CrossEntropyLoss(**inner), **outer)


def _amodal_dice_ce(**kwargs: Any) -> nn.Module:
    outer, inner = amodal_kwargs(kwargs)
    return AmodalLoss(DiceCELoss(**inner), **outer)


LOSSES: dict[str, Callable[..., nn.Module]] = {
    "ce": CrossEntropyLoss,
    "contour": ContourLoss,
    "ce_contour": CEContourLoss,
    "dice": DiceLoss,
    "dice_ce": DiceCELoss,
    "focal": FocalLoss,
    "jaccard": JaccardLoss,
    "topk_ce": TopKCrossEntropyLoss,
    "amodal_ce": _amodal_ce,
    "amodal_dice_ce": _amodal_dice_ce,
}


def list_losses() -> list[str]:
    """The names build_loss accepts."""
    return sorted(LOSSES)


def build_loss(name: str, **kwargs: Any) -> nn.Module:
    """The loss `name` (see list_losses) built with kwargs; called as loss(logits, target)."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(list_losses())}")
    try:
        return LOSSES[name](**kwargs)
    except TypeError as err:
        raise ConfigError(f"loss {name!r}: bad arguments {sorted(kwargs)}: {err}") from None
