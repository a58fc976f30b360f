"""`handseg experiment`: the paper's tables and the amodal experiments on synthetic data, seeds, row files."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from handseg.commands.options import int_range, parse_size, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the experiments."""
    parser.add_argument(
        "tables",
        nargs="+",
        choices=["table2", "table3", "amodal", "all"],
        help="which tables to run (shared rows train once per seed)",
    )
    parser.add_argument("--out", default="runs/experiments", help="run folder (<out>/seed<k>/<row>; rows resume)")
    parser.add_argument(
        "--results-dir",
        default="benchmarks/results",
        help="where rows/<row>_seed<k>.json and <table>.md/.json/_miou.png/_curves.png go",
    )
    parser.add_argument("--data", help="an existing handseg-v1 dataset (default: generate --frames frames in --out)")
    parser.add_argument("--real", help="a real handseg-v1 dataset whose test split every row is also evaluated on")
    parser.add_argument("--seeds", type=int_range(0), nargs="+", default=[0], help="seeds per row (default 0)")
    parser.add_argument("--steps", type=int_range(2), default=2000, help="optimisation steps per row (default 2000)")
    parser.add_argument(
        "--finetune-steps", type=positive_int, help="contour fine-tuning steps (default: steps x 10/140, the paper's)"
    )
    parser.add_argument("--val-every", type=positive_int, help="validate every N steps (default: steps / 6)")
    parser.add_argument("--size", default="160x120", help="network input WxH (default 160x120)")
    parser.add_argument("--frames", type=int_range(8), default=400, help="synthetic frames without --data")
    parser.add_argument("--workers", type=positive_int, default=1, help="rows trained in parallel (one thread each)")
    parser.add_argument("--rows", nargs="*", help="only these row keys (a contour row brings its CE row)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override, every row")
    parser.add_argument("--rebuild", action="store_true", help="train nothing: rebuild the tables from the row files")
    parser.add_argument(
        "--amodal-data", help="amodal rows: an existing hand-crop dataset (default: generate --frames 128x128 crops)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny budget and images, for tests")
    parser.add_argument("--force", action="store_true", help="overwrite existing <table>.md/.json in --results-dir")


def run(args: argparse.Namespace) -> int:
    """Run the missing (row, seed) jobs, then rebuild the tables from every row file."""
    from handseg.errors import ConfigError
    from handseg.experiments.table_report import write_table
    from handseg.experiments.tables import TABLES, Budget, load_row_files, plan, run_rows
    from handseg.utils.io import check_can_write_file

    names = ["table2", "table3", "amodal"] if "all" in args.tables else list(dict.fromkeys(args.tables))
    if args.finetune_steps is not None and args.finetune_steps >= args.steps:
        raise ConfigError("need --finetune-steps < --steps")
    seeds = tuple(dict.fromkeys(args.seeds))
    budget = Budget(
        steps=args.steps,
        finetune_steps=args.finetune_steps,
        val_every=args.val_every,
        frames=args.frames,
        size=parse_size(args.size, least=16, most=4096, option="--size"),
        workers=args.workers,
        seeds=seeds,
        extra=list(args.set),
    )
    if args.quick:
        budget = Budget(
            steps=4,
            finetune_steps=2,
            val_every=2,
            frames=12,
            size=(64, 48),
            workers=args.workers,
            latency_size=(64, 48),
            latency_repeats=2,
            seeds=seeds,
            extra=["data.val_max_frames=null", *args.set],
        )
    if args.quick:
        budget.amodal_size, budget.amodal_frames = budget.size, 24  # one batch of 16 crops to train on
    if args.amodal_data is not None:
        if not (Path(args.amodal_data) / "manifest.json").is_file():
            raise ConfigError(f"--amodal-data {args.amodal_data}: not a handseg-v1 dataset (no manifest.json)")
        budget.amodal_data = str(Path(args.amodal_data).resolve())
    plan(names, args.rows, seeds)  # unknown tables / rows refused before anything is written
    results_dir = Path(args.results_dir)
    for name in names:  # before any training: never overwrite a table this run did not write
        for suffix in (".md", ".json"):
            check_can_write_file(results_dir / f"{name}{suffix}", args.force)
    for path in (args.data, args.real):
        if path is not None and not Path(path).is_dir():
            raise ConfigError(f"{path}: dataset folder not found")
    command = "handseg experiment " + shlex.join(sys.argv[2:] if len(sys.argv) > 2 else names)
    if not args.rebuild:
        run_rows(names, args.out, budget=budget, results_dir=results_dir, rows=args.rows, data=args.data,
                 real=args.real, command=command)  # fmt: skip
    tables = load_row_files(results_dir, names)
    for name in names:
        path = write_table(name, tables[name], rows=TABLES[name], command=command, results_dir=results_dir, seeds=seeds)
        print(path.read_text())
        print(f"wrote {path}")
    return 0
