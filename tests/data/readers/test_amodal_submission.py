"""Packing amodal predictions for the course server: LMDB of PNGs + tar.gz, read back exactly."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from handseg.data.readers.amodal_submission import read_submission, write_submission
from handseg.data.readers.lmdb_io import LmdbStore
from handseg.errors import DataError, HandsegError, OutputExistsError
from handseg.utils.io import decode_png


def _predictions(n: int = 3, size: int = 16) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {f"test/Capture0/seq/cam{i}/image{i:04d}": rng.integers(0, 17, size=(2, size, size)) for i in range(n)}


@pytest.mark.parametrize("left_offset", [0, 16])
def test_round_trip_through_tar(tmp_path: Path, left_offset: int) -> None:
    preds = _predictions()
    tar_path = write_submission(tmp_path / "test.lmdb", preds, left_offset=left_offset)
    assert tar_path == tmp_path / "test.lmdb.tar.gz"
    with tarfile.open(tar_path) as tar:
        names = set(tar.getnames())
    assert {"test.lmdb/data.mdb", "test.lmdb/im_path.pt"} <= names
    for source in (tar_path, tmp_path / "test.lmdb"):
        back = read_submission(source)
        assert list(back) == list(preds)
        for key, maps in preds.items():
            np.testing.assert_array_equal(back[key], maps)
    order = torch.load(tmp_path / "test.lmdb" / "im_path.pt", weights_only=True)
    assert order == [f"{k}.jpg" for k in preds]


def test_stored_png_has_three_equal_channels_and_course_values(tmp_path: Path) -> None:
    preds = _predictions(n=1)
    key, maps = next(iter(preds.items()))
    write_submission(tmp_path / "test.lmdb", preds)
    store = LmdbStore(tmp_path / "test.lmdb")
    left = decode_png(store.get(f"{key}__l"), "l")
    right = decode_png(store.get(f"{key}__r"), "r")
    store.close()
    assert left.shape == (16, 16, 3) and left.dtype == np.uint8
    assert (left == left[..., :1]).all() and (right == right[..., :1]).all()
    np.testing.assert_array_equal(left[..., 0], maps[0])  # course packer: no +16 on the left hand
    np.testing.assert_array_equal(right[..., 0], maps[1])


def test_refuses_overwrite_and_bad_input(tmp_path: Path) -> None:
    preds = _predictions(n=1)
    write_submission(tmp_path / "test.lmdb", preds)
    with pytest.raises(OutputExistsError):
        write_submission(tmp_path / "test.lmdb", preds)
    write_submission(tmp_path / "test.lmdb", _predictions(n=2), force=True)
    assert len(read_submission(tmp_path / "test.lmdb.tar.gz")) == 2
    with pytest.raises(HandsegError, match="part ids"):
        write_submission(tmp_path / "b.lmdb", {"a": np.full((2, 4, 4), 17)})
    with pytest.raises(HandsegError, match="2 x H x W"):
        write_submission(tmp_path / "c.lmdb", {"a": np.zeros((4, 4), np.int64)})
    with pytest.raises(HandsegError, match="bad submission key"):
        write_submission(tmp_path / "d.lmdb", {"é": np.zeros((2, 4, 4), np.int64)})
    with pytest.raises(HandsegError, match="no predictions"):
        write_submission(tmp_path / "e.lmdb", {})


def test_damaged_archive_is_a_data_error(tmp_path: Path) -> None:
    tar_path = write_submission(tmp_path / "test.lmdb", _predictions(n=2))
    data = tar_path.read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.tar\.gz"):
        read_submission(tmp_path / "cut.tar.gz")
    (tmp_path / "junk.tar.gz").write_bytes(b"junk")
    with pytest.raises(DataError):
        read_submission(tmp_path / "junk.tar.gz")
