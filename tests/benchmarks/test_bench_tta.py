"""benchmarks/bench_tta.py on a tiny checkpoint: every arm evaluated on both conventions and the real set, timed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def test_bench_tta_writes_every_arm_and_resumes_from_its_cache(
    tiny_ckpt: Path, zoo_data: Path, tmp_path: Path, monkeypatch, load_benchmark
) -> None:
    bench = load_benchmark("bench_tta")
    real = tmp_path / "real"  # a 'real' set: the synthetic frames with a test split
    shutil.copytree(zoo_data, real)
    (real / "splits" / "test.txt").write_text((zoo_data / "splits" / "val.txt").read_text())
    out, cache = tmp_path / "results" / "tta.md", tmp_path / "cache.jsonl"
    argv = [str(tiny_ckpt), "--synthetic", str(zoo_data), "--real", str(real), "--repeats", "1"]
    assert bench.main([*argv, "--out", str(out), "--cache", str(cache)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert len(rows) == 3 * len(bench.ARMS)  # (synthetic, synthetic without forearm, real) x arms
    by = {(r["data"], r["arm"]): r for r in rows}
    # the forearm-free convention scores fewer pixels, so its scores differ from the plain ones
    assert by[("synthetic", "none")]["mean IOU"] != by[("synthetic, forearm not scored", "none")]["mean IOU"]
    assert by[("synthetic", "flip")]["views"] == 2 and by[("synthetic", "flip + scales")]["views"] == 6
    assert by[("synthetic", "flip")]["mean IOU"] != by[("synthetic", "none")]["mean IOU"]  # views change labels
    text = out.read_text()
    assert "x no views" in text and "| flip + scales |" in text
    assert out.with_suffix(".png").stat().st_size > 1000
    # a second run takes every evaluation from the cache: none is run again
    monkeypatch.setattr("handseg.engine.evaluate.evaluate", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    assert bench.main([*argv, "--out", str(out), "--cache", str(cache), "--force"]) == 0
    assert len(cache.read_text().splitlines()) == len(rows)
