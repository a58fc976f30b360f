"""Test-time augmentation: a model wrapper that averages class probabilities over mirrored and rescaled inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from handseg.errors import ConfigError

# The smallest probability a log is taken of: the wrapper returns log-probabilities, and an all-zero class in one
# view must not become -inf (argmax is unaffected; a loss on the output stays finite).
_FLOOR = 1e-8


@dataclass(frozen=True)
class TTASpec:
    """Which views are averaged: the input itself, its mirror image (flip) and the input resized by each scale."""

    flip: bool = False
    scales: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if not self.scales:
            raise ConfigError("test-time augmentation needs at least one scale")
        for scale in self.scales:
            if not 0.25 <= scale <= 4.0:
                raise ConfigError(f"test-time augmentation scale {scale} is outside 0.25-4")

    @property
    def active(self) -> bool:
        """Whether any view besides the input itself is averaged."""
        return self.flip or tuple(self.scales) != (1.0,)

    @property
    def views(self) -> int:
        """Forward passes per input."""
        return len(self.scales) * (2 if self.flip else 1)

    def describe(self) -> str:
        """A short human-readable name, e.g. 'flip + scales 0.75/1/1.25' or 'none'."""
        parts = (["flip"] if self.flip else []) + (
            ["scales " + "/".join(f"{s:g}" for s in self.scales)] if tuple(self.scales) != (1.0,) else []
        )
        return " + ".join(parts) or "none"

    @classmethod
    def parse(cls, flip: bool = False, scales: str | Sequence[float] | None = None) -> TTASpec:
        """From a flip switch and scales as '0.75,1,1.25' (command line) or numbers; bad text is a ConfigError."""
        if scales is None or scales == "":
            return cls(flip=flip)
        if isinstance(scales, str):
            try:
                values = tuple(float(text) for text in scales.split(","))
            except ValueError:
                example = "e.g. 0.75,1,1.25"
                raise ConfigError(f"--tta-scales {scales!r}: expected comma-separated numbers, {example}") from None
        else:
            values = tuple(float(v) for v in scales)
        return cls(flip=flip, scales=values)


def average_views(
    run: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    spec: TTASpec,
    *,
    groups: Sequence[tuple[int, int]],
    flip_index: torch.Tensor | None = None,
) -> torch.Tensor:
    """Log of the mean probabilities of `run` (N x C x H x W -> N x K x h x w logits) over the views of `spec`.

    Each group of channels (a, b) is one softmax (one per hand for amodal models); `flip_index` reorders the
    channels of a mirrored view's output (a mirrored left hand is a right hand), None keeps them. The result has
    the input's height and width.
    """
    height, width = x.shape[-2:]
    total = None
    for scale in spec.scales:
        size = (max(round(height * scale), 8), max(round(width * scale), 8))
        # nearest: depth values are never blended across an object's edge into depths that exist nowhere
        scaled = x if scale == 1.0 else F.interpolate(x, size=size, mode="nearest")
        for mirrored in (False, True) if spec.flip else (False,):
            logits = run(scaled.flip(-1) if mirrored else scaled).float()
            if mirrored:
                logits = logits.flip(-1)
                if flip_index is not None:
                    logits = logits.index_select(1, flip_index.to(logits.device))
            if logits.shape[-2:] != (height, width):
                logits = F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)
            probabilities = torch.cat([logits[:, a:b].softmax(1) for a, b in groups], 1)
            total = probabilities if total is None else total + probabilities
    assert total is not None  # a spec has at least one scale
    return (total / spec.views).clamp_min(_FLOOR).log()


class TestTimeAugmentation(nn.Module):
    """A dense model wrapped by average_views: log of its mean class probabilities over the views of `spec`."""

    __test__ = False  # not a pytest test class despite its name

    def __init__(
        self,
        model: nn.Module,
        spec: TTASpec,
        *,
        groups: Sequence[tuple[int, int]],
        flip_channels: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.model, self.spec = model, spec
        self.groups = tuple((int(a), int(b)) for a, b in groups)
        self.flip_index = None if flip_channels is None else torch.as_tensor(list(flip_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return average_views(self.model, x, self.spec, groups=self.groups, flip_index=self.flip_index)
