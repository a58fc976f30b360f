"""model.logit_bias: the offset reaches eval-mode logits (and exported graphs) only, never training or the weights."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from handseg.errors import ConfigError
from handseg.models import build_model
from handseg.models.logit_bias import prior_correction, set_logit_bias

TINY = {"backbone": "resnet18", "backbone_width": 8}


def test_prior_correction_undoes_the_class_weights() -> None:
    assert prior_correction([1, 5, 5], 1.0) == pytest.approx([0.0, -math.log(5), -math.log(5)], abs=1e-6)
    assert prior_correction([2, 10, 4], 0.5) == pytest.approx([0.0, -0.5 * math.log(5), -0.5 * math.log(2)], abs=1e-6)
    assert prior_correction([1, 5, 5], 0.0) == [0.0, 0.0, 0.0]
    for weights, tau in (([1, 0, 5], 1.0), ([1, 5, 5], -1.0), ([], 1.0), ([1, float("nan"), 1], 1.0)):
        with pytest.raises(ConfigError):
            prior_correction(weights, tau)


def test_offset_is_added_in_eval_mode_only_and_leaves_the_weights_alone() -> None:
    torch.manual_seed(0)
    plain = build_model("fcn8s", **TINY)
    biased = build_model("fcn8s", **TINY, logit_bias=[0.0, -1.5, 0.25])
    assert set(biased.state_dict()) == set(plain.state_dict())  # weights load either way
    biased.load_state_dict(plain.state_dict())
    x = torch.randn(2, 1, 48, 64)
    plain.eval(), biased.eval()
    with torch.no_grad():
        diff = biased(x) - plain(x)
    assert torch.allclose(diff, torch.tensor([0.0, -1.5, 0.25]).view(1, 3, 1, 1).expand_as(diff), atol=1e-5)
    plain.train(), biased.train()
    torch.manual_seed(1)
    a = plain(x)
    torch.manual_seed(1)
    b = biased(x)
    assert torch.equal(a, b)  # training sees the model as configured


def test_bad_offsets_are_refused_with_the_model_named() -> None:
    for bias, words in (
        ([0.0, 1.0], "3 output channels"),
        ("0,1,2", "list of numbers"),
        ([0, float("inf"), 0], "finite"),
    ):
        with pytest.raises(ConfigError, match=words):
            build_model("fcn8s", **TINY, logit_bias=bias)
    with pytest.raises(ConfigError, match="34 output channels"):
        build_model("unet", logit_bias=[0.0, 0.0, 0.0])  # an amodal model has 2 x 17 channels


def test_exported_graph_carries_the_offset(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    model = build_model("fcn8s", **TINY, logit_bias=[0.0, -2.0, -2.0]).eval()
    x = torch.randn(1, 1, 48, 64)
    path = tmp_path / "m.onnx"
    torch.onnx.export(model, x, path, dynamo=False, input_names=["input"], output_names=["logits"])
    out = ort.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(out, model(x).numpy(), atol=1e-4)


def test_checkpoint_config_with_an_offset_rebuilds_it(checkpoint_factory, synth_dataset: Path, tmp_path: Path) -> None:
    from handseg.loading import open_model, read_checkpoint
    from handseg.utils.io import atomic_torch_save

    path = checkpoint_factory(tmp_path / "a.ckpt", synth_dataset)
    ckpt = read_checkpoint(path)
    plain = open_model(path).model
    ckpt["config"]["model"]["logit_bias"] = [0.0, -1.0, -1.0]
    atomic_torch_save({k: v for k, v in ckpt.items() if k != "path"}, tmp_path / "b.ckpt")
    biased = open_model(tmp_path / "b.ckpt").model
    x = torch.randn(1, int(ckpt["config"]["model"].get("in_channels", 1)), 48, 64)
    with torch.no_grad():
        diff = (biased(x) - plain(x))[0, :, 0, 0]
    assert diff.tolist() == pytest.approx([0.0, -1.0, -1.0], abs=1e-5)


def test_set_logit_bias_adds_or_replaces_the_offset() -> None:
    model = build_model("fcn8s", **TINY, logit_bias=[0.0, -3.0, -3.0]).eval()
    plain = build_model("fcn8s", **TINY).eval()
    plain.load_state_dict(model.state_dict())
    x = torch.randn(1, 1, 32, 32)
    set_logit_bias(model, [0.0, 0.0, 0.0])
    set_logit_bias(plain, [0.0, 1.0, 0.0])  # a model built without one gets one
    with torch.no_grad():
        assert torch.allclose(model(x), plain(x) - torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1), atol=1e-5)
    with pytest.raises(ConfigError, match="2 values"):
        set_logit_bias(model, [0.0, 1.0])
