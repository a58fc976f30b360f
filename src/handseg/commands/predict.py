"""`handseg predict CKPT INPUTS... --out DIR`: label PNGs (or amodal part maps) and overlays."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `handseg predict`."""
    parser.add_argument(
        "checkpoint",
        type=Path,
        help="run folder (its best.ckpt), a .ckpt file, an exported .onnx, or a zoo model name",
    )
    parser.add_argument(
        "inputs", type=Path, nargs="+", help="depth PNGs (color PNGs for RGB models), folders, datasets"
    )
    parser.add_argument("--out", type=Path, default=Path("predictions"), help="output folder")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--depth-scale", type=float, default=0.001, help="metres per depth PNG unit (default mm)")
    parser.add_argument("--split", help="only this split of dataset inputs (default: every frame)")
    parser.add_argument("--no-overlays", action="store_true", help="write only the label maps")
    parser.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    parser.add_argument(
        "--backend", choices=["auto", "pytorch", "onnxruntime"], default="auto",
        help="pytorch for checkpoints, onnxruntime for .onnx files from `handseg export` (auto: by suffix)",
    )  # fmt: skip
    parser.add_argument("--force", action="store_true", help="write into a non-empty output folder")


def run(args: argparse.Namespace) -> int:
    """Predict every input and say where the files are."""
    from handseg.engine.predict import predict

    written = predict(
        args.checkpoint, args.inputs, args.out, batch_size=args.batch_size, force=args.force,
        depth_scale=args.depth_scale, split=args.split, overlays=not args.no_overlays, device=args.device,
        progress=not args.quiet, backend=args.backend,
    )  # fmt: skip
    print(f"wrote {len(written)} frames to {args.out}/")
    return 0
