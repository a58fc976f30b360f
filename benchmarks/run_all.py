"""Run every standalone benchmarks/bench_*.py (or those named on the command line) one after another.

A script with a line `STANDALONE = False` needs inputs named on its command line (trained models, datasets, a
GPU): it is skipped unless named, and its docstring gives the command that made its committed results.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    """Run the selected benchmark scripts; return non-zero if any failed."""
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if any(n in s.stem for n in names)]
    else:
        needs_inputs = [s for s in scripts if "\nSTANDALONE = False" in s.read_text(encoding="utf-8")]
        for script in needs_inputs:
            print(f"== {script.name}: skipped (needs inputs: python benchmarks/{script.name} --help)", flush=True)
        scripts = [s for s in scripts if s not in needs_inputs]
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
