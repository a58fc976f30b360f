"""RealSense recordings: write a .db3 with pyrealsense2's software device, play it back with iter_recording."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyrealsense2", exc_type=ImportError)  # libusb missing: skip, with the reason

from handseg.data.format import Intrinsics
from handseg.data.realsense import iter_camera, iter_recording, list_cameras, write_recording
from handseg.errors import DataError, HandsegError, OutputExistsError

W, H = 64, 48
INTR = Intrinsics(W, H, 50.0, 50.0, 31.5, 23.5, 0.001)


def _frames(n: int, seed: int = 0, color: bool = True) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Smooth depth planes in metres (with holes) and random colors."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        yy, xx = np.mgrid[0:H, 0:W]
        depth = (0.4 + 0.002 * xx + 0.001 * yy + 0.05 * i).astype(np.float32)
        depth[rng.random((H, W)) < 0.1] = 0.0
        rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8) if color else None
        frames.append((depth, rgb))
    return frames


@pytest.mark.parametrize("units", [0.001, 0.000125])
def test_depth_round_trip_in_metres(tmp_path, units):
    frames = _frames(5, color=False)
    path = write_recording(tmp_path / "rec.db3", frames, INTR, depth_units=units)
    out = list(iter_recording(path))
    assert [f[0] for f in out] == [f"{i:06d}" for i in range(5)]
    for (_, depth, color, intr), (depth0, _) in zip(out, frames):
        assert color is None
        assert depth.dtype == np.float32 and depth.shape == (H, W)
        np.testing.assert_allclose(depth, depth0, atol=units / 2 + 1e-6)
        assert np.array_equal(depth == 0, depth0 == 0)
        assert intr.depth_scale_m == pytest.approx(units)
        assert (intr.width, intr.height, intr.fx, intr.cx) == (W, H, 50.0, 31.5)


def test_color_is_played_back_and_aligned(tmp_path):
    frames = _frames(5, seed=1)
    path = write_recording(tmp_path / "rec.db3", frames, INTR)
    raw = list(iter_recording(path, align_to=None))
    aligned = list(iter_recording(path))
    assert len(raw) == len(aligned) == 5
    for (_, _, color_raw, _), (_, depth, color_al, _), (_, color0) in zip(raw, aligned, frames):
        assert np.array_equal(color_raw, color0)  # every frame paired with its own color frame
        valid = depth > 0
        same = (color_al == color0).all(axis=-1)
        assert same[valid].mean() > 0.8  # identity extrinsics: aligned color stays in place where depth exists
        assert (color_al[~valid] == 0).all()  # rs.align leaves pixels without depth black


def test_write_refuses_bag_and_existing(tmp_path):
    frames = _frames(1, color=False)
    with pytest.raises(HandsegError, match=r"\.db3"):
        write_recording(tmp_path / "rec.bag", frames, INTR)
    path = write_recording(tmp_path / "rec.db3", frames, INTR)
    with pytest.raises(OutputExistsError):
        write_recording(path, frames, INTR)
    write_recording(path, frames, INTR, force=True)
    with pytest.raises(HandsegError, match="intrinsics"):
        write_recording(tmp_path / "bad.db3", [(np.zeros((10, 10), np.float32), None)], INTR)
    assert not (tmp_path / "bad.db3").exists()


def test_bad_recordings_give_clear_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        list(iter_recording(tmp_path / "missing.db3"))
    junk = tmp_path / "junk.bag"
    junk.write_bytes(b"not a bag file at all")
    with pytest.raises(DataError, match="junk.bag"):
        list(iter_recording(junk))
    other = tmp_path / "frames.txt"
    other.write_text("x")
    with pytest.raises(DataError, match="bag or .db3"):
        list(iter_recording(other))


def test_camera_without_device_is_a_clear_error():
    if list_cameras():
        pytest.skip("a RealSense camera is connected")
    with pytest.raises(HandsegError, match="no RealSense camera"):
        next(iter_camera())


def test_stopping_early_does_not_hang(tmp_path):
    path = write_recording(tmp_path / "rec.db3", _frames(20, color=False), INTR)
    for index, _ in enumerate(iter_recording(path)):
        if index == 1:
            break
    assert len(list(iter_recording(path))) == 20  # the file is still readable in full afterwards


def test_depth_only_playback_of_a_color_recording(tmp_path):
    frames = _frames(3, seed=2)
    path = write_recording(tmp_path / "rec.db3", frames, INTR)
    out = list(iter_recording(path, align_to=None, color=False))
    assert len(out) == 3 and all(color is None for _, _, color, _ in out)
    np.testing.assert_allclose(out[2][1], frames[2][0], atol=0.0006)
