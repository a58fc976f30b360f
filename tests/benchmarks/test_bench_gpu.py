"""benchmarks/bench_gpu.py, the prepared GPU run, checked end to end on the CPU at toy size (--device cpu --tiny)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


def test_every_step_runs_on_the_cpu_and_writes_the_report(zoo_data: Path, tmp_path: Path, load_benchmark) -> None:
    bench = load_benchmark("bench_gpu")
    real = tmp_path / "real"  # a 'real' set: synthetic frames with a test split
    shutil.copytree(zoo_data, real)
    (real / "splits" / "test.txt").write_text((zoo_data / "splits" / "val.txt").read_text())
    out = tmp_path / "out"
    argv = ["--out", str(out), "--work", str(tmp_path / "work"), "--device", "cpu", "--tiny", "--workers", "1"]
    assert bench.main([*argv, "--real", str(real)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "gpu.json", "gpu.md", "metrics.csv"]
    result = json.loads((out / "gpu.json").read_text())
    assert result["train"]["steps"] == bench.TINY["steps"] and result["train"]["images_per_s"] > 0
    assert set(result["latency_ms"]) == {"fp32", "bf16 autocast, channels_last"}  # fp16 weights: GPU only
    assert all(ms > 0 for ms in result["latency_ms"].values())
    assert list(result["scores"]) == ["held-out synthetic", "held-out synthetic, forearm not scored", "real (real)"]
    assert result["config"]["runtime"]["precision"] == "bf16-mixed" and result["config"]["train"]["channels_last"]
    text = (out / "gpu.md").read_text()
    assert "training images/s" in text and "| latency 64x48 batch 1, fp32 (ms) |" in text
    with pytest.raises(SystemExit):  # a report folder that is not empty is refused before anything runs
        bench.main(argv)
    mine = tmp_path / "mine"
    (mine / "keep.txt").parent.mkdir()
    (mine / "keep.txt").write_text("not the script's")
    with pytest.raises(SystemExit):  # a scratch folder the script did not make is never emptied
        bench.main(["--out", str(tmp_path / "out2"), "--work", str(mine), "--device", "cpu", "--tiny"])
    assert (mine / "keep.txt").read_text() == "not the script's"


def test_a_missing_gpu_is_named_not_a_traceback(tmp_path: Path, capsys, load_benchmark) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit):
        load_benchmark("bench_gpu").main(["--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")])
    assert "no CUDA device here" in capsys.readouterr().err


def test_the_device_command_runs_here_on_the_cpu(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "OUT": str(tmp_path / "out"),
        "WORK": str(tmp_path / "work"),
        "PY": sys.executable,
        "WHEELS": "0",
    }
    args = ["bash", "benchmarks/gpu_run.sh", "--device", "cpu", "--tiny", "--workers", "1"]
    done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["curves.png", "gpu.json", "gpu.log", "gpu.md", "metrics.csv"]  # at most 8 files come back
    log = (tmp_path / "out" / "gpu.log").read_text()
    assert "torch" in log and "wrote" in log
