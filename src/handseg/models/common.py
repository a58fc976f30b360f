"""Building blocks shared by the models: conv-bn-relu, padding to the stride and cropping back, bilinear init."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> ReLU, 'same' padding for odd kernels."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel_size: int = 3, *, stride: int = 1, dilation: int = 1, relu: bool = True
    ) -> None:
        padding = dilation * (kernel_size - 1) // 2
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad N x C x H x W on the bottom and right (edge replication) so H and W are multiples of `multiple`."""
    h, w = x.shape[-2:]
    pad_h = (-h) % multiple
    pad_w = (-w) % multiple
    if pad_h == 0 and pad_w == 0 and not torch.jit.is_tracing():  # traced (ONNX): keep the pad, sizes may vary
        return x
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")


def resize(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear resize (align_corners=False) to `size`; a no-op when the size already matches."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def bilinear_kernel(in_ch: int, out_ch: int, kernel_size: int) -> torch.Tensor:
    """ConvTranspose2d weight (in_ch x out_ch x k x k) doing bilinear upsampling channel to channel (FCN init)."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float32)
    filt_1d = 1 - (og - center).abs() / factor
    filt = filt_1d[:, None] * filt_1d[None, :]
    weight = torch.zeros(in_ch, out_ch, kernel_size, kernel_size)
    for i in range(min(in_ch, out_ch)):
        weight[i, i] = filt
    return weight


def upsampling_deconv(channels: int, factor: int, bilinear_init: bool = True, bias: bool = False) -> nn.ConvTranspose2d:
    """A learnable ConvTranspose2d that upsamples exactly `factor` times (kernel 2f, padding f/2), FCN style."""
    kernel = 2 * factor
    deconv = nn.ConvTranspose2d(channels, channels, kernel, stride=factor, padding=factor // 2, bias=bias)
    if bilinear_init:
        with torch.no_grad():
            deconv.weight.copy_(bilinear_kernel(channels, channels, kernel))
    return deconv


class SegmentationModel(nn.Module):
    """Base class: forward pads the input to a multiple of `stride`, runs `forward_padded`, crops logits back."""

    stride: int = 32

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the padded input's resolution."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x C x H x W -> N x num_classes x H x W logits for any H, W."""
        h, w = x.shape[-2:]
        out = self.forward_padded(pad_to_multiple(x, self.stride))
        return out[..., :h, :w]
