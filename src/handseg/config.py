"""Experiment configs: YAML files with `inherit:`, defaults, `--set key=value` overrides, and validation."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

import yaml

from handseg.errors import ConfigError

TASKS = ("segmentation", "amodal")
MODALITIES = ("depth", "rgb", "rgbd")
PRECISIONS = ("32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "64-true")

# Every key a config may hold. Sections in FREE_SECTIONS also accept keys not listed (model/loss build kwargs).
DEFAULTS: dict[str, Any] = {
    "name": None,  # experiment name (for tables); the run folder name when None
    "task": "segmentation",  # segmentation (3 visible classes) or amodal (2 x 17 part channels)
    "seed": 0,
    "model": {"name": "dense_attention_seg"},  # + registry kwargs; in_channels/num_classes filled in
    "data": {
        "root": "data/synth",  # a handseg-v1 folder (relative to the working directory)
        "modality": "depth",  # depth | rgb | rgbd
        "size": [640, 480],  # network input width, height
        "train_split": "train",
        "val_split": "val",
        "workers": 2,  # DataLoader worker processes per rank (0 = load in the main process)
        "synthetic": None,  # {frames, seed, size: [w, h], val_fraction}: generate data.root if it is missing
        "crop": None,  # None | hands: cut each frame to a box around both hands' amodal parts (needs part maps)
        "crop_margin": 0.15,  # data.crop margin on each side, a fraction of the hands' extent
    },
    "augment": {
        "crop_scale": None,  # [min, max] area fraction of a random resized crop; None = plain resize
        "hflip": 0.0,  # probability of a horizontal flip (amodal: swaps the left/right part maps)
        "vflip": 0.0,  # probability of a vertical flip
        "rotate": 0.0,  # max rotation in degrees (uniform in [-rotate, rotate])
        "translate": 0.0,  # max shift as a fraction of the image size
        "scale": 0.0,  # max relative zoom (uniform in [1 - scale, 1 + scale])
        "color_jitter": 0.0,  # brightness/contrast/saturation jitter of the color image
        "depth_noise_m": 0.0,  # std of Gaussian noise added to valid depth pixels, metres
    },
    "loss": {"name": "ce"},  # + build_loss kwargs
    "optim": {"name": "adam", "lr": 1e-3, "weight_decay": 1e-3},
    "schedule": {"step_size": 80000, "gamma": 0.8},  # StepLR on optimisation steps
    "train": {
        "batch_size": 4,  # global batch size (split across DDP ranks)
        "epochs": 140,
        "max_steps": None,  # a step budget; overrides epochs when set
        "val_every_steps": None,  # validate every N steps (None: at the end of every val_every_epochs epochs)
        "val_every_epochs": 1,
        "ckpt_every_steps": 200,  # write last.ckpt every N steps (and at every validation)
        "log_every_steps": 10,
        "grad_clip": None,
        "channels_last": False,
    },
    "eval": {"batch_size": 4},
    "init_from": None,  # checkpoint or run folder whose model weights start this run (fine-tuning)
    "phases": None,  # list of override dicts trained one after another, each from the previous best.ckpt
    "runtime": {
        "accelerator": "auto",
        "devices": 1,
        "num_nodes": 1,
        "strategy": "auto",
        "precision": "32-true",
        "compile": False,
    },
}
FREE_SECTIONS = {"model", "loss", "data.synthetic"}
# Sections that do not change results; a run may be resumed with other values here.
RUNTIME_KEYS = ("runtime", "data.workers")


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of `base` with `override` merged in (dicts recursively, everything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML mapping, naming the file on a syntax error."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys, got {type(data).__name__}")
    return data


def load_raw(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML config with its `inherit:` chain (paths relative to the file) merged, child over parent."""
    path = Path(path).resolve()
    if path in _seen:
        raise ConfigError(f"{path}: inherit cycle ({' -> '.join(p.name for p in (*_seen, path))})")
    data = read_yaml(path)
    parents = data.pop("inherit", None) or []
    if isinstance(parents, str):
        parents = [parents]
    merged: dict[str, Any] = {}
    for parent in parents:
        merged = deep_merge(merged, load_raw(path.parent / parent, (*_seen, path)))
    return deep_merge(merged, data)


def parse_value(text: str) -> Any:
    """A --set value typed as YAML (numbers, booleans, null, lists), with 1e-3 read as a float."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def apply_overrides(config: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply `key.sub=value` overrides (dotted keys, YAML-typed values) to a copy of `config`."""
    config = copy.deepcopy(config)
    for item in overrides or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.max_steps=200")
        parts = key.strip().split(".")
        node: Any = config
        for depth, part in enumerate(parts[:-1]):
            where = ".".join(parts[: depth + 1])
            if isinstance(node, list):  # phases.1.loss.beta=0.01: an index into a list
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"--set {item!r}: {where}: index out of range (list of {len(node)})")
                node = node[int(part)]
                continue
            if node.get(part) is None:
                node[part] = {}
            if not isinstance(node[part], dict | list):
                raise ConfigError(f"--set {item!r}: {where} is not a section")
            node = node[part]
        if isinstance(node, list):
            raise ConfigError(f"--set {item!r}: set a key inside a list item, e.g. phases.1.train.max_steps=10")
        node[parts[-1]] = parse_value(text)
    return config


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Check `value` against the type of its default (None accepts anything); return it converted."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if isinstance(default, list) and not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list, got {value!r}")
    return value


