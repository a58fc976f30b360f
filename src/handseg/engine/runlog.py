"""Run logs: metrics.csv (one row per logged step or validation) and TensorBoard scalars, both resumable."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from handseg.errors import DataError
from handseg.utils.io import atomic_write_text

COLUMNS = (
    "step",
    "epoch",
    "kind",
    "wall_s",
    "loss",
    "lr",
    "images_per_s",
    "pixel_acc",
    "mean_acc",
    "mean_iu",
    "fw_iu",
    "miou_hand_object",
    "miou",
)  # fmt: skip  (the leading columns; any other key given to RunLog.log gets a column of its own)
TEXT_COLUMNS = ("kind",)


def read_metrics_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a metrics.csv with numbers parsed (empty cells become None, text stays text); a torn last row
    (a kill during its append) is dropped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(path, "not UTF-8 text") from None
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a row torn by a kill during its append: drop it
    rows = []
    lines = list(csv.DictReader(io.StringIO(text, newline="")))
    for number, row in enumerate(lines, 2):
        try:
            rows.append(_parse_row(row))
        except ValueError as exc:
            if number == len(lines) + 1:
                break  # a torn last row
            raise DataError(path, f"line {number}: {exc}") from None
    return rows


def _parse_row(row: dict[Any, Any]) -> dict[str, Any]:
    """One metrics.csv row: the standard columns must be numbers; columns added later may hold text."""
    if None in row:
        raise ValueError("more cells than columns")
    parsed: dict[str, Any] = {}
    for key, value in row.items():
        if value in ("", None):
            parsed[key] = None
        elif key in TEXT_COLUMNS:
            parsed[key] = value
        elif key in COLUMNS:
            parsed[key] = float(value)
        else:
            try:
                parsed[key] = float(value)
            except ValueError:
                parsed[key] = value
    return parsed


def flatten(values: dict[str, Any]) -> dict[str, Any]:
    """Lists become <key>_<i> and mappings <key>_<sub> entries, so every value has a cell of its own."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flatten({f"{key}_{sub}": v for sub, v in value.items()}))
        elif isinstance(value, list | tuple):
            out.update(flatten({f"{key}_{i}": v for i, v in enumerate(value)}))
        else:
            out[key] = value
    return out


class RunLog:
    """Appends rows to metrics.csv and scalars to TensorBoard; on resume both are cut back to `start_step`.

    Every key given to `log` is written: a key the file has no column for adds one (the file is rewritten
    atomically with the wider header, earlier rows leaving the cell empty).
    """

    def __init__(self, run_dir: str | Path, start_step: int = 0, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.csv"
        kept: list[dict[str, Any]] = []
        self.columns = list(COLUMNS)
        if self.path.exists() and start_step > 0:
            rows = read_metrics_csv(self.path)
            kept = [r for r in rows if r["step"] is not None and r["step"] <= start_step]
            for row in rows:
                self.columns += [k for k in row if k not in self.columns]
        self._rewrite(kept)
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: only when events are written

            self.writer = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=start_step if start_step else None)

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row.get(k)) for k in self.columns})
        atomic_write_text(self.path, text.getvalue())

    def log(self, step: int, epoch: float, kind: str, values: dict[str, Any]) -> None:
        """One row (kind 'train' or 'val') with every key of `values`; numbers also go to TensorBoard."""
        row = {"step": step, "epoch": epoch, "kind": kind, **flatten(values)}
        new = [k for k in row if k not in self.columns]
        if new:
            self.columns += new
            self._rewrite(read_metrics_csv(self.path))
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, fieldnames=self.columns).writerow({k: _fmt(row.get(k)) for k in self.columns})
        if self.writer is not None:
            for key, value in row.items():
                if key in ("step", "epoch", "kind"):
                    continue
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
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))  # steps re-read as floats keep every digit when a file is rewritten
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)
