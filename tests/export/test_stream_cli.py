"""`handseg stream`: a real .db3 recording (pyrealsense2 software device), a folder source, smoothing, outputs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from handseg.cli import main
from handseg.export.predictor import TorchPredictor
from handseg.export.stream import LogitSmoother, iter_folder, run_stream
from handseg.utils.io import atomic_write_png, read_png


def test_stream_recording_writes_labels_and_video(tmp_path, recording, tiny_ckpt, capsys):
    out, video = tmp_path / "out", tmp_path / "overlay.mp4"
    args = ["stream", str(recording), "--ckpt", str(tiny_ckpt), "--out", str(out), "--labels"]
    assert main([*args, "--video", str(video), "--no-progress"]) == 0
    assert "frames/s end to end" in capsys.readouterr().out
    labels = sorted((out / "labels").glob("*.png"))
    assert [p.stem for p in labels] == [f"{i:06d}" for i in range(5)]
    label = read_png(labels[0])
    assert label.shape == (48, 64) and label.dtype == np.uint8 and label.max() <= 2
    summary = json.loads((out / "stream.json").read_text())
    assert summary["frames"] == 5 and summary["backend"] == "pytorch"
    capture = cv2.VideoCapture(str(video))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 5
    assert capture.get(cv2.CAP_PROP_FRAME_WIDTH) == 64
    assert main([*args, "--no-progress"]) == 1  # the output folder is not empty: needs --force


def test_stream_onnx_backend_resizes_and_stops(tmp_path, recording, tiny_ckpt):
    onnx = tmp_path / "m.onnx"
    assert main(["export", str(tiny_ckpt), "--onnx", str(onnx), "--size", "64x48"]) == 0
    out = tmp_path / "o"
    args = ["stream", str(recording), "--onnx", str(onnx), "--out", str(out), "--labels", "--size", "32x24"]
    assert main([*args, "--max-frames", "3", "--no-progress"]) == 0
    labels = sorted((out / "labels").glob("*.png"))
    assert len(labels) == 3
    assert read_png(labels[0]).shape == (24, 32)


def _depth_folder(folder, n=4):
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(n):
        atomic_write_png(folder / f"f{i:02d}.png", rng.integers(300, 1500, (40, 56)).astype(np.uint16))
    return folder


def test_folder_source(tmp_path, tiny_ckpt):
    folder = _depth_folder(tmp_path / "frames")
    frames = list(iter_folder(folder, depth_scale_m=0.001))
    assert [f[0] for f in frames] == ["f00", "f01", "f02", "f03"]
    assert frames[0][1].min() >= 0.3 and frames[0][1].max() < 1.5 and frames[0][2] is None
    out = tmp_path / "out"
    assert main(["stream", str(folder), "--ckpt", str(tiny_ckpt), "--out", str(out), "--labels", "--no-progress"]) == 0
    assert len(list((out / "labels").glob("*.png"))) == 4
    atomic_write_png(folder / "bad.png", np.zeros((4, 4), np.uint8))
    assert main(["stream", str(folder), "--ckpt", str(tiny_ckpt), "--no-progress"]) == 1  # 8-bit PNG: clear error


def test_video_mode_and_summary_timings_agree(tmp_path, tiny_ckpt):
    import os

    folder = _depth_folder(tmp_path / "frames", n=5)
    out, video = tmp_path / "out", tmp_path / "overlay.mp4"
    assert main(["stream", str(folder), "--ckpt", str(tiny_ckpt), "--out", str(out), "--video", str(video), "-q"]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert video.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    summary = json.loads((out / "stream.json").read_text())
    total_ms = sum(summary["ms_per_frame"].values())
    assert summary["frames"] == 5
    assert abs(total_ms * summary["fps"] / 1000 - 1) < 1e-6  # the same frames behind both numbers


def test_model_option_picks_the_backend_by_suffix(tmp_path, tiny_ckpt):
    folder = _depth_folder(tmp_path / "frames")
    assert main(["export", str(tiny_ckpt), "--size", "64x48"]) == 0  # --out defaults to the checkpoint's name
    onnx = tiny_ckpt.with_suffix(".onnx")
    for model, backend in ((tiny_ckpt, "pytorch"), (onnx, "onnxruntime")):
        out = tmp_path / backend
        assert main(["stream", str(folder), "--model", str(model), "--out", str(out), "--labels", "--quiet"]) == 0
        assert json.loads((out / "stream.json").read_text())["backend"] == backend
    assert (tmp_path / "pytorch" / "labels" / "f00.png").read_bytes() != b""


def test_smoothing_changes_results_only_when_enabled(tmp_path, tiny):
    model, config = tiny()
    predictor = TorchPredictor(model, config)
    folder = _depth_folder(tmp_path / "frames", n=4)
    raw = _raw(predictor, folder)
    off, on = LogitSmoother(0.0), LogitSmoother(0.7)
    assert all(np.array_equal(off(z), z) for z in raw)
    smoothed = [on(z).copy() for z in raw]
    assert np.array_equal(smoothed[0], raw[0])  # the first frame starts the average
    np.testing.assert_allclose(smoothed[1], 0.7 * raw[0] + 0.3 * raw[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(smoothed[2], raw[2])
    with pytest.raises(Exception, match="smoothing"):
        LogitSmoother(1.0)
    labels_off, labels_on = tmp_path / "off", tmp_path / "on"
    run_stream(iter_folder(folder), predictor, smooth=0.0, labels_dir=labels_off, progress=False)
    stats = run_stream(iter_folder(folder), predictor, smooth=0.9, labels_dir=labels_on, progress=False)
    assert stats.frames == 4
    expected = [z[0].argmax(0) for z in raw]
    assert all(np.array_equal(read_png(labels_off / f"f{i:02d}.png"), expected[i]) for i in range(4))
    assert np.array_equal(read_png(labels_on / "f00.png"), expected[0])


def _raw(predictor, folder):
    from handseg.export.predictor import frame_input

    return [predictor.logits(frame_input(predictor, d, c)) for _, d, c, _ in iter_folder(folder)]


def test_bad_sources_and_options(tmp_path, tiny_ckpt):
    assert main(["stream", str(tmp_path / "missing"), "--ckpt", str(tiny_ckpt), "--no-progress"]) == 1
    assert main(["stream", str(tmp_path), "--ckpt", str(tiny_ckpt), "--labels", "--no-progress"]) == 1  # no --out
    with pytest.raises(SystemExit):
        main(["stream", str(tmp_path), "--no-progress"])  # neither --ckpt nor --onnx


def test_rgbd_model_streams_aligned_color(tmp_path, recording, tiny):
    import torch

    model, config = tiny(modality="rgbd")
    ckpt = tmp_path / "rgbd.ckpt"
    torch.save({"model": model.state_dict(), "config": config}, ckpt)
    out = tmp_path / "o"
    assert main(["stream", str(recording), "--ckpt", str(ckpt), "--out", str(out), "--labels", "--no-progress"]) == 0
    assert len(list((out / "labels").glob("*.png"))) == 5
    folder = _depth_folder(tmp_path / "frames", n=1)  # depth only: an rgbd model has no color to read
    assert main(["stream", str(folder), "--ckpt", str(ckpt), "--no-progress"]) == 1


def test_overlay_video_keeps_frames_of_other_sizes(tmp_path) -> None:
    import cv2
    import numpy as np

    from handseg.export.stream import OverlayVideo

    video = OverlayVideo(tmp_path / "mixed.mp4", fps=10)
    for w, h in ((64, 48), (80, 60), (64, 48)):
        video.write(np.full((h, w, 3), 128, np.uint8))
    video.close()
    capture = cv2.VideoCapture(str(tmp_path / "mixed.mp4"))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert video.frames == 3 and frames == 3
