"""benchmarks/bench_ab.py: A/B figures from crafted row files, by hand."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def bench(load_benchmark) -> ModuleType:
    return load_benchmark("bench_ab")


def _row(folder: Path, name: str, seed: int, hand: float, obj: float, real_hand: float, real_obj: float) -> None:
    def metrics(h: float, o: float) -> dict:
        return {"iu": [0.99, h, o], "miou_hand_object": (h + o) / 2}

    record = {"seed": seed, "metrics": metrics(hand, obj), "real": metrics(real_hand, real_obj)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}_seed{seed}.json").write_text(json.dumps(record))


def test_differences_verdicts_and_paired_seeds(bench: ModuleType, tmp_path: Path) -> None:
    rows = tmp_path / "rows"
    for seed, (h, o) in enumerate([(0.60, 0.30), (0.62, 0.32), (0.64, 0.34)]):
        _row(rows, "base", seed, h, o, 0.40, 0.30)
        _row(rows, "arm", seed, h + 0.10, o + 0.10, 0.40 + 0.01 * (seed - 1), 0.30)  # synthetic +10 points each seed
    evals = tmp_path / "eval"
    evals.mkdir()
    (evals / "arm_seed1.json").write_text(
        json.dumps({"miou_hand_object": 0.5, "groups": {"table": {"miou_hand_object": 0.25}}})
    )
    out = tmp_path / "results" / "ab.md"
    argv = ["--arm", f"base={rows}/base_seed*.json", "--arm", f"arm={rows}/arm_seed*.json",
            "--extra", f"other frames={evals}/{{arm}}_seed{{seed}}.json",
            "--extra", f"table={evals}/{{arm}}_seed{{seed}}.json@table", "--out", str(out)]  # fmt: skip
    assert bench.main(argv) == 0
    data = json.loads(out.with_suffix(".json").read_text())
    synthetic = data["comparisons"]["arm"]["synthetic mean IOU"]
    assert synthetic["diff"] == pytest.approx(10.0) and synthetic["verdict"] == "up"
    assert synthetic["paired"] == {"seeds": 3, "mean": pytest.approx(10.0), "std": pytest.approx(0.0, abs=1e-9)}
    real = data["comparisons"]["arm"]["DexYCB hand IU"]
    assert real["diff"] == pytest.approx(0.0, abs=1e-9) and real["verdict"] == "not resolved"
    assert (
        data["arms"]["arm"]["1"]["other frames"] == pytest.approx(50.0)
        and data["arms"]["arm"]["0"]["other frames"] is None
    )
    assert (
        data["comparisons"]["arm"]["other frames"]["n"] == [1, 0]
        and "diff" not in data["comparisons"]["arm"]["other frames"]
    )
    text = out.read_text()
    assert "| arm | 1 | 57.0 | 72.0 | 42.0 | 35.0 | 40.0 | 30.0 | 50.0 | 25.0 |" in text
    assert "+10.0 ± 1.6, up; paired +10.0 ± 0.0 (3 seeds)" in text
    assert out.with_name("ab_ab.png").stat().st_size > 1000
    assert bench.main(argv) == 1, "existing results are kept without --force"
    (tmp_path / "intro.md").write_text("# An A/B\n\nWhy.\n")
    (tmp_path / "reading.md").write_text("**Reading.** It helps.\n")
    texts = ["--intro", str(tmp_path / "intro.md"), "--reading", str(tmp_path / "reading.md")]
    assert bench.main([*argv, *texts, "--force"]) == 0
    text = out.read_text()
    assert text.startswith("# An A/B\n\nWhy.\n") and text.rstrip().endswith("**Reading.** It helps.")
    assert bench.main([*argv, "--intro", str(tmp_path / "missing.md"), "--force"]) == 1


def test_bad_inputs_are_named(bench: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no row files match"):
        bench.main(
            ["--arm", f"a={tmp_path}/none*.json", "--arm", f"b={tmp_path}/none*.json", "--out", str(tmp_path / "x.md")]
        )
    (tmp_path / "bad_seed0.json").write_text("{not json")
    with pytest.raises(SystemExit, match="bad_seed0.json: not JSON"):
        bench.main(
            ["--arm", f"a={tmp_path}/bad*.json", "--arm", f"b={tmp_path}/bad*.json", "--out", str(tmp_path / "x.md")]
        )
