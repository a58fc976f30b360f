"""ResNet backbones (strides, torchvision names, pretrained loading), the registry, FLOP counting, `handseg models`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from handseg.cli import main
from handseg.errors import CheckpointError, ConfigError
from handseg.models import build_model, list_models
from handseg.models.backbones import ResNet, adapt_first_conv
from handseg.models.flops import count_flops, count_params


@pytest.mark.parametrize(
    ("output_stride", "strides"), [(8, [2, 4, 8, 8, 8]), (16, [2, 4, 8, 16, 16]), (32, [2, 4, 8, 16, 32])]
)
def test_backbone_strides(output_stride: int, strides: list[int]) -> None:
    net = ResNet("resnet18", in_channels=1, output_stride=output_stride, width=4).eval()
    assert net.strides == strides
    h, w = 64, 96
    with torch.no_grad():
        feats = net(torch.randn(1, 1, h, w))
    assert [tuple(f.shape[-2:]) for f in feats] == [(h // s, w // s) for s in strides]
    assert [f.shape[1] for f in feats] == net.channels


def test_torchvision_names_and_shapes() -> None:
    net = ResNet("resnet50", in_channels=3)
    state = net.state_dict()
    # a few names and shapes exactly as torchvision.models.resnet50 has them (fc aside)
    assert state["conv1.weight"].shape == (64, 3, 7, 7)
    assert state["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert state["layer4.2.conv3.weight"].shape == (2048, 512, 1, 1)
    assert "layer3.5.bn2.running_var" in state
    assert not any(k.startswith("fc.") for k in state)
    assert count_params(net) == 25_557_032 - (2048 * 1000 + 1000)  # torchvision resnet50 minus its fc


@pytest.fixture(scope="module")
def r18_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A torchvision-named resnet18 state dict (random values, plus an fc) saved to a file."""
    torch.manual_seed(1)
    net = ResNet("resnet18", in_channels=3)
    for p in net.parameters():
        nn.init.normal_(p)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    state["fc.weight"] = torch.randn(1000, 512)
    state["fc.bias"] = torch.randn(1000)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(state, path)
    return path, state


def test_pretrained_depth_averages_first_conv(r18_weights: tuple[Path, dict[str, torch.Tensor]]) -> None:
    path, state = r18_weights
    model = build_model("dense_attention_seg", backbone="resnet18", pretrained_path=str(path), k=8, aspp_channels=8)
    got = model.backbone.state_dict()
    assert got["conv1.weight"].shape == (64, 1, 7, 7)
    assert torch.allclose(got["conv1.weight"], state["conv1.weight"].mean(dim=1, keepdim=True))
    for key in ("layer1.0.conv1.weight", "layer4.1.bn2.running_mean", "bn1.bias"):
        assert torch.equal(got[key], state[key])


def test_pretrained_rgbd_keeps_rgb_and_adds_mean(r18_weights: tuple[Path, dict[str, torch.Tensor]]) -> None:
    path, state = r18_weights
    model = build_model(
        "unet_resnet50_scse", backbone="resnet18", in_channels=4, pretrained_path=path, decoder_channels=[8] * 5
    )
    w = model.backbone.conv1.weight.detach()
    assert torch.equal(w[:, :3], state["conv1.weight"])
    assert torch.allclose(w[:, 3:], state["conv1.weight"].mean(dim=1, keepdim=True))


def test_pretrained_errors(r18_weights: tuple[Path, dict[str, torch.Tensor]], tmp_path: Path) -> None:
    path, _ = r18_weights
    with pytest.raises(CheckpointError, match="not found"):
        build_model("fcn32s", backbone="resnet18", pretrained_path=tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="does not fit backbone resnet34"):
        build_model("fcn32s", backbone="resnet34", pretrained_path=path)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a state dict")
    with pytest.raises(CheckpointError, match="bad.pth"):
        build_model("fcn32s", backbone="resnet18", pretrained_path=bad)


def test_adapt_first_conv_other_channel_counts() -> None:
    w = torch.randn(8, 3, 7, 7)
    assert torch.equal(adapt_first_conv(w, 3), w)
    two = adapt_first_conv(w, 2)
    assert two.shape == (8, 2, 7, 7)
    assert torch.allclose(two.sum(dim=1), w.sum(dim=1))  # same response to a constant input


def test_registry_errors() -> None:
    with pytest.raises(ConfigError) as exc:
        build_model("densenet")
    assert all(name in str(exc.value) for name in list_models())
    with pytest.raises(ConfigError, match="no option"):
        build_model("dense_attention_seg", attention=False)
    with pytest.raises(ConfigError, match="unknown backbone"):
        build_model("gcn", backbone="vgg16")
    with pytest.raises(ConfigError, match="output_stride"):
        build_model("deeplabv3plus", output_stride=4)


def test_count_flops_of_a_convolution() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_flops(conv, (1, 3, 16, 20)) == 2 * 8 * 3 * 9 * 16 * 20
    deconv = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)
    assert count_flops(deconv, (1, 4, 5, 5), device="cpu") == 2 * 4 * 2 * 16 * 5 * 5


def test_models_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--size", "64x48", "--backbone", "resnet18"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    for name in list_models():
        assert name in lines
        assert float(lines[name][-1]) > 0 and float(lines[name][-2]) > 0
    assert main(["models", "--size", "64", "unet"]) == 1
    assert main(["models", "nope"]) == 1
