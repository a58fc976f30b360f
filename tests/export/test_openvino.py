"""OpenVINO backend: labels match ONNX Runtime (tiny model and the das-rt zoo model), metadata kept, CLI options."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from handseg.cli import main
from handseg.errors import CheckpointError, ConfigError
from handseg.export.onnx import OnnxPredictor, export_onnx
from handseg.export.predictor import labels_from_logits, load_predictor
from handseg.utils.io import atomic_write_png, read_png

NEEDS_OPENVINO = pytest.mark.skipif(
    not __import__("importlib").util.find_spec("openvino"),
    reason="openvino is not installed (optional extra: pip install 'handseg[openvino]')",
)


@pytest.fixture
def tiny_onnx(tmp_path, tiny):
    """A tiny depth model exported with its config (training size 64x48) and the ONNX path."""
    model, config = tiny()
    config["data"]["size"] = [64, 48]
    path = tmp_path / "tiny.onnx"
    export_onnx(model, path, 1, config=config, trace_size=(64, 48))
    return path


def _depth_folder(folder, n=3):
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(n):
        atomic_write_png(folder / f"f{i:02d}.png", rng.integers(300, 1500, (40, 56)).astype(np.uint16))
    return folder


def test_missing_package_is_named(monkeypatch, tiny_onnx):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    with pytest.raises(ConfigError, match=r"openvino package.*handseg\[openvino\]"):
        load_predictor(onnx=tiny_onnx, backend="openvino")
    assert main(["predict", str(tiny_onnx), str(tiny_onnx.parent), "--backend", "openvino", "--no-progress"]) == 1


def test_backend_choices_are_checked(tiny_onnx):
    with pytest.raises(ConfigError, match="not pytorch"):
        load_predictor(onnx=tiny_onnx, backend="pytorch")
    with pytest.raises(ConfigError, match="unknown backend"):
        load_predictor(onnx=tiny_onnx, backend="tensorrt")


@NEEDS_OPENVINO
def test_labels_match_onnxruntime_at_any_size(tiny_onnx):
    from handseg.export.openvino_backend import OpenVinoPredictor

    ov, ort = OpenVinoPredictor(tiny_onnx, threads=1), OnnxPredictor(tiny_onnx, threads=1)
    assert (ov.modality, ov.task, ov.in_channels) == ("depth", "segmentation", 1)
    rng = np.random.default_rng(2)
    for shape in ((1, 1, 48, 64), (2, 1, 37, 70), (1, 1, 48, 64)):  # the last one: a cached compiled model again
        x = rng.standard_normal(shape, np.float32)
        a, b = ov.logits(x), ort.logits(x)
        assert a.shape == (shape[0], 3, *shape[2:])
        assert np.abs(a - b).max() < 1e-4  # fp32 by default, not the bf16 OpenVINO would pick on its own
        assert (labels_from_logits(a, "segmentation") == labels_from_logits(b, "segmentation")).mean() > 0.999
    with pytest.raises(ConfigError, match="channels"):
        ov.logits(np.zeros((1, 3, 48, 64), np.float32))


@NEEDS_OPENVINO
def test_metadata_and_contract_are_kept(tiny_onnx):
    from handseg.export.openvino_backend import OpenVinoPredictor

    ov = OpenVinoPredictor(tiny_onnx)
    ort = OnnxPredictor(tiny_onnx)
    assert ov.metadata == ort.metadata
    assert json.loads(ov.metadata["handseg.input.size"]) == [64, 48]
    assert "handseg.input.depth_center_m" in ov.metadata and ov.config == ort.config


@NEEDS_OPENVINO
def test_bad_files_and_options(tmp_path, tiny_onnx):
    from handseg.export.openvino_backend import OpenVinoPredictor

    (tmp_path / "junk.onnx").write_bytes(b"nonsense")
    with pytest.raises(CheckpointError, match="junk.onnx"):
        OpenVinoPredictor(tmp_path / "junk.onnx")
    with pytest.raises(CheckpointError, match="not found"):
        OpenVinoPredictor(tmp_path / "missing.onnx")
    with pytest.raises(ConfigError, match="precision"):
        OpenVinoPredictor(tiny_onnx, precision="int4")


@NEEDS_OPENVINO
def test_predict_cli_openvino_matches_onnxruntime(tmp_path, tiny_onnx):
    frames = _depth_folder(tmp_path / "frames")
    for backend in ("onnxruntime", "openvino"):
        out = tmp_path / backend
        args = ["predict", str(tiny_onnx), str(frames), "--out", str(out), "--backend", backend, "--no-progress"]
        assert main(args) == 0
    for label in sorted((tmp_path / "onnxruntime" / "label").glob("*.png")):
        other = read_png(tmp_path / "openvino" / "label" / label.name)
        assert (read_png(label) == other).mean() > 0.999


@NEEDS_OPENVINO
def test_stream_cli_openvino_and_checkpoint_conversion(tmp_path, tiny_ckpt):
    frames = _depth_folder(tmp_path / "frames")
    labels = {}
    for option, model in (("--onnx", None), ("--ckpt", tiny_ckpt)):
        if model is None:  # an exported file, and the checkpoint exported in memory
            model = tmp_path / "m.onnx"
            assert main(["export", str(tiny_ckpt), "--onnx", str(model), "--size", "64x48"]) == 0
        out = tmp_path / option.strip("-")
        args = ["stream", str(frames), option, str(model), "--backend", "openvino", "--out", str(out), "--labels"]
        assert main([*args, "--quiet"]) == 0
        assert json.loads((out / "stream.json").read_text())["backend"] == "openvino"
        labels[option] = read_png(out / "labels" / "f00.png")
    assert (labels["--onnx"] == labels["--ckpt"]).mean() > 0.999


@NEEDS_OPENVINO
def test_bench_openvino_mode(tmp_path, capsys):
    out = tmp_path / "lat.md"
    args = ["bench", "--models", "fcn32s", "--size", "64x48", "--repeats", "1", "--modes", "onnxruntime,openvino"]
    assert main([*args, "--model-arg", "backbone=resnet18", "--threads", "1", "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert {r["mode"] for r in rows} == {"onnxruntime", "openvino"}
    assert "openvino (ms)" in out.read_text()


@NEEDS_OPENVINO
def test_zoo_model_das_rt_matches_onnxruntime():
    from handseg.data.synth import render_frame
    from handseg.data.transforms import resize_sample
    from handseg.export.predictor import frame_input

    ort = load_predictor("das-rt", backend="onnxruntime", threads=2)
    ov = load_predictor("das-rt", backend="openvino", threads=2)
    assert ov.metadata["handseg.zoo.name"] == "das-rt"  # the contract of the model exported in memory
    assert ov.metadata["handseg.input.size"] == ort.metadata["handseg.input.size"]
    sample = resize_sample(render_frame(0, 3), tuple(ov.config["data"]["size"]))
    x = frame_input(ov, sample["depth"], None)
    a, b = ov.logits(x), ort.logits(x)
    labels_ov, labels_ort = labels_from_logits(a, "segmentation"), labels_from_logits(b, "segmentation")
    assert (labels_ov == labels_ort).mean() > 0.999
    assert (labels_ort > 0).mean() > 0.01  # the frame shows a hand or object: agreement is not all background


@NEEDS_OPENVINO
def test_bf16_backend_where_the_cpu_has_it(tmp_path, tiny_onnx):
    from handseg.export.openvino_backend import OpenVinoPredictor, cpu_has_bf16

    if not cpu_has_bf16():
        with pytest.raises(ConfigError, match="bf16"):
            OpenVinoPredictor(tiny_onnx, precision="bf16")
        return
    frames = _depth_folder(tmp_path / "frames")
    out = tmp_path / "bf16"
    args = ["stream", str(frames), "--onnx", str(tiny_onnx), "--backend", "openvino-bf16", "--out", str(out)]
    assert main([*args, "--labels", "--quiet"]) == 0
    assert json.loads((out / "stream.json").read_text())["backend"] == "openvino-bf16"
    x = np.random.default_rng(4).standard_normal((1, 1, 48, 64), np.float32)
    fp32, bf16 = OpenVinoPredictor(tiny_onnx).logits(x), OpenVinoPredictor(tiny_onnx, precision="bf16").logits(x)
    diff = np.abs(fp32 - bf16).max()
    assert 0 < diff < 0.1 * np.abs(fp32).max()  # bf16 really ran (not fp32), and stays close
