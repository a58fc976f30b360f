"""ConfusionMatrix and scores_from_confusion against hand arithmetic, explicit loops and torchmetrics."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from handseg.errors import ConfigError, DataError
from handseg.metrics import ConfusionMatrix, scores_from_confusion


def test_fcn_scores_on_a_full_matrix_match_hand_arithmetic() -> None:
    hist = np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]])
    s = scores_from_confusion(hist)
    # diag (5, 3, 4) sums to 12; rows t = (6, 6, 4) sum to 16; columns p = (7, 4, 5).
    assert s["pixel_acc"] == pytest.approx(12 / 16)
    assert s["acc"] == pytest.approx([5 / 6, 3 / 6, 4 / 4])
    assert s["mean_acc"] == pytest.approx((5 / 6 + 3 / 6 + 1) / 3)
    # IU_i = n_ii / (t_i + p_i - n_ii): 5/(6+7-5) = 5/8, 3/(6+4-3) = 3/7, 4/(4+5-4) = 4/5.
    assert s["iu"] == pytest.approx([5 / 8, 3 / 7, 4 / 5])
    assert "iu_per_class" not in s and "acc_per_class" not in s  # one key each, no duplicates
    assert s["mean_iu"] == pytest.approx((5 / 8 + 3 / 7 + 4 / 5) / 3)
    assert s["fw_iu"] == pytest.approx((6 * 5 / 8 + 6 * 3 / 7 + 4 * 4 / 5) / 16)
    assert s["miou_hand_object"] == pytest.approx((3 / 7 + 4 / 5) / 2)


def test_class_absent_from_truth_and_prediction_is_left_out_of_the_means() -> None:
    hist = np.array([[4, 0, 1], [0, 0, 0], [2, 0, 3]])
    s = scores_from_confusion(hist)
    # t = (5, 0, 5), p = (6, 0, 4); class 1 is 0/0 everywhere -> NaN and skipped.
    assert math.isnan(s["iu"][1]) and math.isnan(s["acc"][1])
    assert s["mean_acc"] == pytest.approx((4 / 5 + 3 / 5) / 2)
    # IU_0 = 4/(5+6-4) = 4/7, IU_2 = 3/(5+4-3) = 1/2.
    assert s["mean_iu"] == pytest.approx((4 / 7 + 1 / 2) / 2)
    assert s["fw_iu"] == pytest.approx((5 * 4 / 7 + 5 * 1 / 2) / 10)
    assert s["miou_hand_object"] == pytest.approx(1 / 2)
    assert s["pixel_acc"] == pytest.approx(7 / 10)


def test_class_predicted_but_absent_from_truth_counts_as_zero_iu() -> None:
    hist = np.array([[3, 2, 0], [0, 0, 0], [0, 0, 5]])
    s = scores_from_confusion(hist)
    # Class 1: t = 0, p = 2 -> acc 0/0 (NaN, skipped) but IU = 0/(0+2-0) = 0 (kept, as in FCN).
    assert s["iu"][1] == 0.0 and math.isnan(s["acc"][1])
    assert s["mean_iu"] == pytest.approx((3 / 5 + 0 + 5 / 5) / 3)
    assert s["mean_acc"] == pytest.approx((3 / 5 + 5 / 5) / 2)
    assert s["miou_hand_object"] == pytest.approx((0 + 1) / 2)


def test_empty_matrix_is_nan_and_bad_shape_is_rejected() -> None:
    s = scores_from_confusion(np.zeros((3, 3)))
    assert math.isnan(s["pixel_acc"]) and math.isnan(s["mean_iu"]) and math.isnan(s["fw_iu"])
    with pytest.raises(DataError):
        scores_from_confusion(np.zeros((2, 3)))


def test_update_counts_like_an_explicit_loop_and_skips_ignore() -> None:
    g = torch.Generator().manual_seed(1)
    pred = torch.randint(0, 3, (2, 7, 9), generator=g)
    target = torch.randint(0, 3, (2, 7, 9), generator=g)
    target[0, :2] = 255
    expected = np.zeros((3, 3), dtype=np.int64)
    for t, p in zip(target.flatten().tolist(), pred.flatten().tolist()):
        if t != 255:
            expected[t, p] += 1
    cm = ConfusionMatrix()
    cm.update(pred, target)
    assert np.array_equal(cm.matrix.numpy(), expected)
    cm.update(pred.to(torch.uint8), target.to(torch.uint8))  # PNG-style dtypes accepted too
    assert np.array_equal(cm.matrix.numpy(), 2 * expected)
    cm.reset()
    logits = torch.nn.functional.one_hot(pred, 3).permute(0, 3, 1, 2).float() * 3.0
    cm.update(logits, target)
    assert np.array_equal(cm.matrix.numpy(), expected)
    assert cm.compute()["confusion"] == expected.tolist()


def test_bad_labels_raise_clear_errors() -> None:
    cm = ConfusionMatrix()
    ok = torch.zeros(1, 4, 4, dtype=torch.long)
    for bad in (3, 254, 1000, -1):
        target = ok.clone()
        target[0, 1, 1] = bad
        with pytest.raises(DataError, match="target labels"):
            cm.update(ok, target)
    with pytest.raises(DataError, match="predicted labels"):
        cm.update(ok + 3, ok)
    with pytest.raises(DataError, match="shape"):
        cm.update(ok[:, :2], ok)
    assert int(cm.matrix.sum()) == 0
    with pytest.raises(ConfigError):
        ConfusionMatrix(num_classes=3, ignore_index=-1)


def test_matches_torchmetrics_on_random_data() -> None:
    from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

    g = torch.Generator().manual_seed(0)
    kw = {"num_classes": 3, "ignore_index": 255}
    tm = {
        "iu": MulticlassJaccardIndex(average="none", **kw),
        "mean_iu": MulticlassJaccardIndex(average="macro", **kw),
        "pixel_acc": MulticlassAccuracy(average="micro", **kw),
        "mean_acc": MulticlassAccuracy(average="macro", **kw),
    }
    cm = ConfusionMatrix()
    for _ in range(3):
        target = torch.randint(0, 3, (2, 24, 32), generator=g)
        # Predictions right 60 % of the time, so the scores are far from chance and from each other.
        noise = torch.randint(0, 3, target.shape, generator=g)
        pred = torch.where(torch.rand(target.shape, generator=g) < 0.6, target, noise)
        target[torch.rand(target.shape, generator=g) < 0.1] = 255
        cm.update(pred, target)
        for metric in tm.values():
            metric.update(pred, target)
    ours = cm.compute()
    assert ours["iu"] == pytest.approx(tm["iu"].compute().tolist(), abs=1e-6)
    for key in ("mean_iu", "pixel_acc", "mean_acc"):
        assert ours[key] == pytest.approx(float(tm[key].compute()), abs=1e-6), key


class _FakeFabric:
    """Stands in for lightning Fabric with two ranks holding the same matrix."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def all_reduce(self, tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
        self.calls.append(reduce_op)
        return tensor * 2


