"""Training feedback: validation log lines, the end summary, budget extension, --no-val, --print-config, RunLog."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
import torch
import yaml

from handseg.cli import main
from handseg.config import load_config
from handseg.engine.checkpoint import read_checkpoint
from handseg.engine.runlog import RunLog, read_metrics_csv
from handseg.engine.train import format_summary, train
from handseg.errors import ConfigError, DataError


def test_larger_budget_resumes_a_finished_run_exactly(
    tiny_dataset: Path, tmp_path: Path, tiny_config, capsys: pytest.CaptureFixture
) -> None:
    short = tiny_config(tiny_dataset, max_steps=4, val_every_steps=2, ckpt_every_steps=100)
    first = train(short, tmp_path / "run", progress=False)
    assert first["step"] == 4 and first["best"]["step"] in (2, 4)
    out = capsys.readouterr().out
    assert "step 2/4: val miou_hand_object" in out and f"at step {first['best']['step']}" in out
    longer = tiny_config(tiny_dataset, max_steps=8, val_every_steps=2, ckpt_every_steps=100)
    resumed = train(longer, tmp_path / "run", progress=False)
    assert resumed["step"] == 8 and "resuming" in capsys.readouterr().out
    reference = train(longer, tmp_path / "reference", progress=False)
    a = read_checkpoint(tmp_path / "run" / "last.ckpt")
    b = read_checkpoint(tmp_path / "reference" / "last.ckpt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["config"]["train"]["max_steps"] == 8 and reference["best"] == resumed["best"]
    # only the budget may change: another key is still refused
    changed = tiny_config(tiny_dataset, max_steps=12, val_every_steps=3, ckpt_every_steps=100)
    with pytest.raises(ConfigError, match=r"train\.val_every_steps: 2 -> 3"):
        train(changed, tmp_path / "run", progress=False)


def test_wall_seconds_in_every_row_and_summed_over_resumes(tiny_dataset: Path, tmp_path: Path, tiny_config) -> None:
    config = tiny_config(tiny_dataset, max_steps=8, val_every_steps=4, ckpt_every_steps=2, log_every_steps=2)
    train(config, tmp_path / "run", progress=False, stop_after_steps=4)
    first = read_checkpoint(tmp_path / "run" / "last.ckpt")["wall_s"]
    assert first > 0
    result = train(config, tmp_path / "run", progress=False)
    rows = read_metrics_csv(tmp_path / "run" / "metrics.csv")
    assert [r["step"] for r in rows if r["kind"] == "val"] == [4, 8]
    walls = [r["wall_s"] for r in rows]
    assert all(w is not None and w > 0 for w in walls)
    assert all(a <= b for a, b in pairwise(walls))
    after = [r["wall_s"] for r in rows if r["step"] > 4]
    assert min(after) > first  # the second session's clock starts where the first one's checkpoint ended
    assert result["wall_s"] >= max(walls)
    val = [r for r in rows if r["kind"] == "val"][-1]
    assert 0 <= val["iu_hand"] <= 1 and 0 <= val["iu_object"] <= 1 and val["frames_evaluated"] == 4


def test_no_validation_run_keeps_last_only(tiny_dataset: Path, tmp_path: Path, tiny_config) -> None:
    config = tiny_config(tiny_dataset, max_steps=3, val_every_steps=0, ckpt_every_steps=100)
    result = train(config, tmp_path / "run", progress=False)
    assert result["step"] == 3 and result["best"] == {}
    assert read_checkpoint(tmp_path / "run" / "last.ckpt")["step"] == 3
    assert not (tmp_path / "run" / "best.ckpt").exists()
    assert all(r["kind"] == "train" for r in read_metrics_csv(tmp_path / "run" / "metrics.csv"))
    assert "no validation" in format_summary(result)


@pytest.mark.parametrize("val_ids", [None, []])
def test_missing_or_empty_val_split_is_an_error(
    write_dataset, tmp_path: Path, tiny_config, val_ids: list | None
) -> None:
    root = write_dataset(tmp_path / "data", frames=4)
    config = tiny_config(root, max_steps=2)
    if val_ids is None:
        config["data"]["val_split"] = "test"  # the tiny dataset writes train and val only
        pattern = r"split 'test' not found.*val_every_steps: 0"
    else:
        (root / "splits" / "val.txt").write_text("")
        pattern = r"validation split 'val' is empty.*--no-val"
    with pytest.raises(DataError, match=pattern) as info:
        train(config, tmp_path / "run", progress=False)
    assert "\n" not in str(info.value)


def test_summary_names_the_best_step() -> None:
    result = {
        "run_dir": "runs/x", "step": 600, "total_steps": 600, "epochs": 10.0, "stopped": False, "wall_s": 90.0,
        "key": "miou_hand_object", "best": {"step": 450, "miou_hand_object": 0.8512, "iu_hand": 0.9},
        "last": {"step": 600, "miou_hand_object": 0.84},
    }  # fmt: skip
    text = format_summary(result)
    assert "finished step 600/600 (10.0 epochs) in 1.5 min" in text
    assert "best miou_hand_object 0.8512 at step 450" in text and "last miou_hand_object 0.8400 at step 600" in text


def test_print_config_prints_the_resolved_config(
    tiny_dataset: Path, tmp_path: Path, tiny_config, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tiny_dataset)))
    monkeypatch.chdir(tmp_path)
    args = ["train", str(path), "--print-config", "--set", "schedule.name=cosine", "--no-val"]
    assert main(args) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    expected = load_config(path, ["schedule.name=cosine", "train.val_every_steps=0"])
    assert printed == {**expected, "name": "cfg"}
    assert printed["schedule"]["warmup_steps"] == 0 and printed["train"]["val_every_steps"] == 0
    assert not (tmp_path / "runs").exists()


def test_runlog_writes_keys_outside_its_columns(tmp_path: Path) -> None:
    log = RunLog(tmp_path, tensorboard=False)
    log.log(1, 0.5, "train", {"loss": 1.0, "grad_norm": 3.5})
    log.log(2, 1.0, "val", {"miou": 0.5, "iu": [0.9, 0.6, 0.4], "note": "ok"})
    rows = read_metrics_csv(tmp_path / "metrics.csv")
    assert rows[0]["grad_norm"] == 3.5 and rows[1]["grad_norm"] is None
    assert rows[1]["iu_1"] == 0.6 and rows[1]["note"] == "ok" and rows[0]["iu_1"] is None
    resumed = RunLog(tmp_path, start_step=1, tensorboard=False)  # cut back to step 1, extra columns kept
    resumed.log(2, 1.0, "train", {"loss": 0.5})
    rows = read_metrics_csv(tmp_path / "metrics.csv")
    assert [r["step"] for r in rows] == [1, 2] and rows[0]["grad_norm"] == 3.5 and "iu_2" in rows[1]
