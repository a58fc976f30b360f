"""Argument types shared by the subcommands: every numeric option is range-checked where it is parsed.

argparse turns an ArgumentTypeError into a one-line usage error naming the option (exit 2).
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
from collections.abc import Callable, Iterator

from handseg.errors import ConfigError

_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")
_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


class RegistryChoices:
    """argparse `choices` read from a handseg.registry.Registry when the command line is checked, so a name
    registered after the parser was built (a plugin, a test's toy reader) is accepted; the registry's module is
    imported only then, keeping `handseg --help` fast."""

    def __init__(self, module: str, attribute: str, *extra: str) -> None:
        self.module, self.attribute, self.extra = module, attribute, extra

    def names(self) -> list[str]:
        """The extra choices, then the registered names."""
        registry = getattr(importlib.import_module(self.module), self.attribute)
        return [*self.extra, *registry.names()]

    def __contains__(self, value: object) -> bool:
        return value in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _int(text: str, kind: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind} integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_range(lo: int | None = None, hi: int | None = None):
    """An argparse type: an integer in [lo, hi] (either bound may be open)."""

    def parse(text: str) -> int:
        kind = "a positive" if lo == 1 else "a non-negative" if lo == 0 else "an"
        value = _int(text, kind)
        if lo is not None and value < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {value}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"must be at most {hi}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in "invalid <name> value" messages
    return parse


positive_int = int_range(1)
non_negative_int = int_range(0)
port = int_range(0, 65535)


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def unit_fraction(text: str) -> float:
    """A number in [0, 1)."""
    value = _float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def device(text: str) -> str:
    """cpu, cuda, cuda:N or mps; CUDA (and the index) must exist on this machine."""
    text = text.strip().lower()
    if not _DEVICE.match(text):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda, cuda:N or mps, got {text!r}")
    if text.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"{text}: CUDA is not available on this machine (use cpu)")
        index = int(text.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"{text}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if text == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise argparse.ArgumentTypeError("mps: not available on this machine (use cpu)")
    return text


DEPTH_SCALE_HELP = "metres per depth unit: SR300/SR305 0.000125 (1/8 mm), D400 series and millimetre PNGs 0.001"


def parse_size(text: str, *, least: int = 8, most: int = 8192, option: str = "size") -> tuple[int, int]:
    """'640x480' -> (640, 480) (width, height), each side in least..most; a ConfigError naming `option` if not."""
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(f"{option} {text!r} must look like WIDTHxHEIGHT, e.g. 640x480")
    width, height = int(match.group(1)), int(match.group(2))
    if not (least <= width <= most and least <= height <= most):
        raise ConfigError(f"{option} {text!r}: width and height must be between {least} and {most}")
    return width, height


def size_arg(least: int = 16, most: int = 8192) -> Callable[[str], tuple[int, int]]:
    """argparse type of a WIDTHxHEIGHT option: parse_size, a usage error (exit 2) when bad."""

    def size(text: str) -> tuple[int, int]:
        try:
            return parse_size(text, least=least, most=most)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return size


def add_tta_arguments(parser: argparse.ArgumentParser) -> None:
    """--tta-flip and --tta-scales: test-time augmentation (handseg.models.tta)."""
    parser.add_argument(
        "--tta-flip",
        action="store_true",
        help="test-time augmentation: also segment the mirrored frame and average the class probabilities "
        "(2x the compute)",
    )
    parser.add_argument(
        "--tta-scales",
        metavar="S1,S2,...",
        help="test-time augmentation: also segment the frame resized by each scale, e.g. 0.75,1,1.25, and average "
        "(one pass per scale, x2 with --tta-flip)",
    )


def tta_spec(args: argparse.Namespace) -> object:
    """The TTASpec of --tta-flip / --tta-scales (a ConfigError names a bad scale list)."""
    from handseg.models.tta import TTASpec

    return TTASpec.parse(flip=args.tta_flip, scales=args.tta_scales)
