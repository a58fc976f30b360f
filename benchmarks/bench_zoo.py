"""The shipped models, measured: held-out synthetic and real-depth scores, latency; written into their cards.

    python benchmarks/bench_zoo.py das-rt das-r18 --synthetic data/synth-v3-320-12k-s2 \
        --real ../shared/realdata/dexycb [--update-cards]

For each zoo model: `handseg eval` on the synthetic dataset's val split (object types training never saw) and on
the real dataset's test split (both at the model's training size, as `handseg eval` does); batch-1 latency of
eager PyTorch and ONNX Runtime at the training size and of full 640x480 labels (the model at its training size,
labels resized back), 1 and 2 threads, all models round-robin. Writes benchmarks/results/zoo.{md,json} (`--results
NAME`: NAME.{md,json}); with --update-cards, each card's `metrics` and `latency` (`--update-cards NAME ...`: only
those cards, e.g. a new model timed beside the others without replacing their quiet-machine figures).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, markdown_table, time_call, write_results

STANDALONE = False  # needs models or datasets named on its command line: `make bench` skips it


def _ms(fn) -> float:
    """One timed call (after a warm-up call), in milliseconds."""
    return 1000 * time_call(fn, repeats=1, warmup=1)["median_s"]


def export_models(models: dict[str, Any], work: Path) -> dict[str, Path]:
    """Each loaded zoo model exported to <work>/<name>.onnx at its training size, with its own input channels."""
    from handseg.data.preprocess import input_channels
    from handseg.export.onnx import export_onnx

    onnx = {}
    for name, model in models.items():
        onnx[name] = work / f"{name}.onnx"
        channels = input_channels(model.config["data"].get("modality", "depth"))
        export_onnx(model, onnx[name], in_channels=channels, config=model.config,
                    trace_size=tuple(model.config["data"]["size"]), force=True)  # fmt: skip
    return onnx


def zoo_latency(
    models: dict[str, Any], onnx: dict[str, Path], repeats: int, *, full_labels: bool = True
) -> dict[str, dict[str, float]]:
    """Median ms per model and mode (eager, ONNX Runtime, and with `full_labels` ONNX Runtime plus the 640x480 label
    map; 1 and 2 threads), the modes of every model alternating (round-robin over repeats)."""
    import cv2
    import numpy as np
    import torch

    from handseg.data.preprocess import input_channels
    from handseg.export.onnx import OnnxPredictor

    out: dict[str, dict[str, float]] = {name: {} for name in models}
    threads_before = torch.get_num_threads()  # restored below: callers in the same process keep their setting
    for threads in (1, 2):
        torch.set_num_threads(threads)
        sessions = {name: OnnxPredictor(onnx[name], threads=threads) for name in models}
        for _round in range(repeats):
            for name, model in models.items():
                w, h = model.config["data"]["size"]
                x = torch.randn(1, input_channels(model.config["data"].get("modality", "depth")), h, w)
                with torch.inference_mode():
                    eager = _ms(lambda m=model, x=x: m(x))
                ort = _ms(lambda s=sessions[name], x=x: s.logits(x.numpy()))
                times = [(f"eager_{w}x{h}_{threads}t_ms", eager), (f"ort_{w}x{h}_{threads}t_ms", ort)]
                if full_labels:

                    def full(s=sessions[name], x=x) -> np.ndarray:  # 640x480 labels from the model at its size
                        labels = s.logits(x.numpy())[0].argmax(0).astype(np.uint8)
                        return cv2.resize(labels, (640, 480), interpolation=cv2.INTER_NEAREST)

                    times.append((f"ort_labels_640x480_{threads}t_ms", _ms(full)))
                for key, value in times:
                    out[name].setdefault(key, []).append(value)
    torch.set_num_threads(threads_before)
    return {name: {k: round(statistics.median(v), 2) for k, v in modes.items()} for name, modes in out.items()}


def main(argv: list[str] | None = None) -> int:
    """Measure every named zoo model and write the table (and the cards with --update-cards)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help="zoo model names")
    parser.add_argument("--synthetic", type=Path, required=True, help="held-out synthetic dataset (val split)")
    parser.add_argument("--real", type=Path, required=True, help="real dataset (test split)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--update-cards",
        nargs="*",
        metavar="NAME",
        help="write metrics and latency into the cards (of the NAMEs given, else of every model measured)",
    )
    parser.add_argument("--results", default="zoo", help="results file name in benchmarks/results (default zoo)")
    args = parser.parse_args(argv)
    update = set(args.names if args.update_cards == [] else args.update_cards or ())
    if update - set(args.names):
        parser.error(f"--update-cards: {', '.join(sorted(update - set(args.names)))} not among the models measured")

    import torch

    from handseg.engine.evaluate import evaluate
    from handseg.zoo import load_model, update_card

    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
    models = {name: load_model(name) for name in args.names}
    work = Path(tempfile.mkdtemp(prefix="bench_zoo_"))
    scores: dict[str, dict[str, Any]] = {}
    for name in args.names:
        scores[name] = {}
        sets = [("synthetic", args.synthetic, "val", False), ("synthetic_no_forearm", args.synthetic, "val", True),
                ("dexycb", args.real, "test", False)]  # fmt: skip
        for which, root, split, no_forearm in sets:
            out_dir = work / f"{name}_{which}"
            evaluate(name, root, split=split, out_dir=out_dir, progress=False, worst=0, ignore_forearm=no_forearm)
            scores[name][which] = json.loads((out_dir / "metrics.json").read_text())
            scores[name][f"{which}_metrics_json"] = out_dir / "metrics.json"
    latency = zoo_latency(models, export_models(models, work), args.repeats)
    rows, payload = [], {}
    for name in args.names:
        syn, real = scores[name]["synthetic"], scores[name]["dexycb"]
        row = {"model": name, "params (M)": round(sum(p.numel() for p in models[name].parameters()) / 1e6, 2),
               "synthetic mean IOU": round(100 * syn["miou_hand_object"], 2),
               "synthetic hand IU": round(100 * syn["iu"][1], 2), "synthetic object IU": round(100 * syn["iu"][2], 2),
               "synthetic hand IU, forearm not scored": round(100 * scores[name]["synthetic_no_forearm"]["iu"][1], 2),
               "DexYCB mean IOU": round(100 * real["miou_hand_object"], 2),
               "DexYCB hand IU": round(100 * real["iu"][1], 2), "DexYCB object IU": round(100 * real["iu"][2], 2),
               **latency[name]}  # fmt: skip
        rows.append(row)
        payload[name] = {"row": row, "synthetic": syn, "dexycb": real, "latency_ms": latency[name]}
        if name in update:
            extra = work / f"{name}_latency.json"
            command = "python benchmarks/bench_zoo.py " + shlex.join(sys.argv[1:] if argv is None else argv)
            extra.write_text(json.dumps({"latency": {**latency[name], "measured_with": command,
                                                      "cpu": machine_line()}}))  # fmt: skip
            update_card(name, metrics={which: scores[name][f"{which}_metrics_json"] for which, *_ in sets}, extra=extra)
    command = "python benchmarks/bench_zoo.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    write_results(args.results, {"models": payload}, report(rows), command)
    torch.set_num_threads(threads_before)
    return 0


def report(rows: list[dict[str, Any]]) -> str:
    """The scores table and the latency table (every model's columns: models of other sizes have other keys)."""
    columns = list(dict.fromkeys(c for row in rows for c in row))
    score_cols = [c for c in columns if "IOU" in c or " IU" in c]
    lat_cols = [c for c in columns if c.endswith("_ms")]
    return (
        "Scores in % (mean IOU = mean of hand and object IU; synthetic = the val split of the named synthetic set, "
        "object types training never saw; `forearm not scored`: the same frames scored as DexYCB's labels are, "
        "`handseg eval --ignore-forearm`; DexYCB = 74 real D415 frames, labels ignore the forearm), each at the "
        "model's training size. Latency: median ms at batch 1 on this CPU, all models round-robin; "
        "`ort_labels_640x480` is ONNX Runtime at the training size plus the nearest resize of the labels to "
        "640x480.\n\n"
        + markdown_table(rows, ["model", "params (M)", *score_cols])
        + "\n\n"
        + markdown_table(rows, ["model", *lat_cols])
    )


if __name__ == "__main__":
    raise SystemExit(main())