def test_sync_with_fabric_sums_and_is_idempotent() -> None:
    cm = ConfusionMatrix()
    cm.update(torch.tensor([[[0, 1], [2, 2]]]), torch.tensor([[[0, 1], [1, 2]]]))
    local = cm.matrix.clone()
    fabric = _FakeFabric()
    cm.sync(fabric)
    cm.sync(fabric)  # reduces the local counts again, never the already-summed ones
    assert fabric.calls == ["sum", "sum"]
    assert torch.equal(cm.matrix, 2 * local)
    assert ConfusionMatrix().sync().matrix.sum() == 0  # no process group: no-op


DDP_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
    from handseg.metrics import AmodalPartIoU, ConfusionMatrix

    def data(rank):
        g = torch.Generator().manual_seed(10 + rank)
        target = torch.randint(0, 3, (2, 16, 20), generator=g)
        target[:, :2] = 255
        return torch.randint(0, 3, target.shape, generator=g), target

    def parts(rank):
        g = torch.Generator().manual_seed(20 + rank)
        target = torch.randint(0, 4, (3, 2, 16, 20), generator=g)
        return torch.randint(0, 4, target.shape, generator=g), target

    def worker(rank, init_file, out_dir):
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=2)
        cm = ConfusionMatrix()
        cm.update(*data(rank))
        cm.sync()
        torch.save(cm.matrix, f"{out_dir}/rank{rank}.pt")
        amodal = AmodalPartIoU(min_pixels=5)
        amodal.update(*parts(rank), ids=[f"r{rank}i{i}" for i in range(3)])
        amodal.sync().sync()
        torch.save(amodal.compute(), f"{out_dir}/amodal{rank}.pt")
        dist.destroy_process_group()

    if __name__ == "__main__":
        mp.spawn(worker, args=(sys.argv[1], sys.argv[2]), nprocs=2, join=True)
        single = ConfusionMatrix()
        for rank in range(2):
            single.update(*data(rank))
        torch.save(single.matrix, f"{sys.argv[2]}/single.pt")
        amodal = AmodalPartIoU(min_pixels=5)
        for rank in range(2):
            amodal.update(*parts(rank), ids=[f"r{rank}i{i}" for i in range(3)])
        torch.save(amodal.compute(), f"{sys.argv[2]}/amodal_single.pt")
    """
)


def test_ddp_sync_over_two_gloo_processes(tmp_path: Path) -> None:
    script = tmp_path / "ddp_sync.py"
    script.write_text(DDP_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "init"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    single = torch.load(tmp_path / "single.pt")
    assert int(single.sum()) == 2 * 2 * 14 * 20
    for rank in range(2):
        assert torch.equal(torch.load(tmp_path / f"rank{rank}.pt"), single)
    amodal = torch.load(tmp_path / "amodal_single.pt", weights_only=False)
    assert amodal["images"] == 6
    for rank in range(2):
        gathered = torch.load(tmp_path / f"amodal{rank}.pt", weights_only=False)
        assert json.dumps(gathered, sort_keys=True) == json.dumps(amodal, sort_keys=True)  # NaN-safe equality
