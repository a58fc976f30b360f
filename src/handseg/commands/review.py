"""`handseg review`: accept or reject a dataset's frames in a local web page; --finalize writes the split."""

from __future__ import annotations

import argparse
import logging
import webbrowser

from handseg.commands.options import non_negative_int, port, unit_fraction

EPILOG = """\
examples:
  handseg review annotated/                  # opens http://127.0.0.1:PORT/ ; keys a, r, n/->, p/<-, u
  handseg review annotated/ --no-browser --port 8765
  handseg review annotated/ --finalize       # splits/train.txt + splits/val.txt from the accepted frames
  handseg review annotated/ --export-rejected fix.json     # rejected frames as Label Studio tasks
  handseg review annotated/ --import-corrected export.json # Label Studio's JSON export -> label/*.png

Every key press is saved at once to DATASET/review.json (atomically), so stopping the server loses nothing.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `handseg review`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("dataset", help="handseg-v1 dataset folder (e.g. the output of handseg annotate)")
    parser.add_argument("--port", type=port, default=0, help="port on 127.0.0.1 (default 0: any free port)")
    parser.add_argument("--no-browser", action="store_true", help="only print the URL")
    parser.add_argument("--finalize", action="store_true", help="write splits/train.txt and val.txt from accepted")
    parser.add_argument(
        "--val-fraction", type=unit_fraction, default=0.2, help="with --finalize: share of accepted for val"
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="with --finalize: seed of the train/val draw")
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite split files (--finalize), the export file (--export-rejected) or earlier corrections "
        "(--import-corrected)",
    )
    parser.add_argument("--export-rejected", metavar="FILE.json",
                        help="write the rejected frames as Label Studio tasks (automatic labels as polygons to "
                        "correct; the labelling interface goes to FILE.xml) and exit")  # fmt: skip
    parser.add_argument("--import-corrected", metavar="EXPORT.json",
                        help="read Label Studio's JSON export (brush or polygon masks) and replace the labels of the "
                        "corrected frames (the automatic ones move to label_auto/; replacing an earlier correction "
                        "needs --force); corrected frames become accepted")  # fmt: skip
    parser.add_argument("--image-prefix", default="", help="with --export-rejected: put before each image path, "
                        "e.g. /data/local-files/?d= for Label Studio's local files")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Serve the review page until Ctrl-C, or finalize, or export the rejected frames."""
    if args.import_corrected:
        from handseg.annotate.review.labelstudio_import import import_corrected

        summary = import_corrected(args.dataset, args.import_corrected, force=args.force)
        print(
            f"imported {summary['corrected']} corrected frames ({summary['regions']} regions) into "
            f"{args.dataset}/label; {summary['not_annotated']} tasks had no annotation yet"
        )
        return 0
    if args.export_rejected:
        from handseg.annotate.review.labelstudio import export_rejected

        count = export_rejected(args.dataset, args.export_rejected, force=args.force, image_prefix=args.image_prefix)
        print(f"wrote {count} rejected frames as Label Studio tasks to {args.export_rejected}")
        return 0
    if args.finalize:
        from handseg.annotate.review.store import finalize
        from handseg.errors import ConfigError

        if not 0 <= args.val_fraction < 1:
            raise ConfigError("--val-fraction must be in [0, 1)")
        summary = finalize(args.dataset, args.val_fraction, args.seed, args.force)
        print(
            f"{summary['accepted']} accepted, {summary['rejected']} rejected, {summary['unreviewed']} not reviewed; "
            f"wrote splits/train.txt ({summary['train']}) and splits/val.txt ({summary['val']}) in {args.dataset}"
        )

        for split in ("train", "val"):
            if summary[split] == 0:  # training needs both; say so now rather than at `handseg train`
                logging.getLogger("handseg.review").warning(
                    f"warning: splits/{split}.txt is empty ({summary['accepted']} accepted frames, --val-fraction "
                    f"{args.val_fraction}); accept more frames or change --val-fraction"
                )
        return 0

    from handseg.annotate.review.server import ReviewServer

    server = ReviewServer(args.dataset, args.port)
    counts = server.app.store.counts(server.app.ids)
    print(f"reviewing {len(server.app.ids)} frames ({counts['accepted']} accepted, {counts['rejected']} rejected)")
    print(f"open {server.url}  (Ctrl-C to stop; decisions are saved to {server.app.store.path})", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped; decisions are in", server.app.store.path)
        return 130  # interrupted, as every command reports Ctrl-C
    finally:
        server.httpd.server_close()
    return 0
