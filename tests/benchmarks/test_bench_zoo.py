"""benchmarks/bench_zoo.py on a tiny zoo: scores and latency of every model, only the named cards updated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


def test_update_cards_touches_only_the_named_models(
    tiny_ckpt: Path, zoo_data: Path, tmp_path: Path, monkeypatch, load_benchmark
) -> None:
    from handseg.zoo import publish

    zoo = tmp_path / "zoo"
    publish(tiny_ckpt, name="tiny-a", out=zoo)
    publish(tiny_ckpt, name="tiny-b", out=zoo)
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(zoo))
    real = tmp_path / "real"  # a 'real' set: the synthetic frames with a test split
    shutil.copytree(zoo_data, real)
    (real / "splits" / "test.txt").write_text((zoo_data / "splits" / "val.txt").read_text())
    bench = load_benchmark("bench_zoo")
    monkeypatch.setattr("benchmarks.common.RESULTS", tmp_path / "results")
    before = (zoo / "tiny-a.json").read_text()
    import torch

    threads = torch.get_num_threads()
    argv = ["tiny-a", "tiny-b", "--synthetic", str(zoo_data), "--real", str(real), "--repeats", "1"]
    assert bench.main([*argv, "--results", "zoo_new", "--update-cards", "tiny-b"]) == 0
    assert (zoo / "tiny-a.json").read_text() == before  # not named: its card is left as it was
    card = json.loads((zoo / "tiny-b.json").read_text())
    assert card["metrics"]["dexycb"]["frames"] == 2 and card["latency"]["ort_64x48_1t_ms"] > 0
    assert "logical cores" in card["latency"]["cpu"]  # the card names the machine its latency was measured on
    saved = json.loads((tmp_path / "results" / "zoo_new.json").read_text())
    assert set(saved["models"]) == {"tiny-a", "tiny-b"}  # both timed side by side
    assert torch.get_num_threads() == threads  # timing 2 threads leaves the process's setting as it was
    with pytest.raises(SystemExit):  # a card to update must be among the models measured
        bench.main([*argv, "--update-cards", "tiny-c"])


def test_machine_line_names_the_cpu_cores_and_load() -> None:
    from benchmarks.common import machine_line

    info = {"cpu": "AMD EPYC", "logical_cores": 2, "load_average_1min": 0.929}
    assert machine_line(info) == "AMD EPYC, 2 logical cores, 1-minute load average 0.93 while measuring"
    assert machine_line({"logical_cores": 4}) == "unknown CPU, 4 logical cores"
