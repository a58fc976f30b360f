"""Experiment configs: YAML files with `inherit:`, defaults, `--set key=value` overrides, and validation."""

from __future__ import annotations

import copy
import difflib
import inspect
import math
import os
from pathlib import Path
from typing import Any

import yaml

from handseg.data.crop import check_crop
from handseg.data.readers import READERS
from handseg.errors import CheckpointError, ConfigError
from handseg.losses import build_loss, list_losses
from handseg.models import model_entry
from handseg.registry import CALLBACKS, OPTIMIZERS, SCHEDULES
from handseg.registry import TASKS as TASK_REGISTRY

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
        "root": "data/synth",  # a dataset folder (relative to the working directory), handseg-v1 or data.format
        "format": "auto",  # its reader (`handseg convert --format` names): auto detects it by its layout
        "modality": "depth",  # depth | rgb | rgbd
        "size": [640, 480],  # network input width, height
        "train_split": "train",
        "val_split": "val",
        "workers": 2,  # DataLoader worker processes per rank (0 = load in the main process)
        "synthetic": None,  # {frames, seed, size: [w, h], val_fraction}: generate data.root if it is missing
        "crop": None,  # None | hands: cut each frame to a box around both hands' amodal parts (needs part maps)
        "crop_margin": 0.15,  # data.crop margin on each side, a fraction of the hands' extent
        "val_max_frames": None,  # validate during training on the val split's first N frames (None: all)
        # hand: the forearm is hand (handseg labels); ignore: forearm pixels (hand outside every part map) are left
        # out of the loss and the validation score, as for real labels that stop at the wrist (needs part maps)
        "forearm": "hand",
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
        "hole_fill": 0.0,  # probability that missing depth takes its nearest valid depth (the frame without holes)
    },
    "loss": {"name": "ce"},  # + build_loss kwargs
    "optim": {"name": "adam", "lr": 1e-3, "weight_decay": 1e-3},
    "schedule": {  # lr factor of the optimisation step (handseg.engine.schedule)
        "name": "step",  # step | cosine | onecycle | poly
        "warmup_steps": 0,  # linear warm-up (onecycle: a rising half cosine from lr / div_factor)
        "step_size": 80000,  # step: lr x gamma every step_size steps
        "gamma": 0.8,
        "min_lr_ratio": 0.0,  # cosine, poly: the final lr as a fraction of optim.lr
        "power": 0.9,  # poly: (1 - t / T) ** power
        "div_factor": 25.0,  # onecycle: starts at lr / div_factor ...
        "final_div_factor": 1.0e4,  # ... ends at lr / final_div_factor
        "total_steps": None,  # the step the decay ends at (null: the training budget)
    },
    "train": {
        "batch_size": 4,  # global batch size (split across DDP ranks)
        "epochs": 140,
        "max_steps": None,  # a step budget; overrides epochs when set
        "val_every_steps": None,  # validate every N steps (None: every val_every_epochs epochs; 0: never)
        "val_every_epochs": 1,
        "ckpt_every_steps": 200,  # write last.ckpt every N steps (and at every validation)
        "log_every_steps": 10,
        "grad_clip": None,
        "channels_last": False,
    },
    "eval": {"batch_size": 4},
    "log": {  # where training metrics go (handseg.engine.loggers)
        "loggers": ["csv", "tensorboard"],  # csv (metrics.csv, always written) | tensorboard | wandb | mlflow
        "wandb": None,  # options of lightning's WandbLogger, e.g. {project: handseg, mode: offline}
        "mlflow": None,  # options of lightning's MLFlowLogger, e.g. {tracking_uri: "file:./mlruns"}
    },
    "init_from": None,  # checkpoint or run folder whose model weights start this run (fine-tuning)
    "phases": None,  # list of override dicts trained one after another, each from the previous best.ckpt
    "callbacks": [],  # training callbacks beyond the built-in ones: [{name: <registered>, <option>: ...}]
    "runtime": {
        "accelerator": "auto",
        "devices": 1,
        "num_nodes": 1,
        "strategy": "auto",
        "precision": "32-true",
        "compile": False,
    },
}
FREE_SECTIONS = {"model", "loss", "data.synthetic", "log.wandb", "log.mlflow"}
# Sections that do not change results; a run may be resumed with other values here.
RUNTIME_KEYS = ("runtime", "data.workers", "log")
# The training budget: a finished (or running) run may be resumed with a larger one.
BUDGET_KEYS = ("train.max_steps", "train.epochs")


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
        detail = " ".join(str(exc).split())[:200]  # PyYAML's message spans lines; errors are one line
        raise ConfigError(f"{path}: invalid YAML ({detail})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
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
    if not isinstance(parents, list) or not all(isinstance(p, str) and p for p in parents):
        raise ConfigError(f"{path}: inherit: expected a file name or a list of file names, got {parents!r}")
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
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
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
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= MAX_SIDE for v in size):
        raise ConfigError(f"data.size: expected [width, height] of integers in 16..{MAX_SIDE}, got {size!r}")
    for key in ("batch_size", "epochs", "ckpt_every_steps", "log_every_steps", "val_every_epochs"):
        if train[key] < 1:
            raise ConfigError(f"train.{key}: must be >= 1, got {train[key]}")
    for key, low, text in (("max_steps", 1, "a positive integer"), ("val_every_steps", 0, "an integer >= 0")):
        value = train[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise ConfigError(f"train.{key}: must be {text} or null, got {value!r}")
    if data["workers"] < 0:
        raise ConfigError(f"data.workers: must be >= 0, got {data['workers']}")
    cap = data["val_max_frames"]
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise ConfigError(f"data.val_max_frames: must be a positive integer or null, got {cap!r}")

    if data["forearm"] not in ("hand", "ignore"):
        raise ConfigError(f"data.forearm: expected hand or ignore, got {data['forearm']!r}")
    if data["forearm"] == "ignore" and TASK_REGISTRY.get(cfg["task"]).part_maps:
        raise ConfigError(f"data.forearm: ignore applies to hand/object segmentation, not to task {cfg['task']!r}")
    check_crop(data["crop"], data["crop_margin"], "data.crop")
    _check_format(data["format"])
    if cfg["optim"]["name"] not in OPTIMIZERS:
        known = [e.name for e in OPTIMIZERS.entries()]
        raise ConfigError(f"optim.name: expected {', '.join(known[:-1])} or {known[-1]}, got {cfg['optim']['name']!r}")

    check_schedule(cfg["schedule"])
    check_log_config(cfg["log"])
    check_callbacks(cfg["callbacks"])
    aug = cfg["augment"]
    for key in ("hflip", "vflip"):
        if not 0 <= aug[key] <= 1:
            raise ConfigError(f"augment.{key}: a probability in [0, 1], got {aug[key]}")
    crop = aug["crop_scale"]
    if crop is not None and not (
        isinstance(crop, list) and len(crop) == 2 and all(_is_number(v) for v in crop) and 0 < crop[0] <= crop[1] <= 1
    ):
        raise ConfigError(f"augment.crop_scale: expected [min, max] with 0 < min <= max <= 1, got {crop!r}")
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
    _check_ranges(cfg)
    channels, classes = TASK_REGISTRY.get(cfg["task"]).io(data["modality"])
    for key, value in (("in_channels", channels), ("num_classes", classes)):
        given = cfg["model"].setdefault(key, value)
        if given != value:
            raise ConfigError(f"model.{key}: {given} does not fit task {cfg['task']!r} / modality (needs {value})")
    return cfg


MAX_SIDE = 4096  # largest network input side: 4096 x 4096 already takes gigabytes per image in a ResNet

# Ranges of numeric keys: (lowest, highest, lowest included); None = open. Types are checked by _coerce.
RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "seed": (0, 2**32 - 1, True),
    "augment.rotate": (0, 180, True),
    "augment.translate": (0, 1, True),
    "augment.scale": (0, 0.99, True),  # 1 would allow a zoom of 0
    "augment.color_jitter": (0, 1, True),
    "augment.depth_noise_m": (0, 1, True),
    "augment.hole_fill": (0, 1, True),
    "optim.lr": (0, 10, False),
    "optim.weight_decay": (0, 1, True),
    "train.grad_clip": (0, None, False),
    "eval.batch_size": (1, None, True),
    "runtime.devices": (1, 1024, True),
    "runtime.num_nodes": (1, 4096, True),
    "data.workers": (0, 64, True),
}
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _get(cfg: dict[str, Any], dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _check_ranges(cfg: dict[str, Any]) -> None:
    """Range checks of numeric keys, model/loss options and the runtime, each error naming its key."""
    for key, (lo, hi, closed) in RANGES.items():
        value = _get(cfg, key)
        if value is None:
            continue
        if not _is_number(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        low_ok = lo is None or (value >= lo if closed else value > lo)
        if not low_ok or (hi is not None and value > hi):
            low = "" if lo is None else f"{'>=' if closed else '>'} {lo}"
            high = "" if hi is None else f"<= {hi}"
            raise ConfigError(f"{key}: must be {' and '.join(x for x in (low, high) if x)}, got {value!r}")
    runtime = cfg["runtime"]
    accelerator = str(runtime["accelerator"])
    if accelerator not in ACCELERATORS:
        raise ConfigError(f"runtime.accelerator: expected one of {', '.join(ACCELERATORS)}, got {accelerator!r}")
    cores = os.cpu_count() or 1
    if accelerator == "cpu" and runtime["devices"] > cores:
        raise ConfigError(f"runtime.devices: {runtime['devices']} CPU processes on a machine with {cores} cores")
    ranks = runtime["devices"] * runtime["num_nodes"]
    if cfg["train"]["batch_size"] % ranks:
        raise ConfigError(
            f"train.batch_size: {cfg['train']['batch_size']} is not divisible by {ranks} ranks (runtime.devices x "
            "runtime.num_nodes)"
        )
    for key in ("root", "train_split", "val_split"):
        if not isinstance(cfg["data"][key], str) or not cfg["data"][key]:
            raise ConfigError(f"data.{key}: expected a non-empty string, got {cfg['data'][key]!r}")
    synthetic = cfg["data"]["synthetic"]
    if synthetic is not None:
        _check_synthetic(synthetic)
    _check_model_options(cfg["model"])
    _check_loss_options(cfg["loss"])


def _check_synthetic(synthetic: Any) -> None:
    """data.synthetic: {frames, seed, size, val_fraction, ...} with sane values."""
    if not isinstance(synthetic, dict):
        raise ConfigError(f"data.synthetic: expected a mapping or null, got {synthetic!r}")
    checks = {
        "frames": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 10**7,
        "seed": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**32,
        "workers": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 64,
        "val_fraction": lambda v: _is_number(v) and 0 <= v < 1,
        "size": lambda v: (
            isinstance(v, list)
            and len(v) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) and 16 <= x <= 8192 for x in v)
        ),
    }
    for key, ok in checks.items():
        if key in synthetic and not ok(synthetic[key]):
            raise ConfigError(f"data.synthetic.{key}: out of range or of the wrong type, got {synthetic[key]!r}")


