"""benchmarks/bench_hole_cues.py on a tiny checkpoint: every model x set row, scores as recorded and holes filled."""

from __future__ import annotations

import math
from pathlib import Path


def test_bench_hole_cues_scores_each_set_as_recorded_and_filled(
    tiny_ckpt: Path, zoo_data: Path, monkeypatch, load_benchmark
) -> None:
    bench = load_benchmark("bench_hole_cues")
    written = {}
    monkeypatch.setattr(bench, "write_results", lambda name, payload, md, cmd: written.update(payload=payload, md=md))
    assert bench.main([str(tiny_ckpt), "--set", f"val={zoo_data}:val:1", "--set", f"train={zoo_data}:train"]) == 0
    rows = written["payload"]["rows"]
    assert [r["data"] for r in rows] == ["val", "train"] and rows[0]["frames"] == 1
    for row in rows:
        assert row["holes %"] > 0, "the synthetic frames have holes to fill"
        assert abs(row["mean IOU lost"] - (row["mean IOU, as recorded"] - row["mean IOU, holes filled"])) < 1e-9
        assert 0 <= row["mean IOU, measured pixels only"] <= 100
        share = row["false hand without depth %"]
        assert math.isnan(share) or 0 <= share <= 100
    assert f"| val | {rows[0]['frames']} |" in written["md"]


def test_confusions_split_measured_pixels(load_benchmark) -> None:
    import numpy as np

    bench = load_benchmark("bench_hole_cues")

    class Everywhere:
        def predict(self, depth):  # calls every pixel hand
            return np.ones(depth.shape, np.uint8)

    depth = np.array([[0.5, 0.0], [0.0, 0.7]], np.float32)
    label = np.array([[0, 0], [1, 255]], np.uint8)
    everywhere, measured = bench.confusions(Everywhere(), [{"depth": depth, "label": label}], filled=False)
    assert everywhere[0, 1] == 2 and everywhere[1, 1] == 1 and everywhere.sum() == 3  # 255 ignored
    assert measured[0, 1] == 1 and measured.sum() == 1  # only the pixel at 0.5 m is measured and labelled
