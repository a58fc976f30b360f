"""Per-frame annotation diagnostics for the review page, with a risk score that puts doubtful frames first."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

# Thresholds of the risk reasons: a held object this small is often a missed or cut object, a colour shift this
# large means the registration repair worked hard (its result deserves a look), no hand at all is suspicious.
SMALL_OBJECT_PX = 150
LARGE_SHIFT_PX = 4.0


def read_diagnostics(root: str | Path) -> dict[str, dict[str, float | str]]:
    """diagnostics.csv of an annotated dataset as {id: {column: value}} (numbers as floats); {} when absent."""
    path = Path(root) / "diagnostics.csv"
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    out: dict[str, dict[str, float | str]] = {}
    for row in rows:
        frame_id = row.pop("id", None)
        if not frame_id:
            continue
        values: dict[str, float | str] = {}
        for key, text in row.items():
            try:
                values[key] = float(text)
            except (TypeError, ValueError):
                values[key] = text or ""
        out[frame_id] = values
    return out


def risk(values: dict[str, float | str]) -> tuple[float, list[str]]:
    """(score, reasons) of one frame: higher = more likely to need a correction."""

    def number(key: str) -> float:
        value = values.get(key)
        return float(value) if isinstance(value, float) and math.isfinite(value) else 0.0

    reasons, score = [], 0.0
    hand, obj = number("hand_px"), number("object_px")
    shift = math.hypot(number("shift_dx"), number("shift_dy"))
    if hand == 0:
        reasons.append("no hand")
        score += 3.0
    if 0 < obj < SMALL_OBJECT_PX:
        reasons.append(f"small object ({obj:.0f} px)")
        score += 2.0 * (1 - obj / SMALL_OBJECT_PX) + 1.0
    elif obj == 0:
        reasons.append("no object")
        score += 1.0
    if shift > LARGE_SHIFT_PX:
        reasons.append(f"large registration shift ({shift:.1f} px)")
        score += min(shift / LARGE_SHIFT_PX, 3.0)
    return round(score, 3), reasons


def diagnostics_payload(root: str | Path, ids: list[str]) -> dict[str, Any]:
    """What the page shows: each frame's diagnostics, risk score and reasons (frames without a row get none)."""
    table = read_diagnostics(root)
    frames = {}
    for frame_id in ids:
        values = table.get(frame_id)
        if values is None:
            continue
        score, reasons = risk(values)
        frames[frame_id] = {"values": values, "risk": score, "reasons": reasons}
    columns = sorted({key for row in table.values() for key in row})
    return {"columns": columns, "frames": frames}
