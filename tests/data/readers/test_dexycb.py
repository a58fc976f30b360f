"""DexYCB reader on a fixture built from the dex-ycb-toolkit's documented layout; held object by contact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures_readers import BEHIND, FAR_AWAY, HELD, build_dexycb
from fixtures_readers import DEX_H as H
from fixtures_readers import DEX_W as W
from fixtures_readers import dexycb_frame as _frame

from handseg.cli import main
from handseg.data.format import HandsegDataset
from handseg.data.readers import detect_format, open_dataset
from handseg.data.readers.dexycb import contact_objects
from handseg.errors import DataError


def test_reader_labels_hand_and_held_object_only(tmp_path: Path) -> None:
    root = build_dexycb(tmp_path / "dex")
    assert detect_format(root) == "dexycb"
    reader = open_dataset(root)
    assert len(reader) == 2 and reader.has_label and reader.has_color
    sample = reader[0]
    seg, depth_mm = _frame()
    np.testing.assert_allclose(sample["depth"], depth_mm * 0.001, rtol=1e-6)
    assert sample["color"].shape == (H, W, 3)
    label = sample["label"]
    assert (label[seg == 255] == 1).all()
    assert (label[seg == HELD] == 2).all()
    assert (label[seg == FAR_AWAY] == 0).all() and (label[seg == BEHIND] == 0).all()
    assert (reader[1]["label"] == 0).all()  # no hand in view: nothing is held
    intr = sample["intrinsics"]
    assert (intr.fx, intr.cy, intr.width, intr.height) == (616.5, 243.1, W, H)  # calibration file, frame size


def test_default_intrinsics_and_contact_threshold(tmp_path: Path) -> None:
    root = build_dexycb(tmp_path / "dex", calibration=False)
    reader = open_dataset(root / "20200709-subject-01", format="dexycb")  # a folder below the root works too
    assert reader.intrinsics.fx == 615.0 and any("placeholder" in n for n in reader.notes)
    seg, depth_mm = _frame()
    depth = depth_mm.astype(np.float32) * 0.001
    assert contact_objects(seg, depth) == [HELD]
    assert contact_objects(seg, depth, contact_m=0.25) == [HELD, BEHIND]  # a looser depth test takes both
    assert contact_objects(seg, depth, contact_m=0.005) == []  # 1.5 cm apart: no longer "in contact"


def test_damaged_labels_are_named_and_skippable(tmp_path: Path) -> None:
    root = build_dexycb(tmp_path / "dex")
    bad = next(root.rglob("labels_000001.npz"))
    bad.write_bytes(b"not a zip")
    reader = open_dataset(root)
    with pytest.raises(DataError, match="labels_000001.npz"):
        reader[1]
    np.savez(bad, seg=np.full((H, W), 40, np.uint8))
    with pytest.raises(DataError, match="out of range"):
        reader[1]
    skipping = open_dataset(root, skip_bad=True)
    assert len(list(skipping)) == 1 and len(skipping.skipped) == 1


def test_convert_dexycb_to_handseg_v1(tmp_path: Path) -> None:
    root = build_dexycb(tmp_path / "dex")
    out = tmp_path / "out"
    assert main(["convert", str(root), str(out), "--format", "dexycb", "--quiet"]) == 0
    dataset = HandsegDataset(out)
    assert len(dataset) == 2
    assert set(np.unique(dataset[0]["label"]).tolist()) == {0, 1, 2}
