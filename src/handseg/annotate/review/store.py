"""Review decisions kept in DATASET/review.json (rewritten atomically on every change) and the final split."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from handseg.errors import DataError, OutputExistsError
from handseg.utils.io import atomic_write_json, atomic_write_text

REVIEW_FILE = "review.json"
REVIEW_FORMAT = "handseg-review-v1"
DECISIONS = ("accept", "reject")


def frame_ids(root: Path) -> list[str]:
    """Ids of every frame of a dataset (depth/*.png), sorted."""
    return sorted(p.stem for p in (root / "depth").glob("*.png"))


class ReviewStore:
    """Per-frame accept/reject decisions of one dataset, saved to review.json after every change."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.path = self.root / REVIEW_FILE
        self.lock = threading.Lock()
        self.decisions: dict[str, str] = {}
        if self.path.exists():
            self.decisions = self._read()

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(self.path, f"not valid JSON ({exc}); move it away to start the review afresh") from None
        if not isinstance(data, dict) or data.get("format") != REVIEW_FORMAT:
            raise DataError(self.path, f"not a {REVIEW_FORMAT} file")
        decisions = data.get("decisions")
        if not isinstance(decisions, dict) or any(v not in DECISIONS for v in decisions.values()):
            raise DataError(self.path, f"decisions must map frame ids to one of {DECISIONS}")
        return {str(k): str(v) for k, v in decisions.items()}

    def set(self, sample_id: str, decision: str | None) -> dict[str, str]:
        """Record (or clear, with None) a decision and save the file atomically; return all decisions."""
        if decision is not None and decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS} or None, got {decision!r}")
        with self.lock:
            if decision is None:
                self.decisions.pop(sample_id, None)
            else:
                self.decisions[sample_id] = decision
            atomic_write_json(
                self.path,
                {"format": REVIEW_FORMAT, "decisions": self.decisions, "updated": time.strftime("%Y-%m-%dT%H:%M:%S")},
            )
            return dict(self.decisions)

    def counts(self, ids: list[str]) -> dict[str, int]:
        """How many of `ids` are accepted, rejected, not reviewed."""
        values = [self.decisions.get(i) for i in ids]
        accepted, rejected = values.count("accept"), values.count("reject")
        return {"accepted": accepted, "rejected": rejected, "unreviewed": len(ids) - accepted - rejected}


def finalize(root: str | Path, val_fraction: float = 0.2, seed: int = 0, force: bool = False) -> dict[str, Any]:
    """Write splits/train.txt and splits/val.txt from the accepted frames of review.json."""
    root = Path(root)
    if not 0 <= val_fraction < 1:
        raise ValueError("val_fraction must be in [0, 1)")
    store = ReviewStore(root)
    if not store.path.exists():
        raise DataError(store.path, "no review yet: run `handseg review DATASET` and accept frames first")
    ids = frame_ids(root)
    accepted = [i for i in ids if store.decisions.get(i) == "accept"]
    if not accepted:
        raise DataError(store.path, "no frame is accepted; nothing to finalize")
    targets = [root / "splits" / "train.txt", root / "splits" / "val.txt"]
    for path in targets:
        if path.exists() and not force:
            raise OutputExistsError(f"{path}: exists; pass --force to overwrite")
    order = np.random.default_rng(seed).permutation(len(accepted))
    n_val = round(len(accepted) * val_fraction) if len(accepted) > 1 else 0
    val_set = {accepted[k] for k in order[:n_val]}
    train = [i for i in accepted if i not in val_set]
    val = [i for i in accepted if i in val_set]
    atomic_write_text(targets[0], "".join(f"{i}\n" for i in train))
    atomic_write_text(targets[1], "".join(f"{i}\n" for i in val))
    return {"train": len(train), "val": len(val), **store.counts(ids)}
