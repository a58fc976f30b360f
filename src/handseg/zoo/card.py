"""Zoo cards: the JSON a zoo model is described by, its Markdown rendering, and metric updates."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

from handseg.data.format import PART_NAMES
from handseg.data.preprocess import DEPTH_CENTER_M, DEPTH_SCALE_M, IMAGENET_MEAN, IMAGENET_STD, input_channels
from handseg.errors import ConfigError, DataError
from handseg.tasks import get_task
from handseg.utils.io import atomic_write_json, atomic_write_text
from handseg.zoo.store import CARD_FORMAT, get_model, read_card, read_json_object

METRIC_SETS = ("synthetic", "synthetic_no_forearm", "dexycb")
# synthetic_no_forearm: the synthetic val split scored as DexYCB's labels are (forearm not scored, handseg.data.forearm)
METRIC_SET_TITLES = {"synthetic_no_forearm": "synthetic, forearm not scored"}
# Keys that describe the weights file itself: only publishing may set them, never a merged EXTRA.json.
PROTECTED_KEYS = ("format", "name", "task", "model", "config", "input", "weights", "sha256", "dtype", "file_bytes")
# the arguments of Segmenter.predict that a model of each input modality needs
USAGE_ARGS = {"depth": "depth_m", "rgb": "None, color=rgb", "rgbd": "depth_m, color=rgb"}
HEADLINE = (
    ("miou_hand_object", "mean IOU hand+object"),
    ("mean_iu", "mean IU"),
    ("pixel_acc", "pixel acc."),
    ("mean_acc", "mean acc."),
    ("fw_iu", "f.w. IU"),
    ("miou", "part mIoU"),
)
# Amodal models: part mIoU (20-pixel rule) on all part pixels, per hand, and on the visible and the hidden ones.
AMODAL_HEADLINE = (
    ("miou", "part mIoU"),
    ("miou_left", "left hand"),
    ("miou_right", "right hand"),
    ("visible_miou", "visible parts"),
    ("hidden_miou", "hidden parts"),
    ("hidden_share", "hidden share of part pixels"),
)


def plain(value: Any) -> Any:
    """`value` as strict JSON: tuples -> lists, NumPy scalars -> Python, NaN/inf -> None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def input_contract(config: dict[str, Any]) -> dict[str, Any]:
    """What a caller must feed the model: modality, units, normalisation, missing-depth value, training size."""
    data = config["data"]
    modality = data.get("modality", "depth")
    width, height = (int(v) for v in data["size"])
    contract: dict[str, Any] = {
        "modality": modality,
        "channels": input_channels(modality),
        "size": [width, height],
        "layout": "N x C x H x W float32, channels: "
        + {"depth": "depth", "rgb": "R, G, B", "rgbd": "R, G, B, depth"}[modality],
        "resize": "to size (width, height): nearest for depth, area for colour; labels back with nearest",
        "normalisation": {},
    }
    if modality in ("depth", "rgbd"):
        contract["units"] = "metres"
        contract["missing_depth"] = 0.0
        contract["normalisation"]["depth"] = {
            "formula": f"(depth_m - {DEPTH_CENTER_M}) / {DEPTH_SCALE_M}",
            "center_m": DEPTH_CENTER_M,
            "scale_m": DEPTH_SCALE_M,
            "missing_input": (0.0 - DEPTH_CENTER_M) / DEPTH_SCALE_M,
        }
    if modality in ("rgb", "rgbd"):
        contract["color"] = "uint8 RGB, aligned to depth"
        contract["normalisation"]["color"] = {
            "formula": "(rgb / 255 - mean) / std",
            "mean": [round(float(v), 6) for v in IMAGENET_MEAN],
            "std": [round(float(v), 6) for v in IMAGENET_STD],
        }
    return contract


def output_contract(task: str) -> dict[str, Any]:
    """What the logits mean."""

    return get_task(task).output_contract()


def merge_extra(card: dict[str, Any], extra: dict[str, Any], source: str) -> dict[str, Any]:
    """`card` with `extra` deep-merged into it (dicts merged, other values replaced); protected keys refused."""
    if not isinstance(extra, dict):
        raise DataError(source, "extra card fields must be a JSON object")
    clash = sorted(set(extra) & set(PROTECTED_KEYS))
    if clash:
        raise DataError(source, f"may not set {', '.join(clash)} (they describe the weights file; publish again)")
    unknown_sets = sorted(set(extra.get("metrics") or {}) - set(METRIC_SETS))
    if unknown_sets:
        raise DataError(source, f"metrics: unknown set(s) {', '.join(unknown_sets)}; sets: {', '.join(METRIC_SETS)}")

    def merge(base: Any, override: Any) -> Any:
        if isinstance(base, dict) and isinstance(override, dict):
            out = dict(base)
            for key, value in override.items():
                out[key] = merge(base.get(key), value)
            return out
        return copy.deepcopy(override)

    return merge(card, plain(extra))


