"""handseg.data.sources: one Frame type and one open_source over PNG pairs, depth folders and datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handseg.data.format import DatasetWriter, Frame, HandsegDataset, Intrinsics, Manifest
from handseg.data.sources import DatasetSource, DepthFolderSource, PngPairSource, open_source
from handseg.errors import DataError
from handseg.utils.io import atomic_write_png

H, W = 24, 32


def depth_raw(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3000, (H, W)).astype(np.uint16)


def color_image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3)).astype(np.uint8)


def write_dataset(root: Path) -> Path:
    writer = DatasetWriter(root, Manifest(name="d", sensor=Intrinsics(W, H, depth_scale_m=0.0005)), force=True)
    for k in range(2):
        writer.write(f"f{k}", depth_raw(k), color=color_image(k))
    writer.finish({"train": ["f0", "f1"]})
    return root


def test_every_folder_kind_yields_frames_in_metres(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs"
    atomic_write_png(pairs / "a b_depth.png", depth_raw(0))
    atomic_write_png(pairs / "a b_color.png", color_image(0))
    source = open_source(pairs, 0.002, need_color=True)
    assert isinstance(source, PngPairSource) and source.ids == ["a_b"]
    (frame,) = list(source)
    assert isinstance(frame, Frame) and frame.id == "a_b" and frame.intrinsics.depth_scale_m == 0.002
    np.testing.assert_array_equal(frame.depth_m, depth_raw(0).astype(np.float32) * np.float32(0.002))
    np.testing.assert_array_equal(frame.color, color_image(0))

    depths = tmp_path / "depths"
    atomic_write_png(depths / "f0.png", depth_raw(1))
    frame_id, depth, color, intrinsics = next(iter(open_source(depths)))  # a Frame unpacks as a 4-tuple
    assert (frame_id, color, intrinsics.width, intrinsics.height) == ("f0", None, W, H)
    np.testing.assert_array_equal(depth, depth_raw(1).astype(np.float32) * np.float32(0.001))

    dataset = write_dataset(tmp_path / "dataset")
    assert isinstance(open_source(dataset, need_color=True), DatasetSource)
    streamed = open_source(dataset)
    assert isinstance(streamed, DepthFolderSource) and streamed.ids == ["f0", "f1"]
    frame = streamed.load("f1")
    np.testing.assert_array_equal(frame.color, color_image(1))
    assert open_source(dataset, color=False).load("f1").color is None
    annotated = open_source(dataset, need_color=True).load("f1")
    np.testing.assert_array_equal(annotated.depth_m, frame.depth_m)  # the manifest's depth scale in both


def test_one_depth_loader_refuses_8_bit_depth_everywhere(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "dataset")
    atomic_write_png(dataset / "depth" / "f0.png", np.zeros((H, W), np.uint8))
    atomic_write_png(tmp_path / "pairs" / "x_depth.png", np.zeros((H, W), np.uint8))
    atomic_write_png(tmp_path / "pairs" / "x_color.png", color_image(0))
    readers = [
        lambda: HandsegDataset(dataset, split=None).load("f0"),  # eval and training
        lambda: open_source(dataset).load("f0"),  # stream
        lambda: open_source(dataset, need_color=True).load("f0"),  # annotate
        lambda: open_source(tmp_path / "pairs", need_color=True).load("x"),  # annotate
    ]
    for read in readers:
        with pytest.raises(DataError, match="depth must be single-channel uint16, got uint8"):
            read()


def test_sources_name_what_they_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="source not found"):
        open_source(tmp_path / "nope")
    with pytest.raises(DataError, match="nope: not found"):
        open_source(tmp_path / "nope", need_color=True)
    atomic_write_png(tmp_path / "pairs" / "x_depth.png", depth_raw(0))
    with pytest.raises(DataError, match="has no color image beside it"):
        open_source(tmp_path / "pairs", need_color=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no depth PNG files in this folder"):
        open_source(tmp_path / "empty")
