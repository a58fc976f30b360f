"""`handseg zoo publish|list|card|verify`: put trained models into the zoo and keep their cards current."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands of `handseg zoo`."""
    sub = parser.add_subparsers(dest="zoo_command", metavar="ACTION")
    sub.required = True
    pub = sub.add_parser("publish", help="write a checkpoint into the zoo (safetensors + card)")
    pub.add_argument("source", help="run folder (its best.ckpt) or a .ckpt file")
    pub.add_argument("--name", required=True, help="zoo name: lowercase letters, digits, '-', '_' (e.g. das-rt)")
    pub.add_argument("--out", type=Path, help="zoo folder to write into (default: the package's weights folder)")
    pub.add_argument("--fp16", action="store_true", help="store float16 weights (labels checked against fp32)")
    pub.add_argument("--card-json", type=Path, help="JSON merged into the card: metrics, latency, training.command")
    pub.add_argument("--data", type=Path, help="the training dataset folder, if data.root does not lead there")
    pub.add_argument("--version", default="1", help="model version recorded in the card (default 1)")
    pub.add_argument("--description", help="one sentence for the card")
    pub.add_argument("--force", action="store_true", help="replace a zoo model of the same name in --out")
    pub.set_defaults(zoo_run=_publish)

    lst = sub.add_parser("list", help="the zoo (same as `handseg models --pretrained`)")
    lst.set_defaults(zoo_run=_list)

    card = sub.add_parser("card", help="print a model's card; --metrics/--card-json update it")
    card.add_argument("name", help="zoo name")
    card.add_argument(
        "--metrics", action="append", default=[], metavar="SET=FILE",
        help="set the card's metrics of SET (synthetic, synthetic_no_forearm or dexycb) from a `handseg eval` "
        "metrics.json (repeatable)",
    )  # fmt: skip
    card.add_argument("--card-json", type=Path, help="JSON merged into the card (latency, training.command, ...)")
    card.add_argument(
        "--logit-bias", metavar="B0,B1,...",
        help="set the model's logit offset at inference (one number per class; 'none' removes it); clears the "
        "card's metrics, to be measured again with `handseg eval NAME` and set with --metrics",
    )  # fmt: skip
    card.add_argument("--json", action="store_true", help="print the JSON card instead of the Markdown one")
    card.set_defaults(zoo_run=_card)

    verify = sub.add_parser("verify", help="check each model's sha256 and that its weights fit its architecture")
    verify.add_argument("names", nargs="*", help="zoo names (default: all)")
    verify.set_defaults(zoo_run=_verify)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    return int(args.zoo_run(args) or 0)


def _publish(args: argparse.Namespace) -> int:
    from handseg.zoo import package_dir, publish

    card = publish(
        args.source, name=args.name, out=args.out, fp16=args.fp16, card_json=args.card_json, data=args.data,
        version=args.version, description=args.description, force=args.force,
    )  # fmt: skip
    folder = args.out or package_dir()
    check = card.get("fp16_check")
    agreement = f", fp16 labels agree with fp32 on {100 * check['pixel_agreement']:.3f} % of pixels" if check else ""
    print(
        f"wrote {folder}/{card['name']}.safetensors ({card['file_bytes'] / 1e6:.2f} MB, {card['dtype']}, "
        f"{card['params']:,} parameters{agreement}), {card['name']}.json and {card['name']}.md"
    )
    print(f"sha256 {card['sha256']}")
    return 0


def zoo_table() -> str:
    """The zoo as a text table: name, task, input, size, params, size on disk, synthetic mean IOU (also with the
    forearm not scored, as DexYCB's labels) and DexYCB mean IOU."""
    from handseg.zoo import list_pretrained

    def score(metrics: object) -> str:
        if isinstance(metrics, dict):
            value = metrics.get("miou_hand_object", metrics.get("miou"))
            if isinstance(value, int | float):
                return f"{100 * value:.1f}"
        return "-"

    header = ("name", "task", "input", "size", "params (M)", "MB", "dtype", "synthetic mIOU %", "no forearm %",
              "DexYCB mIOU %")  # fmt: skip
    rows = []
    for entry in list_pretrained():
        card = entry.card
        width, height = card["input"]["size"]
        metrics = card.get("metrics") or {}
        rows.append(
            (
                entry.name,
                card["task"],
                card["input"]["modality"],
                f"{width}x{height}",
                f"{card.get('params', 0) / 1e6:.2f}",
                f"{card.get('file_bytes', 0) / 1e6:.1f}",
                card["dtype"],
                score(metrics.get("synthetic")),
                score(metrics.get("synthetic_no_forearm")),
                score(metrics.get("dexycb")),
            )
        )
    if not rows:
        from handseg.zoo import search_path

        return "no pretrained models installed (searched " + ", ".join(str(p) for p in search_path()) + ")"
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows])


def _list(args: argparse.Namespace) -> int:
    print(zoo_table())
    return 0


def _card(args: argparse.Namespace) -> int:
    from handseg.errors import ConfigError
    from handseg.zoo import get_model, update_card
    from handseg.zoo.card import render_markdown

    metrics = {}
    for item in args.metrics:
        which, sep, path = item.partition("=")
        if not sep or not which or not path:
            raise ConfigError(f"--metrics {item!r} must look like SET=FILE, e.g. synthetic=run/eval/metrics.json")
        metrics[which] = path
    logit_bias = None
    if args.logit_bias is not None:
        text = args.logit_bias.strip()
        try:
            logit_bias = [] if text.lower() == "none" else [float(v) for v in text.split(",")]
        except ValueError:
            raise ConfigError(f"--logit-bias {args.logit_bias!r}: give numbers separated by commas, or none") from None
    if metrics or args.card_json or logit_bias is not None:
        path = update_card(args.name, metrics=metrics, extra=args.card_json, logit_bias=logit_bias)
        print(f"updated {path} and {path.with_suffix('.md').name}")
        return 0
    card = get_model(args.name).card
    print(json.dumps(card, indent=2, sort_keys=True) if args.json else render_markdown(card))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from handseg.errors import HandsegError
    from handseg.zoo import get_model, list_pretrained, load_pretrained

    entries = [get_model(n) for n in args.names] if args.names else list_pretrained()
    failed = 0
    for entry in entries:
        try:
            load_pretrained(entry.name)
            print(f"ok      {entry.name} ({entry.weights_path})")
        except HandsegError as exc:
            failed += 1
            print(f"FAILED  {entry.name}: {exc}")
    if failed:
        raise HandsegError(f"{failed} of {len(entries)} zoo model(s) failed verification")
    return 0
