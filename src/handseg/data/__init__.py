"""Datasets: the handseg-v1 format, readers of other formats, the synthetic generator, transforms."""

from handseg.data.format import (
    CLASSES,
    IGNORE_INDEX,
    NUM_PARTS,
    PART_NAMES,
    DatasetWriter,
    HandsegDataset,
    Intrinsics,
    Manifest,
    Sample,
)

__all__ = [
    "CLASSES",
    "IGNORE_INDEX",
    "NUM_PARTS",
    "PART_NAMES",
    "DatasetWriter",
    "HandsegDataset",
    "Intrinsics",
    "Manifest",
    "Sample",
]
