"""`handseg demo`: the end-to-end demo on synthetic data, ending in an HTML report."""

from __future__ import annotations

import argparse

from handseg.commands.options import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the demo."""
    parser.add_argument("--out", default="demo", help="output folder")
    parser.add_argument("--force", action="store_true", help="overwrite a non-empty output folder")
    parser.add_argument("--quick", action="store_true", help="a tiny demo that runs in seconds (for tests)")
    parser.add_argument("--frames", type=positive_int, help="synthetic frames (default 240)")
    parser.add_argument("--steps", type=positive_int, help="cross-entropy training steps (default 600)")
    parser.add_argument("--finetune-steps", type=positive_int, help="contour fine-tuning steps (default 150)")
    parser.add_argument("--zoo-model", default="refinenet-160", help="shipped model shown first ('none' to skip)")
    parser.add_argument("--real", default=None, help="a real handseg-v1 dataset the shipped model also segments")


def run(args: argparse.Namespace) -> int:
    """Run the demo and print where the report is."""
    from handseg.errors import ConfigError
    from handseg.experiments.demo import DemoSettings, run_demo

    settings = DemoSettings.quick() if args.quick else DemoSettings()
    if args.device:
        if args.device.split(":")[0] not in ("cpu", "cuda"):
            raise ConfigError(f"--device {args.device!r}: expected cpu or cuda")
        settings.device = args.device
    for name in ("frames", "steps", "finetune_steps"):
        value = getattr(args, name)
        if value is not None:
            if value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
            setattr(settings, name, value)
    settings.zoo_model = None if args.zoo_model == "none" else args.zoo_model
    if args.real is not None:
        from handseg.data.format import Manifest

        Manifest.load(args.real)  # a clear error before anything is written
        settings.real = args.real
    report = run_demo(args.out, settings, force=args.force)
    print(f"report: {report.resolve()}")
    return 0
