"""Amodal learning regression: a tiny scSE U-Net must overfit a few hand crops to a high part mIoU.

The amodal rows once scored 0.00 part mIoU; this test fails when the amodal path (part-map targets, the per-hand
Dice+CE loss, the part metric, the optimizer and schedule) stops learning. Eight 64x64 hand crops of the generator,
trained and scored on the same frames (no dropout, no augmentation): the floor is one an untrained model (checked
here) or a pipeline that does not learn stays far below.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FLOOR = 0.45  # part mIoU on the 8 training crops; the tiny model reaches 0.82 (torch 2.13 CPU, 1 thread)


@pytest.mark.slow
def test_tiny_amodal_model_overfits_hand_crops(tmp_path: Path) -> None:
    from handseg.config import validate
    from handseg.data.format import HandsegDataset
    from handseg.data.synth.generate import generate_dataset
    from handseg.data.torch_dataset import EpochSampler, SegmentationDataset, make_loader
    from handseg.engine.evaluate import run_eval
    from handseg.engine.runtime import build_model_from_config
    from handseg.engine.train import train

    root = generate_dataset(tmp_path / "data", 8, seed=3, size=(64, 64), crop="hands", render_size=(320, 240))
    ids = sorted(p.stem for p in (root / "color").glob("*.png"))
    for split in ("train", "val"):  # overfit: train and score on the same crops
        (root / "splits" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    config = {
        "task": "amodal",
        "seed": 0,
        "model": {"name": "unet_resnet50_scse", "backbone": "resnet18", "backbone_width": 8,
                  "decoder_channels": [32, 16, 16, 16, 16], "dropout": 0.0},
        "data": {"root": str(root), "modality": "depth", "size": [64, 64], "workers": 0},
        "loss": {"name": "amodal_dice_ce"},
        "optim": {"name": "adam", "lr": 1e-2, "weight_decay": 0.0},
        "schedule": {"name": "cosine", "warmup_steps": 10},
        "train": {"batch_size": 8, "max_steps": 150, "val_every_steps": 150, "log_every_steps": 150},
        "runtime": {"accelerator": "cpu"},
    }  # fmt: skip
    result = train(config, tmp_path / "run", progress=False)
    trained = result["best"]["miou"]
    assert trained > FLOOR, f"the tiny amodal model reached only {trained:.3f} part mIoU (floor {FLOOR})"

    untrained = build_model_from_config(validate(config))
    val = SegmentationDataset(HandsegDataset(root, "val"), "amodal", "depth", (64, 64))
    loader = make_loader(val, EpochSampler(len(val), 8, shuffle=False), 8)
    baseline = run_eval(untrained, loader, "amodal")["metrics"]["miou"]
    assert baseline < FLOOR / 3, f"an untrained model already reaches {baseline:.3f}: the floor tests nothing"
