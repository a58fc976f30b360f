"""The `handseg` command line: one subcommand per module in handseg.commands."""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from handseg import __version__
from handseg.errors import HandsegError, original_message

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


# Commands that run a model take --device (train's --accelerator is the same option under its old name). Not
# export (traced on the CPU) nor experiment (rows train side by side on CPU threads, by design).
DEVICE_COMMANDS = ("train", "eval", "predict", "stream", "demo")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, unless there is none (None, False) or the help text already names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, [], argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


def _has_option(parser: argparse.ArgumentParser, option: str) -> bool:
    return option in parser._option_string_actions


def _add_conventions(name: str, sub: argparse.ArgumentParser) -> None:
    """The options every subcommand shares: -q/--quiet (hidden alias --no-progress), -v/--verbose, --device."""
    if not _has_option(sub, "--quiet"):
        sub.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings and errors only")
    if not _has_option(sub, "--no-progress"):
        sub.add_argument("--no-progress", dest="quiet", action="store_true", help=argparse.SUPPRESS)
    if not _has_option(sub, "--verbose"):
        sub.add_argument("-v", "--verbose", action="store_true", help="debug messages too")
    if name in DEVICE_COMMANDS and not _has_option(sub, "--device"):
        sub.add_argument("--device", help="cpu or cuda (default: cuda if available)")


class _StderrHandler(logging.StreamHandler):
    """Writes to the current sys.stderr (replaced by test harnesses and redirections after setup)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Messages of the `handseg` logger go to stderr: INFO by default, WARNING with --quiet, DEBUG with --verbose."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logger = logging.getLogger("handseg")
    logger.setLevel(level)
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def _suggest_command(argv: Sequence[str]) -> str | None:
    """A usage error with 'did you mean' when the first word is a mistyped subcommand."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None or first in COMMANDS or (argv and argv[0].startswith("-")):
        return None
    close = difflib.get_close_matches(first, list(COMMANDS), n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else f" (commands: {', '.join(COMMANDS)})"
    return f"handseg: error: argument COMMAND: unknown command {first!r}{hint}"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line naming the option (the usage text is in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand."""
    parser = _Parser(
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
        sub.formatter_class = HelpFormatter
        _add_conventions(name, sub)
        sub.set_defaults(run=module.run)
    return parser


def _fail(command: str, message: str) -> None:
    print(f"handseg {command}: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 failed, 2 usage error, 130 interrupted).

    Every failure is one line on stderr; HANDSEG_DEBUG=1 shows the traceback of an unexpected one.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    unknown = _suggest_command(argv)
    if unknown:
        print(unknown, file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(quiet=getattr(args, "quiet", False), verbose=getattr(args, "verbose", False))
    try:
        return int(args.run(args) or 0)
    except HandsegError as exc:
        _fail(args.command, str(exc))
        return 1
    except KeyboardInterrupt:
        print(f"handseg {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, permission denied, ...: name the file
        if os.environ.get("HANDSEG_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(args.command, f"{where}{exc.strerror or exc}")
        return 1
    except Exception as exc:  # a bug or an unforeseen input: still one line, no traceback
        if os.environ.get("HANDSEG_DEBUG"):
            raise
        first = (original_message(str(exc)).strip().splitlines() or [""])[0]
        _fail(args.command, f"internal error ({type(exc).__name__}: {first}); HANDSEG_DEBUG=1 shows the traceback")
        return 1


if __name__ == "__main__":
    sys.exit(main())
