"""`handseg eval RUN_OR_CKPT DATASET`: metrics table, per-frame CSV, confusion plot and worst-frame overlays."""

from __future__ import annotations

import argparse
from pathlib import Path

from handseg.commands.options import add_tta_arguments, device, non_negative_int, positive_int, tta_spec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `handseg eval`."""
    parser.add_argument("checkpoint", type=Path, help="run folder (its best.ckpt), a .ckpt file, or a zoo model name")
    parser.add_argument("dataset", type=Path, help="handseg-v1 dataset folder")
    parser.add_argument("--split", default="val", help="split to evaluate (default val; 'all' for every frame)")
    parser.add_argument(
        "--out", type=Path, help="output folder (default <run>/eval_<dataset>_<split>; zoo models: ./eval_<name>_...)"
    )
    parser.add_argument("--latency", action="store_true", help="also time 640x480 batch-1 inference here")
    parser.add_argument("--batch-size", type=positive_int, help="default: the config's eval.batch_size")
    parser.add_argument("--device", type=device, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--worst", type=non_negative_int, default=8, help="overlays of the N worst frames (default 8)")
    parser.add_argument("--workers", type=non_negative_int, default=0, help="data-loading worker processes")
    parser.add_argument("--force", action="store_true", help="overwrite a non-empty output folder")
    parser.add_argument(
        "--ignore-forearm",
        action="store_true",
        help="do not score hand pixels outside the part maps (the forearm), as real datasets with wrist-length "
        "hand masks (DexYCB) do; needs part maps",
    )
    parser.add_argument(
        "--group-by",
        default="family",
        metavar="KEY",
        help="also score the frames per value of this key of their scene file (synthetic data: family, the "
        "default; 'none': no groups)",
    )
    add_tta_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the metrics table."""
    from handseg.engine.evaluate import evaluate
    from handseg.engine.report import metrics_table
    from handseg.zoo import is_zoo_name

    split = None if args.split == "all" else args.split
    out = args.out
    if out is None and is_zoo_name(args.checkpoint):  # no run folder: write beside the working directory
        out = Path(f"eval_{args.checkpoint}_{args.dataset.resolve().name}_{args.split}")
    elif out is None:
        run_dir = args.checkpoint if args.checkpoint.is_dir() else args.checkpoint.parent
        out = run_dir / f"eval_{args.dataset.resolve().name}_{args.split}"
    metrics = evaluate(
        args.checkpoint, args.dataset, split=split, batch_size=args.batch_size, out_dir=out, latency=args.latency,
        device=args.device, workers=args.workers, worst=args.worst, force=args.force, progress=not args.quiet,
        ignore_forearm=args.ignore_forearm, tta=tta_spec(args),
        group_by=None if args.group_by.lower() == "none" else args.group_by,
    )  # fmt: skip
    print(metrics_table(metrics, metrics.get("name")))
    print(f"wrote {out}/ (metrics.json, metrics.md, per_frame.csv, worst/*.png)")
    return 0
