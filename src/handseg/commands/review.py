"""`handseg review`: accept or reject a dataset's frames in a local web page; --finalize writes the split."""

from __future__ import annotations

import argparse

from handseg.commands.options import non_negative_int, port, unit_fraction

EPILOG = """\
examples:
  handseg review annotated/                  # opens http://127.0.0.1:PORT/ ; keys a, r, n/->, p/<-, u
  handseg review annotated/ --no-browser --port 8765
  handseg review annotated/ --finalize       # splits/train.txt + splits/val.txt from the accepted frames

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
    parser.add_argument("--force", action="store_true", help="with --finalize: overwrite existing split files")


def run(args: argparse.Namespace) -> int:
    """Serve the review page until Ctrl-C, or finalize."""
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
        return 0

    from handseg.annotate.review.server import ReviewServer

    server = ReviewServer(args.dataset, args.port)
    counts = server.app.store.counts(server.app.ids)
    print(f"reviewing {len(server.app.ids)} frames ({counts['accepted']} accepted, {counts['rejected']} rejected)")
    print(f"open {server.url}  (Ctrl-C to stop; decisions are saved to {server.app.store.path})", flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped; decisions are in", server.app.store.path)
        return 130  # interrupted, as every command reports Ctrl-C
    finally:
        server.httpd.server_close()
    return 0
