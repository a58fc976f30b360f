"""Any handseg-v1 folder through the Reader protocol (a thin wrapper over handseg.data.format.HandsegDataset)."""

from __future__ import annotations

import json
from pathlib import Path

from handseg.data.format import FORMAT, SPLITS, HandsegDataset, Sample, read_split
from handseg.data.readers.base import Reader, register_reader


@register_reader(priority=10)
class HandsegV1Reader(Reader):
    """Every frame of a handseg-v1 dataset (all frames under depth/), with its split lists."""

    name = "handseg-v1"
    description = "handseg-v1: manifest.json, depth/ color/ label/ parts/ splits/"

    def __init__(self, root: str | Path, skip_bad: bool = False) -> None:
        super().__init__(root, skip_bad)
        self.dataset = HandsegDataset(self.root, split=None)
        self.intrinsics = self.dataset.intrinsics
        self.ids = list(self.dataset.ids)
        self.has_color = self.dataset.manifest.has_color
        self.has_parts = self.dataset.manifest.has_parts
        self.has_label = (self.root / "label").is_dir() and any((self.root / "label").glob("*.png"))

    @classmethod
    def detect(cls, root: Path) -> bool:
        """manifest.json saying format handseg-v1."""
        try:
            return json.loads((root / "manifest.json").read_text(encoding="utf-8")).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            return False

    def load(self, sample_id: str) -> Sample:
        """One checked frame."""
        return self.dataset.load(sample_id)

    def splits(self) -> dict[str, list[str]]:
        """The dataset's own split lists; frames in none of them go to train."""
        out: dict[str, list[str]] = {}
        listed: set[str] = set()
        known = set(self.ids)
        for split in SPLITS:
            if (self.root / "splits" / f"{split}.txt").is_file():
                ids = [i for i in read_split(self.root, split) if i in known]
                out[split] = ids
                listed.update(ids)
        rest = [i for i in self.ids if i not in listed]
        if rest:
            out.setdefault("train", []).extend(rest)
        return out