def _check_model_options(model: dict[str, Any]) -> None:
    """model.*: a registered name and options of the builder's types (counts >= 1, finite numbers)."""
    name = model.get("name")
    if not isinstance(name, str):
        raise ConfigError(f"model.name: expected a registry name, got {name!r}")
    params = inspect.signature(model_entry(name).builder).parameters
    open_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key, value in model.items():
        if key == "name" or (open_kwargs and key not in params):
            continue
        if key not in params:
            known = ", ".join(p for p in params if p != "self")
            raise ConfigError(f"model.{key}: model {name!r} has no such option; options: {known}")
        default = params[key].default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"model.{key}: expected true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1 << 16:
                raise ConfigError(f"model.{key}: expected a positive integer, got {value!r}")
        elif isinstance(default, float) and not _is_number(value):
            raise ConfigError(f"model.{key}: expected a finite number, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"model.{key}: expected a string, got {value!r}")
    stride = model.get("output_stride")
    if stride is not None and stride not in (8, 16, 32):
        raise ConfigError(f"model.output_stride: expected 8, 16 or 32, got {stride!r}")


def _check_loss_options(loss: dict[str, Any]) -> None:
    """loss.*: numbers finite; the loss is built once here so that its own checks run at load time."""
    for key, value in loss.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(f"loss.{key}: expected finite numbers, got {value!r}")
    kwargs = {k: v for k, v in loss.items() if k != "name"}

    if loss["name"] not in list_losses():
        raise ConfigError(f"loss.name: unknown loss {loss['name']!r}; choose one of {', '.join(list_losses())}")
    try:
        build_loss(loss["name"], **kwargs)
    except ConfigError as exc:
        raise ConfigError(f"loss: {exc}") from None
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"loss: {loss['name']!r} with {kwargs}: {str(exc).splitlines()[0]}") from None


