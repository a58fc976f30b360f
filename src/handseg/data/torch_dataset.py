"""torch Datasets, resumable samplers and DataLoaders over any reader that yields Sample dicts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from handseg.data.crop import DEFAULT_MARGIN, check_crop, crop_to_hands
from handseg.data.format import IGNORE_INDEX
from handseg.data.preprocess import make_input
from handseg.data.transforms import Augment, resize_sample
from handseg.errors import DataError
from handseg.registry import TASKS


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of one sample in one epoch of a run."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class SegmentationDataset(torch.utils.data.Dataset):
    """(input CxHxW float32, target) pairs: target is the label (HxW) or the two part maps (2xHxW), int64.

    Items are indices or (index, augmentation seed) pairs as EpochSampler yields them; augmentation runs only
    when `augment` is given and a seed comes with the index. crop="hands" first cuts each frame with part maps
    to a box around both hands at `size` (`handseg.data.crop`; frames without part maps are resized whole).
    Amodal items also hold "visible": the visible part maps (uint8 2xHxW), all 255 (unknown) where the frame
    has none or augmentation dropped them.
    """

    def __init__(
        self,
        reader: Sequence[Any],
        task: str,
        modality: str,
        size: tuple[int, int],
        *,
        augment: dict[str, Any] | None = None,
        require_target: bool = True,
        crop: str | None = None,
        crop_margin: float = DEFAULT_MARGIN,
    ) -> None:
        self.reader = reader
        self.task = task
        self.spec = TASKS.get(task) if isinstance(task, str) else task  # the Task: target key and shape
        self.modality = modality
        self.size = (int(size[0]), int(size[1]))
        self.augment = Augment(self.size, augment, swap_hands=True) if augment else None
        self.require_target = require_target
        check_crop(crop, crop_margin, "data.crop")
        self.crop = crop
        self.crop_margin = float(crop_margin)

    def __len__(self) -> int:
        return len(self.reader)

    def sample(self, item: int | tuple[int, int]) -> dict[str, Any]:
        """The resized (and, with a seed, augmented) sample dict of one item."""
        index, seed = item if isinstance(item, tuple | list) else (item, None)
        sample = self.reader[int(index)]
        if self.crop == "hands":
            sample = crop_to_hands(sample, self.size, margin=self.crop_margin)
        if self.augment is not None and seed is not None:
            return self.augment(sample, int(seed))
        return resize_sample(sample, self.size)

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        index = int(item[0] if isinstance(item, tuple | list) else item)
        sample = self.sample(item)
        if self.modality != "depth" and sample.get("color") is None:
            raise DataError(sample["id"], f"modality {self.modality!r} needs a color image; this frame has none")
        x = torch.from_numpy(np.ascontiguousarray(make_input(sample["depth"], sample.get("color"), self.modality)))
        key = self.spec.target_key
        target = sample.get(key)
        if target is None:
            if self.require_target:
                raise DataError(sample["id"], f"frame has no {key} (needed for task {self.spec.name!r})")
            target = np.full(self.spec.target_shape(*x.shape[1:]), IGNORE_INDEX, np.int64)
        item = {"input": x, "target": torch.from_numpy(np.ascontiguousarray(target, np.int64)), "index": index}
        if self.spec.visible_maps:
            visible = sample.get("visible_parts")
            shape = (2, *x.shape[1:])
            visible = np.full(shape, IGNORE_INDEX, np.uint8) if visible is None else np.asarray(visible, np.uint8)
            if visible.shape != shape:
                raise DataError(sample["id"], f"visible part maps {visible.shape} do not match the input {shape}")
            item["visible"] = torch.from_numpy(np.ascontiguousarray(visible))
        return item


class EpochSampler(Sampler):
    """One rank's indices: a permutation fixed by (seed, epoch), sharded rank::world, resumable mid-epoch.

    Training (shuffle=True) yields (index, augmentation seed) pairs and drops the last incomplete global
    batch; evaluation (shuffle=False) yields every index exactly once over all ranks.
    """

    def __init__(
        self, size: int, batch_size: int, *, seed: int = 0, shuffle: bool = True, rank: int = 0, world: int = 1
    ):
        self.size, self.batch_size, self.seed, self.shuffle = size, batch_size, seed, shuffle
        self.rank, self.world = rank, world
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Choose the epoch's order and skip the first `start_batch` batches (already trained on)."""
        self.epoch, self.start_batch = epoch, start_batch

    def batches_per_epoch(self) -> int:
        """Batches per epoch on this rank (training: full global batches only)."""
        if self.shuffle:
            return self.size // (self.batch_size * self.world)
        return -(-len(range(self.rank, self.size, self.world)) // self.batch_size)

    def _indices(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.rank, self.size, self.world))
        generator = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, 2**40))
        order = torch.randperm(self.size, generator=generator).tolist()
        order = order[: self.batches_per_epoch() * self.batch_size * self.world]
        return order[self.rank :: self.world]

    def __iter__(self) -> Iterator[Any]:
        indices = self._indices()[self.start_batch * self.batch_size :]
        if not self.shuffle:
            return iter(indices)
        # seeds as the loader asks for them: computing all up front stalls each epoch's start (~5 s at 20k frames)
        seed, epoch = self.seed, self.epoch
        return ((i, sample_seed(seed, epoch, i)) for i in indices)

    def __len__(self) -> int:
        return max(0, len(self._indices()) - self.start_batch * self.batch_size)


def make_loader(
    dataset: torch.utils.data.Dataset,
    sampler: Sampler,
    batch_size: int,
    workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader that takes its order from `sampler` and keeps its workers alive between epochs."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=pin_memory,
        drop_last=False,
        generator=torch.Generator().manual_seed(0),  # leaves the global RNG untouched (exact resume)
    )
