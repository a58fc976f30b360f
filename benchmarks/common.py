"""Shared helpers for benchmarks: the machine description, timing, and writing results (JSON + Markdown)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from handseg.utils.io import atomic_write_text
from handseg.utils.timing import cpu_name

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """Describe the machine the figures were measured on."""
    info: dict[str, Any] = {
        "cpu": cpu_name(),
        "logical_cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        pass
    try:
        info["load_average_1min"] = os.getloadavg()[0]
    except OSError:
        pass
    return info


def machine_line(info: dict[str, Any] | None = None) -> str:
    """One line for a model card: the CPU, its logical cores and the load while measuring."""
    info = machine() if info is None else info
    line = f"{info.get('cpu') or 'unknown CPU'}, {info.get('logical_cores', '?')} logical cores"
    if "load_average_1min" in info:
        # the benchmark's own single thread counts ~1: a figure well above that means other work shared the CPU
        line += f", 1-minute load average {info['load_average_1min']:.2f} while measuring"
    return line


def time_call(fn: Callable[[], Any], repeats: int = 10, warmup: int = 2) -> dict[str, float]:
    """Median, min and mean wall time of `fn` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "mean_s": statistics.fmean(times)}


def hand_object_scores(metrics: dict[str, Any]) -> dict[str, float]:
    """Mean IOU of hand and object, hand IU and object IU of a segmentation metrics dict, in %."""
    iu = metrics["iu"]
    return {"mean IOU": 100 * metrics["miou_hand_object"], "hand IU": 100 * iu[1], "object IU": 100 * iu[2]}


def parse_named(text: str) -> tuple[str, str]:
    """NAME=VALUE (an argparse type: a bad value is a usage error)."""
    import argparse

    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_set(text: str) -> tuple[str, Path, str, int | None]:
    """TITLE=PATH:SPLIT[:N] -> (title, path, split, first N frames or None)."""
    title, sep, rest = text.partition("=")
    fields = rest.split(":")
    if not sep or not title or len(fields) not in (2, 3):
        raise ValueError(f"--set {text!r}: expected TITLE=PATH:SPLIT[:N]")
    limit = int(fields[2]) if len(fields) == 3 else None
    return title, Path(fields[0]), fields[1], limit


def open_set(path: Path, split: str, limit: int | None = None) -> Any:
    """The handseg-v1 dataset at `path`, frames of `split` (only its first `limit` when given)."""
    from handseg.data.format import HandsegDataset

    reader = HandsegDataset(path, split=split)
    return reader if limit is None else HandsegDataset(path, ids=reader.ids[:limit])


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A Markdown table of `rows` with the given columns (floats to 4 significant digits)."""

    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, payload: dict[str, Any], markdown: str, command: str) -> None:
    """Write benchmarks/results/<name>.json and <name>.md with the machine and the command."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    payload = {"benchmark": name, "command": command, "machine": info, **payload}
    atomic_write_text(RESULTS / f"{name}.json", json.dumps(payload, indent=2, sort_keys=True) + "\n")
    header = (
        f"# {name}\n\nMeasured with `{command}` on {info.get('cpu')} "
        f"({info.get('logical_cores')} logical cores, torch {info.get('torch', '-')}, "
        f"1-min load {info.get('load_average_1min', 0):.2f}; commit {info.get('git_commit', '?')}).\n\n"
    )
    atomic_write_text(RESULTS / f"{name}.md", header + markdown.rstrip() + "\n")
    print(header + markdown)


def python() -> str:
    """The running interpreter, for subprocess benchmarks."""
    return sys.executable
