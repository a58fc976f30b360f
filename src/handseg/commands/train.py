"""`handseg train CONFIG`: train (or resume) a model from a YAML config with Lightning Fabric."""

from __future__ import annotations

import argparse
from pathlib import Path

from handseg.commands.options import int_range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `handseg train`."""
    parser.add_argument("config", type=Path,
                        help="YAML path, or a shipped config by name (table2/fcn8s_cpu)")  # fmt: skip
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.max_steps=200 --set optim.lr=1e-4")  # fmt: skip
    parser.add_argument("--out", type=Path, help="run folder (default runs/<config name>); resumed if it holds one")
    parser.add_argument("--devices", type=int_range(1, 1024), help="devices (processes) on this machine; > 1 runs DDP")
    parser.add_argument("--num-nodes", type=int_range(1, 4096), help="machines (with torchrun or SLURM)")
    parser.add_argument("--device", "--accelerator", dest="accelerator", choices=("cpu", "gpu", "cuda", "auto"),
                        help="what to train on (default: auto)")  # fmt: skip
    parser.add_argument("--strategy", help="Fabric strategy (default auto: ddp when devices > 1)")
    parser.add_argument("--precision", choices=("32", "32-true", "bf16-mixed", "16-mixed", "bf16-true"))
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    parser.add_argument("--no-val", action="store_true", help="no validation (train.val_every_steps=0; no best.ckpt)")
    parser.add_argument("--cpu", action="store_true",
                        help="the CPU-scale variant of CONFIG: configs/base/<task>_cpu.yaml over it (160x120, "
                        "ResNet-18, a few hundred steps), named <config>_cpu")  # fmt: skip
    parser.add_argument("--print-config", action="store_true", help="print the resolved config (YAML) and exit")
    parser.add_argument("--force", action="store_true", help="start the run folder over (deletes its run files)")


def run(args: argparse.Namespace) -> int:
    """Load the config, apply flags, train, print the summary (best step and scores)."""
    from handseg.config import load_config, load_raw
    from handseg.experiments.paths import config_path, resolve_config

    overrides = list(args.overrides)
    for flag, key in (("devices", "devices"), ("num_nodes", "num_nodes"), ("accelerator", "accelerator"),
                      ("strategy", "strategy"), ("precision", "precision")):  # fmt: skip
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"runtime.{key}={'gpu' if value == 'cuda' else value}")
    if args.compile:
        overrides.append("runtime.compile=true")
    if args.channels_last:
        overrides.append("train.channels_last=true")
    if args.no_val:
        overrides.append("train.val_every_steps=0")
    args.config = resolve_config(args.config)
    layers, stem = (), args.config.stem
    if args.cpu:  # what each shipped <name>_cpu.yaml twin does: inherit the recipe, then the task's CPU scale
        layers, stem = (
            (config_path(f"base/{load_raw(args.config).get('task', 'segmentation')}_cpu.yaml"),),
            f"{stem}_cpu",
        )
        overrides.insert(0, f"name={stem}")
    config = load_config(args.config, overrides, layers=layers)
    if not config.get("name"):
        config["name"] = stem
    if args.print_config:
        from handseg.config import dump_config

        print(dump_config(config), end="")
        return 0
    run_dir = args.out or Path("runs") / stem

    from handseg.engine.train import format_summary, train

    result = train(config, run_dir, force=args.force, progress=not args.quiet)
    import torch

    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    if rank == 0:
        print(format_summary(result))
    return 0
