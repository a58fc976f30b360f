"""A bad frame read in a DataLoader worker process is reported as its own one-line DataError."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from handseg.cli import main
from handseg.errors import DataError, original_message


def _ckpt(path: Path) -> Path:
    from handseg.config import validate
    from handseg.engine.checkpoint import save_checkpoint
    from handseg.models import build_model

    config = validate({"model": {"name": "unet", "width": 8, "depth": 2}, "data": {"size": [64, 48]}})
    model = build_model("unet", **{k: v for k, v in config["model"].items() if k != "name"})
    save_checkpoint(path, {"model": model.state_dict(), "config": config})
    return path


def test_worker_error_is_unwrapped(tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    (data / "label" / "f002.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    ckpt = _ckpt(tmp_path / "m.ckpt")
    code = main(["eval", str(ckpt), str(data), "--workers", "1", "--out", str(tmp_path / "ev"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err == f"handseg eval: error: {data / 'label' / 'f002.png'}: truncated PNG (no IEND chunk at the end)\n"


def test_original_message_of_a_reraised_worker_error() -> None:
    text = (
        "Caught DataError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\n    raise DataError(path, "bad")\nhandseg.errors.DataError: /d/a.png: bad\n'
    )
    assert original_message(text) == "/d/a.png: bad"
    assert str(DataError(text)) == "/d/a.png: bad"  # torch re-raises with one argument: that must work
    assert original_message("plain: message") == "plain: message"
