"""Every command that takes a model takes a zoo name: eval, predict, export, stream, bench (and models --pretrained)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handseg import Segmenter
from handseg.cli import main
from handseg.data.format import HandsegDataset
from handseg.utils.io import read_png


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # default outputs of a zoo model go to the working directory


def test_eval(zoo: Path, zoo_data: Path, tmp_path: Path) -> None:
    assert main(["eval", "tiny", str(zoo_data), "--no-progress", "--worst", "1"]) == 0
    out = tmp_path / f"eval_tiny_{zoo_data.name}_val"  # no run folder to write into
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["frames"] == len(HandsegDataset(zoo_data, split="val")) and metrics["model"] == "dense_attention_seg"


def test_predict(zoo: Path, zoo_data: Path, tmp_path: Path) -> None:
    assert main(["predict", "tiny", str(zoo_data), "--out", str(tmp_path / "pred"), "--no-progress"]) == 0
    dataset = HandsegDataset(zoo_data, split=None)
    labels = sorted((tmp_path / "pred" / "label").glob("*.png"))
    assert [p.stem for p in labels] == sorted(dataset.ids)
    sample = dataset.load(dataset.ids[0])  # 64x48 = the training size: the same labels as the Segmenter's
    np.testing.assert_array_equal(read_png(labels[0]), Segmenter("tiny").predict(sample["depth"]))


def test_export(zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "tiny", "--onnx", str(tmp_path / "tiny.onnx"), "--size", "64x48"]) == 0
    assert (tmp_path / "tiny.onnx").stat().st_size > 1_000_000
    assert "max |ONNX Runtime - PyTorch|" in capsys.readouterr().out
    import onnxruntime as ort

    session = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["handseg.zoo.name"] == "tiny" and meta["handseg.zoo.version"]  # the ONNX file names its zoo model


def test_stream(zoo: Path, zoo_data: Path, tmp_path: Path) -> None:
    args = ["stream", str(zoo_data), "--ckpt", "tiny", "--max-frames", "2", "--out", "s", "--labels", "--no-progress"]
    assert main(args) == 0
    assert len(list((tmp_path / "s" / "labels").glob("*.png"))) == 2
    assert json.loads((tmp_path / "s" / "stream.json").read_text())["frames"] == 2


def test_bench(zoo: Path, tmp_path: Path) -> None:
    args = ["bench", "--models", "tiny,tiny16", "--size", "64x48", "--repeats", "1", "--modes", "eager"]
    assert main([*args, "--out", "lat.md"]) == 0
    rows = json.loads((tmp_path / "lat.json").read_text())["rows"]
    assert {(r["model"], r["mode"]) for r in rows} == {("tiny", "eager"), ("tiny16", "eager")}
    assert all(r["median_ms"] > 0 and r["params_m"] == pytest.approx(0.99, abs=0.01) for r in rows)


def test_unknown_name_is_one_line(zoo: Path, zoo_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "nosuch", str(zoo_data), "--out", "p"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("handseg predict: error: nosuch: no checkpoint, run folder or zoo model") and "\n" not in err
    assert main(["bench", "--models", "nosuch"]) == 1
    zoo_names = capsys.readouterr().err.rsplit("zoo: ", 1)[1].strip().split(", ")
    assert {"tiny", "tiny16"} <= set(zoo_names), "the test zoo's models are listed beside the shipped ones"
