"""A crafted checkpoint (a pickle that runs a shell command when loaded unsafely) is refused everywhere.

Every path that reads a checkpoint goes through torch.load(weights_only=True): eval, predict, export, stream,
training's init_from and resume, and zoo publish. Each must fail with a one-line error, and the command inside the
pickle must never run (it would create a marker file).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
import yaml

from handseg.cli import main
from handseg.engine.checkpoint import read_checkpoint
from handseg.errors import CheckpointError


class _Payload:
    """Unpickling this calls os.system(command)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return (os.system, (self.command,))


def _craft(folder: Path, kind: str) -> tuple[Path, Path]:
    """(crafted checkpoint, marker its payload would create); kind: 'torch' (zip, torch.save) or 'pickle' (raw)."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f"PWNED-{kind}"
    payload = {"model": {}, "config": {"model": {"name": "unet"}}, "x": _Payload(f"touch {marker}")}
    path = folder / f"crafted-{kind}.ckpt"
    if kind == "torch":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=4))
    return path, marker


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic 64x48 frames."""
    from handseg.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("sec") / "data"
    generate_dataset(root, 2, seed=1, size=(64, 48), val_fraction=0.5, progress=False)
    return root


@pytest.mark.parametrize("kind", ["torch", "pickle"])
def test_read_checkpoint_refuses(tmp_path: Path, kind: str) -> None:
    path, marker = _craft(tmp_path, kind)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"{path}: refused to load checkpoint") and "\n" not in message
    if kind == "torch":
        assert "posix.system" in message or "os.system" in message
    assert not marker.exists()


def _commands(path: Path, data: Path, out: Path) -> dict[str, list[str]]:
    return {
        "eval": ["eval", str(path), str(data), "--out", str(out / "eval"), "--no-progress"],
        "predict": ["predict", str(path), str(data), "--out", str(out / "pred"), "--no-progress"],
        "export": ["export", str(path), "--onnx", str(out / "m.onnx")],
        "stream": ["stream", str(data), "--ckpt", str(path), "--max-frames", "1", "--no-progress"],
        "zoo publish": ["zoo", "publish", str(path), "--name", "evil", "--out", str(out / "zoo")],
    }


@pytest.mark.parametrize("command", ["eval", "predict", "export", "stream", "zoo publish"])
@pytest.mark.parametrize("kind", ["torch", "pickle"])
def test_commands_refuse(tmp_path: Path, dataset: Path, capsys, command: str, kind: str) -> None:
    path, marker = _craft(tmp_path, kind)
    assert main(_commands(path, dataset, tmp_path)[command]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"handseg {command.split()[0]}: error: {path}: refused to load checkpoint"), err
    assert len(err.splitlines()) == 1
    assert not marker.exists()
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "zoo").exists()


def _train_config(tmp_path: Path, dataset: Path, **extra: object) -> Path:
    config = {
        "model": {"name": "unet", "width": 4, "depth": 2},
        "data": {"root": str(dataset), "size": [64, 48], "workers": 0},
        "loss": {"name": "ce"},
        "train": {"batch_size": 1, "max_steps": 1},
        "runtime": {"accelerator": "cpu"},
        **extra,
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("kind", ["torch", "pickle"])
def test_init_from_refuses(tmp_path: Path, dataset: Path, capsys, kind: str) -> None:
    path, marker = _craft(tmp_path / "prev", kind)
    config = _train_config(tmp_path, dataset, init_from=str(path))
    assert main(["train", str(config), "--out", str(tmp_path / "run"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert f"{path}: refused to load checkpoint" in err and len(err.splitlines()) == 1
    assert not marker.exists()


def test_resume_from_a_crafted_last_ckpt_refuses(tmp_path: Path, dataset: Path, capsys) -> None:
    run = tmp_path / "run"
    path, marker = _craft(run, "torch")
    path.rename(run / "last.ckpt")
    config = _train_config(tmp_path, dataset)
    assert main(["train", str(config), "--out", str(run), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert f"{run / 'last.ckpt'}: refused to load checkpoint" in err and len(err.splitlines()) == 1
    assert not marker.exists()
