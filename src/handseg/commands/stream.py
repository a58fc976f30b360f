"""`handseg stream SOURCE`: segment a camera, a .bag/.db3 recording or a folder of depth PNGs frame by frame."""

from __future__ import annotations

import argparse
from pathlib import Path

from handseg.commands.options import DEPTH_SCALE_HELP, parse_size, positive_float, positive_int, unit_fraction
from handseg.loading import BACKEND_HELP, BACKENDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="'camera', 'camera:SERIAL', a .bag/.db3 recording, or a folder of depth PNGs")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--model", help="run folder, checkpoint, zoo name or .onnx file (backend by suffix)")
    model.add_argument("--ckpt", help="checkpoint file, run folder or zoo model name (default backend: PyTorch)")
    model.add_argument("--onnx", help="exported .onnx model (default backend: ONNX Runtime)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help=BACKEND_HELP)
    parser.add_argument("--out", help="output folder (label PNGs under labels/, stream.json)")
    parser.add_argument("--labels", action="store_true", help="write a label PNG per frame into OUT/labels/")
    parser.add_argument("--video", help="write an overlay video (mp4) here")
    parser.add_argument(
        "--smooth", type=unit_fraction, default=0.0, help="EMA factor of the logits over time (0 = off)"
    )
    parser.add_argument("--size", help="working size WIDTHxHEIGHT, e.g. 320x240 (default: the source's size)")
    parser.add_argument("--max-frames", type=positive_int, help="stop after N frames")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="CPU threads of the model (default 1; the other core plays the source)",
    )
    parser.add_argument(
        "--fps", type=positive_float, default=30.0, help="frame rate written into the video (default 30)"
    )
    parser.add_argument("--depth-scale", type=positive_float, help=DEPTH_SCALE_HELP + " (default 0.001)")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")


def backend_name(predictor: object) -> str:
    """The backend a predictor runs on, as --backend names it."""
    kind = type(predictor).__name__
    if kind == "OpenVinoPredictor":
        return "openvino-bf16" if getattr(predictor, "precision", "fp32") == "bf16" else "openvino"
    return "onnxruntime" if kind == "OnnxPredictor" else "pytorch"


def run(args: argparse.Namespace) -> int:
    from handseg.data.sources import open_source
    from handseg.errors import ConfigError
    from handseg.export.stream import OverlayVideo, run_stream
    from handseg.loading import load_predictor
    from handseg.utils.io import atomic_write_json, check_can_write_file, prepare_output_dir

    if args.labels and not args.out:
        raise ConfigError("--labels needs --out DIR")
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError("--max-frames must be at least 1")
    size = parse_size(args.size) if args.size else None
    out = prepare_output_dir(args.out, args.force) if args.out else None
    if args.video:
        if Path(args.video).suffix.lower() != ".mp4":
            raise ConfigError(f"{args.video}: the video name must end in .mp4")
        check_can_write_file(args.video, args.force)
    if args.model:  # one way to name a model, as predict's MODEL
        is_onnx = str(args.model).lower().endswith(".onnx")
        args.ckpt, args.onnx = (None, args.model) if is_onnx else (args.model, None)
    predictor = load_predictor(args.ckpt, args.onnx, threads=args.threads, device=args.device, backend=args.backend)
    frames = open_source(args.source, args.depth_scale, color=predictor.modality != "depth")
    video = OverlayVideo(args.video, args.fps) if args.video else None
    ok = False
    try:
        stats = run_stream(
            frames,
            predictor,
            size=size,
            smooth=args.smooth,
            labels_dir=out / "labels" if out is not None and args.labels else None,
            video=video,
            max_frames=args.max_frames,
            progress=not args.quiet,
        )
        ok = True
    finally:
        if video is not None:
            video.close(keep=ok)
    summary = stats.to_dict()
    summary.update(source=args.source, backend=backend_name(predictor), smooth=args.smooth)
    if out is not None:
        atomic_write_json(out / "stream.json", summary)
    stages = ", ".join(f"{k} {v:.1f} ms" for k, v in summary["ms_per_frame"].items())
    print(f"{stats.frames} frames in {stats.seconds:.2f} s: {stats.fps:.1f} frames/s end to end ({stages} per frame)")
    if video is not None:
        print(f"wrote {args.video}")
    if out is not None and args.labels:
        print(f"wrote label PNGs to {out / 'labels'}")
    return 0
