"""The `handseg` command line: one subcommand per module in handseg.commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from handseg import __version__
from handseg.errors import HandsegError

# name -> (module under handseg.commands, one-line help). Each module defines
# add_arguments(parser) and run(args) -> int, and imports heavy libraries inside run().
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("synth", "render a synthetic hand-object dataset (handseg-v1)"),
    "show": ("show", "write a contact sheet PNG of a dataset's frames"),
    "models": ("models", "list registered models with parameters and GFLOPs"),
    "train": ("train", "train a model from a YAML config (resumes from last.ckpt)"),
    "eval": ("evaluate", "evaluate a run or checkpoint on a dataset"),
    "predict": ("predict", "segment images, folders or datasets with a checkpoint"),
    "annotate": ("annotate", "auto-annotate aligned color+depth recordings"),
    "review": ("review", "accept or reject annotated frames in a local web page"),
    "convert": ("convert", "convert a public dataset into handseg-v1"),
    "export": ("export", "export a checkpoint to ONNX"),
    "stream": ("stream", "segment a camera, recording or folder frame by frame"),
    "bench": ("bench", "latency table of every model (eager, channels_last, ONNX Runtime)"),
    "zoo": ("zoo", "pretrained models: publish a run into the zoo, list, show or update cards, verify"),
    "experiment": ("experiment", "reproduce the paper's tables on synthetic data"),
    "demo": ("demo", "end-to-end demo: synthesize, train, fine-tune, evaluate, export, report"),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="handseg",
        description="Segment hands from the objects they hold.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"handseg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(f"handseg.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"handseg.commands.{module_name}":
                continue
            raise
        sub = subparsers.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 failed, 2 usage error, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except HandsegError as exc:
        print(f"handseg {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"handseg {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
