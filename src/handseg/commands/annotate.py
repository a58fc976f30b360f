"""`handseg annotate`: auto-annotate aligned color+depth frames, or fit the HSV thresholds (--calibrate)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from handseg.commands.options import DEPTH_SCALE_HELP, RegistryChoices, positive_float, positive_int

SPLITTERS = RegistryChoices("handseg.registry", "COLOUR_SPLITTERS")  # every registered colour splitter

if TYPE_CHECKING:
    from handseg.annotate.config import AnnotateConfig

EPILOG = """\
examples:
  handseg annotate recording.db3 annotated/                 # RealSense recording, color aligned to depth
  handseg annotate frames/ annotated/ --workers 2           # frames/color/*.png + frames/depth/*.png
  handseg annotate synth/ annotated/ --config params.yaml   # a handseg-v1 dataset (its labels are ignored)
  handseg annotate --calibrate labelled/ --out params.yaml  # fit HSV thresholds + colour model (params.colour.npz)

OUT is a handseg-v1 dataset (depth/, color/ shifted onto the depth grid, label/) with overlays/,
diagnostics.csv (one row per frame) and annotate.yaml (the parameters used). Review it with
`handseg review OUT`; accepted frames become its train/val split (`handseg review OUT --finalize`).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `handseg annotate`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("input", nargs="?", help="PNG-pair folder, handseg-v1 dataset, or .bag/.db3 recording")
    parser.add_argument("out_dir", nargs="?", metavar="OUT", help="output dataset folder")
    parser.add_argument("--config", help="annotate YAML path, or the shipped name 'annotate' (default: built-in "
                        "values, as in configs/annotate.yaml)")  # fmt: skip
    parser.add_argument("--colour-splitter", choices=SPLITTERS, metavar="NAME",
                        help="how hand is told from object by colour: hsv, colour_model, auto or a registered "
                        "splitter (default: the config's colour_splitter, auto)")  # fmt: skip
    parser.add_argument("--force", action="store_true", help="overwrite a non-empty OUT (or --out file)")
    parser.add_argument("--workers", type=positive_int, default=1, help="processes (default 1)")
    parser.add_argument("--depth-scale", type=positive_float, default=0.001, help=DEPTH_SCALE_HELP)
    parser.add_argument("--no-overlays", action="store_true", help="skip overlays/ (review draws them)")
    parser.add_argument("--calibrate", metavar="DATASET", help="fit HSV thresholds on this labelled handseg-v1 dataset")
    parser.add_argument("--out", help="with --calibrate: the YAML file to write")
    parser.add_argument(
        "--frames", type=positive_int, default=24, help="with --calibrate: frames to use, evenly spaced"
    )
    parser.add_argument("--hsv-only", action="store_true", help="with --calibrate: fit the HSV thresholds only")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _usage(message: str) -> int:
    print(f"handseg annotate: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Annotate INPUT into OUT, or calibrate."""
    from handseg.annotate.config import AnnotateConfig
    from handseg.experiments.paths import resolve_config

    cfg = AnnotateConfig.load(resolve_config(args.config)) if args.config else AnnotateConfig()
    if args.colour_splitter:
        cfg = replace(cfg, colour_splitter=args.colour_splitter)
    if args.calibrate:
        if args.input or args.out_dir:
            return _usage("--calibrate takes no INPUT/OUT; write the result with --out FILE")
        if not args.out:
            return _usage("--calibrate needs --out FILE.yaml")
        return _calibrate(args, cfg)
    if not args.input or not args.out_dir:
        return _usage("give INPUT and OUT (or --calibrate DATASET --out FILE)")
    if args.workers < 1:
        return _usage("--workers must be >= 1")
    if args.depth_scale <= 0:
        return _usage("--depth-scale must be > 0")

    from handseg.annotate.runner import annotate_source
    from handseg.data.sources import open_source
    from handseg.errors import OutputExistsError

    out = Path(args.out_dir)
    if out.resolve() == Path(args.input).resolve():
        raise OutputExistsError(f"{out}: OUT must differ from INPUT")
    if out.is_dir() and any(out.iterdir()) and not args.force:  # fail before reading any input
        raise OutputExistsError(f"{out}: exists and is not empty; pass --force to overwrite")
    source = open_source(args.input, args.depth_scale, need_color=True)
    summary = annotate_source(
        source, out, cfg, force=args.force, workers=args.workers, overlays=not args.no_overlays,
        progress=not args.quiet,
    )  # fmt: skip
    rate = summary["frames"] / max(summary["seconds"], 1e-9)
    print(f"annotated {summary['frames']} frames in {summary['seconds']:.1f} s ({rate:.1f} frames/s) -> {out}")
    print(f"per-frame diagnostics: {out / 'diagnostics.csv'}; review with: handseg review {out}")
    return 0


def _calibrate(args: argparse.Namespace, cfg: AnnotateConfig) -> int:
    """Fit HSV thresholds on labelled frames and write the config YAML."""
    import numpy as np

    from handseg.annotate.calibrate import calibrate
    from handseg.data.format import HandsegDataset
    from handseg.errors import ConfigError, DataError
    from handseg.utils.io import atomic_write_text, check_can_write_file

    if args.frames < 1:
        return _usage("--frames must be >= 1")
    out = check_can_write_file(args.out, args.force)
    model_path = out.with_name(f"{out.stem}.colour.npz")
    if not args.hsv_only:
        check_can_write_file(model_path, args.force)
    dataset = HandsegDataset(args.calibrate, split=None)
    if not dataset.ids:
        raise DataError(args.calibrate, "no frames")
    picks = np.unique(np.linspace(0, len(dataset.ids) - 1, min(args.frames, len(dataset.ids))).round().astype(int))
    frames = []
    for k in picks:
        sample = dataset[int(k)]
        if sample["color"] is None or sample["label"] is None:
            raise DataError(dataset.path("label", sample["id"]), "calibration needs color and label for every frame")
        frames.append((sample["depth"], sample["color"], sample["label"]))
    try:
        fitted, report, model = calibrate(frames, cfg, colour_model=not args.hsv_only)
    except ValueError as exc:
        raise ConfigError(f"{args.calibrate}: {exc}") from None
    comment = (
        f"handseg annotate --calibrate {args.calibrate}: HSV fitted on {len(frames)} frames, "
        f"{report['pixels']} pixels; mean IoU of the skin test {report['mean_iou_start']} -> {report['mean_iou']}"
    )
    if model is not None:
        model.save(model_path)
        fitted = replace(fitted, colour_model=model_path.name)  # relative to the YAML file
        comment += f"\ncolour model: {model_path.name} ({model.hand_pixels} hand, {model.object_pixels} object pixels)"
    atomic_write_text(out, fitted.dump_yaml(comment))
    hsv = {k: getattr(fitted, k) for k in ("hue_lo", "hue_hi", "sat_lo", "sat_hi", "val_lo", "val_hi")}
    print(f"{comment}\n{hsv}\nwrote {out}" + ("" if model is None else f" and {model_path}"))
    return 0
