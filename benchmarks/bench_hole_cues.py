"""How much do segmentation models lean on missing depth? Each model scores frames as recorded and with every hole
filled by its nearest valid depth (`handseg.data.transforms.fill_missing_depth`), on synthetic and real sets.

Usage: python benchmarks/bench_hole_cues.py MODEL [MODEL ...] --set TITLE=DATA:SPLIT[:N] [--set ...] [--name NAME]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import hand_object_scores, markdown_table, parse_set, write_results
from handseg.data.format import HandsegDataset
from handseg.data.transforms import fill_missing_depth
from handseg.metrics.confusion import scores_from_confusion

STANDALONE = False  # needs models and datasets named on its command line: `make bench` skips it


def confusions(segmenter, frames: list[dict], filled: bool) -> tuple[np.ndarray, np.ndarray]:
    """3x3 confusion (true rows) over the frames' pooled pixels at their own size (255 ignored): all pixels, and
    the pixels whose recorded depth was measured (> 0)."""
    everywhere, measured = np.zeros((3, 3), np.int64), np.zeros((3, 3), np.int64)
    for frame in frames:
        depth = frame["depth"].astype(np.float32)
        pred = segmenter.predict(fill_missing_depth(depth) if filled else depth)
        truth = frame["label"]
        pairs = 3 * truth.astype(np.int64) + pred
        keep = truth != 255
        everywhere += np.bincount(pairs[keep], minlength=9).reshape(3, 3)
        measured += np.bincount(pairs[keep & (depth > 0)], minlength=9).reshape(3, 3)
    return everywhere, measured


def scores(confusion: np.ndarray) -> dict[str, float]:
    """Hand IU, object IU and their mean (%) of a confusion matrix."""
    return hand_object_scores(scores_from_confusion(confusion))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="+", help="zoo names or run folders")
    parser.add_argument("--set", dest="sets", action="append", required=True, help="TITLE=DATA:SPLIT[:N]")
    parser.add_argument("--name", default="hole_cues", help="results file in benchmarks/results (default: %(default)s)")
    args = parser.parse_args(argv)
    from handseg.zoo.segmenter import Segmenter

    try:
        parsed = [parse_set(text) for text in args.sets]
    except ValueError as exc:
        parser.error(str(exc))
    sets = []
    for title, root, split, count in parsed:
        dataset = HandsegDataset(root, split=split)
        ids = dataset.ids[:count] if count else dataset.ids
        frames = [dataset.load(i) for i in ids]
        holes = 100 * float(np.mean([(f["depth"] <= 0).mean() for f in frames]))
        sets.append((title, frames, holes))
    rows = []
    for model in args.models:
        segmenter = Segmenter(model)
        for title, frames, holes in sets:
            recorded, measured = confusions(segmenter, frames, False)
            plain, filled = scores(recorded), scores(confusions(segmenter, frames, True)[0])
            false_hand = recorded[0, 1]  # background called hand; the share of it on pixels without depth:
            on_holes = 100 * float(false_hand - measured[0, 1]) / float(false_hand) if false_hand else float("nan")
            rows.append({"model": model, "data": title, "frames": len(frames), "holes %": holes,
                         **{f"{k}, as recorded": v for k, v in plain.items()},
                         **{f"{k}, holes filled": v for k, v in filled.items()},
                         "mean IOU lost": plain["mean IOU"] - filled["mean IOU"],
                         "mean IOU, measured pixels only": scores(measured)["mean IOU"],
                         "false hand without depth %": on_holes})  # fmt: skip
            print(rows[-1], flush=True)
    columns = ["model", "data", "frames", "holes %", "mean IOU, as recorded", "mean IOU, holes filled",
               "mean IOU lost", "mean IOU, measured pixels only", "false hand without depth %", "hand IU, as recorded",
               "hand IU, holes filled", "object IU, as recorded", "object IU, holes filled"]  # fmt: skip
    text = (
        "Each model segments every frame at the frame's own size (`Segmenter`), once as recorded and once with every "
        "missing depth pixel (0) given the depth of its nearest valid pixel; scores in %, pooled over the frames' "
        "pixels (255 ignored). A large loss means the model reads the holes (stereo shadows, depth-edge dropouts, "
        "out-of-range pixels) as cues. *Measured pixels only*: the as-recorded predictions scored where the depth is "
        "not 0 (as DexYCB's README suggests for a sensor-only score); *false hand without depth*: of the background "
        "pixels called hand, the share that have no depth.\n\n" + markdown_table(rows, columns)
    )
    write_results(args.name, {"rows": rows}, text, "python benchmarks/bench_hole_cues.py " + shlex.join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
