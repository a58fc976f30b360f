"""benchmarks/bench_time_to_accuracy.py on a tiny run: a time budget, the plot and the table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from handseg.engine.checkpoint import read_checkpoint
from handseg.engine.runlog import read_metrics_csv

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_time_to_accuracy.py"


def load_script():
    spec = importlib.util.spec_from_file_location("bench_time_to_accuracy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_for_minutes_then_plot_and_table(
    tiny_dataset: Path, tmp_path: Path, tiny_config, capsys: pytest.CaptureFixture
) -> None:
    script = load_script()
    config = tiny_config(tiny_dataset, max_steps=100000, val_every_steps=3, ckpt_every_steps=1000)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    run_dir, out = tmp_path / "run", tmp_path / "results" / "tta"
    args = [str(run_dir), "--train", str(path), "--minutes", "0.03", "--out", str(out)]
    assert script.main(args) == 0
    ckpt = read_checkpoint(run_dir / "last.ckpt")
    assert 0 < ckpt["step"] < 100000 and ckpt["wall_s"] >= 1.8  # stopped by the 1.8 s budget, not the steps
    rows = read_metrics_csv(run_dir / "metrics.csv")
    assert rows[-1]["kind"] == "val" and rows[-1]["step"] == ckpt["step"]  # validated where it stopped
    png = (out.with_suffix(".png")).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    md = out.with_suffix(".md").read_text()
    assert "| minutes | step | images_seen | mean_iou | hand_iu | object_iu |" in md
    summary = json.loads(out.with_suffix(".json").read_text())
    vals = [r for r in rows if r["kind"] == "val"]
    assert [p["step"] for p in summary["points"]] == [int(r["step"]) for r in vals]
    assert summary["points"][-1]["images_seen"] == ckpt["step"] * 2
    assert summary["points"][-1]["minutes"] == pytest.approx(vals[-1]["wall_s"] / 60)
    assert "goal 90%" in md
    capsys.readouterr()
    assert script.main([str(run_dir), "--out", str(out)]) == 1  # outputs exist: refused without --force
    assert "--force" in capsys.readouterr().err
    # more minutes resume the same run (the clock is summed over sessions)
    more = f"{ckpt['wall_s'] / 60 + 0.03:.4f}"
    assert script.main([*args[:4], more, "--out", str(out), "--force"]) == 0
    assert read_checkpoint(run_dir / "last.ckpt")["step"] > ckpt["step"]


def test_run_without_validation_rows_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    script = load_script()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"train": {"batch_size": 4}}))
    (tmp_path / "metrics.csv").write_text("step,epoch,kind,wall_s,loss\n1,0,train,0.5,1.0\n")
    assert script.main([str(tmp_path), "--out", str(tmp_path / "tta")]) == 1
    assert "no validation rows" in capsys.readouterr().err
