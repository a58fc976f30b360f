"""Reading the row files of `handseg experiment`: one metric of a record, grouping by row, mean/std/count."""

from __future__ import annotations

import math
import statistics
from typing import Any

# Where a row file keeps each of its evaluations: synthetic val, the real set, synthetic val with the forearm not
# scored (the real set's labelling convention, handseg.data.forearm; row files written before it lack the entry).
SOURCES = {"synthetic": "metrics", "real": "real", "no_forearm": "metrics_no_forearm"}


def _value(record: dict[str, Any], key: str, real: bool = False, *, source: str | None = None) -> float | None:
    """A metric of a row file (iu_hand / iu_object from the iu list), or None; `source` names a SOURCES entry."""
    metrics = record.get(SOURCES[source or ("real" if real else "synthetic")])
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


# A row's validation curve counts as flat when its best score in the last quarter of its steps beats its best
# score before that by less than this many points of mean IOU (issue 19: "trained until the curve is flat").
FLAT_GAIN_POINTS = 1.0
LATE_SHARE = 0.25


def late_gain(record: dict[str, Any], key: str = "miou_hand_object") -> float | None:
    """Best score of the last quarter of the curve's steps minus the best before it (a fraction); None if too short."""
    curve = [(point["step"], point[key]) for point in record.get("curve", []) if point.get(key) is not None]
    if not curve:
        return None
    split = (1.0 - LATE_SHARE) * max(step for step, _ in curve)
    early = [value for step, value in curve if step <= split]
    late = [value for step, value in curve if step > split]
    if not early or not late:
        return None
    return max(late) - max(early)


def count_flat(records: list[dict[str, Any]]) -> tuple[int, int]:
    """How many of the records' curves are flat (late gain under FLAT_GAIN_POINTS), and how many could be judged."""
    gains = [gain for record in records if (gain := late_gain(record)) is not None]
    return sum(100 * gain < FLAT_GAIN_POINTS for gain in gains), len(gains)
