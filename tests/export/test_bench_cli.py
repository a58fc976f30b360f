"""`handseg bench` on two tiny models at a small size: every CPU mode measured, table and JSON written."""

from __future__ import annotations

import json

from handseg.cli import main
from handseg.export.latency import default_modes


def test_bench_two_tiny_models(tmp_path, capsys):
    out = tmp_path / "latency.md"
    args = ["bench", "--models", "dense_attention_seg,deeplabv3plus", "--size", "48x32", "--repeats", "1"]
    tiny = ["--model-arg", "backbone=resnet18", "--model-arg", "backbone_width=8", "--threads", "1"]
    assert main([*args, *tiny, "--out", str(out)]) == 0
    text = out.read_text()
    assert "| dense_attention_seg |" in text and "| deeplabv3plus |" in text
    assert "onnxruntime (ms)" in text and "channels_last (ms)" in text and "ORT speed-up vs eager" in text
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert {(r["model"], r["mode"]) for r in rows} == {
        (m, mode)
        for m in ("dense_attention_seg", "deeplabv3plus")
        for mode in default_modes(gpu=False)  # eager, channels_last, onnxruntime; openvino where installed
    }
    assert all(r["median_ms"] > 0 and r["size"] == "48x32" for r in rows)
    assert all(r["onnx_max_abs_diff"] < 1e-3 for r in rows if r["mode"] in ("onnxruntime", "openvino"))
    capsys.readouterr()
    assert main(["bench", "--models", "nope"]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_bench_never_overwrites_files_it_did_not_write(tmp_path, capsys):
    tiny = ["--models", "unet", "--size", "32x32", "--repeats", "1", "--modes", "eager", "--threads", "1"]
    neighbour = tmp_path / "x.json"
    neighbour.write_text("mine")
    assert main(["bench", *tiny, "--out", str(tmp_path / "x.md")]) == 1  # x.json is not bench's
    assert neighbour.read_text() == "mine" and not (tmp_path / "x.md").exists()
    assert "x.json" in capsys.readouterr().err
    assert main(["bench", *tiny, "--out", str(tmp_path / "y.json")]) == 1  # would write its table over its JSON
    assert not (tmp_path / "y.json").exists()
    assert main(["bench", *tiny, "--out", str(tmp_path / "x.md"), "--force"]) == 0
    assert neighbour.read_text() != "mine"
