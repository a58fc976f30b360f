"""`handseg synth OUT --frames N --seed S`: render a synthetic hand-object dataset in the handseg-v1 format.

`--shard K/N` renders one shard of the run (for a cluster job array); `handseg synth --merge OUT SHARD_DIR...` joins
the shards into the dataset the unsharded run writes.
"""

from __future__ import annotations

import argparse

from handseg.commands.options import size_arg
from handseg.errors import ConfigError

SIZE = size_arg(16, 8192)  # --size and --render-size


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


def shard_arg(text: str) -> tuple[int, int]:
    """K/N for --shard."""
    from handseg.data.synth.shards import parse_shard

    try:
        return parse_shard(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `handseg synth`."""
    parser.add_argument("out", metavar="OUT", help="output folder (refused if not empty, unless --force)")
    parser.add_argument(
        "shard_dirs", nargs="*", metavar="SHARD_DIR", help="with --merge: the shard folders to join into OUT"
    )
    parser.add_argument("--frames", type=positive_int, default=None, help="number of frames to render (required)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (same seed, same bytes)")
    parser.add_argument(
        "--size",
        type=SIZE,
        default=None,
        help="WIDTHxHEIGHT written (default 640x480; 128x128 with --crop)",
    )
    parser.add_argument(
        "--crop",
        choices=("hands",),
        default=None,
        help="hands: render at --render-size, then cut a box around both hands' amodal parts, resized to --size",
    )
    parser.add_argument(
        "--render-size",
        type=SIZE,
        default=None,
        help="WIDTHxHEIGHT rendered before --crop (default 640x480)",
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
    parser.add_argument(
        "--train-objects",
        default=None,
        help="comma-separated object types of the training frames (default: every default type not in "
        "--val-objects); 'composite' (random assemblies of primitives) appears only when named here",
    )
    parser.add_argument(
        "--scenes", default=None, help="scene families and weights, e.g. tabletop,frontal or tabletop:3,closeup:1"
    )
    parser.add_argument("--sensor", default=None, help="auto (per scene family), sr300, d400, d415 or d435")
    parser.add_argument(
        "--stereo-window",
        action="store_true",
        help="D400 frames: the matching window rounds off relief smaller than itself (fingers, gaps between them)",
    )
    parser.add_argument(
        "--in-range",
        action="store_true",
        help="draw a scene again while more than 2%% of its hand and object pixels are nearer than the camera's "
        "minimum range (a capture keeps the hands where the sensor measures them)",
    )
    parser.add_argument(
        "--depth-scale", type=float, default=None, help="metres per depth unit: 0.001 (mm) or 0.000125 (SR300 1/8 mm)"
    )
    parser.add_argument(
        "--shard",
        type=shard_arg,
        default=None,
        metavar="K/N",
        help="render only the frames with index %% N == K (same bytes as in the full run), e.g. "
        "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; join the N shard folders with --merge",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="join the SHARD_DIRs of one sharded run into OUT (byte-identical to the unsharded run)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Render the dataset and print where it is."""
    from handseg.data.synth import generate_dataset

    if args.merge:
        return _merge(args)
    if args.shard_dirs:
        raise ConfigError(f"unexpected argument(s) {' '.join(args.shard_dirs)} (shard folders need --merge)")
    if args.frames is None:
        raise ConfigError("--frames is required")
    val_objects = _object_types("--val-objects", args.val_objects)
    train_objects = _object_types("--train-objects", args.train_objects)
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
        train_objects=train_objects,
        crop=args.crop,
        render_size=args.render_size,
        crop_margin=args.crop_margin,
        visible_parts=args.visible_parts,
        render_options={
            k: v
            for k, v in (("scenes", args.scenes), ("sensor", args.sensor), ("depth_scale_m", args.depth_scale))
            if v is not None
        }
        | ({"stereo_window": True} if args.stereo_window else {})
        | ({"in_range": True} if args.in_range else {}),
        shard=args.shard,
    )
    render_w, render_h = args.render_size or (640, 480)
    what = f", hand crops of {render_w}x{render_h} renders" if args.crop else ""
    if args.shard is None:
        print(f"wrote {args.frames} frames ({size[0]}x{size[1]}{what}) to {out}")
    else:
        k, n = args.shard
        count = len(range(k, args.frames, n))
        print(f"wrote shard {k}/{n} ({count} of {args.frames} frames, {size[0]}x{size[1]}{what}) to {out}")
    return 0


def _object_types(flag: str, text: str | None) -> list[str] | None:
    """The object types of a comma-separated option, checked (None when the option is not given)."""
    from handseg.data.synth.objects import ALL_OBJECT_TYPES

    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALL_OBJECT_TYPES]
    if unknown or not names:
        raise ConfigError(
            f"{flag}: unknown type(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(ALL_OBJECT_TYPES)}"
        )
    return names


def _merge(args: argparse.Namespace) -> int:
    """Join shard folders; the settings come from the shards, so rendering options are refused."""
    from handseg.data.synth.shards import merge_shards

    if not args.shard_dirs:
        raise ConfigError("--merge needs the shard folders: handseg synth --merge OUT SHARD_DIR...")
    names = ("frames", "shard", "scenes", "sensor", "val_objects", "train_objects", "size", "crop", "render_size")
    given = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) is not None]
    if given:
        raise ConfigError(f"--merge takes the run's settings from the shards; drop {', '.join(given)}")
    out = merge_shards(args.out, args.shard_dirs, force=args.force, progress=not args.quiet)
    print(f"merged {len(args.shard_dirs)} shards into {out}")
    return 0
