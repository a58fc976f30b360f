"""The forearm convention of real datasets: hand pixels outside every part map are not scored."""

from __future__ import annotations

import numpy as np
import pytest

from handseg.data.forearm import IgnoreForearm, ignore_forearm
from handseg.data.format import IGNORE_INDEX
from handseg.errors import DataError


def _sample(parts: np.ndarray | None) -> dict:
    label = np.zeros((4, 6), np.int64)
    label[1:3, 0:4] = 1  # a hand (columns 0-1) and its forearm (columns 2-3)
    label[1:3, 5] = 2  # an object
    label[0, 0] = IGNORE_INDEX
    return {"id": "f7", "depth": np.ones((4, 6), np.float32), "label": label, "parts": parts}


def test_hand_pixels_without_a_part_become_ignore_and_the_rest_stays() -> None:
    parts = np.zeros((2, 4, 6), np.int64)
    parts[1, 1:3, 0] = 1  # right palm
    parts[0, 1:3, 1] = 5  # left index finger: either hand's parts count
    out = ignore_forearm(_sample(parts))
    expected = _sample(parts)["label"]
    expected[1:3, 2:4] = IGNORE_INDEX
    np.testing.assert_array_equal(out["label"], expected)
    assert (_sample(parts)["label"][1:3, 2:4] == 1).all()  # the input is not changed in place


def test_a_frame_without_part_maps_is_refused_by_name() -> None:
    with pytest.raises(DataError, match="frame f7: has no part maps"):
        ignore_forearm(_sample(None))


def test_unlabelled_frames_pass_through() -> None:
    sample = {"id": "u", "depth": np.ones((2, 2), np.float32), "label": None, "parts": None}
    assert ignore_forearm(sample) is sample


def test_the_reader_wrapper_keeps_ids_length_and_attributes() -> None:
    class Reader:
        def __init__(self) -> None:
            self.ids = ["f7"]
            self.intrinsics = "K"

        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int) -> dict:
            parts = np.zeros((2, 4, 6), np.int64)
            return _sample(parts)

    wrapped = IgnoreForearm(Reader())
    assert len(wrapped) == 1 and wrapped.ids == ["f7"] and wrapped.intrinsics == "K"
    label = wrapped[0]["label"]
    assert not (label == 1).any() and (label == 2).sum() == 2
