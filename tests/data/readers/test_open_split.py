"""Training reads any registered reader: data.format (checked), open_split of a split, ensure_dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_readers import SMALL, build_handseg_v1, build_rhd

from handseg.config import validate
from handseg.data.format import HandsegDataset, Intrinsics
from handseg.data.readers.base import ReaderSplit, open_split
from handseg.errors import ConfigError, DataError


def test_data_format_is_auto_by_default_and_checked_against_the_registry() -> None:
    assert validate({})["data"]["format"] == "auto"
    assert validate({"data": {"format": "rhd"}})["data"]["format"] == "rhd"
    with pytest.raises(ConfigError, match=r"data.format: expected auto or one of handseg-v1, .*rhd.*, got 'tiff'"):
        validate({"data": {"format": "tiff"}})


RHD = Intrinsics(**{**SMALL.to_dict(), "depth_scale_m": 5 / 65535})  # the small fixture frames' camera


def test_a_split_of_another_format_reads_as_samples(tmp_path: Path) -> None:
    expected = build_rhd(tmp_path / "rhd", frames=3)
    for fmt in ("auto", "rhd"):
        train = open_split(tmp_path / "rhd", "train", format=fmt, intrinsics=RHD)
        assert isinstance(train, ReaderSplit)
        assert train.ids == sorted(k for k, v in expected.items() if v["split"] == "train") and len(train) == 2
        sample = train[1]
        assert sample["id"] == train.ids[1] and sample["depth"].shape == expected[train.ids[1]]["mask"].shape
    with pytest.raises(DataError, match=r"rhd dataset has no split 'val' \(splits: test, train\)"):
        open_split(tmp_path / "rhd", "val", format="rhd")


def test_a_handseg_v1_split_is_read_directly(tmp_path: Path) -> None:
    build_handseg_v1(tmp_path / "v1")
    split = open_split(tmp_path / "v1", "train", skip=("color",))
    assert isinstance(split, HandsegDataset) and split.skip == {"color"}


def test_ensure_dataset_takes_a_folder_of_another_format(tmp_path: Path) -> None:
    from handseg.engine.runtime import ensure_dataset

    build_rhd(tmp_path / "rhd", frames=2)
    assert ensure_dataset(validate({"data": {"root": str(tmp_path / "rhd")}})) == tmp_path / "rhd"
    with pytest.raises(DataError, match="dataset not found"):
        ensure_dataset(validate({"data": {"root": str(tmp_path / "missing")}}))
