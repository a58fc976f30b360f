"""benchmarks/bench_annotate.py: the per-scene-family breakdown of the annotation stages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def test_family_rows_split_frames_by_the_scene_files_family(tmp_path: Path, load_benchmark) -> None:
    bench = load_benchmark("bench_annotate")
    (tmp_path / "scene").mkdir()
    for sample_id, family in (("a", "closeup"), ("b", "tabletop"), ("c", "closeup")):
        (tmp_path / "scene" / f"{sample_id}.json").write_text(json.dumps({"family": family}))
    (tmp_path / "scene" / "d.json").write_text(json.dumps({}))  # a generator version without families
    families = bench.scene_families(tmp_path, ["a", "b", "c", "d"])
    assert families.tolist() == ["closeup", "tabletop", "closeup", "?"]
    # per frame: hand IoU, object IoU, foreground IoU
    stages = {"paper": {"per_frame": [[0.95, 0.92, 0.97], [0.5, 0.2, 0.4], [0.95, 0.85, 0.96], [1.0, 1.0, 1.0]]}}
    no_depth = np.array([False, True, False, False])
    rows = {r["family"]: r for r in bench.family_rows(stages, families, ("paper",), no_depth)}
    assert rows["tabletop"]["without_depth"] == 1 and rows["closeup"]["without_depth"] == 0
    assert rows["closeup"]["frames"] == 2 and rows["closeup"]["acceptable"] == 0.5  # 0.85 misses the 0.9 bar
    assert np.isclose(rows["closeup"]["object_iou_mean"], 0.885)
    assert rows["tabletop"]["acceptable"] == 0.0 and rows["tabletop"]["foreground_iou_mean"] == 0.4
    assert rows["?"]["acceptable"] == 1.0


def test_missing_depth_share_counts_only_hand_and_object_pixels(load_benchmark) -> None:
    bench = load_benchmark("bench_annotate")
    label = np.array([[1, 1, 2, 2], [0, 0, 255, 0]], np.uint8)
    depth = np.array([[0, 500, 0, 0], [0, 0, 0, 0]], np.uint16)  # background and ignore without depth do not count
    assert bench.missing_depth_share({"label": label, "depth": depth}) == 0.75
    assert bench.missing_depth_share({"label": np.zeros((2, 2), np.uint8), "depth": np.zeros((2, 2))}) == 0.0
