"""benchmarks/bench_hole_cues.py on a tiny checkpoint: every model x set row, scores as recorded and holes filled."""

from __future__ import annotations

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
    assert f"| val | {rows[0]['frames']} |" in written["md"]
