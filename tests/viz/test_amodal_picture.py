"""The amodal part picture: size, legend, hatching of hidden parts; eval writes it for amodal models."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from handseg.data.synth import generate_dataset
from handseg.engine.evaluate import evaluate
from handseg.models import build_model
from handseg.utils.io import read_png
from handseg.viz.amodal import amodal_parts_picture, legend
from handseg.viz.overlay import PART_COLORS


def frame() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.full((40, 50, 3), 90, np.uint8)
    parts = np.zeros((2, 40, 50), np.int64)
    parts[0, 5:25, 5:25] = 1
    parts[1, 15:35, 20:45] = 6
    visible = parts.copy()
    visible[0, 15:25, 20:25] = 0  # 50 left palm pixels behind the right hand
    return image, parts, visible


def test_picture_size_legend_and_hatching() -> None:
    image, parts, visible = frame()
    strip = legend(2 * 50 * 2 + 4)
    picture = amodal_parts_picture(image, parts, parts, visible, caption="x")
    assert picture.shape == (2 * 40 * 2 + 4 + strip.shape[0], 2 * 50 * 2 + 4, 3) and picture.dtype == np.uint8
    legend_part = picture[-strip.shape[0] :]
    for colour in PART_COLORS[1:]:  # a swatch of each of the 16 parts
        assert (legend_part == colour).all(axis=-1).sum() >= 40
    # the hidden left palm (rows 15-24, cols 20-24, doubled) is hatched with white lines in both left panels
    plain = amodal_parts_picture(image, parts, parts, None)
    hidden = picture[30:50, 40:50]
    assert (hidden == 255).all(axis=-1).any() and not (plain[30:50, 40:50] == 255).all(axis=-1).any()
    seen = picture[32:48, 12:38]  # the seen part of the left palm (below the captions): not hatched
    assert np.array_equal(seen, plain[32:48, 12:38])


def test_eval_of_an_amodal_model_reports_hidden_parts_and_draws_them(tmp_path: Path) -> None:
    data = generate_dataset(
        tmp_path / "crops", 4, seed=1, size=(48, 48), crop="hands", render_size=(160, 120), progress=False
    )
    torch.manual_seed(0)
    model = build_model("unet", in_channels=3, num_classes=34, width=4, depth=2)
    config = {"task": "amodal", "model": {"name": "unet", "in_channels": 3},
              "data": {"modality": "rgb", "size": [48, 48]}}  # fmt: skip
    out = tmp_path / "eval"
    metrics = evaluate(model, data, config=config, split=None, out_dir=out, worst=2, progress=False, device="cpu")
    assert 0 <= metrics["hidden_share"] <= 1 and "visible_miou" in metrics and len(metrics["hidden_per_part"]) == 16
    table = (out / "metrics.md").read_text()
    assert "hidden parts" in table and "Per-part IoU" in table
    rows = list(csv.DictReader((out / "per_frame.csv").open()))
    assert len(rows) == 4 and {"miou", "hidden_miou", "visible_miou"} <= set(rows[0])
    pictures = sorted((out / "worst").glob("*.png"))
    assert len(pictures) == 2
    shape = read_png(pictures[0], color=True).shape
    assert shape[1] == 2 * 48 * 2 + 4 and shape[0] > 2 * 48 * 2 + 4
    scored = sum(row["miou"] != "nan" for row in rows)
    assert len(list((out / "best").glob("*.png"))) == min(2, scored)
