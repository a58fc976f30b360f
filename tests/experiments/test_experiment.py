"""`handseg experiment`: equal budgets, seeds, row files, contour rows from the CE row, resume, --rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handseg.cli import main
from handseg.errors import ConfigError
from handseg.experiments.row_records import late_gain
from handseg.experiments.table_report import claim_lines, digests_line, flatness_line, machines_line, verdict
from handseg.experiments.tables import TABLES, Budget, plan, row_config


def test_contour_row_finetunes_the_ce_row(tmp_path: Path) -> None:
    budget = Budget(steps=140)
    rows = {r.key: r for r in TABLES["table2"]}
    plain = row_config(rows["dense_attention_seg"], budget, tmp_path, seed=2)
    best = tmp_path / "seed2" / "dense_attention_seg" / "best.ckpt"
    contour = row_config(rows["dense_attention_seg_contour"], budget, tmp_path, seed=2, ce_best=best)
    assert plain["train"]["max_steps"] == 140 and plain["seed"] == 2 and plain["data"]["root"] == str(tmp_path)
    assert not contour["phases"] and contour["init_from"] == str(best)
    assert contour["train"]["max_steps"] == 10  # the paper's 10 contour epochs after 140 CE epochs
    assert contour["loss"]["name"] == "ce_contour" and plain["loss"]["name"] == "ce"
    assert contour["optim"]["lr"] == pytest.approx(plain["optim"]["lr"] * budget.finetune_lr_ratio)
    assert contour["model"] == plain["model"]  # the CE row's weights fit
    with pytest.raises(ConfigError, match="best.ckpt of row dense_attention_seg"):
        row_config(rows["dense_attention_seg_contour"], budget, tmp_path)


def test_plan_runs_seed_by_seed_with_each_ce_row_before_its_contour_row() -> None:
    jobs = [(row.key, seed) for row, seed in plan(["table3"], ["noattn_contour", "attention_k32"], (0, 1))]
    assert jobs == [
        ("dense_attention_seg_noattn", 0),
        ("attention_k32", 0),
        ("noattn_contour", 0),
        ("dense_attention_seg_noattn", 1),
        ("attention_k32", 1),
        ("noattn_contour", 1),
    ]


def test_verdict_needs_two_standard_errors() -> None:
    assert verdict([0.60, 0.61, 0.62], [0.50, 0.51, 0.52]).endswith("holds")
    assert verdict([0.50, 0.51, 0.52], [0.60, 0.61, 0.62]).endswith("reversed")
    assert "not resolved" in verdict([0.50, 0.60, 0.55], [0.52, 0.58, 0.50])
    assert "not decided" in verdict([0.6], [0.5])


def test_attention_ablation_claims_compare_dense_with_each_single_kind() -> None:
    def record(key: str, synthetic: float, real: float) -> dict:
        return {"row": {"key": key}, "metrics": {"miou_hand_object": synthetic}, "real": {"miou_hand_object": real}}

    records = [record("dense_attention_seg", 0.52 + d, 0.40 + d) for d in (0.0, 0.01, 0.02)]
    records += [record("attention_fine_only", 0.42 + d, 0.45 + d) for d in (0.0, 0.01, 0.02)]
    lines = claim_lines(records)
    fine = [line for line in lines if "fine attention only" in line]
    assert [line.split(" | ")[1] for line in fine] == ["synthetic", "DexYCB"]
    assert fine[0].endswith("holds |") and fine[1].endswith("reversed |")
    assert not any("coarse attention only" in line for line in lines)  # its row is absent


def test_design_claims_compare_the_shipped_choice_with_each_ablation() -> None:
    def record(key: str, synthetic: float) -> dict:
        return {"row": {"key": key}, "metrics": {"miou_hand_object": synthetic}, "real": {"miou_hand_object": 0.3}}

    records = [record("dense_attention_seg", 0.52 + d) for d in (0.0, 0.01, 0.02)]
    records += [record("attention_unweighted_ce", 0.40 + d) for d in (0.0, 0.01, 0.02)]
    records += [record("attention_k128", 0.53 + d) for d in (0.0, 0.01, 0.02)]
    synthetic = {line.split(" | ")[0].lstrip("| "): line for line in claim_lines(records) if "| synthetic |" in line}
    assert synthetic["class weights 1/5/5 beat unweighted CE (the design)"].endswith("holds |")
    assert "not resolved" in synthetic["the paper's k beats twice it (k=16 vs 32 here; paper 64 vs 128)"]
    assert not any("beta" in key for key in synthetic)  # no contour rows: no contour claim


def test_machines_line_names_the_rows_of_each_machine_when_they_differ() -> None:
    def record(key: str, seed: int, machine: str) -> dict:
        return {"row": {"key": key}, "seed": seed, "machine": machine}

    same = [record("fcn8s", 0, "CPU A"), record("gcn", 1, "CPU A")]
    assert machines_line(same) == "Machine: CPU A.  "
    mixed = [*same, record("fcn8s", 1, "CPU B"), record("fcn8s", 2, "CPU B")]
    line = machines_line(mixed)
    assert "CPU A: fcn8s (0), gcn (1)" in line and "CPU B: fcn8s (1, 2)" in line
    assert "not across CPUs" in line


def test_late_gain_tells_a_flat_curve_from_a_rising_one() -> None:
    def record(values: list[float]) -> dict:
        return {"curve": [{"step": 500 * (i + 1), "miou_hand_object": v} for i, v in enumerate(values)]}

    rising = record([0.10, 0.20, 0.30, 0.40])  # steps 500..2000: the last quarter is step 2000 alone
    assert late_gain(rising) == pytest.approx(0.10)
    flat = record([0.10, 0.40, 0.45, 0.44, 0.46, 0.45, 0.47, 0.46])  # last quarter (steps 3500, 4000): 0.47
    assert late_gain(flat) == pytest.approx(0.01)  # over the best before it, 0.46: under one point
    assert late_gain({"curve": []}) is None and late_gain(record([0.3])) is None
    line = flatness_line([rising, flat])
    assert "1 of 2 (row, seed) runs here are flat" in line


def _real_copy(data: Path, tmp_path: Path) -> Path:
    """A 'real' dataset for the test: the generated frames with a test split (the val frames)."""
    import shutil

    real = tmp_path / "real"
    shutil.copytree(data, real)
    (real / "splits" / "test.txt").write_text((data / "splits" / "val.txt").read_text())
    return real


def test_seeds_write_row_files_resume_and_rebuild(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from handseg.engine.train import train

    out, results = tmp_path / "runs", tmp_path / "results"
    base = ["experiment", "table2", "--quick", "--out", str(out), "--results-dir", str(results)]
    # seed 0 of the CE row killed after 2 of its 4 steps: the experiment must resume it, not restart it
    assert main([*base, "--rows", "gcn", "--rebuild"]) == 0  # nothing trained yet: an empty table
    assert not out.exists() and "| Large Kernel Matters (GCN, k=9) | 0 |" in (results / "table2.md").read_text()
    from handseg.experiments.tables import prepare_data

    budget = Budget(
        steps=4, finetune_steps=2, val_every=2, frames=12, size=(64, 48), extra=["data.val_max_frames=null"]
    )
    data = prepare_data(tmp_path / "gen", budget)
    real = _real_copy(data, tmp_path)
    das = {r.key: r for r in TABLES["table2"]}["dense_attention_seg"]
    first = train(row_config(das, budget, data, seed=0), out / "seed0" / das.key, progress=False, stop_after_steps=2)
    assert first["stopped"] and first["step"] == 2
    killed_csv = (out / "seed0" / das.key / "metrics.csv").read_text()

    argv = [*base, "--rows", "dense_attention_seg_contour", "--seeds", "0", "1", "--data", str(data)]
    assert main([*argv, "--real", str(real), "--force"]) == 0
    files = sorted(p.name for p in (results / "rows").glob("*.json"))
    expected = [f"{key}_seed{s}.json" for key in ("dense_attention_seg", "dense_attention_seg_contour") for s in (0, 1)]
    assert files == sorted(expected)
    resumed_csv = (out / "seed0" / das.key / "metrics.csv").read_text()
    assert resumed_csv.startswith(killed_csv) and len(resumed_csv) > len(killed_csv)
    contour = json.loads((results / "rows" / "dense_attention_seg_contour_seed1.json").read_text())
    assert contour["init_from"] == str(out / "seed1" / das.key / "best.ckpt") and contour["own_steps"] == 2
    assert [p["step"] for p in contour["curve"]][-1] == 4 + 2  # its curve continues the CE row's
    assert contour["real"] is not None and 0 <= contour["real"]["pixel_acc"] <= 1 and contour["seed"] == 1
    import cv2

    assert contour["libraries"]["opencv"] == cv2.__version__ and contour["libraries"]["numpy"] == np.__version__
    # the synthetic val split scored again with the forearm not scored: fewer pixels, the same frames
    scored = np.asarray(contour["metrics"]["confusion"]).sum()
    scored_no_forearm = np.asarray(contour["metrics_no_forearm"]["confusion"]).sum()
    assert 0 < scored_no_forearm < scored
    assert contour["metrics_no_forearm"]["frames"] == contour["metrics"]["frames"]
    table = (results / "table2.md").read_text()
    no_forearm_cells = [line.split(" | ")[9] for line in table.splitlines() if line.startswith("| DenseAttentionSeg")]
    assert no_forearm_cells and all(" ± " in cell for cell in no_forearm_cells)
    assert "| DenseAttentionSeg + contour loss | 2 (0,1) |" in table and " ± " in table and "| 93.94 |" in table
    assert "last-quarter gain" in table and "(row, seed) runs here are flat" in table
    assert "contour fine-tuning helps" in table and (results / "table2_miou.png").stat().st_size > 1000
    assert (results / "table2_curves.png").stat().st_size > 1000

    stamp = (results / "rows" / "dense_attention_seg_seed0.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main([*argv, "--rebuild"]) == 1  # the tables exist: refused, nothing rewritten
    assert "--force" in capsys.readouterr().err
    import shutil

    shutil.rmtree(out)
    assert main([*argv, "--rebuild", "--force"]) == 0  # from the row files alone: nothing trained
    assert not out.exists() and "| DenseAttentionSeg | 2 (0,1) |" in (results / "table2.md").read_text()
    assert main([*argv, "--force"]) == 0  # every (row, seed) done: skipped, not retrained
    assert (results / "rows" / "dense_attention_seg_seed0.json").stat().st_mtime_ns == stamp and not out.exists()


def test_unknown_row_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["experiment", "table2", "--quick", "--out", str(tmp_path), "--rows", "nope"]
    assert main(argv) == 1
    assert "unknown row" in capsys.readouterr().err


def test_row_files_without_the_forearm_free_figure_show_a_dash() -> None:
    from handseg.experiments.table_report import segmentation_table

    row = {r.key: r for r in TABLES["table2"]}["fcn8s"]
    metrics = {"miou_hand_object": 0.5, "iu": [0.9, 0.6, 0.4]}
    old = {"row": {"key": "fcn8s"}, "seed": 0, "metrics": metrics, "real": None, "params_m": 1.0}
    old |= {"latency": {"latency_ms": 5.0}, "train_s": 60.0, "curve": []}
    new = dict(old, seed=1, metrics_no_forearm={"miou_hand_object": 0.3, "iu": [0.9, 0.2, 0.4]})
    cells = lambda records: segmentation_table(records, (row,)).splitlines()[-1].split(" | ")  # noqa: E731
    assert cells([old])[9:11] == ["-", "-"]
    assert cells([old, new])[9:11] == ["30.00", "20.00"]  # only the row file that has it counts


def test_digests_line_names_the_rows_of_each_data_digest_when_they_differ() -> None:
    def record(key: str, seed: int, digest: str | None) -> dict:
        return {"row": {"key": key}, "seed": seed, **({"data_sha256": digest} if digest else {})}

    same = [record("fcn8s", 0, "a" * 64), record("gcn", 1, "a" * 64)]
    assert "a" * 64 in digests_line(same) and "different bytes" not in digests_line(same)
    line = digests_line([*same, record("fcn8s", 1, None)])
    assert f"{'a' * 16}: fcn8s (0), gcn (1)" in line and "not recorded: fcn8s (1)" in line
    assert "different bytes" in line
