"""Runs killed at awkward moments: only config.yaml and temp files left; a torn metrics.csv row; stale .tmp files."""

from __future__ import annotations

from pathlib import Path

import pytest

from handseg.engine.runlog import RunLog, read_metrics_csv
from handseg.errors import DataError


def test_folder_with_only_config_and_tmp_files_resumes(tiny_dataset: Path, tiny_config, tmp_path: Path) -> None:
    from handseg.config import dump_config, validate
    from handseg.engine.train import train

    config = tiny_config(tiny_dataset, max_steps=2, val_every_steps=2)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(dump_config(validate(config)))  # as train writes it before step 1
    (run_dir / ".last.ckpt.k2x9.tmp").write_bytes(b"half a checkpoint")
    (run_dir / ".metrics.csv.a1b2.tmp").write_text("step,")
    result = train(config, run_dir, progress=False)
    assert result["step"] == 2 and (run_dir / "last.ckpt").is_file()
    assert not list(run_dir.glob(".*.tmp"))  # stale temp files removed on start


def test_torn_last_row_of_metrics_csv_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    header = "step,epoch,kind,loss,lr,images_per_s,pixel_acc,mean_acc,mean_iu,fw_iu,miou_hand_object,miou\n"
    path.write_text(header + "2,0,train,0.5,0.001,3,,,,,,\n4,0,train,0.4,1e")  # killed during an append
    rows = read_metrics_csv(path)
    assert [r["step"] for r in rows] == [2.0] and rows[0]["loss"] == 0.5
    path.write_text(header + "2,0,train,0.5,0.001,3,,,,,,\n4,0,train,0.4,1e-\n")  # torn but newline-terminated
    assert [r["step"] for r in read_metrics_csv(path)] == [2.0]
    log = RunLog(tmp_path, start_step=2, tensorboard=False)  # the resume path that crashed with ValueError
    log.log(3, 0, "train", {"loss": 0.3})
    assert [r["step"] for r in read_metrics_csv(path)] == [2.0, 3.0]


def test_damaged_middle_row_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("step,epoch,kind,loss\n2,0,train,zz\n4,0,train,0.4\n")
    with pytest.raises(DataError, match=r"metrics.csv: line 2"):
        read_metrics_csv(path)