def with_logit_bias(card: dict[str, Any], bias: list[float], source: str) -> dict[str, Any]:
    """`card` with `bias` as its model's logit offset (an empty list: none) and no metrics."""
    from handseg.models.registry import checked_logit_bias

    card = copy.deepcopy(card)
    kwargs, config_model = card["model"]["kwargs"], card.get("config", {}).get("model", {})
    if bias:
        try:  # the length against the model's output channels, as build_model checks it
            kwargs["logit_bias"] = config_model["logit_bias"] = checked_logit_bias(card["model"]["name"], bias, kwargs)
        except ConfigError as exc:
            raise DataError(source, str(exc)) from None
    else:
        kwargs.pop("logit_bias", None)
        config_model.pop("logit_bias", None)
    card["metrics"] = {}
    return card


def eval_metrics(obj: dict[str, Any]) -> dict[str, Any]:
    """The metrics dict of an `handseg eval` metrics.json (or any dict of scores), confusion matrices left out (also
    those of its frame groups)."""
    metrics = {k: v for k, v in plain(obj).items() if k not in ("confusion", "per_image")}
    if isinstance(metrics.get("groups"), dict):
        metrics["groups"] = {name: {k: v for k, v in group.items() if k not in ("confusion", "per_image")}
                             for name, group in metrics["groups"].items() if isinstance(group, dict)}  # fmt: skip
    return metrics


def _fmt(value: Any, percent: bool = True) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{100 * value:.2f} %" if percent else f"{value:.3g}"
    return "—" if value is None else str(value)


def render_markdown(card: dict[str, Any]) -> str:
    """The card for people: what the model is, how to feed it, how good and fast it is, how it was made."""
    inp, training = card["input"], card.get("training") or {}
    amodal = get_task(card.get("task", "segmentation")).part_maps
    headline = AMODAL_HEADLINE if amodal else HEADLINE
    width, height = inp["size"]
    params = f"{card['params']:,}" if isinstance(card.get("params"), int) else "—"
    lines = [
        f"# {card['name']} (version {card['version']})",
        "",
        card.get("description") or f"A handseg {card['task']} model.",
        "",
        "```python",
        "from handseg import Segmenter",
        "",
        f'labels = Segmenter("{card["name"]}").predict({USAGE_ARGS.get(inp["modality"], "depth_m")})  # '
        + ("2xHxW uint8 part maps: left, right; 0 none, 1..16" if amodal else "HxW uint8 at the input's own size"),
        "```",
        "",
        "| field | value |",
        "|---|---|",
        f"| task | {card['task']} |",
        f"| model | `{card['model']['name']}` {json.dumps(card['model']['kwargs'], sort_keys=True)} |",
        f"| parameters | {params} |",
        f"| weights | `{card['weights']}`, {card['dtype']}, {card.get('file_bytes', 0) / 1e6:.2f} MB |",
        f"| sha256 | `{card['sha256']}` |",
        f"| input | {inp['modality']}, {inp.get('units', 'uint8 RGB')}, {width}x{height} (training size) |",
    ]
    norm = inp.get("normalisation") or {}
    if "depth" in norm:
        lines.append(
            f"| depth normalisation | `{norm['depth']['formula']}`; missing depth = {inp.get('missing_depth', 0.0)} "
            f"(enters as {norm['depth']['missing_input']:g}) |"
        )
    if "color" in norm:
        lines.append(f"| colour normalisation | `{norm['color']['formula']}`, ImageNet mean/std |")
    lines.append(f"| resize | {inp.get('resize', '')} |")
    if card.get("fp16_check"):
        check = card["fp16_check"]
        lines.append(
            f"| fp16 storage | labels agree with fp32 on {100 * check['pixel_agreement']:.3f} % of pixels "
            f"({check['frames']} synthetic frames at {check['size'][0]}x{check['size'][1]}) |"
        )
    lines += ["", "## Metrics", ""]
    metrics = card.get("metrics") or {}
    header = "| data | frames | " + " | ".join(label for _, label in headline) + " |"
    lines += [header, "|" + "---|" * (len(headline) + 2)]
    for which in METRIC_SETS:
        if amodal and which == "synthetic_no_forearm":  # part maps have no forearm to leave out
            continue
        m = metrics.get(which) or {}
        cells = [_fmt(m.get(key)) for key, _ in headline]
        title = METRIC_SET_TITLES.get(which, which)
        lines.append(f"| {title} | {m.get('frames', '—')} | " + " | ".join(cells) + " |")
    lines += ["", "—: not measured yet (or not defined for this task)."]
    lines += _group_lines(metrics, headline)
    if amodal:
        lines += _per_part_lines(metrics)
    latency = card.get("latency")
    lines += ["", "## Latency", ""]
    if isinstance(latency, dict) and latency:
        lines += ["| key | value |", "|---|---|"] + [f"| {k} | {_fmt(v, False)} |" for k, v in sorted(latency.items())]
    else:
        lines.append(str(latency) if latency else "Not measured yet.")
    lines += ["", "## Training", ""]
    generator = training.get("generator") or {}
    rows = [
        ("recipe", training.get("recipe")),
        ("command", f"`{training['command']}`" if training.get("command") else None),
        ("data", training.get("data_root")),
        ("dataset", training.get("dataset")),
        ("generator version", training.get("generator_version")),
        ("generator", json.dumps(generator, sort_keys=True) if generator else None),
        ("steps", training.get("step")),
        ("validation score at the checkpoint", _fmt(training.get("best_metric"))),
        ("checkpoint", training.get("checkpoint")),
    ]
    lines += ["| key | value |", "|---|---|"] + [f"| {k} | {'—' if v is None else v} |" for k, v in rows]
    if card.get("limits"):  # what the model is known not to do (a list of sentences from the publisher)
        lines += ["", "## Limits", ""] + [f"- {item}" for item in card["limits"]]
    lines += [
        "",
        f"Published with handseg {card.get('handseg_version', '?')} on {card.get('created', '?')}. The full training "
        f"config is in `{card['name']}.json` (key `config`).",
        "",
    ]
    return "\n".join(lines)


