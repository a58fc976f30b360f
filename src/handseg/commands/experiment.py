"""`handseg experiment`: the paper's tables and the amodal experiments on synthetic data, at equal budgets."""

from __future__ import annotations

import argparse
import shlex
import sys

from handseg.commands.options import int_range, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the experiments."""
    parser.add_argument(
        "tables",
        nargs="+",
        choices=["table2", "table3", "amodal", "all"],
        help="which tables to run (shared rows train once)",
    )
    parser.add_argument("--out", default="runs/experiments", help="run folder (rows resume / are skipped when done)")
    parser.add_argument("--results-dir", default="benchmarks/results", help="where <table>.md and .json go")
    parser.add_argument("--steps", type=int_range(2), default=600, help="optimisation steps per row (default 600)")
    parser.add_argument("--finetune-steps", type=positive_int, default=150, help="contour steps inside the budget")
    parser.add_argument("--frames", type=int_range(8), default=400, help="synthetic frames (default 400)")
    parser.add_argument("--workers", type=positive_int, default=2, help="rows trained in parallel (one thread each)")
    parser.add_argument("--rows", nargs="*", help="only these row keys")
    parser.add_argument(
        "--amodal-data", help="amodal rows: an existing hand-crop dataset (default: generate --frames 128x128 crops)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny budget and images, for tests")
    parser.add_argument("--force", action="store_true", help="overwrite existing <table>.md/.json in --results-dir")


def run(args: argparse.Namespace) -> int:
    """Run the tables and write their Markdown."""
    from pathlib import Path

    from handseg.errors import ConfigError
    from handseg.experiments.table_report import write_table
    from handseg.experiments.tables import Budget, run_tables

    names = ["table2", "table3", "amodal"] if "all" in args.tables else list(dict.fromkeys(args.tables))
    if args.steps < 2 or args.finetune_steps < 1 or args.finetune_steps >= args.steps:
        raise ConfigError("need --steps >= 2 and 1 <= --finetune-steps < --steps")
    if args.frames < 8 or args.workers < 1:
        raise ConfigError("need --frames >= 8 and --workers >= 1")
    budget = Budget(steps=args.steps, finetune_steps=args.finetune_steps, frames=args.frames, workers=args.workers)
    if args.quick:
        budget = Budget(
            steps=4,
            finetune_steps=2,
            frames=12,
            size=(64, 48),
            workers=args.workers,
            latency_size=(64, 48),
            latency_repeats=2,
        )
    if args.quick:
        budget.extra.update(amodal_size=budget.size, amodal_frames=24)  # one batch of 16 crops to train on
    if args.amodal_data is not None:
        if not (Path(args.amodal_data) / "manifest.json").is_file():
            raise ConfigError(f"--amodal-data {args.amodal_data}: not a handseg-v1 dataset (no manifest.json)")
        budget.extra["amodal_data"] = str(Path(args.amodal_data).resolve())
    from handseg.experiments.tables import TABLES
    from handseg.utils.io import check_can_write_file

    known_rows = {row.key for name in names for row in TABLES.get(name, ())}
    if args.rows is not None and (missing := set(args.rows) - known_rows):
        raise ConfigError(f"--rows: unknown row(s) {sorted(missing)} for tables {names}")
    for name in names:  # before any training: never overwrite a table this run did not write
        for suffix in (".md", ".json"):
            check_can_write_file(Path(args.results_dir) / f"{name}{suffix}", args.force)
    results = run_tables(names, args.out, budget, rows=args.rows)
    command = "handseg experiment " + shlex.join(sys.argv[2:] if len(sys.argv) > 2 else names)
    for name, rows in results.items():
        path = write_table(name, rows, budget, command, Path(args.results_dir))
        print(path.read_text())
        print(f"wrote {path}")
    return 0
