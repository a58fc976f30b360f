"""Large pre-generated datasets load without per-epoch work over the whole folder or the whole epoch."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import handseg.data.torch_dataset as torch_dataset
from handseg.data.format import HandsegDataset
from handseg.data.torch_dataset import EpochSampler, SegmentationDataset, make_loader, sample_seed
from handseg.engine.runtime import make_fabric
from handseg.engine.train import Trainer


def make_big_split(source: Path, root: Path, frames: int) -> Path:
    """A handseg-v1 folder of `frames` ids whose files are links to the source's first frame (cheap to make)."""
    root.mkdir()
    (root / "manifest.json").write_bytes((source / "manifest.json").read_bytes())
    ids = [f"g{k:05d}" for k in range(frames)]
    for kind in ("depth", "label"):
        (root / kind).mkdir()
        target = source / kind / "f000.png"
        for i in ids:
            os.link(target, root / kind / f"{i}.png")
    (root / "splits").mkdir()
    (root / "splits" / "train.txt").write_text("".join(f"{i}\n" for i in ids))
    (root / "splits" / "val.txt").write_text("".join(f"{i}\n" for i in ids[:8]))
    return root


def test_sampler_computes_seeds_as_the_loader_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(torch_dataset, "sample_seed", lambda *args: calls.append(args) or 7)
    sampler = EpochSampler(20000, 8, seed=3, shuffle=True)
    sampler.set_epoch(2, start_batch=5)
    items = iter(sampler)
    first = next(items)
    per_sample = [c for c in calls if c[2] != 2**40]  # 2**40: the seed of the epoch's permutation
    assert len(per_sample) == 1 and first == (per_sample[0][2], 7) and per_sample[0][:2] == (3, 2)
    monkeypatch.undo()
    reference = EpochSampler(20000, 8, seed=3, shuffle=True)
    reference.set_epoch(2, start_batch=5)
    pairs = list(reference)
    assert len(pairs) == (2500 - 5) * 8 and pairs[0][1] == sample_seed(3, 2, pairs[0][0])


@pytest.mark.slow
def test_20k_frame_split_trains_without_listing_the_folder(
    tiny_dataset: Path, tmp_path: Path, tiny_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_big_split(tiny_dataset, tmp_path / "big", 20000)
    listed = []
    for name in ("glob", "iterdir", "rglob"):
        original = getattr(Path, name)

        def spy(self: Path, *args: object, _original=original, **kwargs: object) -> object:
            if str(self).startswith(str(root)):
                listed.append(str(self))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Path, name, spy)
    for name in ("listdir", "scandir"):
        original = getattr(os, name)

        def spy_os(path: object = ".", _original=original) -> object:
            if str(path).startswith(str(root)):
                listed.append(str(path))
            return _original(path)

        monkeypatch.setattr(os, name, spy_os)
    config = tiny_config(root, batch_size=8, max_steps=2)
    config["data"]["workers"] = 1
    from handseg.config import validate

    trainer = Trainer(validate(config), tmp_path / "run", make_fabric(validate(config)["runtime"]), progress=False)
    start = time.perf_counter()
    trainer._setup_data()
    trainer.train_sampler.set_epoch(0)
    batch = next(iter(trainer.train_loader))
    elapsed = time.perf_counter() - start
    assert batch["input"].shape == (8, 1, 48, 64) and trainer.steps_per_epoch == 2500
    loader = trainer.train_loader
    assert loader.persistent_workers and loader.num_workers == 1 and not loader.pin_memory
    assert trainer.val_loader.persistent_workers and not trainer.val_loader.pin_memory
    assert listed == []  # ids come from splits/*.txt, never from listing 20k files
    assert elapsed < 30, f"setup and first batch of a 20k-frame split took {elapsed:.1f} s"


def test_loader_is_reused_across_epochs(tiny_dataset: Path) -> None:
    dataset = SegmentationDataset(HandsegDataset(tiny_dataset, "train"), "segmentation", "depth", (64, 48))
    sampler = EpochSampler(len(dataset), 2, seed=0, shuffle=True)
    loader = make_loader(dataset, sampler, 2, workers=1)
    pids = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        iterator = iter(loader)
        pids.append(tuple(w.pid for w in iterator._workers))
        seen = [i for b in iterator for i in b["index"].tolist()]
        assert sorted(seen) == [0, 1, 2, 3]
    assert pids[0] == pids[1]  # persistent workers: no process start per epoch


def test_depth_segmentation_run_reads_no_colour_or_parts_and_caps_val(
    tiny_dataset: Path, tmp_path: Path, tiny_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handseg.config import validate
    from handseg.data import format as fmt

    read = []
    original = fmt.read_png
    monkeypatch.setattr(
        fmt, "read_png", lambda path, *a, **k: read.append(Path(path).parent.name) or original(path, *a, **k)
    )
    config = tiny_config(tiny_dataset, max_steps=2, val_every_steps=1)
    config["data"]["val_max_frames"] = 3
    trainer = Trainer(validate(config), tmp_path / "run", make_fabric(validate(config)["runtime"]), progress=False)
    trainer._setup_data()
    trainer.train_sampler.set_epoch(0)
    next(iter(trainer.train_loader))
    assert len(trainer.val_loader.dataset) == 3  # the first 3 of the 4 val frames
    assert sorted(set(read)) == ["depth", "label"]
    rgb = tiny_config(tiny_dataset)
    rgb["data"]["modality"] = "rgb"
    rgb_trainer = Trainer(validate(rgb), tmp_path / "rgb", make_fabric(validate(rgb)["runtime"]), progress=False)
    rgb_trainer._setup_data()
    assert rgb_trainer.train_loader.dataset[(0, 1)]["input"].shape[0] == 3  # colour still read when needed


def test_val_max_frames_must_be_positive(tiny_dataset: Path, tiny_config) -> None:
    from handseg.config import validate
    from handseg.errors import ConfigError

    config = tiny_config(tiny_dataset)
    config["data"]["val_max_frames"] = 0
    with pytest.raises(ConfigError, match="data.val_max_frames"):
        validate(config)
