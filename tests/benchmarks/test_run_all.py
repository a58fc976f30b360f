"""benchmarks/run_all.py (`make bench`): standalone scripts run, those that need inputs are skipped unless named."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_scripts_that_need_inputs_are_skipped_unless_named(monkeypatch, capsys, load_benchmark) -> None:
    run_all = load_benchmark("run_all")
    ran: list[str] = []
    monkeypatch.setattr(
        run_all.subprocess, "run", lambda cmd, cwd: ran.append(Path(cmd[1]).name) or SimpleNamespace(returncode=0)
    )
    assert run_all.main([]) == 0
    needs_inputs = {p.name for p in BENCHMARKS.glob("bench_*.py") if "\nSTANDALONE = False" in p.read_text()}
    assert {"bench_gpu.py", "bench_tta.py", "bench_error_analysis.py"} <= needs_inputs
    assert ran and not needs_inputs & set(ran)
    assert "bench_gpu.py: skipped" in capsys.readouterr().out
    ran.clear()
    assert run_all.main(["bench_gpu"]) == 0 and ran == ["bench_gpu.py"]
