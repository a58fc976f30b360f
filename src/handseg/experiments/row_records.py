"""Reading the row files of `handseg experiment`: one metric of a record, grouping by row, mean/std/count."""

from __future__ import annotations

import math
import statistics
from typing import Any


def _value(record: dict[str, Any], key: str, real: bool = False) -> float | None:
    """A metric of a row file (iu_hand / iu_object from the iu list), or None."""
    metrics = record.get("real") if real else record.get("metrics")
    if not metrics:
        return None
    if key in ("iu_hand", "iu_object"):
        iu = metrics.get("iu") or [None, None, None]
        value = iu[1 if key == "iu_hand" else 2]
    else:
        value = metrics.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def summarize(values: list[float]) -> tuple[float, float | None, int]:
    """Mean, sample standard deviation (None for one value) and count."""
    if not values:
        return math.nan, None, 0
    std = statistics.stdev(values) if len(values) > 1 else None
    return statistics.fmean(values), std, len(values)


def group(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Row files by row key, in table order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        out.setdefault(record["row"]["key"], []).append(record)
    return out
