"""Score the hand without its forearm: the label convention of real datasets whose hand masks stop at the wrist.

handseg labels a hand and its forearm as "hand" (DESIGN section 3). DexYCB's MANO masks have no forearm, so its
handseg-v1 copy marks the forearm "ignore"; a synthetic score that counts the forearm (large, easy pixels) is
then not comparable with the real one. `IgnoreForearm` wraps a reader so that hand pixels outside every part map
(palm and fingers, 1..16) become IGNORE_INDEX: the synthetic frames are scored by the real frames' rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handseg.data.format import IGNORE_INDEX, Sample
from handseg.errors import DataError

HAND = 1


def ignore_forearm(sample: Sample) -> Sample:
    """A copy of `sample` whose hand pixels covered by no part map of either hand are labelled ignore.

    Part maps are amodal, so a pixel of one hand's forearm over the other hand's hidden fingers stays "hand": the
    rule can only keep too much, never drop a finger. Frames without a label are returned unchanged.
    """
    label = sample.get("label")
    if label is None:
        return sample
    parts = sample.get("parts")
    if parts is None:
        raise DataError(
            f"frame {sample['id']}", "has no part maps, so its forearm cannot be told from its hand (--ignore-forearm)"
        )
    palm_or_fingers = np.asarray(parts).max(axis=0) > 0
    out = dict(sample)
    out["label"] = np.where((np.asarray(label) == HAND) & ~palm_or_fingers, IGNORE_INDEX, label)
    return out  # type: ignore[return-value]


class IgnoreForearm:
    """A reader whose samples have their forearm pixels labelled ignore (see `ignore_forearm`)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> Sample:
        return ignore_forearm(self.reader[index])

    def __getattr__(self, name: str) -> Any:  # ids, intrinsics, manifest, ...: the wrapped reader's
        if name == "reader":  # not set yet (unpickling in a loader worker): no recursion
            raise AttributeError(name)
        return getattr(self.reader, name)
