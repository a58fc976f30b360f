"""`handseg predict --backend onnxruntime`: an exported model gives the same label maps as its checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from handseg.cli import main
from handseg.engine.predict import predict
from handseg.errors import ConfigError
from handseg.utils.io import read_png


def test_onnx_backend_matches_pytorch(trained_run: tuple[Path, dict], tiny_dataset: Path, tmp_path: Path) -> None:
    run_dir, _ = trained_run
    onnx = tmp_path / "model.onnx"
    assert main(["export", str(run_dir / "best.ckpt"), "--onnx", str(onnx)]) == 0
    torch_ids = predict(run_dir, [tiny_dataset], tmp_path / "torch", overlays=False, progress=False)
    code = main(["predict", str(onnx), str(tiny_dataset), "--out", str(tmp_path / "ort"), "--no-progress",
                 "--no-overlays"])  # fmt: skip
    assert code == 0
    agree = [
        (
            read_png(tmp_path / "torch" / "label" / f"{i}.png") == read_png(tmp_path / "ort" / "label" / f"{i}.png")
        ).mean()
        for i in torch_ids
    ]
    assert min(agree) > 0.999


def test_unknown_backend_is_refused(trained_run: tuple[Path, dict], tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown backend"):
        predict(trained_run[0], [tiny_dataset], tmp_path / "x", backend="tensorrt", progress=False)
