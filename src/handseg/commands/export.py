"""`handseg export CKPT --onnx model.onnx`: export a checkpoint to ONNX (dynamic size), checked against PyTorch."""

from __future__ import annotations

import argparse
from pathlib import Path

from handseg.commands.options import int_range, non_negative_float, parse_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ckpt", help="checkpoint file, run folder (best.ckpt, else last.ckpt) or zoo model name")
    parser.add_argument("--out", "--onnx", dest="onnx", metavar="PATH",
                        help="output .onnx file (default: RUN/model.onnx, or CKPT with .onnx)")  # fmt: skip
    parser.add_argument("--opset", type=int_range(17), default=17, help="ONNX opset (default 17)")
    parser.add_argument("--size", default="320x240", help="trace size WIDTHxHEIGHT (the graph accepts any size)")
    parser.add_argument(
        "--atol", type=non_negative_float, default=1e-3, help="largest allowed |ONNX - PyTorch| of the logits"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing .onnx file")


def run(args: argparse.Namespace) -> int:
    from handseg.data.preprocess import input_channels
    from handseg.export.onnx import export_onnx
    from handseg.loading import load_model

    if args.onnx is None:
        ckpt = Path(args.ckpt)
        args.onnx = ckpt / "model.onnx" if ckpt.is_dir() else ckpt.with_suffix(".onnx")
    from handseg.zoo.store import get_model, is_zoo_name

    model, config = load_model(args.ckpt)
    zoo = None
    if is_zoo_name(args.ckpt):  # the ONNX metadata then names the zoo model and its version
        zoo = {"name": str(args.ckpt), "version": get_model(str(args.ckpt)).card.get("version")}
    modality = (config.get("data") or {}).get("modality", "depth")
    report = export_onnx(
        model,
        args.onnx,
        input_channels(modality),
        opset=args.opset,
        config=config,
        trace_size=parse_size(args.size),
        atol=args.atol,
        force=args.force,
        zoo=zoo,
    )
    diffs = ", ".join(f"{size}: {diff:.2g}" for size, diff in report["max_abs_diff"].items())
    print(f"wrote {report['path']} ({report['bytes'] / 1e6:.1f} MB, opset {report['opset']}, dynamic N/H/W)")
    print(f"max |ONNX Runtime - PyTorch| of the logits: {diffs}")
    return 0
