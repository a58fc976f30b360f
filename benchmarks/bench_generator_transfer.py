"""Does a generator version transfer to real depth? Models trained alike on each version's data, evaluated on
every synthetic validation split and on real frames (issue 13, "the figure that decides").

    python benchmarks/bench_generator_transfer.py --run v2=runs/cmp-v2 --run v3=runs/cmp-v3 \
        --synthetic v2=data/v2-320 --synthetic v3=data/v3-320 --real ../shared/realdata/dexycb

Each run's best.ckpt (picked on its own synthetic validation split, never on real data) and last.ckpt are
evaluated; writes benchmarks/results/generator_transfer.{md,json}.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import markdown_table, write_results

STANDALONE = False  # needs models or datasets named on its command line: `make bench` skips it


def _pairs(values: list[str], option: str) -> dict[str, Path]:
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"{option}: expected NAME=PATH, got {value!r}")
        out[name] = Path(path)
    return out


def _scores(metrics: dict[str, Any]) -> dict[str, float]:
    iu = metrics["iu"]
    return {"miou": 100 * metrics["miou_hand_object"], "hand": 100 * iu[1], "object": 100 * iu[2]}


def main(argv: list[str] | None = None) -> int:
    """Evaluate every run on every dataset and write the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, help="NAME=RUN_DIR (trained on generator NAME)")
    parser.add_argument("--synthetic", action="append", default=[], help="NAME=DATASET: its val split is scored")
    parser.add_argument("--real", type=Path, required=True, help="a real handseg-v1 dataset (test split)")
    parser.add_argument("--out", default="generator_transfer", help="results name (benchmarks/results/NAME.md)")
    args = parser.parse_args(argv)

    import torch

    from handseg.engine.checkpoint import read_checkpoint
    from handseg.engine.evaluate import evaluate

    torch.set_num_threads(1)
    runs, synthetic = _pairs(args.run, "--run"), _pairs(args.synthetic, "--synthetic")
    rows, payload = [], {}
    for name, run in runs.items():
        for which in ("best", "last"):
            ckpt = run / f"{which}.ckpt"
            step = int(read_checkpoint(ckpt)["step"])
            row: dict[str, Any] = {"trained on": name, "checkpoint": f"{which} (step {step})"}
            for data_name, root in synthetic.items():
                scores = _scores(evaluate(ckpt, root, split="val", progress=False))
                row[f"synthetic {data_name} val mean IOU"] = round(scores["miou"], 2)
            real = _scores(evaluate(ckpt, args.real, split="test", progress=False))
            row |= {"real mean IOU": round(real["miou"], 2), "real hand IU": round(real["hand"], 2),
                    "real object IU": round(real["object"], 2)}  # fmt: skip
            rows.append(row)
            payload[f"{name}/{which}"] = row
    columns = list(rows[0])
    command = "python benchmarks/bench_generator_transfer.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = (
        "Mean IOU of hand and object (%, the paper's headline) of the same model and recipe trained on each "
        "generator version's data; synthetic columns score each version's validation split (object types "
        "training never saw), the real columns the real frames (labels ignore the forearm).\n\n"
        + markdown_table(rows, columns)
    )
    write_results(args.out, {"rows": payload}, text, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
