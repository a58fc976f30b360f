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
    assert "invalid choice" in result.stderr
