"""Metrics: streaming confusion matrix (FCN definitions), boundary F-score, amodal part mIoU."""
