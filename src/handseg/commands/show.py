"""`handseg show DATASET`: write a contact sheet PNG (depth, color, labels, amodal parts) of a dataset's frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from handseg.commands.synth import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `handseg show`."""
    parser.add_argument("dataset", metavar="DATASET", help="a handseg-v1 dataset folder")
    parser.add_argument("--frames", type=positive_int, default=16, help="number of frames to show (default 16)")
    parser.add_argument("--split", default="train", help="split to show: train, val, test or all (default train)")
    parser.add_argument("--out", default=None, help="output PNG (default DATASET/contact_sheet.png)")
    parser.add_argument("--per-row", type=positive_int, default=2, help="frames per row (default 2)")
    parser.add_argument("--tile-width", type=positive_int, default=192, help="width of each tile in pixels")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.add_argument(
        "--occlusion",
        action="store_true",
        help="also print, per split, the share of amodal part pixels hidden (needs visible part maps)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the sheet and print its path."""
    from handseg.data.format import HandsegDataset
    from handseg.errors import DataError
    from handseg.utils.io import atomic_write_png, check_can_write_file
    from handseg.viz.contact_sheet import contact_sheet

    out = Path(args.out) if args.out else Path(args.dataset) / "contact_sheet.png"
    check_can_write_file(out, args.force)
    dataset = HandsegDataset(args.dataset, split=None if args.split == "all" else args.split)
    if len(dataset) == 0:
        raise DataError(args.dataset, f"split {args.split!r} has no frames")
    sheet = contact_sheet(dataset, args.frames, args.per_row, args.tile_width)
    atomic_write_png(out, sheet, compression=6)
    print(f"wrote {out} ({min(args.frames, len(dataset))} frames)")
    if args.occlusion:
        print(occlusion_table(Path(args.dataset)))
    return 0


def occlusion_table(root: Path) -> str:
    """Markdown table of `occlusion_stats` for every split of a dataset (all frames of each)."""
    from handseg.data.format import SPLITS, HandsegDataset
    from handseg.metrics.amodal import occlusion_stats

    def pct(value: float) -> str:
        return "-" if value != value else f"{100 * value:.1f}"

    lines = [
        "| split | frames | hidden part pixels % | frames with a hand >= 20 px hidden % | hidden by other hand % "
        "| by object % | by other % |",
        "|---|---|---|---|---|---|---|",
    ]
    for split in SPLITS:
        if not (root / "splits" / f"{split}.txt").is_file():
            continue
        stats = occlusion_stats(HandsegDataset(root, split))
        if stats["frames"] == 0:
            lines.append(f"| {split} | 0 ({stats['skipped']} without visible part maps) | - | - | - | - | - |")
            continue
        cells = [stats[k] for k in ("hidden_share", "occluded_frames", "by_hand", "by_object", "by_other")]
        lines.append(f"| {split} | {stats['frames']} | " + " | ".join(pct(v) for v in cells) + " |")
    return "\n".join(lines)
