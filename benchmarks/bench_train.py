"""Training throughput of the real-time preset on the CPU: fp32 / bf16 autocast x NCHW / channels_last, side by side.

Usage: python benchmarks/bench_train.py [--rounds 6] [--steps 2] [--frames 48] [--threads 2]

Every variant runs the training loop's own step (Lightning Fabric with the config's precision: forward under
autocast, fp32 loss, backward, Adam) of configs/realtime_cpu.yaml (DenseAttentionSeg R18 width 16) at 320x240,
batch 8. The variants alternate round by round and each reports the median of its rounds, so a load change on the
machine hits all of them alike; the speed-ups are ratios measured in the same run. The data side is measured as
well: the DataLoader (320x240 PNG + augmentation) and the synthetic generator (frames/s per CPU-second at 320x240),
both against the training step's images/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import markdown_table, write_results

ROOT = Path(__file__).resolve().parent.parent
PRESET = ROOT / "configs" / "realtime_cpu.yaml"
SIZE = (320, 240)
BATCH = 8
VARIANTS = (("32-true", False), ("32-true", True), ("bf16-mixed", False), ("bf16-mixed", True))


class Variant:
    """One precision x memory format: a Fabric-wrapped model and optimizer, stepped like the Trainer does."""

    def __init__(self, config: dict, precision: str, channels_last: bool) -> None:
        import torch

        from handseg.engine.runtime import build_model_from_config, make_fabric
        from handseg.engine.schedule import build_optimizer
        from handseg.losses import build_loss

        kind = "bf16 autocast" if precision == "bf16-mixed" else "fp32"
        self.name = f"{kind}, {'channels_last' if channels_last else 'NCHW'}"
        self.precision, self.channels_last = precision, channels_last
        self.fabric = make_fabric({**config["runtime"], "accelerator": "cpu", "devices": 1, "precision": precision})
        torch.manual_seed(0)
        model = build_model_from_config(config)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model, self.optimizer = self.fabric.setup(model, build_optimizer(model.parameters(), config["optim"]))
        loss_cfg = dict(config["loss"])
        self.loss_fn = build_loss(loss_cfg.pop("name"), **loss_cfg)
        generator = torch.Generator().manual_seed(0)
        self.x = torch.rand(BATCH, 1, SIZE[1], SIZE[0], generator=generator)
        self.y = torch.randint(0, 3, (BATCH, SIZE[1], SIZE[0]), generator=generator)
        self.times: list[float] = []

    def step(self) -> float:
        """One training step as in Trainer.fit; returns its wall seconds."""
        import torch

        start = time.perf_counter()
        x = self.x.contiguous(memory_format=torch.channels_last) if self.channels_last else self.x
        loss = self.loss_fn(self.model(x).float(), self.y)
        self.optimizer.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        self.optimizer.step()
        return time.perf_counter() - start


def train_rates(config: dict, rounds: int, steps: int) -> list[dict]:
    """Median seconds per step of every variant, the variants alternating round by round."""
    variants = [Variant(config, precision, cl) for precision, cl in VARIANTS]
    for variant in variants:
        variant.step()  # warm-up (allocations, oneDNN kernel choice)
    for _ in range(rounds):
        for variant in variants:
            variant.times.append(statistics.median(variant.step() for _ in range(steps)))
    base = statistics.median(variants[0].times)
    rows = []
    for variant in variants:
        median = statistics.median(variant.times)
        rows.append(
            {
                "what": f"train step realtime_cpu, {variant.name}",
                "s_per_step": median,
                "images_per_s": BATCH / median,
                "speedup_vs_fp32_nchw": base / median,
                "note": f"median of {rounds} rounds (min {min(variant.times):.3f} s)",
            }
        )
    return rows


def loader_rate(root: Path, workers: int, augment: dict, epochs: int = 2) -> dict:
    """Images/s of the training DataLoader (320x240 PNGs + the preset's augmentation) over `epochs` passes."""
    from handseg.data.format import HandsegDataset
    from handseg.data.torch_dataset import EpochSampler, SegmentationDataset, make_loader

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
    return {"what": f"data loader, {workers} workers (320x240 PNG + augmentation)", "images_per_s": images / elapsed}


def generator_rate(out: Path, frames: int) -> dict:
    """Frames per CPU-second of the synthetic generator at 320x240 (one process; PNG writing included)."""
    from handseg.data.synth import generate_dataset

    cpu, start = time.process_time(), time.perf_counter()
    generate_dataset(out, frames, seed=0, size=SIZE, progress=False)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - start
    return {
        "what": f"synthetic generator, 1 process, {frames} frames at 320x240",
        "images_per_s": frames / cpu,
        "note": f"frames per CPU-second ({frames / wall:.1f} per wall second)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds per variant")
    parser.add_argument("--steps", type=int, default=2, help="steps per round (their median is the round's time)")
    parser.add_argument("--frames", type=int, default=48, help="frames generated for the loader and generator")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    from handseg.config import load_config

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    config = load_config(PRESET, [f"train.batch_size={BATCH}"])
    rows = train_rates(config, args.rounds, args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        gen = generator_rate(Path(tmp) / "synth", args.frames)
        loaders = [loader_rate(Path(tmp) / "synth", workers, config["augment"]) for workers in (0, 2)]
    load_after = os.getloadavg()[0]
    busy = max(load_before, load_after) > 1.5
    loaded = " (loaded by other jobs: absolute times are pessimistic, the ratios less so)" if busy else ""
    fastest = max(r["images_per_s"] for r in rows)
    for row in [gen, *loaders]:
        row["ratio_to_train"] = row["images_per_s"] / fastest
    rows += [*loaders, gen]
    ok = all(r["ratio_to_train"] >= 3 for r in loaders if "2 workers" in r["what"])
    columns = ["what", "s_per_step", "images_per_s", "speedup_vs_fp32_nchw", "ratio_to_train", "note"]
    md = markdown_table(rows, columns)
    md += (
        f"\n\nCPU, {args.threads} threads, configs/realtime_cpu.yaml (DenseAttentionSeg R18 width 16) at "
        f"{SIZE[0]}x{SIZE[1]}, batch {BATCH}; each variant is the Trainer's step under Lightning Fabric "
        f"(precision 32-true or bf16-mixed: autocast forward, fp32 weights and loss). Variants alternate over "
        f"{args.rounds} rounds of {args.steps} steps after a warm-up; ratios are from this one run. "
        f"`ratio_to_train` compares with the fastest training variant. Loader with 2 workers >= 3x that: "
        f"{'yes' if ok else 'NO'}. Machine load: 1-min load average {load_before:.2f} at the start and "
        f"{load_after:.2f} at the end on {os.cpu_count()} logical cores{loaded}.\n"
    )
    command = (
        f"python benchmarks/bench_train.py --rounds {args.rounds} --steps {args.steps} --frames {args.frames} "
        f"--threads {args.threads}"
    )
    payload = {
        "rows": rows, "loader_at_least_3x": ok, "batch": BATCH, "size": list(SIZE),
        "load_average_1min": {"start": load_before, "end": load_after},
    }  # fmt: skip
    write_results("train", payload, md, command)


if __name__ == "__main__":
    main()
