"""Training throughput (images/s) on the CPU at 320x240 batch 4, and data-loader throughput with augmentation.

Usage: python benchmarks/bench_train.py [--steps 3] [--frames 32] [--threads 2]
The loader must deliver at least 3x the images a training step consumes, so loading is never the bottleneck.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import markdown_table, write_results

SIZE = (320, 240)
BATCH = 4


def train_rate(name: str, steps: int) -> dict:
    """Images/s of full training steps (forward, weighted CE, backward, Adam) of a ResNet-50 model."""
    import torch

    from handseg.losses import build_loss
    from handseg.models import build_model

    torch.manual_seed(0)
    model = build_model(name, in_channels=1, num_classes=3, backbone="resnet50").train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-3)
    loss_fn = build_loss("ce", weights=[1, 5, 5])
    x = torch.randn(BATCH, 1, SIZE[1], SIZE[0])
    y = torch.randint(0, 3, (BATCH, SIZE[1], SIZE[0]))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()

    step()  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]
    return {"what": f"train step {name} (R50)", "s_per_step": median, "images_per_s": BATCH / median}


def loader_rate(root: Path, workers: int, epochs: int = 2) -> dict:
    """Images/s of the training DataLoader (augmentation at 320x240) over `epochs` passes."""
    from handseg.data.format import HandsegDataset
    from handseg.data.torch_dataset import EpochSampler, SegmentationDataset, make_loader

    augment = {"hflip": 0.5, "rotate": 15, "depth_noise_m": 0.005}
    dataset = SegmentationDataset(HandsegDataset(root, None), "segmentation", "depth", SIZE, augment=augment)
    sampler = EpochSampler(len(dataset), BATCH, seed=0, shuffle=True)
    loader = make_loader(dataset, sampler, BATCH, workers=workers)
    images = 0
    next(iter(loader))  # start-up of the workers is not counted
    start = time.perf_counter()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in loader:
            images += batch["input"].shape[0]
    elapsed = time.perf_counter() - start
    return {"what": f"data loader, {workers} workers (640x480 PNG -> 320x240 + aug)", "images_per_s": images / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rows = [train_rate(name, args.steps) for name in ("deeplabv3plus", "dense_attention_seg")]
    with tempfile.TemporaryDirectory() as tmp:
        from handseg.data.synth import generate_dataset

        root = generate_dataset(Path(tmp) / "synth", args.frames, seed=0, size=(640, 480), progress=False)
        loaders = [loader_rate(root, workers) for workers in (0, 2)]
    slowest_step = min(r["images_per_s"] for r in rows)
    for row in loaders:
        row["ratio_to_train"] = row["images_per_s"] / slowest_step
    rows += loaders
    rows.append({"what": "train step dense_attention_seg R50 640x480 bf16 on GPU", "images_per_s": None,
                 "note": "not measured: no GPU lent in this task"})  # fmt: skip
    ok = all(r["ratio_to_train"] >= 3 for r in loaders if "2 workers" in r["what"])
    md = markdown_table(rows, ["what", "s_per_step", "images_per_s", "ratio_to_train", "note"])
    md += (
        f"\n\nCPU, {args.threads} threads, batch {BATCH} at {SIZE[0]}x{SIZE[1]}, median of {args.steps} steps after a"
        f" warm-up. Loader with 2 workers >= 3x the slowest training step: {'yes' if ok else 'NO'}.\n"
    )
    command = f"python benchmarks/bench_train.py --steps {args.steps} --frames {args.frames} --threads {args.threads}"
    write_results("train", {"rows": rows, "loader_at_least_3x": ok}, md, command)


if __name__ == "__main__":
    main()
