"""Each reader reads back a fixture built in code, field by field; convert writes an identical handseg-v1 copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures_readers import (
    SMALL,
    build_eth,
    build_handseg,
    build_handseg_v1,
    build_nyu,
    build_rhd,
    expected_rhd_parts,
)

from handseg.data.format import HandsegDataset, Intrinsics
from handseg.data.readers import convert, detect_format, open_dataset
from handseg.data.readers.nyu import NYU_INTRINSICS
from handseg.errors import ConfigError, DataError, OutputExistsError


def _small(scale: float) -> Intrinsics:
    return Intrinsics(**{**SMALL.to_dict(), "depth_scale_m": scale})


def test_nyu_fields(tmp_path: Path) -> None:
    expected = build_nyu(tmp_path / "nyu")
    reader = open_dataset(tmp_path / "nyu", intrinsics=SMALL)
    assert reader.name == "nyu" and set(reader.ids) == set(expected)
    assert reader.splits() == {"train": ["train_1_0000001", "train_1_0000002"], "test": ["test_1_0000003"]}
    for sample in reader:
        exp = expected[sample["id"]]
        assert sample["depth"].dtype == np.float32
        np.testing.assert_allclose(sample["depth"], exp["depth_mm"] * 0.001, rtol=1e-6)
        if exp["color"] is None:
            assert sample["color"] is None
        else:
            np.testing.assert_array_equal(sample["color"], exp["color"])
        assert sample["label"] is None and sample["parts"] is None
        assert sample["intrinsics"] == SMALL


def test_nyu_default_intrinsics_and_depth_scale(tmp_path: Path) -> None:
    reader = None
    from handseg.data.readers.nyu import encode_nyu_depth
    from handseg.utils.io import atomic_write_png

    depth = np.full((480, 640), 9000, np.uint16)  # 9 m: within reach (the reader refuses > 10 m)
    depth[0, 0] = 0
    atomic_write_png(tmp_path / "depth_1_0000001.png", encode_nyu_depth(depth))
    reader = open_dataset(tmp_path, format="nyu")
    assert reader.intrinsics == NYU_INTRINSICS
    assert reader.intrinsics.fx == 588.03 and reader.intrinsics.fy == 587.07
    sample = reader[0]
    assert sample["id"] == "1_0000001" and sample["depth"][0, 0] == 0
    assert sample["depth"][1, 1] == pytest.approx(9.0)
    scaled = open_dataset(tmp_path, format="nyu", depth_scale=0.000125)[0]
    assert scaled["depth"][1, 1] == pytest.approx(9000 * 0.000125)


def test_handseg_fields_and_depth_scale(tmp_path: Path) -> None:
    expected = build_handseg(tmp_path / "hs")
    for scale in (0.000125, 0.001):
        reader = open_dataset(tmp_path / "hs", intrinsics=_small(0.000125), depth_scale=scale)
        assert reader.name == "handseg" and reader.intrinsics.depth_scale_m == scale
        assert set(reader.ids) == set(expected)
        for sample in reader:
            exp = expected[sample["id"]]
            np.testing.assert_allclose(sample["depth"], exp["depth_raw"] * scale, rtol=1e-6)
            np.testing.assert_array_equal(sample["label"], (exp["mask"] > 0).astype(np.int64))
            assert sample["label"].dtype == np.int64 and 2 not in sample["label"]
            assert sample["color"] is None and sample["parts"] is None


def test_handseg_default_scale_is_sr300(tmp_path: Path) -> None:
    build_handseg(tmp_path / "hs", frames=1)
    from handseg.data.readers.handseg_bojja import HandSegReader

    assert HandSegReader(tmp_path / "hs").intrinsics.depth_scale_m == 0.000125


def test_rhd_fields(tmp_path: Path) -> None:
    expected = build_rhd(tmp_path / "rhd")
    reader = open_dataset(tmp_path / "rhd", intrinsics=_small(5 / 65535))
    assert reader.name == "rhd" and set(reader.ids) == set(expected)
    assert reader.splits() == {"train": ["train_00000", "train_00001"], "test": ["test_00002"]}
    for sample in reader:
        exp = expected[sample["id"]]
        np.testing.assert_array_equal(sample["color"], exp["color"])
        np.testing.assert_allclose(sample["depth"], exp["depth_m"], rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(sample["label"], (exp["mask"] >= 2).astype(np.int64))
        np.testing.assert_array_equal(sample["parts"], expected_rhd_parts(exp["mask"]))
        assert sample["parts"].dtype == np.int64 and sample["parts"].max() <= 16


def test_rhd_part_order_examples() -> None:
    from handseg.data.readers.rhd import LABEL_OF_MASK, LEFT_PART_OF_MASK, RIGHT_PART_OF_MASK

    assert LEFT_PART_OF_MASK[17] == 1 and RIGHT_PART_OF_MASK[33] == 1  # palms
    assert [LEFT_PART_OF_MASK[v] for v in (2, 3, 4)] == [4, 3, 2]  # thumb tip..base -> distal..proximal
    assert [RIGHT_PART_OF_MASK[v] for v in (30, 31, 32)] == [16, 15, 14]  # little finger of the right hand
    assert LEFT_PART_OF_MASK[18] == 0 and RIGHT_PART_OF_MASK[17] == 0
    assert LABEL_OF_MASK[0] == LABEL_OF_MASK[1] == 0 and LABEL_OF_MASK[2:].min() == 1


@pytest.mark.parametrize("with_bbox", [True, False])
def test_eth_amodal_fields(tmp_path: Path, with_bbox: bool) -> None:
    expected = build_eth(tmp_path / "eth", with_bbox=with_bbox)
    reader = open_dataset(tmp_path / "eth", size=16)
    assert reader.name == "eth-amodal" and set(reader.ids) == set(expected)
    assert set(reader.splits()) == {"train", "val"}
    for sample in reader:
        exp = expected[sample["id"]]
        np.testing.assert_array_equal(sample["color"], exp["color"])
        np.testing.assert_array_equal(sample["parts"], exp["parts"])  # left +16 removed
        assert sample["label"] is None
        assert sample["depth"].shape == (16, 16) and not sample["depth"].any()


def test_eth_plain_ids_and_both_left_encodings(tmp_path: Path) -> None:
    import torch
    from fixtures_readers import part_png

    from handseg.data.readers.lmdb_io import write_lmdb
    from handseg.utils.io import encode_png

    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, size=(8, 8, 3)).astype(np.uint8)
    left = rng.integers(0, 17, size=(8, 8)).astype(np.uint8)
    root = tmp_path / "eth"
    root.mkdir()
    write_lmdb(root / "images.lmdb", {"7": encode_png(image), "8": encode_png(image)})
    write_lmdb(root / "segm.lmdb", {"7__l": part_png(left + (left > 0) * 16), "7__r": part_png(left),
                                    "8__l": part_png(left), "8__r": part_png(left)})  # fmt: skip
    torch.save([7, "8"], root / "datalist_train_mp.pt")
    samples = list(open_dataset(root, format="eth-amodal", size=8))
    assert [s["id"] for s in samples] == ["7", "8"]
    for sample in samples:
        np.testing.assert_array_equal(sample["parts"], np.stack([left, left]))


def test_handseg_v1_fields(tmp_path: Path) -> None:
    expected = build_handseg_v1(tmp_path / "v1")
    reader = open_dataset(tmp_path / "v1")
    assert reader.name == "handseg-v1"
    assert reader.splits() == {"train": ["f000", "f001"], "val": ["f002"]}
    for sample in reader:
        exp = expected[sample["id"]]
        np.testing.assert_allclose(sample["depth"], exp["depth"] * 0.001, rtol=1e-6)
        np.testing.assert_array_equal(sample["label"], exp["label"])
        np.testing.assert_array_equal(sample["color"], exp["color"])
        np.testing.assert_array_equal(sample["parts"], exp["parts"])


BUILDERS = {
    "nyu": (build_nyu, {"intrinsics": SMALL}),
    "handseg": (build_handseg, {"intrinsics": _small(0.000125)}),
    "rhd": (build_rhd, {"intrinsics": _small(5 / 65535)}),
    "eth-amodal": (build_eth, {"size": 16}),
    "handseg-v1": (build_handseg_v1, {}),
}


@pytest.mark.parametrize("fmt", sorted(BUILDERS))
def test_detect_and_convert_keeps_every_field(tmp_path: Path, fmt: str) -> None:
    build, opts = BUILDERS[fmt]
    build(tmp_path / "src")
    assert detect_format(tmp_path / "src") == fmt
    source = open_dataset(tmp_path / "src", **opts)
    stats = convert(tmp_path / "src", tmp_path / "out", progress=False, **opts)
    assert stats["format"] == fmt and stats["written"] == len(source) and stats["skipped"] == 0
    converted = HandsegDataset(tmp_path / "out", split=None)
    assert converted.intrinsics == source.intrinsics
    assert sum(stats["splits"].values()) == len(source)
    for sample_id in source.ids:
        a, b = source.load(sample_id), converted.load(sample_id)
        np.testing.assert_allclose(b["depth"], a["depth"], rtol=1e-6, atol=1e-9)
        for key in ("color", "label", "parts"):
            if a[key] is None:
                assert b[key] is None, key
            else:
                np.testing.assert_array_equal(b[key], a[key], err_msg=key)
    with pytest.raises(OutputExistsError):
        convert(tmp_path / "src", tmp_path / "out", progress=False, **opts)
    assert convert(tmp_path / "src", tmp_path / "out", force=True, limit=1, progress=False, **opts)["written"] == 1


def test_open_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        open_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="unknown dataset layout"):
        open_dataset(tmp_path / "empty")
    with pytest.raises(ConfigError, match="unknown format"):
        open_dataset(tmp_path / "empty", format="kinect")
    build_handseg(tmp_path / "hs", frames=1)
    with pytest.raises(ConfigError, match="bad option"):
        open_dataset(tmp_path / "hs", size=3)
    with pytest.raises(DataError, match="no depth_"):
        open_dataset(tmp_path / "empty", format="nyu")


def test_eth_reads_jpeg_images_and_rejects_truncated_ones(tmp_path: Path) -> None:
    import cv2
    import torch
    from fixtures_readers import part_png

    from handseg.data.readers.lmdb_io import write_lmdb

    image = np.zeros((8, 8, 3), np.uint8)
    image[..., 0], image[..., 2] = 200, 40  # red-ish, to catch a BGR/RGB swap
    ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    root = tmp_path / "eth"
    root.mkdir()
    zeros = part_png(np.zeros((8, 8), np.uint8))
    write_lmdb(root / "interhand.lmdb", {"1": jpeg.tobytes(), "2": jpeg.tobytes()[:-20]})
    write_lmdb(root / "segm_train_val_mp.lmdb", {"1__l": zeros, "1__r": zeros, "2__l": zeros, "2__r": zeros})
    torch.save(["1", "2"], root / "datalist_train_mp.pt")
    reader = open_dataset(root, size=8, skip_bad=True)
    samples = list(reader)
    assert [s["id"] for s in samples] == ["1"]
    assert np.abs(samples[0]["color"].astype(int) - image).max() <= 3
    assert "truncated JPEG" in reader.skipped["2"] and "interhand.lmdb[2]" in reader.skipped["2"]
