"""The CLI: every registered subcommand answers --help; usage errors exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from handseg.cli import COMMANDS, build_parser, main


def test_every_command_is_available() -> None:
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert names == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_of_each_command(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "usage: handseg " + name in capsys.readouterr().out


def test_unknown_command_exits_2() -> None:
    result = subprocess.run([sys.executable, "-m", "handseg", "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown command 'nope'" in result.stderr and "predict" in result.stderr


def test_help_imports_no_heavy_library() -> None:
    """`handseg --help` stays fast: the parser of every subcommand is built without torch, OpenCV or the like."""
    heavy = ("torch", "cv2", "lightning", "matplotlib", "onnx", "onnxruntime", "albumentations", "tqdm", "yaml")
    code = f"import sys, handseg.cli; handseg.cli.build_parser(); print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_mistyped_command_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trian", "table2/fcn8s_cpu"]) == 2
    assert "did you mean train" in capsys.readouterr().err


def test_mistyped_config_key_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "table2/fcn8s_cpu", "--set", "train.max_step=3"]) == 1
    assert "did you mean 'train.max_steps'" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_shared_conventions_of_each_command(name: str) -> None:
    sub = build_parser()._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]
    options = sub._option_string_actions
    assert "--quiet" in options and "--verbose" in options
    assert options["--no-progress"].dest == options["--quiet"].dest  # the old spelling still works
    assert options["--no-progress"].help == "==SUPPRESS=="  # ... but is not advertised
    if name in ("train", "eval", "predict", "stream", "demo"):
        assert "--device" in options
    assert "--no-progress" not in sub.format_help()


def test_defaults_shown_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: predictions)" in text and "(default: auto)" in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_train_accelerator_is_an_alias_of_device() -> None:
    parser = build_parser()
    for flag in ("--device", "--accelerator"):
        assert parser.parse_args(["train", "x.yaml", flag, "cpu"]).accelerator == "cpu"


def test_quiet_and_verbose_set_the_log_level() -> None:
    import logging

    from handseg.cli import setup_logging

    setup_logging(quiet=True)
    assert logging.getLogger("handseg").level == logging.WARNING
    setup_logging(verbose=True)
    assert logging.getLogger("handseg").level == logging.DEBUG
    setup_logging()
    assert logging.getLogger("handseg").level == logging.INFO
