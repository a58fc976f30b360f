"""Readers of public hand datasets, all yielding handseg.data.format.Sample; auto-detection and conversion."""

from __future__ import annotations

from handseg.data.readers.base import READERS, Reader, detect_format, open_dataset, register_reader
from handseg.data.readers.convert import convert
from handseg.data.readers.dexycb import DexYCBReader
from handseg.data.readers.eth_amodal import EthAmodalReader
from handseg.data.readers.handseg_bojja import HandSegReader
from handseg.data.readers.handseg_v1 import HandsegV1Reader
from handseg.data.readers.nyu import NYUReader
from handseg.data.readers.rhd import RHDReader

__all__ = [
    "READERS",
    "DexYCBReader",
    "EthAmodalReader",
    "HandSegReader",
    "HandsegV1Reader",
    "NYUReader",
    "RHDReader",
    "Reader",
    "convert",
    "detect_format",
    "open_dataset",
    "register_reader",
]
