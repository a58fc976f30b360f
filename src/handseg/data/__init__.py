"""Datasets: the handseg-v1 format, readers of other formats, the synthetic generator, transforms."""

from handseg.data.format import (
    CLASSES,
    IGNORE_INDEX,
    NUM_CLASSES,
    NUM_PARTS,
    PART_NAMES,
    PARTS_PER_HAND,
    DatasetWriter,
    HandsegDataset,
    Intrinsics,
    Manifest,
    Sample,
)

__all__ = [
    "CLASSES",
    "IGNORE_INDEX",
    "NUM_CLASSES",
    "NUM_PARTS",
    "PARTS_PER_HAND",
    "PART_NAMES",
    "DatasetWriter",
    "HandsegDataset",
    "Intrinsics",
    "Manifest",
    "Sample",
]
