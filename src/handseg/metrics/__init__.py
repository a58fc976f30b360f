"""Metrics: streaming confusion matrix (FCN definitions), boundary F-score, amodal part mIoU."""

from handseg.metrics.amodal import AmodalPartIoU, amodal_part_iou, hidden_mask
from handseg.metrics.boundary import BoundaryFScore, boundary_counts, boundary_fscore, boundary_map
from handseg.metrics.confusion import ConfusionMatrix, scores_from_confusion

__all__ = [
    "AmodalPartIoU",
    "BoundaryFScore",
    "ConfusionMatrix",
    "amodal_part_iou",
    "boundary_counts",
    "boundary_fscore",
    "boundary_map",
    "hidden_mask",
    "scores_from_confusion",
]
