"""`handseg bench`: latency of every model at 640x480 batch 1 (eager, channels_last, ONNX Runtime; GPU modes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from handseg.commands.options import parse_size, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models", default="all", help="'all' or comma-separated registry names and zoo model names (trained weights)"
    )
    parser.add_argument("--size", default="640x480", help="input WIDTHxHEIGHT (default 640x480)")
    parser.add_argument(
        "--repeats", type=positive_int, default=5, help="timed calls per model and mode (median reported)"
    )
    parser.add_argument(
        "--modes",
        help="comma-separated subset of eager,channels_last,onnxruntime,openvino,openvino_bf16,cuda_fp32,... "
        "(default: eager, channels_last, onnxruntime, openvino when installed, the CUDA modes on a GPU)",
    )
    parser.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="build option for every model, e.g. backbone=resnet18 (repeatable)")  # fmt: skip
    parser.add_argument("--threads", type=positive_int, help="CPU threads (default: torch's default)")
    parser.add_argument("--out", help="write the Markdown table here (and the raw rows as JSON beside it)")
    parser.add_argument("--force", action="store_true", help="overwrite --out and the JSON beside it")


def run(args: argparse.Namespace) -> int:
    from handseg.config import parse_value
    from handseg.errors import ConfigError
    from handseg.export.latency import bench_models, markdown
    from handseg.models import list_models
    from handseg.utils.io import atomic_write_json, atomic_write_text, check_can_write_file
    from handseg.zoo import list_pretrained

    names = list_models() if args.models == "all" else [n.strip() for n in args.models.split(",") if n.strip()]
    zoo = [m.name for m in list_pretrained()]
    unknown = sorted(set(names) - set(list_models()) - set(zoo))
    if unknown:
        known = ", ".join(list_models()) + (f"; zoo: {', '.join(zoo)}" if zoo else "")
        raise ConfigError(f"unknown model(s) {', '.join(unknown)}; known: {known}")
    if args.repeats < 1:
        raise ConfigError("--repeats must be at least 1")
    model_args = {}
    for item in args.model_arg:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--model-arg {item!r} must look like KEY=VALUE")
        model_args[key] = parse_value(value)
    if args.out:  # both files are checked before measuring: neither is overwritten without --force
        if Path(args.out).suffix.lower() == ".json":
            raise ConfigError(f"--out {args.out}: name the Markdown table (e.g. latency.md); the JSON goes beside it")
        check_can_write_file(args.out, args.force)
        check_can_write_file(Path(args.out).with_suffix(".json"), args.force)
    modes = tuple(m.strip() for m in args.modes.split(",")) if args.modes else None
    size = parse_size(args.size)
    print(f"latency at {size[0]}x{size[1]}, batch 1, median of {args.repeats}:")
    rows = bench_models(names, size, args.repeats, modes, model_args, args.threads)
    table = markdown(rows)
    print(table)
    if args.out:
        out = Path(args.out)
        atomic_write_text(out, f"# Latency, {size[0]}x{size[1]}, batch 1 (median ms)\n\n{table}\n")
        atomic_write_json(out.with_suffix(".json"), {"rows": rows, "model_args": model_args})
        print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0
