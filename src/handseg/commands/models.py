"""`handseg models`: a table of the registered models with parameters and GFLOPs at a given input size."""

from __future__ import annotations

import argparse
import inspect

from handseg.commands.options import int_range, parse_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `handseg models`."""
    parser.add_argument("names", nargs="*", help="models to list (default: all)")
    parser.add_argument("--size", default="640x480", help="input width x height for GFLOPs (default 640x480)")
    parser.add_argument(
        "--in-channels",
        type=int_range(1, 64),
        default=None,
        help="input channels (default: the model's, 1 segmentation, 3 amodal)",
    )
    parser.add_argument("--backbone", default=None, help="override the backbone, e.g. resnet18")
    parser.add_argument(
        "--pretrained", action="store_true", help="list the zoo's pretrained models (sizes, parameters, mean IOU)"
    )


def run(args: argparse.Namespace) -> int:
    """Print name, task, input channels, classes, parameters (M) and GFLOPs of each model."""
    import torch

    from handseg.models import build_model, list_models, model_entry
    from handseg.models.flops import count_flops, count_params

    if args.pretrained:
        from handseg.commands.zoo import zoo_table

        print(zoo_table())
        print(
            "mIOU = mean IOU of hand and object (part mIoU for amodal models), from each model's card; no forearm = "
            "the synthetic frames scored as DexYCB's wrist-length labels (handseg eval --ignore-forearm)."
        )
        return 0
    width, height = parse_size(args.size)
    names = args.names or list_models()
    rows = []
    for name in names:
        entry = model_entry(name)
        params = inspect.signature(entry.builder).parameters
        kwargs: dict[str, object] = {}
        if args.in_channels is not None:
            kwargs["in_channels"] = args.in_channels
        if args.backbone and "backbone" in params:
            kwargs["backbone"] = args.backbone
        in_ch = kwargs.get("in_channels", params["in_channels"].default)
        classes = params["num_classes"].default
        with torch.device("meta"):  # shapes only: no memory, no weight initialisation cost
            model = build_model(name, **kwargs)
        flops = count_flops(model, (1, int(in_ch), height, width))
        rows.append(
            (name, entry.task, str(in_ch), str(classes), f"{count_params(model) / 1e6:.2f}", f"{flops / 1e9:.1f}")
        )
    header = ("model", "task", "in", "classes", "params (M)", f"GFLOPs @{width}x{height}")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print("GFLOPs = 2 x multiply-accumulates of convolutions, deconvolutions and matmuls (torch FlopCounterMode).")
    return 0
