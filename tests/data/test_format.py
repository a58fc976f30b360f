"""The handseg-v1 writer and reader: round trip and clear errors on malformed files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from handseg.data.format import DatasetWriter, HandsegDataset, Intrinsics, Manifest, dataset_digest
from handseg.errors import DataError, OutputExistsError
from handseg.utils.io import atomic_write_png


def _frame(rng: np.random.Generator, h: int = 24, w: int = 32) -> dict:
    label = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(h, w))
    parts = rng.integers(0, 17, size=(2, h, w)).astype(np.uint8)
    return {
        "depth": rng.integers(0, 2000, size=(h, w)).astype(np.uint16),
        "label": label,
        "color": rng.integers(0, 256, size=(h, w, 3)).astype(np.uint8),
        "parts": parts,
    }


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, dict]:
    rng = np.random.default_rng(0)
    manifest = Manifest(name="t", sensor=Intrinsics(width=32, height=24, fx=20, fy=20, cx=15.5, cy=11.5))
    writer = DatasetWriter(tmp_path / "ds", manifest)
    frames = {f"f{i:03d}": _frame(rng) for i in range(3)}
    for sample_id, frame in frames.items():
        writer.write(sample_id, scene={"seed": 1}, **frame)
    writer.finish({"train": ["f000", "f001"], "val": ["f002"]})
    return tmp_path / "ds", frames


def test_round_trip_keeps_every_field(dataset: tuple[Path, dict]) -> None:
    root, frames = dataset
    ds = HandsegDataset(root, "train")
    assert ds.ids == ["f000", "f001"]
    sample = ds[1]
    frame = frames["f001"]
    assert sample["depth"].dtype == np.float32
    np.testing.assert_allclose(sample["depth"], frame["depth"] * 0.001, rtol=1e-6)
    np.testing.assert_array_equal(sample["label"], frame["label"])
    np.testing.assert_array_equal(sample["color"], frame["color"])
    np.testing.assert_array_equal(sample["parts"], frame["parts"])
    assert sample["label"].dtype == np.int64 and sample["parts"].shape == (2, 24, 32)
    assert ds.scene("f001") == {"seed": 1}
    assert HandsegDataset(root, "val").ids == ["f002"]


def test_writer_refuses_non_empty_folder_without_force(dataset: tuple[Path, dict]) -> None:
    root, _ = dataset
    with pytest.raises(OutputExistsError, match="--force"):
        DatasetWriter(root, Manifest(name="again"))
    DatasetWriter(root, Manifest(name="again"), force=True)


def test_label_out_of_range_names_file(dataset: tuple[Path, dict]) -> None:
    root, _ = dataset
    atomic_write_png(root / "label" / "f000.png", np.full((24, 32), 7, np.uint8))
    with pytest.raises(DataError, match=r"label/f000.png: label values out of range: \[7\]"):
        HandsegDataset(root, "train")[0]


def test_truncated_png_names_file(dataset: tuple[Path, dict]) -> None:
    root, _ = dataset
    path = root / "depth" / "f001.png"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match=r"depth/f001.png: truncated PNG"):
        HandsegDataset(root, "train")[1]


def test_wrong_dtype_and_size_name_file(dataset: tuple[Path, dict]) -> None:
    root, _ = dataset
    atomic_write_png(root / "depth" / "f000.png", np.zeros((24, 32), np.uint8))
    with pytest.raises(DataError, match=r"f000.png: depth must be single-channel uint16"):
        HandsegDataset(root, "train")[0]
    atomic_write_png(root / "depth" / "f000.png", np.zeros((10, 32), np.uint16))
    with pytest.raises(DataError, match=r"size 32x10 does not match 32x24"):
        HandsegDataset(root, "train")[0]


def test_bad_manifest_is_reported(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="expected 'handseg-v1'"):
        HandsegDataset(tmp_path)
    with pytest.raises(DataError, match="nothing: not a folder"):
        HandsegDataset(tmp_path / "nothing")
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(DataError, match="manifest.json: missing: not a handseg-v1 dataset"):
        HandsegDataset(tmp_path)


def test_scaled_intrinsics_keep_the_field_of_view() -> None:
    half = Intrinsics().scaled(320, 240)
    assert half.fx == pytest.approx(237.5) and half.cx == pytest.approx(159.5)


def test_check_label_fast_path_still_refuses_bad_values() -> None:
    """Labels of 0..2 pass without the table lookup; 255 passes and 3..254 are refused either way."""
    from handseg.data.format import check_label

    label = np.zeros((4, 5), np.uint8)
    label[0, :3] = (0, 1, 2)
    check_label(label, "l.png", (4, 5))
    label[1, 1] = 255
    check_label(label, "l.png", (4, 5))
    label[2, 2] = 7
    with pytest.raises(DataError, match=r"l\.png: label values out of range: \[7\]"):
        check_label(label, "l.png", (4, 5))


def test_skip_leaves_colour_and_parts_unread(dataset: tuple[Path, dict]) -> None:
    root, frames = dataset
    sample = HandsegDataset(root, "train", skip=("color", "parts"))[0]
    assert sample["color"] is None and sample["parts"] is None
    np.testing.assert_array_equal(sample["label"], frames["f000"]["label"])
    with pytest.raises(ValueError, match="only color and parts"):
        HandsegDataset(root, "train", skip=("label",))


def test_dataset_digest_follows_the_depth_and_label_bytes_only(dataset: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = dataset
    copy = shutil.copytree(root, tmp_path / "copy")
    assert dataset_digest(copy) == dataset_digest(root)  # same bytes elsewhere: same digest
    (copy / "scene" / "f000.json").write_text("{}")  # scene and colour files are not what depth models read
    assert dataset_digest(copy) == dataset_digest(root)
    label = copy / "label" / "f001.png"
    label.write_bytes(label.read_bytes()[:-1] + b"\0")
    assert dataset_digest(copy) != dataset_digest(root)


def test_pixel_digest_follows_pixels_not_the_png_encoding(dataset: tuple[Path, dict], tmp_path: Path) -> None:
    from handseg.data.format import dataset_pixel_digest
    from handseg.utils.io import encode_png, read_png

    root, _ = dataset
    copy = shutil.copytree(root, tmp_path / "copy")
    depth = copy / "depth" / "f000.png"
    pixels = read_png(depth)
    depth.write_bytes(encode_png(pixels, compression=9))  # same pixels, another encoder and level
    assert depth.read_bytes() != (root / "depth" / "f000.png").read_bytes()
    assert dataset_digest(copy) != dataset_digest(root)
    assert dataset_pixel_digest(copy) == dataset_pixel_digest(root)
    changed = pixels.copy()
    changed.flat[0] ^= 1  # one millimetre
    depth.write_bytes(encode_png(changed, compression=9))
    assert dataset_pixel_digest(copy) != dataset_pixel_digest(root)
