"""Metric update speed on the CPU: ConfusionMatrix on a 640x480 batch of 4 (goal < 5 ms), amodal mIoU, boundary F."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from common import markdown_table, time_call, write_results  # benchmarks/ is on sys.path when run as a script
from handseg.losses import build_loss
from handseg.metrics import AmodalPartIoU, BoundaryFScore, ConfusionMatrix

GOAL_MS = 5.0


def batch(seed: int = 0, n: int = 4, h: int = 480, w: int = 640) -> tuple[torch.Tensor, torch.Tensor]:
    """Segmentation-like labels: a hand and an object rectangle, 80 % right predictions, a strip of ignore."""
    g = torch.Generator().manual_seed(seed)
    target = torch.zeros(n, h, w, dtype=torch.long)
    target[:, 150:330, 200:360] = 1
    target[:, 200:300, 330:460] = 2
    target[:, :8] = 255
    noise = torch.randint(0, 3, (n, h, w), generator=g)
    pred = torch.where(torch.rand(n, h, w, generator=g) < 0.8, target.clamp(max=2), noise)
    return pred, target


def main() -> None:
    torch.set_num_threads(1)
    pred, target = batch()
    rows = []

    cm = ConfusionMatrix()
    t = time_call(lambda: cm.update(pred, target), repeats=30, warmup=3)
    cpu_ms = cpu_time_ms(lambda: cm.update(pred, target))
    rows.append({"what": "ConfusionMatrix.update labels", "input": "4 x 480 x 640 int64", **_ms(t), "cpu_ms": cpu_ms})
    logits = torch.randn(4, 3, 480, 640)
    t = time_call(lambda: cm.update(logits, target), repeats=10, warmup=2)
    rows.append({"what": "ConfusionMatrix.update logits (argmax)", "input": "4 x 3 x 480 x 640 float32", **_ms(t)})
    t = time_call(cm.compute, repeats=30, warmup=3)
    rows.append({"what": "ConfusionMatrix.compute", "input": "3 x 3", **_ms(t)})

    parts_t = torch.randint(0, 17, (4, 2, 480, 640))
    parts_p = torch.where(torch.rand(parts_t.shape) < 0.8, parts_t, torch.randint(0, 17, parts_t.shape))
    amodal = AmodalPartIoU()
    t = time_call(lambda: amodal.update(parts_p, parts_t), repeats=10, warmup=2)
    rows.append({"what": "AmodalPartIoU.update", "input": "4 x 2 x 480 x 640 int64", **_ms(t)})

    boundary = BoundaryFScore()
    t = time_call(lambda: boundary.update(pred, target), repeats=5, warmup=1)
    rows.append({"what": "BoundaryFScore.update (hand, object)", "input": "4 x 480 x 640 int64", **_ms(t)})

    seg_logits = torch.randn(4, 3, 480, 640, requires_grad=True)
    for name in ("ce", "ce_contour", "dice_ce"):
        loss = build_loss(name)

        def step(loss: torch.nn.Module = loss) -> None:
            loss(seg_logits, target).backward()

        t = time_call(step, repeats=3, warmup=1)
        rows.append({"what": f"loss {name} forward+backward", "input": "4 x 3 x 480 x 640 float32", **_ms(t)})

    cm_ms = rows[0]["median_ms"]
    md = markdown_table(rows, ["what", "input", "median_ms", "min_ms", "cpu_ms"])
    md += f"\n\nGoal: ConfusionMatrix.update on a 640x480 batch of 4 under {GOAL_MS} ms: "
    md += f"{'met' if cm_ms < GOAL_MS else 'NOT met'} ({cm_ms:.2f} ms median wall, {cpu_ms:.2f} ms median CPU time of "
    md += "the process, 1 torch thread). On a shared machine the CPU time is the steadier figure.\n"
    write_results("metrics", {"rows": rows, "goal_ms": GOAL_MS}, md, "python benchmarks/bench_metrics.py")


def cpu_time_ms(fn: Callable[[], object], repeats: int = 30) -> float:
    """Median CPU time (time.process_time) of fn in ms: less sensitive than wall time to other processes."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1e3


def _ms(t: dict[str, float]) -> dict[str, float]:
    return {"median_ms": t["median_s"] * 1e3, "min_ms": t["min_s"] * 1e3}


if __name__ == "__main__":
    main()