def _group_lines(metrics: dict[str, Any], headline: tuple[tuple[str, str], ...]) -> list[str]:
    """The headline scores per frame group (the synthetic scene family) of each metrics set that has them."""
    lines: list[str] = []
    for which in METRIC_SETS:
        m = metrics.get(which) or {}
        groups = m.get("groups")
        if not isinstance(groups, dict) or not groups:
            continue
        key = m.get("group_by", "group")
        lines += ["", f"By {key}, {METRIC_SET_TITLES.get(which, which)}:", "",
                  f"| {key} | frames | " + " | ".join(label for _, label in headline) + " |",
                  "|" + "---|" * (len(headline) + 2)]  # fmt: skip
        for name, group in groups.items():
            cells = [_fmt(group.get(k)) for k, _ in headline]
            lines.append(f"| {name} | {group.get('frames', '—')} | " + " | ".join(cells) + " |")
    return lines


def _per_part_lines(metrics: dict[str, Any]) -> list[str]:
    """Per-part IoU of each metrics set that has them: all, visible and hidden part pixels."""
    lines: list[str] = []
    for which in METRIC_SETS:
        m = metrics.get(which) or {}
        if not m.get("per_part"):
            continue
        lines += ["", f"Per-part IoU, {which}:", "", "| region | " + " | ".join(PART_NAMES) + " |",
                  "|" + "---|" * (len(PART_NAMES) + 1)]  # fmt: skip
        for prefix, region in (("", "all part pixels"), ("visible_", "visible parts"), ("hidden_", "hidden parts")):
            values = m.get(f"{prefix}per_part") or []
            cells = [f"{100 * v:.1f}" if isinstance(v, int | float) and v == v else "—" for v in values]
            lines.append(f"| {region} | " + " | ".join(cells) + " |")
    return lines


def write_card(folder: Path, card: dict[str, Any]) -> tuple[Path, Path]:
    """Write NAME.json and NAME.md atomically; return their paths."""
    card = plain(card)
    card["format"] = CARD_FORMAT
    json_path, md_path = folder / f"{card['name']}.json", folder / f"{card['name']}.md"
    atomic_write_json(json_path, card)
    atomic_write_text(md_path, render_markdown(card))
    return json_path, md_path


def update_card(
    name: str,
    *,
    metrics: dict[str, str | Path] | None = None,
    extra: str | Path | None = None,
    logit_bias: list[float] | None = None,
) -> Path:
    """Set a zoo card's metrics (set -> an eval metrics.json) and merge an EXTRA.json; rewrite JSON and MD.

    `logit_bias` sets the model's inference offset (handseg.models.logit_bias; [] removes it) in its build options
    and config, and clears the card's metrics, which were measured with the old decision: measure them again with
    `handseg eval NAME ...` and set them in a later call (never in the same one)."""
    entry = get_model(name)
    card = read_card(entry.card_path)
    if logit_bias is not None:
        if metrics or extra is not None:
            raise ConfigError("set logit_bias alone: the metrics must be measured again with the new offset first")
        card = with_logit_bias(card, logit_bias, str(entry.card_path))
    if extra is not None:
        card = merge_extra(card, read_json_object(extra), str(extra))
    for which, path in (metrics or {}).items():
        if which not in METRIC_SETS:
            raise ConfigError(f"metrics set {which!r}: use one of {', '.join(METRIC_SETS)}")
        card.setdefault("metrics", {})[which] = eval_metrics(read_json_object(path))
    write_card(entry.card_path.parent, card)
    return entry.card_path
