"""benchmarks/bench_logit_bias.py on a tiny checkpoint: tau swept, chosen on the selection set only, offsets real."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest


def test_choose_takes_the_best_selection_tau_only(load_benchmark) -> None:
    bench = load_benchmark("bench_logit_bias")
    rows = [
        {"model": "m", "tau": 0.0, "logit_bias": [0, 0, 0], "data": bench.SELECT_TITLE, "mean IOU": 50.0},
        {"model": "m", "tau": 0.5, "logit_bias": [0, -0.8, -0.8], "data": bench.SELECT_TITLE, "mean IOU": 53.0},
        {"model": "m", "tau": 1.0, "logit_bias": [0, -1.6, -1.6], "data": bench.SELECT_TITLE, "mean IOU": 53.0},
        {"model": "m", "tau": 1.0, "logit_bias": [0, -1.6, -1.6], "data": "real", "mean IOU": 90.0},  # never picks
    ]
    assert bench.choose(rows) == {"m": {"tau": 0.5, "logit_bias": [0, -0.8, -0.8], "selection mean IOU": 53.0}}


def test_bench_sweeps_tau_and_writes_the_report(
    tiny_ckpt: Path, synth_dataset: Path, tmp_path: Path, load_benchmark
) -> None:
    bench = load_benchmark("bench_logit_bias")
    out = tmp_path / "results" / "bias.md"
    model = str(tiny_ckpt)
    argv = [model, "--select", f"{model}={synth_dataset}", "--frames", "3", "--set", f"held out={synth_dataset}:val"]
    assert bench.main([*argv, "--taus", "0,1", "--out", str(out)]) == 0
    saved = json.loads(out.with_suffix(".json").read_text())
    rows = saved["rows"]
    assert [(r["tau"], r["data"], r["frames"]) for r in rows] == [
        (0.0, bench.SELECT_TITLE, 3),
        (0.0, "held out", 2),
        (1.0, bench.SELECT_TITLE, 3),
        (1.0, "held out", 2),
    ]
    w = rows[0]["weights"]
    assert rows[2]["logit_bias"] == pytest.approx([-math.log(v / w[0]) for v in w], abs=1e-5)
    assert saved["chosen"][model]["tau"] in (0.0, 1.0)
    text = out.read_text()
    assert "## " + model in text and "bias.png" in text and out.with_suffix(".png").stat().st_size > 1000
    with pytest.raises(SystemExit):  # results are not overwritten without --force
        bench.main([*argv, "--out", str(out)])
    with pytest.raises(SystemExit):  # every model needs its selection set
        bench.main([model, "--out", str(tmp_path / "other.md")])
    with pytest.raises(SystemExit):  # a negative tau
        bench.main([*argv, "--taus", "-1", "--out", str(tmp_path / "other.md")])
