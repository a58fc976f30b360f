"""Losses: weighted CE, contour loss, Dice, focal, Jaccard, top-k CE; build_loss(name, **cfg)."""

from handseg.losses.amodal import AmodalLoss
from handseg.losses.ce import PAPER_WEIGHTS, CrossEntropyLoss
from handseg.losses.contour import CEContourLoss, ContourLoss, contour_loss_from_probs, contour_map, sobel_edges
from handseg.losses.dice import DiceCELoss, DiceLoss
from handseg.losses.focal import FocalLoss
from handseg.losses.jaccard import JaccardLoss
from handseg.losses.registry import LOSSES, build_loss, list_losses, register_loss
from handseg.losses.topk import TopKCrossEntropyLoss

__all__ = [
    "LOSSES",
    "PAPER_WEIGHTS",
    "AmodalLoss",
    "CEContourLoss",
    "ContourLoss",
    "CrossEntropyLoss",
    "DiceCELoss",
    "DiceLoss",
    "FocalLoss",
    "JaccardLoss",
    "TopKCrossEntropyLoss",
    "build_loss",
    "contour_loss_from_probs",
    "contour_map",
    "list_losses",
    "register_loss",
    "sobel_edges",
]
