"""Readers against damaged sources: truncated LMDB, bad datalist entries, odd names, wrong NYU packing; convert
leaves no partial output and fails when every frame is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_readers import build_eth, build_handseg

from handseg.cli import main
from handseg.data.readers import open_dataset
from handseg.errors import DataError
from handseg.utils.io import atomic_write_png


def test_truncated_lmdb_is_refused_with_a_message_not_sigbus(tmp_path: Path) -> None:
    build_eth(tmp_path / "eth", frames=4, size=64)  # big enough that the image LMDB spans many pages
    data = tmp_path / "eth" / "interhand.lmdb" / "data.mdb"
    with open(data, "r+b") as handle:
        handle.truncate(data.stat().st_size // 2)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "handseg", "convert", str(tmp_path / "eth"), str(tmp_path / "out"), "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)  # a SIGBUS would be rc -7
    assert proc.returncode == 1, proc.stderr
    assert "data.mdb: truncated LMDB" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def _rewrite_datalist(root: Path, edit) -> None:
    path = root / "datalist_train_mp.pt"
    entries = torch.load(path, weights_only=False)
    torch.save(edit(entries), path)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda e: {**e, "bbox": np.array([1.0, 2.0, 3.0])}, "bbox must be 4 finite numbers"),
        (lambda e: {**e, "bbox": np.array([np.nan, 0, 16, 16])}, "bbox must be 4 finite numbers"),
        (lambda e: {**e, "bbox": np.array([1e30, 0, 16, 16])}, "far outside any image"),
        (lambda e: {k: v for k, v in e.items() if k != "img_path"}, "no img_path"),
    ],
)
def test_one_bad_datalist_entry_is_skipped_with_skip_bad(tmp_path: Path, damage, message, capsys) -> None:
    build_eth(tmp_path / "eth", frames=4)  # 3 train frames + 1 val
    _rewrite_datalist(tmp_path / "eth", lambda entries: [damage(entries[0]), *entries[1:]])
    with pytest.raises(DataError, match=message):
        open_dataset(tmp_path / "eth", format="eth-amodal")
    assert main(["convert", str(tmp_path / "eth"), str(tmp_path / "out"), "--no-progress"]) == 1
    assert message.split()[0] in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert main(["convert", str(tmp_path / "eth"), str(tmp_path / "out"), "--skip-bad", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "written 3, skipped 1" in printed and "datalist_train_mp.pt[0]" in printed


def test_duplicate_datalist_entry_is_skipped(tmp_path: Path) -> None:
    build_eth(tmp_path / "eth", frames=4)
    _rewrite_datalist(tmp_path / "eth", lambda entries: [*entries, entries[0]])
    with pytest.raises(DataError, match="duplicate frame"):
        open_dataset(tmp_path / "eth", format="eth-amodal")
    reader = open_dataset(tmp_path / "eth", format="eth-amodal", skip_bad=True)
    assert len(reader) == 4 and list(reader.skipped) == ["datalist_train_mp.pt[3]"]


def test_bbox_outside_the_image_is_a_frame_error(tmp_path: Path) -> None:
    build_eth(tmp_path / "eth", frames=4)  # images are 32x32
    _rewrite_datalist(tmp_path / "eth", lambda e: [{**e[0], "bbox": np.array([500.0, 500, 16, 16])}, *e[1:]])
    reader = open_dataset(tmp_path / "eth", format="eth-amodal", skip_bad=True)
    with pytest.raises(DataError, match="outside the 32x32 image"):
        reader.load(reader.ids[0])
    assert len(list(reader)) == 3 and len(reader.skipped) == 1  # black frames are not converted silently


def test_file_names_with_spaces_get_safe_unique_ids(tmp_path: Path) -> None:
    build_handseg(tmp_path / "hs", frames=1)
    depth = np.full((24, 32), 4000, np.uint16)
    for name in ("user 1 frame", "user_1_frame"):
        atomic_write_png(tmp_path / "hs" / "images" / f"{name}.png", depth)
        atomic_write_png(tmp_path / "hs" / "masks" / f"{name}.png", np.zeros((24, 32), np.uint8))
    from fixtures_readers import SMALL

    reader = open_dataset(tmp_path / "hs", format="handseg", intrinsics=SMALL)
    assert "user_1_frame" in reader.ids and "user_1_frame-2" in reader.ids and len(reader.ids) == 3
    assert all(reader.load(i)["depth"].shape == (24, 32) for i in reader.ids)


def test_nyu_packing_is_checked(tmp_path: Path) -> None:
    grey = np.repeat(np.random.default_rng(0).integers(1, 255, (480, 640, 1)).astype(np.uint8), 3, axis=2)
    atomic_write_png(tmp_path / "depth_1_0000001.png", grey)  # a padded 8-bit crop, not (G << 8) | B
    with pytest.raises(DataError, match="not NYU depth packing"):
        open_dataset(tmp_path, format="nyu")[0]


def test_all_skipped_convert_exits_1_and_writes_nothing(tmp_path: Path, capsys) -> None:
    for name in ("a", "b"):
        atomic_write_png(tmp_path / "hs" / "images" / f"{name}.png", np.zeros((480, 640), np.uint16))
        (tmp_path / "hs" / "masks").mkdir(exist_ok=True)  # every mask missing
    assert main(["convert", str(tmp_path / "hs"), str(tmp_path / "out"), "--skip-bad", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "every one of 2 frames was skipped" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
