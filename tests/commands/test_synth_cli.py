"""`handseg synth` and `handseg show`: outputs, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handseg.cli import main
from handseg.utils.io import read_png


def test_synth_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    assert main(["synth", str(out), "--frames", "3", "--size", "64x48", "--seed", "2", "--quiet"]) == 0
    assert sorted(p.name for p in (out / "depth").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert read_png(out / "depth" / "000001.png").shape == (48, 64)
    sheet = tmp_path / "sheet.png"
    assert main(["show", str(out), "--split", "all", "--out", str(sheet), "--tile-width", "64"]) == 0
    image = read_png(sheet, color=True)
    assert image.ndim == 3 and image.shape[1] > 5 * 64 and image.std() > 5
    assert main(["show", str(out), "--split", "all", "--out", str(sheet)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["show", str(out), "--split", "all", "--out", str(sheet), "--force"]) == 0


def test_synth_refuses_non_empty_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["synth", str(tmp_path), "--frames", "1", "--size", "32x24", "--quiet"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_synth_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["synth", str(blocker / "sub"), "--frames", "1", "--size", "32x24", "--quiet"]) == 1
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frames", "0"], "at least 1"),
        (["--frames", "-3"], "at least 1"),
        (["--frames", "many"], "positive integer"),
        (["--frames", "1", "--size", "640by480"], "WIDTHxHEIGHT"),
        (["--frames", "1", "--size", "0x480"], "between 16"),
        (["--frames", "1", "--size", "x"], "WIDTHxHEIGHT"),
        (["--frames", "1", "--val-fraction", "1.5"], "[0, 1)"),
    ],
)
def test_synth_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["synth", str(tmp_path / "ds"), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_synth_unknown_val_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", str(tmp_path / "ds"), "--frames", "2", "--val-objects", "mug,teapot", "--quiet"]) == 1
    assert "teapot" in capsys.readouterr().err


def test_synth_train_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", str(tmp_path / "bad"), "--frames", "2", "--train-objects", "box,teapot", "--quiet"]) == 1
    assert "--train-objects" in (err := capsys.readouterr().err) and "teapot" in err and "composite" in err
    assert not (tmp_path / "bad").exists()
    out = tmp_path / "ds"
    args = ["synth", str(out), "--frames", "4", "--size", "32x24", "--train-objects", "composite", "--quiet"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest.get("generator") or manifest["extra"]["generator"])["train_objects"] == ["composite"]


def test_show_missing_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(tmp_path / "nothing"), "--out", str(tmp_path / "s.png")]) == 1
    assert "nothing" in capsys.readouterr().err
    assert not np.any([p.suffix == ".png" for p in tmp_path.iterdir()])


def test_synth_in_range_is_recorded(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    args = ["synth", str(out), "--frames", "2", "--size", "32x24", "--scenes", "egocentric", "--in-range", "--quiet"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest.get("generator") or manifest["extra"]["generator"])["render_options"]["in_range"] is True
    scene = json.loads((out / "scene" / "000000.json").read_text())
    assert scene["in_range_draws"] >= 1
