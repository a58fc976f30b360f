"""handseg.tasks: each task's labels, targets, scores and files; no task-name comparisons outside it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from handseg.errors import ConfigError
from handseg.registry import TASKS
from handseg.tasks import AmodalTask, SegmentationTask, get_task

SRC = Path(__file__).resolve().parents[1] / "src" / "handseg"


def test_registry_holds_both_tasks_and_names_unknown_ones() -> None:
    assert TASKS.names() == ["amodal", "segmentation"]
    assert isinstance(get_task("segmentation"), SegmentationTask)
    assert get_task(get_task("amodal")) is get_task("amodal")
    with pytest.raises(ConfigError, match=r"unknown task 'parts'; known: amodal, segmentation"):
        get_task("parts")


@pytest.mark.parametrize("name", ["segmentation", "amodal"])
def test_labels_torch_and_numpy_agree_with_argmax(name: str) -> None:
    task = get_task(name)
    logits = torch.randn(2, task.num_classes, 5, 7, generator=torch.Generator().manual_seed(0))
    fast = task.labels(logits)
    assert fast.dtype == torch.int64
    assert np.array_equal(task.labels(logits.numpy()), fast.numpy().astype(np.uint8))
    if name == "segmentation":
        assert torch.equal(fast, logits.argmax(1))
    else:
        assert torch.equal(fast, torch.stack([logits[:, :17].argmax(1), logits[:, 17:].argmax(1)], 1))
    assert tuple(fast.shape[1:]) == task.target_shape(5, 7)


def test_amodal_labels_refuse_wrong_channel_counts() -> None:
    with pytest.raises(ConfigError, match="must output 34 channels, got 3"):
        AmodalTask().labels(torch.zeros(1, 3, 2, 2))


def test_io_and_headline() -> None:
    assert get_task("segmentation").io() == (1, 3)
    assert get_task("segmentation").io("rgbd") == (4, 3)
    assert get_task("amodal").io() == (3, 34)
    assert (get_task("segmentation").headline, get_task("amodal").headline) == ("miou_hand_object", "miou")


def test_frame_scores_of_a_perfect_prediction() -> None:
    target = torch.tensor([[0, 1], [2, 255]])
    scores = get_task("segmentation").frame_scores(target.clamp(max=2), target)
    assert scores["pixel_acc"] == 1.0 and scores["miou_hand_object"] == 1.0


@pytest.mark.parametrize(("name", "files"), [("segmentation", ["f.png"]), ("amodal", ["f_l.png", "f_r.png"])])
def test_write_labels_names_one_png_per_plane(name: str, files: list[str], tmp_path: Path) -> None:
    task = get_task(name)
    labels = np.ones(task.target_shape(4, 6), np.uint8)
    task.write_labels(tmp_path, "f", labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == files


def test_no_task_name_is_compared_outside_the_task_definitions() -> None:
    pattern = re.compile(r"[!=]= ?['\"](amodal|segmentation)['\"]")
    hits = [f"{p.relative_to(SRC)}:{n}" for p in SRC.rglob("*.py") for n, line in
            enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]  # fmt: skip
    assert hits == []
