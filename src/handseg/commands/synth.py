"""`handseg synth OUT --frames N --seed S`: render a synthetic hand-object dataset in the handseg-v1 format."""

from __future__ import annotations

import argparse
import re

from handseg.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_size(text: str) -> tuple[int, int]:
    """Parse WIDTHxHEIGHT (e.g. 640x480) into two positive integers of at least 16."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: expected WIDTHxHEIGHT, e.g. 640x480")
    width, height = int(match.group(1)), int(match.group(2))
    if width < 16 or height < 16 or width > 8192 or height > 8192:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: width and height must be between 16 and 8192")
    return width, height


def _int_at_least(minimum: int, kind: str, text: str) -> int:
    """An integer of at least `minimum`, or an argparse error naming `kind`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    return _int_at_least(1, "positive", text)


def non_negative_int(text: str) -> int:
    """An integer of at least 0."""
    return _int_at_least(0, "non-negative", text)


def fraction(text: str) -> float:
    """A float in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `handseg synth`."""
    parser.add_argument("out", metavar="OUT", help="output folder (refused if not empty, unless --force)")
    parser.add_argument("--frames", type=positive_int, required=True, help="number of frames to render")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (same seed, same bytes)")
    parser.add_argument(
        "--size", type=parse_size, default=None, help="WIDTHxHEIGHT written (default 640x480; 128x128 with --crop)"
    )
    parser.add_argument(
        "--crop",
        choices=("hands",),
        default=None,
        help="hands: render at --render-size, then cut a box around both hands' amodal parts, resized to --size",
    )
    parser.add_argument(
        "--render-size", type=parse_size, default=None, help="WIDTHxHEIGHT rendered before --crop (default 640x480)"
    )
    parser.add_argument(
        "--crop-margin", type=float, default=0.15, help="--crop margin on each side, a fraction of the hands' extent"
    )
    parser.add_argument(
        "--visible-parts", action="store_true", help="also write parts/<id>_l_visible.png (always with --crop)"
    )
    parser.add_argument("--workers", type=positive_int, default=1, help="processes (output does not depend on it)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing dataset in OUT")
    parser.add_argument("--val-fraction", type=fraction, default=0.25, help="share of frames in splits/val.txt")
    parser.add_argument(
        "--val-objects",
        default=None,
        help="comma-separated object types shown only in val frames (held-out objects), e.g. mug,torus",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Render the dataset and print where it is."""
    from handseg.data.synth import OBJECT_TYPES, generate_dataset

    val_objects = None
    if args.val_objects:
        val_objects = [name.strip() for name in args.val_objects.split(",") if name.strip()]
        unknown = [name for name in val_objects if name not in OBJECT_TYPES]
        if unknown:
            raise ConfigError(
                f"--val-objects: unknown type(s) {', '.join(unknown)}; choose from {', '.join(OBJECT_TYPES)}"
            )
    if args.render_size is not None and not args.crop:
        raise ConfigError("--render-size: only with --crop hands (without a crop, --size is the rendered size)")
    size = args.size or ((128, 128) if args.crop else (640, 480))
    out = generate_dataset(
        args.out,
        args.frames,
        seed=args.seed,
        size=size,
        workers=args.workers,
        force=args.force,
        val_fraction=args.val_fraction,
        progress=not args.quiet,
        val_objects=val_objects,
        crop=args.crop,
        render_size=args.render_size,
        crop_margin=args.crop_margin,
        visible_parts=args.visible_parts,
    )
    render_w, render_h = args.render_size or (640, 480)
    what = f", hand crops of {render_w}x{render_h} renders" if args.crop else ""
    print(f"wrote {args.frames} frames ({size[0]}x{size[1]}{what}) to {out}")
    return 0
