"""ONNX export: dynamic height/width, outputs match PyTorch; OnnxPredictor; the export command."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handseg.cli import main
from handseg.errors import CheckpointError, ConfigError, OutputExistsError
from handseg.export.onnx import OnnxPredictor, export_onnx
from handseg.export.predictor import TorchPredictor, labels_from_logits


@pytest.mark.parametrize("name", ["dense_attention_seg", "deeplabv3plus"])
def test_export_matches_pytorch_at_other_sizes(tmp_path, tiny, name):
    model, config = tiny(name)
    path = tmp_path / "m.onnx"
    report = export_onnx(model, path, 1, config=config, trace_size=(64, 48))
    assert path.is_file() and len(report["max_abs_diff"]) == 2
    assert "64x48" in report["max_abs_diff"]
    predictor = OnnxPredictor(path, threads=1)
    assert (predictor.modality, predictor.task) == ("depth", "segmentation")
    rng = np.random.default_rng(1)
    for h, w in ((48, 64), (37, 70), (2 * 40, 2 * 55)):  # the trace size, then sizes no stride divides
        x = rng.standard_normal((2, 1, h, w), np.float32)  # batch 2: the batch axis is dynamic too
        with torch.no_grad():
            reference = model(torch.from_numpy(x)).numpy()
        out = predictor.logits(x)
        assert out.shape == (2, 3, h, w)
        assert np.abs(out - reference).max() < 1e-4
        assert np.array_equal(labels_from_logits(out, "segmentation").shape, (2, h, w))


def test_torch_predictor_channels_last_matches(tiny):
    model, config = tiny()
    x = np.random.default_rng(0).standard_normal((1, 1, 40, 56), np.float32)
    plain = TorchPredictor(model, config).logits(x)
    last = TorchPredictor(model, config, channels_last=True).logits(x)
    assert np.abs(plain - last).max() < 1e-4


def test_amodal_labels_split_hands():
    logits = np.zeros((1, 34, 2, 2), np.float32)
    logits[0, 5, 0, 0] = 1.0  # left hand part 5
    logits[0, 17 + 9, 1, 1] = 1.0  # right hand part 9
    labels = labels_from_logits(logits, "amodal")
    assert labels.shape == (1, 2, 2, 2)
    assert labels[0, 0, 0, 0] == 5 and labels[0, 1, 1, 1] == 9 and labels[0, 0, 1, 1] == 0


def test_export_refuses_overwrite_and_bad_names(tmp_path, tiny):
    model, _ = tiny()
    path = tmp_path / "m.onnx"
    export_onnx(model, path, 1, trace_size=(32, 24))
    with pytest.raises(OutputExistsError):
        export_onnx(model, path, 1, trace_size=(32, 24))
    with pytest.raises(ConfigError, match=".onnx"):
        export_onnx(model, tmp_path / "m.bin", 1)
    (tmp_path / "junk.onnx").write_bytes(b"nonsense")
    with pytest.raises(CheckpointError, match="junk.onnx"):
        OnnxPredictor(tmp_path / "junk.onnx")


def test_export_command(tmp_path, tiny_ckpt, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["export", str(tiny_ckpt), "--onnx", str(out), "--size", "64x48"]) == 0
    assert "max |ONNX Runtime - PyTorch|" in capsys.readouterr().out
    predictor = OnnxPredictor(out)
    assert predictor.config["model"]["name"] == "dense_attention_seg"
    assert main(["export", str(tiny_ckpt), "--onnx", str(out)]) == 1  # exists, no --force
    assert "--force" in capsys.readouterr().err
