"""Every registered model (tiny config): output size for any input size, gradients to every parameter, eval
determinism; DenseAttentionSeg's attention maps."""

from __future__ import annotations

import pytest
import torch

from handseg.models import build_model, list_models, model_entry

R18 = {"backbone": "resnet18", "backbone_width": 8}
TINY: dict[str, dict[str, object]] = {
    "deeplabv3plus": {**R18, "aspp_channels": 16, "low_level_channels": 8, "decoder_channels": 16},
    "dense_attention_seg": {**R18, "aspp_channels": 16, "k": 8},
    "dense_attention_seg_noattn": {**R18, "aspp_channels": 16, "k": 8},
    "fcn32s": R18,
    "fcn16s": R18,
    "fcn8s": R18,
    "gcn": R18,
    "refinenet": {**R18, "features": 8},
    "unet": {"width": 4},
    "unet_resnet50_scse": {**R18, "decoder_channels": [16, 8, 8, 4, 4]},
    "attention_unet": {"width": 4, "depth": 3},
}
CASES = [(name, TINY[name]) for name in sorted(TINY)] + [("attention_unet", {**R18, "width": 4})]


def test_every_registered_model_has_a_tiny_config() -> None:
    assert set(list_models()) == set(TINY)


def channels_and_classes(name: str, kwargs: dict[str, object]) -> tuple[int, int]:
    """The model's default input channels and classes (from the builder's signature)."""
    import inspect

    params = inspect.signature(model_entry(name).builder).parameters
    return int(kwargs.get("in_channels", params["in_channels"].default)), int(params["num_classes"].default)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k.get('backbone', 'plain')}" for n, k in CASES])
def test_model_shapes_gradients_determinism(name: str, kwargs: dict[str, object]) -> None:
    torch.manual_seed(0)
    model = build_model(name, **kwargs)
    in_ch, classes = channels_and_classes(name, kwargs)
    assert classes == (34 if model_entry(name).task == "amodal" else 3)

    # train mode, size divisible by every stride, batch 2 (BN statistics), gradients reach every parameter
    model.train()
    x = torch.randn(2, in_ch, 64, 64)
    out = model(x)
    assert out.shape == (2, classes, 64, 64)
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)

    # eval mode, odd size: padded and cropped back, deterministic
    model.eval()
    x = torch.randn(1, in_ch, 65, 49)
    with torch.no_grad():
        a, b = model(x), model(x)
    assert a.shape == (1, classes, 65, 49)
    assert torch.equal(a, b)
    assert torch.isfinite(a).all()


def test_odd_full_size_input() -> None:
    model = build_model("dense_attention_seg", backbone="resnet18", backbone_width=4, aspp_channels=8, k=4).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 481, 641))
    assert out.shape == (1, 3, 481, 641)


@pytest.mark.parametrize("in_channels", [3, 4])
def test_input_channels(in_channels: int) -> None:
    model = build_model("deeplabv3plus", in_channels=in_channels, **TINY["deeplabv3plus"]).eval()
    assert model.backbone.conv1.weight.shape[1] == in_channels
    with torch.no_grad():
        assert model(torch.randn(1, in_channels, 40, 56)).shape == (1, 3, 40, 56)


@pytest.mark.parametrize("name", ["dense_attention_seg", "dense_attention_seg_noattn"])
def test_attention_maps(name: str) -> None:
    model = build_model(name, **TINY[name]).eval()
    h, w = 65, 49
    with torch.no_grad():
        logits, maps = model(torch.randn(2, 1, h, w), return_attention=True)
        plain = model(torch.randn(2, 1, h, w))
    assert logits.shape == plain.shape == (2, 3, h, w)
    assert set(maps) == {"fine", "coarse"}
    strides = [2, 4, 8, 16, 16, 16]
    for key in ("fine", "coarse"):
        assert [tuple(m.shape) for m in maps[key]] == [(2, 1, -(-h // s), -(-w // s)) for s in strides]
        assert all(((m >= 0) & (m <= 1)).all() for m in maps[key])
    if name == "dense_attention_seg":
        # level 0 has no finer level and level 5 no coarser one; the other gates are real (not all ones)
        assert torch.equal(maps["fine"][0], torch.ones_like(maps["fine"][0]))
        assert torch.equal(maps["coarse"][5], torch.ones_like(maps["coarse"][5]))
        assert all((m < 1).all() for m in maps["fine"][1:] + maps["coarse"][:5])


def test_attention_changes_the_output() -> None:
    torch.manual_seed(0)
    attn = build_model("dense_attention_seg", **TINY["dense_attention_seg"]).eval()
    noattn = build_model("dense_attention_seg_noattn", **TINY["dense_attention_seg_noattn"]).eval()
    missing = noattn.load_state_dict(attn.state_dict(), strict=False)
    assert not missing.missing_keys
    assert all(k.startswith(("fine_gates", "coarse_gates")) for k in missing.unexpected_keys)
    x = torch.randn(1, 1, 32, 48)
    with torch.no_grad():
        assert not torch.allclose(attn(x), noattn(x))


@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_dense_attention_decoder_follows_output_stride(output_stride: int) -> None:
    model = build_model("dense_attention_seg", output_stride=output_stride, **TINY["dense_attention_seg"]).eval()
    assert model.stride == output_stride
    strides = [m[0].stride[0] for m in model.up]
    assert strides == [2 if b > a else 1 for a, b in zip(model.level_strides, model.level_strides[1:])]
    with torch.no_grad():
        assert model(torch.randn(1, 1, 33, 70)).shape == (1, 3, 33, 70)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_onnx_export_keeps_any_input_size() -> None:
    import io

    import numpy as np
    import onnxruntime as ort

    model = build_model("dense_attention_seg", **TINY["dense_attention_seg"]).eval()
    buffer = io.BytesIO()
    dynamic = {"x": {2: "h", 3: "w"}, "y": {2: "h", 3: "w"}}
    torch.onnx.export(
        model, (torch.randn(1, 1, 64, 96),), buffer, input_names=["x"], output_names=["y"], dynamic_axes=dynamic,
        dynamo=False, opset_version=17,
    )  # fmt: skip
    session = ort.InferenceSession(buffer.getvalue())
    x = torch.randn(1, 1, 65, 49)  # another size, with padding, after tracing at 64x96
    y = session.run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        expected = model(x).numpy()
    assert y.shape == (1, 3, 65, 49)
    np.testing.assert_allclose(y, expected, atol=1e-4)


@pytest.mark.parametrize("name", ["dense_attention_seg", "dense_attention_seg_noattn"])
def test_dense_attention_fits_a_tiny_batch(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, **TINY[name])
    x = torch.nn.functional.avg_pool2d(torch.randn(4, 1, 40, 40), 9, 1, 4)[..., 4:36, 4:36] * 3  # smooth blobs
    target = torch.zeros(4, 32, 32, dtype=torch.long)
    target[x[:, 0] > 0.3] = 1
    target[x[:, 0] < -0.3] = 2
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses[::10]


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_registered_model_exports_to_onnx(name: str, tmp_path) -> None:
    from handseg.export.onnx import export_onnx
    from handseg.models import model_io

    in_channels, classes = model_io(name)
    torch.manual_seed(0)
    model = build_model(name, in_channels=in_channels, num_classes=classes, **TINY[name]).eval()
    report = export_onnx(model, tmp_path / f"{name}.onnx", in_channels, trace_size=(64, 48))
    assert (tmp_path / f"{name}.onnx").is_file()
    assert len(report["max_abs_diff"]) == 2 and max(report["max_abs_diff"].values()) <= 1e-3
