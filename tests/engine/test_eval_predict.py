"""Evaluation outputs, prediction files, the CLI commands, and 2-process DDP agreeing with one process."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from handseg.cli import main
from handseg.engine.checkpoint import read_checkpoint
from handseg.engine.evaluate import evaluate
from handseg.engine.predict import predict
from handseg.errors import OutputExistsError
from handseg.utils.io import atomic_write_png, read_png


def test_eval_writes_table_csv_and_plots(trained_run: tuple[Path, dict], tiny_dataset: Path, tmp_path: Path) -> None:
    run_dir, result = trained_run
    out = tmp_path / "eval"
    metrics = evaluate(run_dir, tiny_dataset, out_dir=out, latency=True, worst=2, progress=False)
    for key in ("pixel_acc", "mean_acc", "mean_iu", "fw_iu", "miou_hand_object"):
        assert metrics[key] == pytest.approx(result["best"][key])
    assert metrics["latency_ms"] > 0 and metrics["latency_size"] == "640x480"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["miou_hand_object"] == pytest.approx(metrics["miou_hand_object"])
    table = (out / "metrics.md").read_text()
    assert "mean IOU (hand, object)" in table and "latency ms" in table
    rows = list(csv.DictReader((out / "per_frame.csv").open()))
    assert [r["id"] for r in rows] == ["f000", "f001", "f002", "f003"]
    assert all(float(r["pixel_acc"]) > 0.9 for r in rows)
    assert (out / "confusion.png").read_bytes().startswith(b"\x89PNG")
    worst = sorted((out / "worst").glob("*.png"))
    picture = read_png(worst[0], color=True)
    # Three panels enlarged 5x to display size (64 -> 320 px wide), then the legend strip below them.
    assert len(worst) == 2 and picture.shape[1] == 3 * 320 + 8 and picture.shape[0] > 5 * 48
    with pytest.raises(OutputExistsError):
        evaluate(run_dir, tiny_dataset, out_dir=out, progress=False)


def test_eval_cli_prints_table(trained_run: tuple[Path, dict], tiny_dataset: Path, tmp_path: Path, capsys) -> None:
    run_dir, _ = trained_run
    code = main(["eval", str(run_dir), str(tiny_dataset), "--out", str(tmp_path / "e"), "--no-progress"])
    assert code == 0
    assert "pixel acc." in capsys.readouterr().out


def test_predict_writes_labels_and_overlays(trained_run: tuple[Path, dict], tiny_dataset: Path, tmp_path: Path) -> None:
    run_dir, _ = trained_run
    pngs = tmp_path / "pngs"
    depth = read_png(tiny_dataset / "depth" / "f001.png")
    atomic_write_png(pngs / "a.png", depth)
    big = np.repeat(np.repeat(depth, 2, 0), 2, 1)  # another size: labels come back at the input's size
    atomic_write_png(pngs / "b.png", big)
    out = tmp_path / "pred"
    ids = predict(run_dir / "best.ckpt", [pngs, tiny_dataset / "depth" / "f002.png"], out, batch_size=2, progress=False)
    assert ids == ["a", "b", "f002"]
    label_a = read_png(out / "label" / "a.png")
    truth = read_png(tiny_dataset / "label" / "f001.png")
    assert label_a.dtype == np.uint8 and set(np.unique(label_a)) <= {0, 1, 2}
    assert (label_a == truth).mean() > 0.95
    assert read_png(out / "label" / "b.png").shape == big.shape
    overlay = read_png(out / "overlay" / "f002.png", color=True)
    assert overlay.shape[1] == 2 * 64 + 4 and overlay.shape[0] > 48  # input | labels, then the legend
    with pytest.raises(OutputExistsError):
        predict(run_dir, [pngs], out, progress=False)
    # a dataset as input, through the CLI, with --force
    code = main(["predict", str(run_dir), str(tiny_dataset), "--out", str(out), "--force", "--no-progress"])
    assert code == 0 and len(list((out / "label").glob("*.png"))) == 3 + 4 - 1  # f002 written twice


def test_predict_amodal_writes_both_part_maps(tiny_dataset: Path, tmp_path: Path, tiny_config) -> None:
    from handseg.engine.train import train

    config = tiny_config(tiny_dataset, max_steps=2)
    config.update(task="amodal", loss={"name": "amodal_ce"})
    config["data"]["modality"] = "rgb"
    train(config, tmp_path / "run", progress=False)
    out = tmp_path / "pred"
    predict(tmp_path / "run", [tiny_dataset], out, split="val", progress=False)
    for frame in ("f000", "f003"):
        for hand in ("l", "r"):
            part_map = read_png(out / "parts" / f"{frame}_{hand}.png")
            assert part_map.shape == (48, 64) and part_map.max() <= 16
        assert (out / "overlay" / f"{frame}.png").is_file()


def test_ddp_two_processes_match_single_process_eval(tiny_dataset: Path, tmp_path: Path, tiny_config, write_dataset):
    data = write_dataset(tmp_path / "five", frames=5, seed=3)  # odd: the ranks get 3 and 2 val frames
    config = tiny_config(data, max_steps=6, val_every_steps=3)
    config["eval"] = {"batch_size": 1}  # uneven: rank 0 runs 3 forwards, rank 1 two
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(config))
    run_dir = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "handseg", "train", str(path), "--out", str(run_dir), "--devices", "2",
           "--accelerator", "cpu", "--no-progress"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_checkpoint(run_dir / "last.ckpt")["world_size"] == 2
    ddp_metrics = json.loads((run_dir / "metrics.json").read_text())["last"]
    assert ddp_metrics["frames_evaluated"] == 5
    single = evaluate(run_dir / "last.ckpt", data, progress=False)
    for key in ("pixel_acc", "mean_acc", "mean_iu", "fw_iu", "miou_hand_object"):
        assert single[key] == ddp_metrics[key], key
    assert single["confusion"] == ddp_metrics["confusion"]


def test_eval_ignore_forearm_skips_exactly_the_hand_pixels_outside_the_parts(
    trained_run: tuple[Path, dict], tmp_path: Path
) -> None:
    from handseg.data.format import DatasetWriter, Intrinsics, Manifest
    from handseg.errors import ConfigError

    run_dir, _ = trained_run
    writer = DatasetWriter(tmp_path / "arm", Manifest(name="arm", sensor=Intrinsics(width=64, height=48)), force=True)
    depth = np.full((48, 64), 900, np.uint16)
    depth[10:30, 10:50] = 500
    label = np.zeros((48, 64), np.uint8)
    label[10:30, 10:50] = 1  # hand and forearm
    parts = np.zeros((2, 48, 64), np.uint8)
    parts[1, 10:30, 10:25] = 1  # only the first 15 columns are palm
    writer.write("a000", depth, label=label, parts=parts)
    writer.finish({"val": ["a000"]})
    scored = evaluate(run_dir, tmp_path / "arm", progress=False)
    without = evaluate(run_dir, tmp_path / "arm", progress=False, ignore_forearm=True)
    assert scored["pixels"] - without["pixels"] == 20 * 25  # the forearm's pixels, no more
    assert without["forearm"] == "ignored" and scored["forearm"] == "scored as hand"
    no_parts = DatasetWriter(
        tmp_path / "np", Manifest(name="np", sensor=Intrinsics(width=64, height=48), has_parts=False)
    )
    no_parts.write("b000", depth, label=label)
    no_parts.finish({"val": ["b000"]})
    with pytest.raises(ConfigError, match="has no part maps"):
        evaluate(run_dir, tmp_path / "np", progress=False, ignore_forearm=True)


def test_tta_in_eval_predict_and_their_commands(
    trained_run: tuple[Path, dict], tiny_dataset: Path, tmp_path: Path, capsys
) -> None:
    from handseg.models.tta import TTASpec

    run_dir, _ = trained_run
    spec = TTASpec(flip=True, scales=(0.75, 1.0))
    plain = evaluate(run_dir, tiny_dataset, progress=False)
    averaged = evaluate(run_dir, tiny_dataset, progress=False, tta=spec)
    assert plain["tta"] == "none" and averaged["tta"] == "flip + scales 0.75/1"
    assert np.sum(averaged["confusion"]) == np.sum(plain["confusion"])  # the same pixels, scored once each
    assert not np.array_equal(averaged["confusion"], plain["confusion"])  # the views change some labels
    argv = ["eval", str(run_dir), str(tiny_dataset), "--out", str(tmp_path / "e"), "--no-progress", "--tta-flip"]
    assert main([*argv, "--tta-scales", "0.75,1"]) == 0
    saved = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert saved["tta"] == "flip + scales 0.75/1" and saved["miou_hand_object"] == pytest.approx(
        averaged["miou_hand_object"]
    )
    capsys.readouterr()
    assert main([*argv[:3], "--out", str(tmp_path / "bad"), "--tta-scales", "0.75;1"]) != 0
    assert "--tta-scales '0.75;1': expected comma-separated numbers" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # refused before anything was written

    out = tmp_path / "pred"
    code = main(["predict", str(run_dir), str(tiny_dataset), "--out", str(out), "--no-progress", "--tta-flip"])
    assert code == 0
    for frame in ("f000", "f001", "f002", "f003"):  # the overfitted run stays right under the mirrored view
        truth = read_png(tiny_dataset / "label" / f"{frame}.png")
        assert (read_png(out / "label" / f"{frame}.png") == truth).mean() > 0.9