def _check_format(name: Any) -> None:
    """data.format: auto or a registered dataset reader."""
    if name != "auto" and (not isinstance(name, str) or name not in READERS):
        known = ", ".join(e.name for e in sorted(READERS.entries(), key=lambda entry: entry.info["priority"]))
        raise ConfigError(f"data.format: expected auto or one of {known}, got {name!r}")


def check_model_config(config: Any, source: str | Path) -> dict[str, Any]:
    """The config a checkpoint or ONNX file carries: checked for what rebuilding and running the model reads."""
    if not isinstance(config, dict):
        raise CheckpointError(f"{source}: its config is not a mapping (got {type(config).__name__})")
    model, data = config.get("model"), config.get("data", {})
    if not isinstance(model, dict) or not isinstance(model.get("name"), str) or not model["name"]:
        raise CheckpointError(f"{source}: config.model must be a mapping with a name, got {model!r:.80}")
    if not isinstance(data, dict):
        raise CheckpointError(f"{source}: config.data must be a mapping, got {data!r:.80}")
    if config.get("task", "segmentation") not in TASKS:
        raise CheckpointError(f"{source}: config.task must be one of {', '.join(TASKS)}, got {config.get('task')!r}")
    if data.get("modality", "depth") not in MODALITIES:
        raise CheckpointError(f"{source}: config.data.modality must be one of {', '.join(MODALITIES)}")
    size = data.get("size", DEFAULTS["data"]["size"])
    if not (
        isinstance(size, list | tuple)
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= MAX_SIDE for v in size)
    ):
        raise CheckpointError(f"{source}: config.data.size must be [width, height] in 16..{MAX_SIDE}, got {size!r:.80}")
    return config


