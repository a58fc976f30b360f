"""Wall-clock timing of repeated calls: the one helper every latency figure is measured with."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo, else the platform's processor string): the context of every timing."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def time_fn(
    fn: Callable[[], Any], repeats: int, warmup: int = 2, sync: Callable[[], None] | None = None
) -> list[float]:
    """Wall times (s) of `repeats` calls after `warmup` calls; `sync` (e.g. cuda.synchronize) closes each call."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - start)
    return times


def time_round_robin(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 2) -> dict[str, list[float]]:
    """Wall times of several functions called in turn (one call each per round), so load changes hit all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median_ms(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median wall time (ms) of `repeats` calls of `fn` after `warmup` calls."""
    return 1000 * statistics.median(time_fn(fn, repeats, warmup=warmup))
