"""The shipped amodal models, measured: part mIoU on held-out synthetic hand crops and latency; into their cards.

    python benchmarks/bench_zoo_amodal.py amodal-depth --synthetic data/amodal-crops-6k [--update-cards]

For each amodal zoo model: `handseg eval` on the crop dataset's val split (object types training never saw):
part mIoU (20-pixel rule) over all part pixels, per hand, on visible and on hidden part pixels, per part; batch-1
latency of eager PyTorch and ONNX Runtime at the model's size (128x128), 1 and 2 threads, models round-robin.
There is no real-data figure: no real dataset here has part labels (DexYCB has none). Writes
benchmarks/results/zoo_amodal.{md,json}; with --update-cards, each card's synthetic metrics and latency.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_zoo import export_models, zoo_latency
from benchmarks.common import machine_line, markdown_table, write_results

STANDALONE = False  # needs models or datasets named on its command line: `make bench` skips it


def main(argv: list[str] | None = None) -> int:
    """Measure every named amodal zoo model and write the table (and the cards with --update-cards)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help="amodal zoo model names")
    parser.add_argument("--synthetic", type=Path, required=True, help="held-out synthetic hand crops (val split)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--update-cards", action="store_true", help="write metrics and latency into the cards")
    args = parser.parse_args(argv)

    import torch

    from handseg.data.format import PART_NAMES
    from handseg.engine.evaluate import evaluate
    from handseg.errors import ConfigError
    from handseg.zoo import load_model, update_card

    torch.set_num_threads(1)
    models = {name: load_model(name) for name in args.names}
    for name, model in models.items():
        if model.config.get("task") != "amodal":
            raise ConfigError(f"{name}: not an amodal model (task {model.config.get('task')!r}); use bench_zoo.py")
    work = Path(tempfile.mkdtemp(prefix="bench_zoo_amodal_"))
    scores: dict[str, dict[str, Any]] = {}
    for name in args.names:
        out_dir = work / f"{name}_synthetic"
        evaluate(name, args.synthetic, split="val", out_dir=out_dir, progress=False, worst=0)
        scores[name] = json.loads((out_dir / "metrics.json").read_text())
    latency = zoo_latency(models, export_models(models, work), args.repeats, full_labels=False)
    command = "python benchmarks/bench_zoo_amodal.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    rows, part_rows, payload = [], [], {}
    for name in args.names:
        m = scores[name]
        row = {"model": name, "params (M)": round(sum(p.numel() for p in models[name].parameters()) / 1e6, 2),
               "frames": m["frames"], "part mIoU": round(100 * m["miou"], 2),
               "left hand": round(100 * m["miou_left"], 2), "right hand": round(100 * m["miou_right"], 2),
               "visible parts": round(100 * m["visible_miou"], 2), "hidden parts": round(100 * m["hidden_miou"], 2),
               "hidden share": round(100 * m["hidden_share"], 2), **latency[name]}  # fmt: skip
        rows.append(row)
        for prefix, region in (("", "all"), ("visible_", "visible"), ("hidden_", "hidden")):
            ious = {p: round(100 * v, 1) for p, v in zip(PART_NAMES, m[f"{prefix}per_part"])}
            part_rows.append({"model": name, "region": region, **ious})
        payload[name] = {"row": row, "synthetic": {k: v for k, v in m.items() if k != "per_image"}}
        if args.update_cards:
            extra = work / f"{name}_latency.json"
            card_latency = {**latency[name], "measured_with": command, "cpu": machine_line()}
            extra.write_text(json.dumps({"latency": card_latency}))
            update_card(name, metrics={"synthetic": work / f"{name}_synthetic" / "metrics.json"}, extra=extra)
    score_cols = ["frames", "part mIoU", "left hand", "right hand", "visible parts", "hidden parts", "hidden share"]
    lat_cols = [c for c in rows[0] if c.endswith("_ms")]
    text = (
        "Part mIoU in % on the val split of the named synthetic hand-crop set (object types training never saw): per "
        "image and hand, IoU of the parts with at least 20 true pixels, averaged per image-hand, then over all "
        "image-hands; visible / hidden: the same on the part pixels seen / hidden behind the other hand or the "
        "object (truth elsewhere ignored). No real-data figure: no real dataset here has part labels. Latency: "
        "median ms at batch 1 on this CPU at the model's size.\n\n"
        + markdown_table(rows, ["model", "params (M)", *score_cols])
        + "\n\nPer-part IoU (%):\n\n"
        + markdown_table(part_rows, ["model", "region", *PART_NAMES])
        + "\n\n"
        + markdown_table(rows, ["model", *lat_cols])
    )
    write_results("zoo_amodal", {"models": payload}, text, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
