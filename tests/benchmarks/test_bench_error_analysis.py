"""benchmarks/bench_error_analysis.py on a tiny checkpoint: scores, error shares and families per (model, set)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def test_error_shares_read_the_confusion_matrix(load_benchmark) -> None:
    bench = load_benchmark("bench_error_analysis")
    confusion = [[90, 6, 4], [2, 30, 8], [1, 9, 10]]  # true rows, predicted columns
    shares = bench.error_shares(confusion)
    assert shares["object -> hand"] == pytest.approx(100 * 9 / 20)
    assert shares["object -> background"] == pytest.approx(100 * 1 / 20)
    assert shares["hand -> object"] == pytest.approx(100 * 8 / 40)
    assert shares["predicted hand that is background"] == pytest.approx(100 * 6 / 45)
    assert shares["predicted object that is background"] == pytest.approx(100 * 4 / 22)
    assert np.isnan(bench.error_shares([[5, 0, 0], [0, 0, 0], [0, 0, 0]])["object -> hand"])


def test_bench_scores_training_frames_sets_and_families(
    tiny_ckpt: Path, synth_dataset: Path, tmp_path: Path, load_benchmark
) -> None:
    bench = load_benchmark("bench_error_analysis")
    out = tmp_path / "results" / "error_analysis.md"
    model = str(tiny_ckpt)
    argv = [model, "--train", f"{model}={synth_dataset}", "--frames", "3", "--set", f"held out={synth_dataset}:val"]
    assert bench.main([*argv, "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [(r["data"], r["split"], r["frames"]) for r in rows] == [
        (bench.TRAIN_TITLE, "train", 3),
        ("held out", "val", 2),
    ]
    for row in rows:
        assert 0 <= row["mean IOU"] <= 100 and row["families"]
        assert sum(f["frames"] for f in row["families"].values()) == row["frames"]
    text = out.read_text()
    assert "| object -> hand |" in text and "Per scene family" in text
    assert out.with_suffix(".png").stat().st_size > 1000
    note = tmp_path / "note.md"
    note.write_text("**Reading.** a note written later")
    assert bench.main(["--rebuild", "--note-file", str(note), "--out", str(out)]) == 0  # no evaluation again
    assert "a note written later" in out.read_text() and "| object -> hand |" in out.read_text()
    with pytest.raises(SystemExit):  # results are not overwritten without --force
        bench.main([*argv, "--out", str(out)])
    with pytest.raises(SystemExit):  # a --set without a split
        bench.main([model, "--set", f"x={synth_dataset}", "--out", str(tmp_path / "other.md")])
