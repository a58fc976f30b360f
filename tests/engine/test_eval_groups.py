"""Evaluation per frame group (the synthetic scene family): each group scores exactly its own frames."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from handseg.cli import main
from handseg.data.format import HandsegDataset
from handseg.engine.evaluate import evaluate, frame_groups


def _families(root: Path) -> dict[str, str]:
    reader = HandsegDataset(root, split=None)
    return {i: reader.scene(i)["family"] for i in reader.ids}


def test_each_group_equals_evaluating_its_frames_alone(tiny_ckpt: Path, synth_dataset: Path) -> None:
    families = _families(synth_dataset)
    assert len(set(families.values())) >= 2, "the fixture should hold frames of several scene families"
    metrics = evaluate(tiny_ckpt, synth_dataset, split=None, progress=False)
    assert metrics["group_by"] == "family" and sorted(metrics["groups"]) == sorted(set(families.values()))
    total = np.zeros((3, 3), np.int64)
    for family, group in metrics["groups"].items():
        ids = [i for i, f in families.items() if f == family]
        alone = evaluate(tiny_ckpt, HandsegDataset(synth_dataset, ids=ids), group_by=None, progress=False)
        assert "groups" not in alone
        assert group["frames"] == len(ids)
        assert group["confusion"] == alone["confusion"]
        assert group["miou_hand_object"] == pytest.approx(alone["miou_hand_object"], nan_ok=True)
        total += np.asarray(group["confusion"])
    assert total.tolist() == metrics["confusion"]


def test_frames_without_the_key_are_in_no_group(tiny_ckpt: Path, synth_dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(synth_dataset, root)
    first = sorted(_families(root))[0]
    (root / "scene" / f"{first}.json").unlink()  # e.g. a real frame mixed in: no scene file
    metrics = evaluate(Path(tiny_ckpt), root, split=None, progress=False)
    assert sum(g["frames"] for g in metrics["groups"].values()) == metrics["frames"] - 1
    assert frame_groups(HandsegDataset(root, split=None), "no_such_key") is None
    assert evaluate(Path(tiny_ckpt), root, split=None, group_by="no_such_key", progress=False).get("groups") is None


def test_eval_cli_writes_the_family_table_and_can_turn_it_off(
    tiny_ckpt: Path, synth_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "by_family"
    assert main(["eval", str(tiny_ckpt), str(synth_dataset), "--split", "all", "--out", str(out), "-q"]) == 0
    table = (out / "metrics.md").read_text()
    assert "By family (%):" in table and "| family | frames |" in table
    for family in set(_families(synth_dataset).values()):
        assert f"| {family} |" in table
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved["groups"]) == set(_families(synth_dataset).values())
    plain = tmp_path / "plain"
    args = ["eval", str(tiny_ckpt), str(synth_dataset), "--split", "all", "--out", str(plain), "--group-by", "none"]
    assert main([*args, "-q"]) == 0
    assert "By family" not in (plain / "metrics.md").read_text()
    assert "groups" not in json.loads((plain / "metrics.json").read_text())
