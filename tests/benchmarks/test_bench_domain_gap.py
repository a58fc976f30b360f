"""benchmarks/bench_domain_gap.py: exact statistics on a crafted dataset, and the report on tiny synthetic ones."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from handseg.data.format import DatasetWriter, Manifest
from handseg.data.synth import generate_dataset
from handseg.utils.io import read_png


@pytest.fixture(scope="module")
def bench(load_benchmark) -> ModuleType:
    return load_benchmark("bench_domain_gap")


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    """One 20x20 frame: 0.5 m left of column 10, 0.6 m right of it; two holes, one near that edge; a 4x5 hand."""
    from handseg.data.format import Intrinsics

    depth = np.full((20, 20), 500, np.uint16)
    depth[:, 10:] = 600
    depth[5, 12] = 0  # within 3 px of the edge (columns 9 and 10)
    depth[5, 0] = 0  # far from it
    label = np.full((20, 20), 2, np.uint8)
    label[:4, :5] = 1
    label[10:, :3] = 255
    writer = DatasetWriter(tmp_path / "crafted", Manifest("crafted", sensor=Intrinsics(20, 20, 15, 15, 9.5, 9.5)))
    writer.write("000000", depth, label)
    writer.finish({"test": ["000000"]})
    return tmp_path / "crafted"


def test_statistics_of_a_crafted_frame(bench: ModuleType, crafted: Path) -> None:
    stats = bench.dataset_stats(crafted)
    assert stats["frames"] == 1 and stats["invalid_share"] == pytest.approx(2 / 400)
    assert stats["edge_band_share"] == pytest.approx(8 * 20 / 400)  # columns 6..13
    assert stats["invalid_share_near_edges"] == pytest.approx(1 / 160)
    # 19x19 pixels have right and lower neighbours, 5 of them lose one to a hole; column 9 jumps by 100 mm
    assert stats["gradient_share_over_10mm"] == pytest.approx(19 / 356)
    assert stats["hand_pixels_median"] == 20 and stats["frames_without_hand"] == 0
    assert stats["hand_depth_median_m"] == pytest.approx(0.5, abs=0.025)
    assert stats["nearest_surface_median_m"] == pytest.approx(0.5)
    # both holes lie on object pixels (400 - 20 hand - 30 ignored); no background: its shares have no data
    assert stats["invalid_share_hand"] == 0 and stats["invalid_share_object"] == pytest.approx(2 / 350)
    assert np.isnan(stats["invalid_share_ring"]) and np.isnan(stats["invalid_share_background"])
    assert stats["invalid_by_kind"] == {}  # no scene files: not a synthetic frame


def test_class_masks_split_the_background_into_the_ring_and_the_rest(bench: ModuleType) -> None:
    label = np.zeros((12, 12), np.uint8)
    label[5:7, 5:7] = 1
    label[0, 0] = 255
    masks = bench.class_masks(label)
    assert masks["hand"].sum() == 4 and masks["object"].sum() == 0
    assert masks["ring"].sum() == 8 * 8 - 4  # chessboard distance <= 3 around the 2x2 hand
    assert masks["background"].sum() == 144 - 64 - 1  # the ignored pixel is in no class
    assert not (masks["ring"] & masks["background"]).any()


def test_report_on_tiny_synthetic_datasets(bench: ModuleType, crafted: Path, tmp_path: Path) -> None:
    a = generate_dataset(tmp_path / "a", 3, seed=0, size=(64, 48), progress=False)
    b = generate_dataset(tmp_path / "b", 2, seed=1, size=(64, 48), progress=False)
    out = tmp_path / "results" / "gap.md"
    args = ["--real", str(crafted), "--synthetic", f"v2={a}", "--synthetic", f"v3={b}", "--out", str(out)]
    assert bench.main(args) == 0
    text = out.read_text()
    assert "| statistic | real | v2 | v3 |" in text and "invalid pixels within 3 px of a depth edge" in text
    assert "![histograms](gap.png)" in text
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["datasets"]["v2"]["frames"] == 3 and data["datasets"]["v3"]["frames"] == 2
    kinds = data["datasets"]["v2"]["invalid_by_kind"]
    assert sum(row["frames"] for row in kinds.values()) == 3 and all(", " in kind for kind in kinds)
    assert "by frame kind (v2; scene family, camera)" in text and "by frame kind (real" not in text
    image = read_png(out.with_suffix(".png"), color=True)
    assert image.shape[0] > 300 and image.std() > 5
    assert bench.main(args) == 1, "existing results are kept without --force"
    assert bench.main([*args, "--force"]) == 0
    with pytest.raises(SystemExit):
        bench.main(["--synthetic", "nodir"])
