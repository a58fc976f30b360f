"""benchmarks/bench_real_probe.py and bench_forearm_convention.py: the changes and the correlations on crafted data."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest


@pytest.fixture(scope="module")
def probe(load_benchmark) -> ModuleType:
    return load_benchmark("bench_real_probe")


@pytest.fixture(scope="module")
def convention(load_benchmark) -> ModuleType:
    return load_benchmark("bench_forearm_convention")


def test_probe_changes_keep_missing_depth_missing_and_touch_only_what_they_name(probe: ModuleType) -> None:
    rng = np.random.default_rng(0)
    depth = np.full((20, 30), 0.8, np.float32)
    depth[5:10, 5:10] = 0.0  # a hole
    depth[12:18, 20:28] = 0.6  # something nearer
    label = np.zeros((20, 30), np.uint8)
    label[12:18, 20:28] = 1
    for name, change in probe.CHANGES.items():
        out = change(depth.copy(), label, rng)
        assert out.shape == depth.shape and out.dtype == np.float32, name
        if "wall" not in name and "mirrored" not in name:
            assert (out[5:10, 5:10] == 0).all(), name  # missing stays missing
    noisy = probe.CHANGES["white noise 5 mm"](depth, label, rng)
    assert 0.002 < float(np.std(noisy[depth > 0] - depth[depth > 0])) < 0.008
    smooth = probe.CHANGES["smoothed, sigma 3 px"](depth, label, rng)
    assert smooth[0, 0] == pytest.approx(0.8, abs=1e-4)  # far from the hole and the step: unchanged
    assert probe.CHANGES["scene 1.25x as far"](depth, label, rng)[0, 0] == pytest.approx(1.0)
    wall = probe.background_to_wall(depth, label, rng)
    np.testing.assert_array_equal(wall[label == 1], depth[label == 1])
    assert (wall[label == 0] == np.float32(probe.FAR_WALL_M)).all()


def test_correlations_and_gap_match_a_hand_computation(convention: ModuleType) -> None:
    rows = [
        {"synthetic hand IU": 60.0, "synthetic_no_forearm hand IU": 40.0, "real hand IU": 38.0},
        {"synthetic hand IU": 62.0, "synthetic_no_forearm hand IU": 44.0, "real hand IU": 45.0},
        {"synthetic hand IU": 61.0, "synthetic_no_forearm hand IU": 42.0, "real hand IU": 41.0},
    ]
    table = {r["synthetic figure"]: r for r in convention.correlations(rows)}
    assert table["synthetic"]["mean synthetic - real (points)"] == pytest.approx(19.7, abs=0.05)
    assert table["synthetic_no_forearm"]["mean synthetic - real (points)"] == pytest.approx(0.7, abs=0.05)
    assert table["synthetic_no_forearm"]["Spearman rho"] == pytest.approx(1.0)  # the same order
    expected = float(np.corrcoef([40, 44, 42], [38, 45, 41])[0, 1])
    assert table["synthetic_no_forearm"]["Pearson r"] == pytest.approx(expected, abs=1e-3)


def test_find_runs_lists_run_folders_once(convention: ModuleType, tmp_path: Path) -> None:
    for run in ("a/seed0/fcn8s", "a/seed1/fcn8s", "b"):
        (tmp_path / run).mkdir(parents=True)
        (tmp_path / run / "best.ckpt").write_bytes(b"")
    runs = convention.find_runs([tmp_path / "a", tmp_path / "b", tmp_path / "a"])
    assert runs == [tmp_path / "a/seed0/fcn8s", tmp_path / "a/seed1/fcn8s", tmp_path / "b"]
