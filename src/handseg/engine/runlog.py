"""Run logs: metrics.csv (one row per logged step or validation) and TensorBoard scalars, both resumable."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from handseg.utils.io import atomic_write_text

COLUMNS = (
    "step", "epoch", "kind", "loss", "lr", "images_per_s",
    "pixel_acc", "mean_acc", "mean_iu", "fw_iu", "miou_hand_object", "miou",
)  # fmt: skip


def read_metrics_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a metrics.csv with numbers parsed (empty cells become None)."""
    from handseg.errors import DataError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(path, "not UTF-8 text") from None
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a row torn by a kill during its append: drop it
    rows = []
    lines = list(csv.DictReader(io.StringIO(text, newline="")))
    for number, row in enumerate(lines, 2):
        parsed: dict[str, Any] = {}
        try:
            for key, value in row.items():
                if key is None:
                    raise ValueError("more cells than columns")
                if key == "kind" or value in ("", None):
                    parsed[key] = value or None
                else:
                    parsed[key] = float(value)
        except ValueError as exc:
            if number == len(lines) + 1:
                break  # a torn last row
            raise DataError(path, f"line {number}: {exc}") from None
        rows.append(parsed)
    return rows


class RunLog:
    """Appends rows to metrics.csv and scalars to TensorBoard; on resume both are cut back to `start_step`."""

    def __init__(self, run_dir: str | Path, start_step: int = 0, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.csv"
        kept = []
        if self.path.exists() and start_step > 0:
            kept = [r for r in read_metrics_csv(self.path) if r["step"] is not None and r["step"] <= start_step]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS)
        writer.writeheader()
        for row in kept:
            writer.writerow({k: _fmt(row.get(k)) for k in COLUMNS})
        atomic_write_text(self.path, text.getvalue())
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=start_step if start_step else None)

    def log(self, step: int, epoch: int, kind: str, values: dict[str, Any]) -> None:
        """One row (kind 'train' or 'val'); numeric values also go to TensorBoard as <kind>/<name>."""
        row = {"step": step, "epoch": epoch, "kind": kind}
        row.update({k: v for k, v in values.items() if k in COLUMNS})
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, fieldnames=COLUMNS).writerow({k: _fmt(row.get(k)) for k in COLUMNS})
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                    self.writer.add_scalar(f"{kind}/{key}", value, step)
            self.writer.flush()

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self.writer is not None:
            self.writer.close()


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)
