"""`handseg convert SRC DST`: convert NYU, HandSeg, ETH amodal, RHD, DexYCB or handseg-v1 folders into handseg-v1."""

from __future__ import annotations

import argparse

from handseg.commands.options import RegistryChoices, int_range, non_negative_int, positive_float

FORMATS = RegistryChoices("handseg.data.readers", "READERS", "auto")  # every registered reader
DEPTH_SCALE_FORMATS = ("nyu", "handseg", "dexycb")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the convert command."""
    parser.add_argument("src", help="dataset folder to read")
    parser.add_argument("dst", help="handseg-v1 folder to write (must be empty unless --force)")
    parser.add_argument("--format", default="auto", choices=FORMATS, help="source format (default: detect)")
    parser.add_argument(
        "--depth-scale",
        type=positive_float,
        default=None,
        metavar="S",
        help="metres per raw depth unit for nyu/handseg/dexycb (SR300/SR305: 0.000125; mm: 0.001). "
        "Defaults: nyu 0.001, handseg 0.000125, dexycb 0.001",
    )
    parser.add_argument("--intrinsics", metavar="YAML", help="dexycb: intrinsics file (toolkit's color: fx fy ppx ppy)")
    parser.add_argument(
        "--size", type=int_range(8, 4096), default=None, help="eth-amodal: crop size in pixels (default 128)"
    )
    parser.add_argument("--skip-bad", action="store_true", help="skip malformed frames and count them")
    parser.add_argument("--force", action="store_true", help="overwrite a non-empty output folder")
    parser.add_argument(
        "--limit", type=non_negative_int, default=None, metavar="N", help="convert at most the first N frames"
    )


def run(args: argparse.Namespace) -> int:
    """Convert and print the counts."""
    from handseg.data.readers import convert, detect_format
    from handseg.errors import ConfigError

    fmt = detect_format(args.src) if args.format == "auto" else args.format
    opts: dict[str, object] = {}
    if args.depth_scale is not None:
        if fmt not in DEPTH_SCALE_FORMATS:
            raise ConfigError(f"--depth-scale applies to {' and '.join(DEPTH_SCALE_FORMATS)}, not {fmt}")
        if not args.depth_scale > 0:
            raise ConfigError(f"--depth-scale must be positive, got {args.depth_scale}")
        opts["depth_scale"] = args.depth_scale
    if args.intrinsics is not None:
        if fmt != "dexycb":
            raise ConfigError(f"--intrinsics applies to dexycb, not {fmt}")
        opts["intrinsics_file"] = args.intrinsics
    if args.size is not None:
        if fmt != "eth-amodal":
            raise ConfigError(f"--size applies to eth-amodal, not {fmt}")
        if args.size < 8:
            raise ConfigError(f"--size must be >= 8, got {args.size}")
        opts["size"] = args.size
    if args.limit is not None and args.limit < 0:
        raise ConfigError(f"--limit must be >= 0, got {args.limit}")
    stats = convert(
        args.src,
        args.dst,
        format=fmt,
        force=args.force,
        skip_bad=args.skip_bad,
        limit=args.limit,
        progress=not args.quiet,
        **opts,
    )
    splits = ", ".join(f"{k} {v}" for k, v in stats["splits"].items()) or "none"
    print(f"converted {stats['format']} {stats['source']} -> {stats['output']} (handseg-v1)")
    print(f"frames {stats['frames']}, considered {stats['considered']}, written {stats['written']}, "
          f"skipped {stats['skipped']}; splits: {splits}; {stats['seconds']:.1f} s")  # fmt: skip
    for kind, count in stats["skip_counts"].items():
        print(f"  skipped {count}: {kind}")
    for line in stats["skipped_examples"]:
        print(f"  e.g. {line}")
    return 0
