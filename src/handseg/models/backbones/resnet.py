"""ResNet-18/34/50/101 in plain PyTorch with torchvision's parameter names, any input channels, OS 8/16/32."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from handseg.errors import CheckpointError, ConfigError


def conv3x3(in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding equal to the dilation."""
    return nn.Conv2d(in_ch, out_ch, 3, stride, padding=dilation, dilation=dilation, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual (ResNet-18/34)."""

    expansion = 1

    def __init__(
        self, in_ch: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, dilation: int = 1
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_ch, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, 1, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride, dilation) -> 1x1 with a residual (ResNet-50/101, torchvision's v1.5 stride placement)."""

    expansion = 4

    def __init__(
        self, in_ch: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, dilation: int = 1
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


ARCHS: dict[str, tuple[type[nn.Module], list[int]]] = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
    "resnet101": (Bottleneck, [3, 4, 23, 3]),
}
LEVELS = ("stem", "layer1", "layer2", "layer3", "layer4")


class ResNet(nn.Module):
    """ResNet encoder returning the five intermediate maps stem (conv1/bn1/relu), layer1..layer4.

    Names match torchvision (conv1, bn1, layer1..4; no fc), so an ImageNet state dict loads with
    `load_pretrained`. output_stride 8/16/32 replaces the strides of layer3/layer4 by dilation as in
    torchvision's replace_stride_with_dilation. `width` scales every channel count (64 = the standard ResNet).
    """

    def __init__(self, arch: str = "resnet50", in_channels: int = 3, output_stride: int = 32, width: int = 64) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ConfigError(f"unknown backbone {arch!r}; known: {', '.join(ARCHS)}")
        if output_stride not in (8, 16, 32):
            raise ConfigError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        if in_channels < 1:
            raise ConfigError(f"in_channels must be >= 1, got {in_channels}")
        block, layers = ARCHS[arch]
        self.arch = arch
        self.in_channels = in_channels
        self.output_stride = output_stride
        dilate = {8: (False, True, True), 16: (False, False, True), 32: (False, False, False)}[output_stride]
        self.inplanes = width
        self.dilation = 1
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], 2, dilate[0])
        self.layer3 = self._make_layer(block, width * 4, layers[2], 2, dilate[1])
        self.layer4 = self._make_layer(block, width * 8, layers[3], 2, dilate[2])
        exp = block.expansion  # type: ignore[attr-defined]
        self.channels = [width, width * exp, width * 2 * exp, width * 4 * exp, width * 8 * exp]
        s3 = 16 if output_stride >= 16 else 8
        self.strides = [2, 4, 8, s3, output_stride]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(
        self, block: type[nn.Module], planes: int, blocks: int, stride: int = 1, dilate: bool = False
    ) -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        exp = block.expansion  # type: ignore[attr-defined]
        downsample = None
        if stride != 1 or self.inplanes != planes * exp:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * exp, 1, stride, bias=False), nn.BatchNorm2d(planes * exp)
            )
        layers = [block(self.inplanes, planes, stride, downsample, previous_dilation)]
        self.inplanes = planes * exp
        layers += [block(self.inplanes, planes, dilation=self.dilation) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five maps [stem (/2), layer1 (/4), layer2 (/8), layer3, layer4] (strides in self.strides)."""
        stem = self.relu(self.bn1(self.conv1(x)))
        c1 = self.layer1(self.maxpool(stem))
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return [stem, c1, c2, c3, c4]


def adapt_first_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Map an RGB first-conv weight (O x 3 x k x k) to `in_channels`: 1 = mean over RGB, 4 = RGB + mean, 3 = as is.

    Other counts repeat the RGB mean, scaled by 3/in_channels so activations keep their magnitude.
    """
    if weight.shape[1] == in_channels:
        return weight
    if weight.shape[1] != 3:
        raise ConfigError(f"cannot adapt a first conv with {weight.shape[1]} input channels to {in_channels}")
    mean = weight.mean(dim=1, keepdim=True)
    if in_channels == 1:
        return mean
    if in_channels == 4:
        return torch.cat([weight, mean], dim=1)
    return mean.repeat(1, in_channels, 1, 1) * (3.0 / in_channels)


def load_pretrained(backbone: ResNet, path: str | Path) -> None:
    """Load a torchvision-named ResNet state dict file into `backbone` (fc ignored, first conv adapted)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: pretrained weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"{path}: cannot read pretrained weights ({type(exc).__name__}: {exc})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a state dict")
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")}
    if "conv1.weight" in state:
        state["conv1.weight"] = adapt_first_conv(state["conv1.weight"], backbone.in_channels)
    own = backbone.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {len(missing)} (e.g. {missing[0]})")
        if unexpected:
            details.append(f"unexpected {len(unexpected)} (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            details.append(f"shape mismatch {len(wrong)} (e.g. {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)})")
        raise CheckpointError(f"{path}: does not fit backbone {backbone.arch}: " + "; ".join(details))
    backbone.load_state_dict(state, strict=True)


def build_backbone(
    name: str = "resnet50",
    in_channels: int = 3,
    output_stride: int = 32,
    width: int = 64,
    pretrained_path: str | Path | None = None,
) -> ResNet:
    """A ResNet encoder, optionally initialised from a local torchvision ImageNet state dict."""
    backbone = ResNet(name, in_channels, output_stride, width)
    if pretrained_path:
        load_pretrained(backbone, pretrained_path)
    return backbone