def _check_section(config: dict[str, Any], defaults: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Fill defaults, reject unknown keys and coerce types, naming the offending dotted key."""
    out = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if key not in defaults:
            if prefix.rstrip(".") in FREE_SECTIONS:
                out[key] = value
                continue
            known = ", ".join(sorted(defaults))
            close = difflib.get_close_matches(key, list(defaults), n=1, cutoff=0.6)
            hint = f"did you mean {prefix + close[0]!r}? " if close else ""
            raise ConfigError(f"unknown config key {dotted!r} ({hint}known in this section: {known})")
        default = defaults[key]
        section = dotted in FREE_SECTIONS and bool(value)
        if section or (isinstance(default, dict) and dotted not in FREE_SECTIONS):
            if not isinstance(value, dict):
                raise ConfigError(f"{dotted}: expected a section (mapping), got {value!r}")
            out[key] = _check_section(value, default or {}, f"{dotted}.")
        else:
            out[key] = _coerce(dotted, value, default)
    ordered = {key: out.pop(key) if key in out else copy.deepcopy(default) for key, default in defaults.items()}
    return ordered | out


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled, keys and values checked, model in_channels/num_classes derived; returns a new dict."""
    if "phases" in config and config["phases"] is not None:
        if not isinstance(config["phases"], list) or not all(isinstance(p, dict) for p in config["phases"]):
            raise ConfigError("phases: expected a list of override mappings")
        for k, phase in enumerate(config["phases"]):
            body = {key: value for key, value in phase.items() if key != "name"}
            validate(deep_merge({key: v for key, v in config.items() if key != "phases"}, body))
            if "phases" in body or "init_from" in body:
                raise ConfigError(f"phases[{k}]: a phase may not set phases or init_from")
    cfg = _check_section(config, DEFAULTS)
    if cfg["task"] not in TASKS:
        raise ConfigError(f"task: expected one of {', '.join(TASKS)}, got {cfg['task']!r}")
    data, train = cfg["data"], cfg["train"]
    if data["modality"] not in MODALITIES:
        raise ConfigError(f"data.modality: expected one of {', '.join(MODALITIES)}, got {data['modality']!r}")
    size = data["size"]
    if len(size) != 2 or not all(isinstance(v, int) and v >= 16 for v in size):
        raise ConfigError(f"data.size: expected [width, height] of integers >= 16, got {size!r}")
    for key in ("batch_size", "epochs", "ckpt_every_steps", "log_every_steps", "val_every_epochs"):
        if train[key] < 1:
            raise ConfigError(f"train.{key}: must be >= 1, got {train[key]}")
    for key in ("max_steps", "val_every_steps"):
        if train[key] is not None and (not isinstance(train[key], int) or train[key] < 1):
            raise ConfigError(f"train.{key}: must be a positive integer or null, got {train[key]!r}")
    if data["workers"] < 0:
        raise ConfigError(f"data.workers: must be >= 0, got {data['workers']}")
    from handseg.data.crop import check_crop

    check_crop(data["crop"], data["crop_margin"], "data.crop")
    if cfg["optim"]["name"] not in ("adam", "adamw", "sgd"):
        raise ConfigError(f"optim.name: expected adam, adamw or sgd, got {cfg['optim']['name']!r}")
    if not 0 < cfg["schedule"]["gamma"] <= 1 or cfg["schedule"]["step_size"] < 1:
        raise ConfigError("schedule: step_size must be >= 1 and 0 < gamma <= 1")
    aug = cfg["augment"]
    for key in ("hflip", "vflip"):
        if not 0 <= aug[key] <= 1:
            raise ConfigError(f"augment.{key}: a probability in [0, 1], got {aug[key]}")
    if aug["crop_scale"] is not None and (len(aug["crop_scale"]) != 2 or not 0 < min(aug["crop_scale"]) <= 1):
        raise ConfigError(f"augment.crop_scale: expected [min, max] in (0, 1], got {aug['crop_scale']!r}")
    precision = str(cfg["runtime"]["precision"])
    if precision not in PRECISIONS:
        raise ConfigError(f"runtime.precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    cfg["runtime"]["precision"] = "32-true" if precision == "32" else precision
    for section in ("model", "loss"):
        if not isinstance(cfg[section], dict):
            raise ConfigError(f"{section}: expected a section with at least a name, got {cfg[section]!r}")
    if not cfg["model"].get("name"):
        raise ConfigError("model.name: missing (a registry name such as dense_attention_seg)")
    if not cfg["loss"].get("name"):
        raise ConfigError("loss.name: missing (e.g. ce, ce_contour, amodal_dice_ce)")
    from handseg.data.preprocess import input_channels

    channels = input_channels(data["modality"])
    classes = 3 if cfg["task"] == "segmentation" else 34
    for key, value in (("in_channels", channels), ("num_classes", classes)):
        given = cfg["model"].setdefault(key, value)
        if given != value:
            raise ConfigError(f"model.{key}: {given} does not fit task {cfg['task']!r} / modality (needs {value})")
    return cfg


def load_config(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read a YAML config (with inherit), apply --set overrides, and validate it."""
    return validate(apply_overrides(load_raw(path), overrides))


def diff_configs(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ, as 'key: old -> new' lines (runtime keys left out)."""
    lines = []
    for key in sorted(set(old) | set(new)):
        dotted = f"{prefix}{key}"
        if dotted in RUNTIME_KEYS:
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            lines += diff_configs(a, b, f"{dotted}.")
        elif a != b:
            lines.append(f"{dotted}: {a!r} -> {b!r}")
    return lines


def dump_config(config: dict[str, Any]) -> str:
    """YAML text of a config (keys in their defined order)."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=None)