def load_config(
    path: str | Path, overrides: list[str] | None = None, *, layers: tuple[str | Path, ...] = ()
) -> dict[str, Any]:
    """Read a YAML config (with inherit), merge `layers` over it in order, apply --set overrides, and validate it."""
    try:
        raw = load_raw(path)
        for layer in layers:  # as if the config inherited them after its own parents
            raw = deep_merge(raw, load_raw(layer))
        return validate(apply_overrides(raw, overrides))
    except ConfigError as exc:
        message = str(exc)
        if str(path) in message or str(Path(path).resolve()) in message:
            raise
        raise ConfigError(f"{path}: {message}") from None  # name the file as well as the key


def diff_configs(
    old: dict[str, Any], new: dict[str, Any], prefix: str = "", *, ignore: tuple[str, ...] = ()
) -> list[str]:
    """Dotted keys whose values differ, as 'key: old -> new' lines (runtime keys and `ignore` left out)."""
    lines = []
    for key in sorted(set(old) | set(new)):
        dotted = f"{prefix}{key}"
        if dotted in RUNTIME_KEYS or dotted in ignore:
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            lines += diff_configs(a, b, f"{dotted}.", ignore=ignore)
        elif a != b:
            lines.append(f"{dotted}: {a!r} -> {b!r}")
    return lines


def dump_config(config: dict[str, Any]) -> str:
    """YAML text of a config (keys in their defined order)."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=None)


def check_schedule(spec: dict[str, Any]) -> None:
    """Raise ConfigError naming the schedule key whose value is out of range (types are checked by config)."""
    if spec["name"] not in SCHEDULES:
        raise ConfigError(
            f"schedule.name: expected one of {', '.join(e.name for e in SCHEDULES.entries())}, got {spec['name']!r}"
        )
    rules = {
        "warmup_steps": (lambda v: v >= 0, ">= 0"),
        "step_size": (lambda v: v >= 1, ">= 1"),
        "gamma": (lambda v: 0 < v <= 1, "in (0, 1]"),
        "min_lr_ratio": (lambda v: 0 <= v <= 1, "in [0, 1]"),
        "power": (lambda v: v > 0, "> 0"),
        "div_factor": (lambda v: v >= 1, ">= 1"),
        "final_div_factor": (lambda v: v >= 1, ">= 1"),
    }
    for key, (ok, text) in rules.items():
        if not ok(spec[key]):
            raise ConfigError(f"schedule.{key}: must be {text}, got {spec[key]!r}")
    total = spec["total_steps"]
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 1):
        raise ConfigError(f"schedule.total_steps: must be a positive integer or null, got {total!r}")
    if spec["name"] == "onecycle" and spec["warmup_steps"] < 1:
        raise ConfigError("schedule.warmup_steps: onecycle needs >= 1 (the steps of its rising half)")


def check_callbacks(specs: Any) -> None:
    """ConfigError unless `specs` is a list of {name: registered callback, options...}."""
    if not isinstance(specs, list):
        raise ConfigError(f"callbacks: expected a list of {{name: ..., options}} mappings, got {specs!r}")
    for k, spec in enumerate(specs):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ConfigError(f"callbacks[{k}]: expected a mapping with a name, got {spec!r}")
        if spec["name"] not in CALLBACKS:
            raise ConfigError(f"callbacks[{k}]: unknown callback {spec['name']!r}; known: {', '.join(CALLBACKS)}")


LOGGERS = ("csv", "tensorboard", "wandb", "mlflow")  # handseg.engine.loggers builds them


def check_log_config(log: dict[str, Any]) -> None:
    """Check the `log` section: known logger names, no repeats; options are mappings (names the key)."""
    names = log.get("loggers")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"log.loggers: expected a list of names ({', '.join(LOGGERS)}), got {names!r}")
    for name in names:
        if name not in LOGGERS:
            close = difflib.get_close_matches(name, LOGGERS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"log.loggers: unknown logger {name!r} ({hint}known: {', '.join(LOGGERS)})")
    if len(set(names)) != len(names):
        raise ConfigError(f"log.loggers: a logger is named twice in {names}")
    for key in ("wandb", "mlflow"):
        if log.get(key) is not None and not isinstance(log[key], dict):
            raise ConfigError(f"log.{key}: expected a mapping of logger options, got {log[key]!r}")
