"""`handseg experiment`: equal budgets, held-out objects in val, cached rows, the Markdown table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handseg.cli import main
from handseg.experiments.tables import TABLES, Budget, row_config


def test_budget_is_equal_for_contour_rows(tmp_path: Path) -> None:
    budget = Budget(steps=100, finetune_steps=30)
    rows = {r.key: r for r in TABLES["table2"]}
    plain = row_config(rows["dense_attention_seg"], budget, tmp_path)
    contour = row_config(rows["dense_attention_seg_contour"], budget, tmp_path)
    assert plain["train"]["max_steps"] == 100
    assert contour["train"]["max_steps"] + contour["phases"][-1]["train"]["max_steps"] == 100
    assert contour["phases"][-1]["loss"]["name"] == "ce_contour"
    assert plain["data"]["root"] == str(tmp_path)


def test_quick_table_runs_and_caches_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, results = tmp_path / "runs", tmp_path / "results"
    argv = ["experiment", "table2", "--quick", "--workers", "1", "--out", str(out), "--results-dir", str(results),
            "--rows", "gcn", "dense_attention_seg_contour"]  # fmt: skip
    assert main(argv) == 0
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    assert set(manifest["generator"]["val_objects"]) == {"mug", "torus"}
    table = (results / "table2.md").read_text()
    assert "| Large Kernel Matters (GCN, k=9) |" in table and "| DenseAttentionSeg + contour loss |" in table
    data = json.loads((results / "table2.json").read_text())
    assert [r["row"]["key"] for r in data["rows"]] == ["gcn", "dense_attention_seg_contour"]
    assert all(0 <= r["metrics"]["pixel_acc"] <= 1 for r in data["rows"])
    cached = out / "gcn" / "result.json"
    stamp = cached.stat().st_mtime_ns
    table_stamp = (results / "table2.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(argv) == 1  # the tables exist: refused before any training, nothing rewritten
    assert "--force" in capsys.readouterr().err and (results / "table2.json").stat().st_mtime_ns == table_stamp
    assert main([*argv, "--force"]) == 0
    assert cached.stat().st_mtime_ns == stamp


def test_unknown_row_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["experiment", "table2", "--quick", "--out", str(tmp_path), "--rows", "nope"]
    assert main(argv) == 1
    assert "unknown row" in capsys.readouterr().err
