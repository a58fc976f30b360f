"""Regression tests for the inputs issue 18 found ending in a traceback or accepted silently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from handseg.cli import main
from handseg.config import load_config
from handseg.data.format import DatasetWriter, HandsegDataset, Intrinsics, Manifest
from handseg.errors import ConfigError, DataError

BASE = {"model": {"name": "unet", "width": 8, "depth": 2}, "data": {"size": [32, 24]}}


@pytest.mark.parametrize(
    "override, key",
    [
        ("optim.lr=-1", "optim.lr"), ("optim.lr=nan", "optim.lr"), ("optim.lr=.inf", "optim.lr"),
        ("model.name=dense_attention_seg", None), ("seed=-1", "seed"), ("augment.crop_scale=5", "augment.crop_scale"),
        ("data.size=[100000,100000]", "data.size"), ("runtime.devices=64", "runtime.devices"),
    ],
)  # fmt: skip
def test_config_values(tmp_path: Path, override: str, key: str | None) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**BASE, "runtime": {"accelerator": "cpu"}, "train": {"batch_size": 64}}))
    if key is None:  # model.k: 0 needs a model that has k
        path.write_text(yaml.safe_dump({"model": {"name": "dense_attention_seg", "k": 0}}))
        with pytest.raises(ConfigError, match=r"c.yaml: model.k: expected a positive integer"):
            load_config(path)
        return
    with pytest.raises(ConfigError, match=rf"c.yaml: {key}:"):
        load_config(path, [override])


def test_inherit_of_the_wrong_type(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("inherit: 5\n")
    with pytest.raises(ConfigError, match=r"c.yaml: inherit: expected a file name"):
        load_config(tmp_path / "c.yaml")


def _dataset(root: Path) -> Path:
    writer = DatasetWriter(root, Manifest(name="t", sensor=Intrinsics(width=32, height=24), has_parts=False))
    writer.write("f0", np.full((24, 32), 500, np.uint16), label=np.zeros((24, 32), np.uint8))
    writer.finish({"train": ["f0"]})
    return root


@pytest.mark.parametrize(
    "field, value, message",
    [("classes", 5, "classes must be"), ("classes", None, "classes must be"), ("part_names", 7, "part_names must be"),
     ("sensor", {"width": 32, "height": 24, "fx": 1, "fy": 1, "cx": 1, "cy": 1, "depth_scale_m": float("nan")},
      "not finite")],
)  # fmt: skip
def test_manifest_fields(tmp_path: Path, field: str, value: object, message: str) -> None:
    root = _dataset(tmp_path / "d")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest[field] = value
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=rf"manifest.json: .*{message}"):
        HandsegDataset(root)


def test_manifest_folder_and_split_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _dataset(tmp_path / "d")
    (root / "splits" / "train.txt").write_bytes(b"f0\n\xff\xfe\n")
    with pytest.raises(DataError, match=r"train.txt: not UTF-8"):
        HandsegDataset(root)
    (root / "manifest.json").unlink()
    (root / "manifest.json").mkdir()
    assert main(["show", str(root), "--out", str(tmp_path / "s.png")]) == 1
    assert "manifest.json: is not a file" in capsys.readouterr().err


def test_train_devices_beyond_cpu_count_fails_before_starting(tmp_path: Path, capsys) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert main(["train", str(path), "--devices", "64", "--accelerator", "cpu", "--out", str(tmp_path / "r")]) == 1
    assert "runtime.devices" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_stream_checks_frame_sizes_against_the_manifest(tmp_path: Path) -> None:
    from handseg.export.stream import iter_folder
    from handseg.utils.io import atomic_write_png

    root = _dataset(tmp_path / "d")
    atomic_write_png(root / "depth" / "f0.png", np.zeros((400, 400), np.uint16))  # not the manifest's 32x24
    with pytest.raises(DataError, match=r"f0.png: size 400x400 does not match the manifest's 32x24"):
        list(iter_folder(root))
