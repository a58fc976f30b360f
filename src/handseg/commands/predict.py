"""`handseg predict CKPT INPUTS... --out DIR`: label PNGs (or amodal part maps) and overlays."""

from __future__ import annotations

import argparse
from pathlib import Path

from handseg.commands.options import DEPTH_SCALE_HELP, add_tta_arguments, device, positive_float, positive_int, tta_spec
from handseg.loading import BACKEND_HELP, BACKENDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `handseg predict`."""
    parser.add_argument(
        "checkpoint",
        type=Path,
        help="run folder (its best.ckpt), a .ckpt file, an exported .onnx, or a zoo model name",
    )
    parser.add_argument(
        "inputs",
        type=Path,
        nargs="+",
        help="uint16 depth PNG/TIFF or .npy (integer: depth units; float: metres) files, 8-bit colour PNGs for RGB "
        "models, folders of them, handseg-v1 datasets",
    )
    parser.add_argument("--out", type=Path, default=Path("predictions"), help="output folder")
    parser.add_argument("--batch-size", type=positive_int, default=4, help="frames per forward pass")
    parser.add_argument("--depth-scale", type=positive_float, default=0.001, help=DEPTH_SCALE_HELP + " (default 0.001)")
    parser.add_argument("--split", help="only this split of dataset inputs (default: every frame)")
    parser.add_argument("--no-overlays", action="store_true", help="write only the label maps")
    parser.add_argument("--device", type=device, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help=BACKEND_HELP)
    parser.add_argument("--force", action="store_true", help="write into a non-empty output folder")
    parser.add_argument(
        "--skip-bad", action="store_true", help="leave out unreadable or unsuitable inputs and count them"
    )
    add_tta_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Predict every input and say where the files are."""
    from handseg.engine.predict import predict

    written = predict(
        args.checkpoint, args.inputs, args.out, batch_size=args.batch_size, force=args.force,
        depth_scale=args.depth_scale, split=args.split, overlays=not args.no_overlays, device=args.device,
        progress=not args.quiet, backend=args.backend, skip_bad=args.skip_bad, tta=tta_spec(args),
    )  # fmt: skip
    skipped = getattr(written, "skipped", {})
    print(f"wrote {len(written)} frames to {args.out}/; skipped {len(skipped)} bad inputs")
    for source, reason in list(skipped.items())[:10]:
        print(f"  skipped {source}: {reason}")
    return 0
