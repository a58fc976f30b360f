"""`handseg annotate` and `handseg review --finalize` end to end on tiny inputs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from handseg.annotate.colour_model import ColourModel
from handseg.annotate.config import AnnotateConfig
from handseg.annotate.review.store import ReviewStore
from handseg.cli import main
from handseg.data.format import HandsegDataset, read_split
from handseg.utils.io import atomic_write_png


def _write_pairs(root: Path, scene, frames: int = 3, layout: str = "folders") -> list[np.ndarray]:
    """PNG pairs of disc-and-box scenes in either documented layout; returns the true labels."""
    labels = []
    for k in range(frames):
        depth, color, label = scene(seed=k, shift=(2, 0))
        raw = np.rint(depth * 1000).astype(np.uint16)
        if layout == "folders":
            atomic_write_png(root / "depth" / f"frame {k}.png", raw)
            atomic_write_png(root / "color" / f"frame {k}.png", color)
        else:
            atomic_write_png(root / f"frame{k}_depth.png", raw)
            atomic_write_png(root / f"frame{k}_color.png", color)
        labels.append(label)
    return labels


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1)


@pytest.mark.parametrize("layout", ["folders", "suffixes"])
def test_annotate_png_pairs(tmp_path, capsys, scene, layout) -> None:
    truth = _write_pairs(tmp_path / "in", scene, layout=layout)
    out = tmp_path / "out"
    assert main(["annotate", str(tmp_path / "in"), str(out), "--quiet"]) == 0
    dataset = HandsegDataset(out, split=None)
    assert len(dataset) == 3 and dataset.manifest.extra["annotation"]["source_kind"] == "png-pairs"
    for sample, label in zip(dataset, truth):
        assert _iou(sample["label"] == 1, label == 1) > 0.95
        assert _iou(sample["label"] == 2, label == 2) > 0.95
        assert sample["depth"].max() == pytest.approx(1.5, abs=0.02)
    with open(out / "diagnostics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == dataset.ids
    assert all(abs(float(r["shift_dx"]) - 2) < 0.5 and abs(float(r["shift_dy"])) < 0.5 for r in rows)
    assert all(int(r["hand_kept"]) == 1 for r in rows)
    assert sorted(p.name for p in (out / "overlays").iterdir()) == [f"{i}.png" for i in dataset.ids]
    assert AnnotateConfig.load(out / "annotate.yaml") == AnnotateConfig()
    assert "frames/s" in capsys.readouterr().out


def test_existing_out_needs_force(tmp_path, capsys, scene) -> None:
    _write_pairs(tmp_path / "in", scene, frames=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["annotate", str(tmp_path / "in"), str(out), "--quiet"]) == 1
    assert "--force" in capsys.readouterr().err
    assert (out / "keep.txt").exists() and not (out / "label").exists()
    assert main(["annotate", str(tmp_path / "in"), str(out), "--quiet", "--force"]) == 0
    assert (out / "label").is_dir()


def test_dataset_input_with_workers_and_custom_config(scene_dataset, tmp_path) -> None:
    config = tmp_path / "a.yaml"
    config.write_text(AnnotateConfig(theta=100).dump_yaml())
    out = tmp_path / "out"
    args = ["annotate", str(scene_dataset), str(out), "--workers", "2", "--config", str(config), "--quiet"]
    assert main(args) == 0
    ours, truth = HandsegDataset(out, split=None), HandsegDataset(scene_dataset, split=None)
    assert ours.ids == truth.ids
    for a, b in zip(ours, truth):
        assert np.array_equal(a["depth"], b["depth"])
        assert _iou(a["label"] == 1, b["label"] == 1) > 0.95
    assert AnnotateConfig.load(out / "annotate.yaml").theta == 100


def test_bad_inputs_are_clear_errors(tmp_path, capsys) -> None:
    (tmp_path / "in" / "depth").mkdir(parents=True)
    atomic_write_png(tmp_path / "in" / "depth" / "a.png", np.zeros((8, 8), np.uint16))
    assert main(["annotate", str(tmp_path / "in"), str(tmp_path / "out"), "--quiet"]) == 1
    assert "a.png: has no color image" in capsys.readouterr().err
    assert main(["annotate", str(tmp_path / "nope"), str(tmp_path / "out2")]) == 1
    assert "nope: not found" in capsys.readouterr().err
    assert main(["annotate", str(tmp_path / "in")]) == 2


def test_calibrate_writes_a_config(scene_dataset, tmp_path, capsys) -> None:
    out = tmp_path / "params.yaml"
    assert main(["annotate", "--calibrate", str(scene_dataset), "--out", str(out), "--frames", "3"]) == 0
    cfg = AnnotateConfig.load(out)
    hue = 0 if cfg.hue_lo > cfg.hue_hi else cfg.hue_lo  # the skin colour (210, 150, 120) has hue ~10
    assert hue <= 10 <= cfg.hue_hi
    assert cfg.colour_model == str(tmp_path / "params.colour.npz")  # written next to the YAML, named relatively
    assert "colour_model: params.colour.npz" in out.read_text()
    assert main(["annotate", "--calibrate", str(scene_dataset), "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().err
    out.unlink()  # the model file alone also needs --force
    assert main(["annotate", "--calibrate", str(scene_dataset), "--out", str(out)]) == 1
    assert "params.colour.npz: exists" in capsys.readouterr().err
    assert main(["annotate", "--calibrate", str(scene_dataset), "--out", str(out), "--frames", "3", "--force"]) == 0
    # annotating with the calibrated config copies the model into OUT, which stays self-contained
    result = tmp_path / "auto"
    assert main(["annotate", str(scene_dataset), str(result), "--config", str(out), "--quiet", "--no-overlays"]) == 0
    used = AnnotateConfig.load(result / "annotate.yaml")
    assert used.colour_model == str(result / "annotate.colour.npz")
    assert ColourModel.load(used.colour_model).hand_pixels == ColourModel.load(cfg.colour_model).hand_pixels


def test_finalize_writes_split_from_accepted(scene_dataset, capsys) -> None:
    assert main(["review", str(scene_dataset), "--finalize"]) == 1  # nothing reviewed yet
    store = ReviewStore(scene_dataset)
    store.set("f000", "accept")
    store.set("f001", "reject")
    store.set("f002", "accept")
    (scene_dataset / "splits" / "train.txt").unlink()
    assert main(["review", str(scene_dataset), "--finalize", "--val-fraction", "0.5"]) == 0
    train, val = read_split(scene_dataset, "train"), read_split(scene_dataset, "val")
    assert sorted(train + val) == ["f000", "f002"] and len(val) == 1
    assert "2 accepted, 1 rejected, 1 not reviewed" in capsys.readouterr().out
    assert main(["review", str(scene_dataset), "--finalize"]) == 1  # exists: needs --force
    assert main(["review", str(scene_dataset), "--finalize", "--force", "--val-fraction", "0"]) == 0
    assert read_split(scene_dataset, "train") == ["f000", "f002"]


def test_recording_input(tmp_path, scene) -> None:
    pytest.importorskip("pyrealsense2", exc_type=ImportError)  # libusb missing: skip, with the reason
    from handseg.data.format import Intrinsics
    from handseg.data.realsense import write_recording

    frames = [scene(seed=k)[:2] for k in range(3)]
    labels = [scene(seed=k)[2] for k in range(3)]
    rec = write_recording(tmp_path / "rec.db3", frames, Intrinsics().scaled(160, 120))
    out = tmp_path / "out"
    assert main(["annotate", str(rec), str(out), "--quiet"]) == 0
    dataset = HandsegDataset(out, split=None)
    assert len(dataset) == 3 and dataset.manifest.extra["annotation"]["source_kind"] == "realsense"
    for sample, label in zip(dataset, labels):
        assert _iou(sample["label"] == 1, label == 1) > 0.9
