"""Metrics: streaming confusion matrix (FCN definitions), boundary F-score, amodal part mIoU."""

from handseg.metrics.confusion import ConfusionMatrix, scores_from_confusion

__all__ = ["ConfusionMatrix", "scores_from_confusion"]
