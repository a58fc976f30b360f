"""Pieces the training loop is built from: Fabric, the run folder, datasets, model initialisation."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch

from handseg.config import BUDGET_KEYS, diff_configs, read_yaml, validate
from handseg.data.synth import generate_dataset
from handseg.errors import ConfigError, DataError, OutputExistsError
from handseg.loading import load_weights_into, model_spec, read_checkpoint
from handseg.models import build_model
from handseg.utils.io import remove_stale_tmp

RUN_FILES = ("config.yaml", "last.ckpt", "best.ckpt", "metrics.csv", "metrics.json", "curves.png", "tb")


def make_fabric(runtime: dict[str, Any]) -> Any:
    """A launched Fabric for the runtime section (devices > 1 or several nodes -> DDP; gloo on CPU)."""
    from lightning.fabric import Fabric  # ~3 s to import: only training and evaluation launch one

    strategy = runtime["strategy"]
    if strategy == "auto" and (runtime["devices"] > 1 or runtime["num_nodes"] > 1):
        strategy = "ddp"
    accelerator = runtime["accelerator"]
    if runtime["precision"] == "16-mixed" and (accelerator == "cpu" or not torch.cuda.is_available()):
        raise ConfigError("runtime.precision: 16-mixed needs a GPU; use bf16-mixed or 32-true on the CPU")
    try:
        fabric = Fabric(
            accelerator=accelerator,
            devices=runtime["devices"],
            num_nodes=runtime["num_nodes"],
            strategy=strategy,
            precision=runtime["precision"],
        )
    except (ValueError, RuntimeError, TypeError) as exc:
        raise ConfigError(f"runtime: cannot set up Fabric ({exc})") from None
    fabric.launch()
    return fabric


def _is_tmp(name: str) -> bool:
    """A temp file of an atomic write (.NAME.XXXX.tmp): another rank may not have seen it removed yet."""
    return name.startswith(".") and name.endswith(".tmp")


def check_run_dir(run_dir: Path, config: dict[str, Any], force: bool, fabric: Any) -> Path | None:
    """Prepare the run folder; return last.ckpt to resume from, or None for a fresh start.

    A folder holding a run with another config is refused (ConfigError listing the differences) unless
    `force`, which deletes the run's files (only those handseg writes) and starts over. The budget
    (train.max_steps, train.epochs) may differ: a larger one continues the run.
    """
    last = run_dir / "last.ckpt"
    if force:
        if fabric.is_global_zero and run_dir.is_dir():
            for name in RUN_FILES:
                path = run_dir / name
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
            for phase_dir in run_dir.glob("phase*_*"):
                shutil.rmtree(phase_dir)
        fabric.barrier()
        return None
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputExistsError(f"{run_dir}: exists and is not a folder")
    if run_dir.is_dir() and fabric.is_global_zero:
        remove_stale_tmp(run_dir)  # left by a kill during an atomic write; nothing writes them before training
    if last.is_file():
        diff = _config_diff(read_checkpoint(last)["config"], config)
        if diff:
            lines = "\n  ".join(diff[:12])
            raise ConfigError(
                f"{run_dir} holds a run with a different config:\n  {lines}\n"
                "pass --force to start it over, or choose a new --out"
            )
        return last
    if (run_dir / "config.yaml").is_file():  # started, killed before its first checkpoint
        diff = _config_diff(read_yaml(run_dir / "config.yaml"), config)
        if diff:
            raise ConfigError(
                f"{run_dir} was started with a different config ({diff[0]}, ...); pass --force or choose a new --out"
            )
    others = (
        [p.name for p in run_dir.iterdir() if p.name not in RUN_FILES and not _is_tmp(p.name)]
        if run_dir.is_dir()
        else []
    )
    if others and not list(run_dir.glob("phase*_*")):
        raise OutputExistsError(f"{run_dir}: not empty and not a handseg run ({others[0]}, ...); pass --force")
    return None


def _config_diff(saved: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Differences that forbid resuming: keys other than runtime and budget, after filling newer defaults."""
    try:
        saved = validate(saved)  # a run saved before a key existed compares as having its default
    except ConfigError:
        pass
    return diff_configs(saved, config, ignore=BUDGET_KEYS)


def ensure_dataset(config: dict[str, Any], fabric: Any = None) -> Path:
    """data.root, generated with the synthetic generator first if missing and data.synthetic is set; a folder of
    another format (data.format, or detected) is returned as it is."""
    data = config["data"]
    root = Path(data["root"]).expanduser()
    if (root / "manifest.json").is_file():
        return root
    synth = data.get("synthetic")
    if not synth and data.get("format", "auto") != "handseg-v1" and root.is_dir() and any(root.iterdir()):
        return root  # another format (data.format, or detected by its layout): its reader checks the folder
    if not synth:
        raise DataError(root, "dataset not found (set data.root, or data.synthetic to generate one)")
    if fabric is None or fabric.is_global_zero:
        size = tuple(synth.get("size", data["size"]))
        generate_dataset(
            root,
            int(synth.get("frames", 64)),
            seed=int(synth.get("seed", 0)),
            size=size,
            workers=int(synth.get("workers", 1)),
            force=root.exists(),  # a folder without manifest.json is an interrupted generation
            val_fraction=float(synth.get("val_fraction", 0.25)),
            progress=True,
            val_objects=synth.get("val_objects"),
            crop=synth.get("crop"),
            render_size=tuple(synth["render_size"]) if synth.get("render_size") else None,
            crop_margin=float(synth.get("crop_margin", 0.15)),
            visible_parts=bool(synth.get("visible_parts", False)),
        )
    if fabric is not None:
        fabric.barrier()
    return root


def build_model_from_config(config: dict[str, Any]) -> torch.nn.Module:
    """The registry model of the config, with init_from weights loaded when set."""
    name, kwargs = model_spec(config)
    model = build_model(name, **kwargs)
    if config.get("init_from"):
        load_init_weights(model, config)
    return model


def load_init_weights(model: torch.nn.Module, config: dict[str, Any]) -> None:
    """Load the model weights of config['init_from'] (a checkpoint, run folder or zoo name) into `model`."""
    modality = config.get("data", {}).get("modality")
    load_weights_into(model, config["init_from"], model_name=config["model"]["name"], modality=modality)


def gather_objects(fabric: Any, obj: Any) -> list[Any]:
    """`obj` of every rank (a one-item list without DDP)."""
    if fabric.world_size == 1:
        return [obj]
    out: list[Any] = [None] * fabric.world_size
    torch.distributed.all_gather_object(out, obj)
    return out


def broadcast_buffers(fabric: Any, model: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics) so all ranks evaluate the same model."""
    if fabric.world_size == 1:
        return
    for buffer in model.buffers():
        torch.distributed.broadcast(buffer.data, src=0)


def link_or_copy(source: Path, target: Path) -> None:
    """Make `target` a hard link of `source` (a copy where links are impossible), replacing it atomically."""
    tmp = target.with_name(f".{target.name}.tmp")
    if tmp.exists():
        tmp.unlink()
    try:
        tmp.hardlink_to(source)
    except OSError:
        shutil.copyfile(source, tmp)
    tmp.replace(target)
