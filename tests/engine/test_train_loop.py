"""Training loop: overfitting, exact resume (hook and SIGKILL), run-folder checks, phases, amodal task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from handseg.engine.checkpoint import read_checkpoint
from handseg.engine.runlog import read_metrics_csv
from handseg.engine.train import train
from handseg.errors import ConfigError


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_overfits_four_frames(trained_run: tuple[Path, dict]) -> None:
    run_dir, result = trained_run
    assert result["step"] == 100 and not result["stopped"]
    assert result["best"]["pixel_acc"] > 0.98
    assert result["best"]["miou_hand_object"] > 0.9
    for name in ("config.yaml", "last.ckpt", "best.ckpt", "metrics.csv", "metrics.json", "curves.png"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tb").iterdir())
    rows = read_metrics_csv(run_dir / "metrics.csv")
    train_losses = [r["loss"] for r in rows if r["kind"] == "train"]
    assert train_losses[-1] < train_losses[0] / 5
    assert [r["step"] for r in rows if r["kind"] == "val"] == [50, 100]
    best = read_checkpoint(run_dir / "best.ckpt")
    assert best["best_metric"] == pytest.approx(result["best"]["miou_hand_object"])


def test_resume_after_stop_matches_uninterrupted(tiny_dataset: Path, tmp_path: Path, tiny_config) -> None:
    aug = {"hflip": 0.5, "rotate": 10, "depth_noise_m": 0.01}
    config = tiny_config(tiny_dataset, max_steps=7, val_every_steps=4, ckpt_every_steps=100)
    config["augment"] = aug
    full = train(config, tmp_path / "full", progress=False)
    stopped = train(config, tmp_path / "split", progress=False, stop_after_steps=3)  # "killed" mid-epoch 2
    assert stopped["stopped"] and read_checkpoint(tmp_path / "split" / "last.ckpt")["step"] == 3
    resumed = train(config, tmp_path / "split", progress=False)
    assert resumed["step"] == 7
    a, b = read_checkpoint(tmp_path / "full" / "last.ckpt"), read_checkpoint(tmp_path / "split" / "last.ckpt")
    assert_same_state(a["model"], b["model"])
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"]) and torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    assert a["scheduler"] == b["scheduler"]
    assert full["best"] == resumed["best"]
    rows_a = [(r["step"], r["kind"], r["loss"]) for r in read_metrics_csv(tmp_path / "full" / "metrics.csv")]
    rows_b = [(r["step"], r["kind"], r["loss"]) for r in read_metrics_csv(tmp_path / "split" / "metrics.csv")]
    assert rows_a == rows_b


def test_sigkill_then_same_command_resumes_exactly(tiny_dataset: Path, tmp_path: Path, tiny_config) -> None:
    config = tiny_config(tiny_dataset, max_steps=30, val_every_steps=15, ckpt_every_steps=2, log_every_steps=5)
    config["augment"] = {"hflip": 0.5, "depth_noise_m": 0.01}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "handseg", "train", str(path), "--out", str(run_dir), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180  # start-up and 5 steps; generous for a loaded machine
    while time.time() < deadline and proc.poll() is None:
        last = run_dir / "last.ckpt"
        if last.exists() and read_checkpoint(last)["step"] >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = read_checkpoint(run_dir / "last.ckpt")["step"]
    assert 5 <= killed_at < 30, "the run finished before it could be killed"
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout + resumed.stderr
    reference = tmp_path / "reference"
    config["name"] = "cfg"  # the CLI names a run after its config file
    train(config, reference, progress=False)
    assert_same_state(
        read_checkpoint(reference / "last.ckpt")["model"], read_checkpoint(run_dir / "last.ckpt")["model"]
    )


def test_changed_config_is_refused_unless_force(trained_run: tuple[Path, dict], tmp_path: Path) -> None:
    run_dir, _ = trained_run
    config = read_checkpoint(run_dir / "last.ckpt")["config"]
    changed = {**config, "optim": {**config["optim"], "lr": 0.5}}
    with pytest.raises(ConfigError, match=r"(?s)optim\.lr: 0\.01 -> 0\.5.*--force"):
        train(changed, run_dir, progress=False)
    # a finished run with the same config returns without training
    again = train(config, run_dir, progress=False)
    assert again["step"] == 100 and again["best"]["pixel_acc"] > 0.98
    other = tmp_path / "not-a-run"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="not empty"):
        train(config, other, progress=False)


def test_force_starts_over(tiny_dataset: Path, tmp_path: Path, tiny_config) -> None:
    config = tiny_config(tiny_dataset, max_steps=2)
    train(config, tmp_path / "run", progress=False)
    config["optim"] = {"lr": 0.001}
    result = train(config, tmp_path / "run", progress=False, force=True)
    assert result["step"] == 2
    assert read_checkpoint(tmp_path / "run" / "last.ckpt")["config"]["optim"]["lr"] == pytest.approx(0.001)


def test_phases_chain_checkpoints(tiny_dataset: Path, tmp_path: Path, tiny_config) -> None:
    config = tiny_config(tiny_dataset, max_steps=2)
    config["phases"] = [{"name": "ce"}, {"name": "contour", "loss": {"name": "ce_contour", "beta": 0.005}}]
    result = train(config, tmp_path / "run", progress=False)
    phase2 = read_checkpoint(tmp_path / "run" / "phase2_contour" / "best.ckpt")
    assert phase2["config"]["init_from"].endswith("phase1_ce/best.ckpt")
    assert phase2["config"]["loss"]["name"] == "ce_contour"
    assert (tmp_path / "run" / "best.ckpt").is_file() and result["step"] == 2


def test_amodal_task_trains(tiny_dataset: Path, tmp_path: Path, tiny_config) -> None:
    config = tiny_config(tiny_dataset, max_steps=3)
    config.update(task="amodal", loss={"name": "amodal_dice_ce"})
    config["data"]["modality"] = "rgb"
    config["augment"] = {"hflip": 0.5, "translate": 0.3, "scale": 0.3, "rotate": 5, "color_jitter": 0.3}
    result = train(config, tmp_path / "amodal", progress=False)
    assert result["step"] == 3 and 0.0 <= result["last"]["miou"] <= 1.0


def test_forearm_ignore_reads_part_maps_and_validation_skips_the_forearm(tmp_path: Path, tiny_config) -> None:
    import numpy as np

    from handseg.data.format import DatasetWriter, Intrinsics, Manifest
    from handseg.engine.train import unused_kinds

    assert unused_kinds("segmentation", "depth", None) == ("color", "parts")
    assert unused_kinds("segmentation", "depth", None, "ignore") == ("color",)  # the part maps tell the forearm
    writer = DatasetWriter(tmp_path / "arm", Manifest(name="arm", sensor=Intrinsics(width=64, height=48)))
    depth = np.full((48, 64), 900, np.uint16)
    depth[10:30, 10:50] = 500
    label = np.zeros((48, 64), np.uint8)
    label[10:30, 10:50] = 1
    parts = np.zeros((2, 48, 64), np.uint8)
    parts[0, 10:30, 10:25] = 1  # palm; columns 25-49 are forearm
    for k in range(2):
        writer.write(f"a{k}", depth, label=label, parts=parts)
    writer.finish({"train": ["a0", "a1"], "val": ["a0", "a1"]})
    scored = {}
    for forearm in ("hand", "ignore"):
        config = tiny_config(tmp_path / "arm", max_steps=2, val_every_steps=2)
        config["data"]["forearm"] = forearm
        scored[forearm] = train(config, tmp_path / forearm, progress=False)["last"]["pixels"]
    assert scored["hand"] - scored["ignore"] == 2 * 20 * 25  # validation skips exactly the forearm pixels
