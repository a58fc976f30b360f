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
from handseg.registry import Registry


def _amodal_ce(**kwargs: Any) -> nn.Module:
    outer, inner = amodal_kwargs(kwargs)
    inner.setdefault("weights", None)
    return AmodalLoss(CrossEntropyLoss(**inner), **outer)


def _amodal_dice_ce(**kwargs: Any) -> nn.Module:
    outer, inner = amodal_kwargs(kwargs)
    return AmodalLoss(DiceCELoss(**inner), **outer)


LOSSES: Registry[Callable[..., nn.Module]] = Registry("loss")
for _name, _builder in (
    ("ce", CrossEntropyLoss),
    ("contour", ContourLoss),
    ("ce_contour", CEContourLoss),
    ("dice", DiceLoss),
    ("dice_ce", DiceCELoss),
    ("focal", FocalLoss),
    ("jaccard", JaccardLoss),
    ("topk_ce", TopKCrossEntropyLoss),
    ("amodal_ce", _amodal_ce),
    ("amodal_dice_ce", _amodal_dice_ce),
):
    LOSSES.register(_name, _builder)


def register_loss(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a loss class or builder under its config name (loss.name)."""
    return LOSSES.register(name)


def list_losses() -> list[str]:
    """The names build_loss accepts."""
    return LOSSES.names()


def build_loss(name: str, **kwargs: Any) -> nn.Module:
    """The loss `name` (see list_losses) built with kwargs; called as loss(logits, target)."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(list_losses())}")
    try:
        return LOSSES.get(name)(**kwargs)
    except TypeError as err:
        raise ConfigError(f"loss {name!r}: bad arguments {sorted(kwargs)}: {err}") from None
