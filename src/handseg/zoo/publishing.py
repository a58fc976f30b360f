"""Publishing a trained checkpoint into the zoo: safetensors weights (fp32 or checked fp16) plus a card."""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as save_safetensors

from handseg import __version__
from handseg.data.preprocess import make_input
from handseg.data.synth import render_frame
from handseg.errors import CheckpointError, HandsegError, OutputExistsError
from handseg.loading import model_spec, read_checkpoint
from handseg.models import build_model
from handseg.models.flops import count_params
from handseg.tasks import get_task
from handseg.utils.io import atomic_write_bytes
from handseg.zoo.card import METRIC_SETS, input_contract, merge_extra, output_contract, plain, write_card
from handseg.zoo.store import CARD_FORMAT, check_name, package_dir, read_json_object, sha256_bytes

MAX_BYTES = 20_000_000  # the zoo ships inside the package: a model over 20 MB does not belong there
FP16_MIN_AGREEMENT = 0.995
FP16_CHECK_SEED = 9_172_023  # a seed no shipped dataset uses, so the check frames are unseen


def _training_info(ckpt: dict[str, Any], data: str | Path | None) -> dict[str, Any]:
    """Where the training data came from (the dataset manifest's generator block when it can be found)."""
    config = ckpt["config"]
    root = Path(data) if data is not None else Path(str(config["data"].get("root", ""))).expanduser()
    manifest: dict[str, Any] = {}
    if (root / "manifest.json").is_file():
        try:
            manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
    generator = manifest.get("generator") if isinstance(manifest, dict) else None
    return {
        "recipe": config.get("name"),
        "command": None,
        "data_root": str(config["data"].get("root")),
        "dataset": manifest.get("name") if manifest else None,
        "generator": generator,
        "generator_version": (generator or {}).get("version"),
        "synthetic": config["data"].get("synthetic"),
        "step": ckpt.get("step"),
        "epoch": ckpt.get("epoch"),
        "best_metric": ckpt.get("best_metric"),
        "validation": ckpt.get("best_metrics") or None,
        "checkpoint": ckpt["path"],
    }


def fp16_agreement(model: Any, config: dict[str, Any], *, frames: int = 4) -> dict[str, Any]:
    """Share of pixels whose labels match between `model` and its fp16-rounded weights, on synthetic frames."""
    task, modality = config.get("task", "segmentation"), config["data"].get("modality", "depth")
    width, height = (int(v) for v in config["data"]["size"])
    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for tensor in [*rounded.parameters(), *rounded.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    same = total = 0
    with torch.inference_mode():
        for index in range(frames):
            frame = render_frame(FP16_CHECK_SEED, index, max(width, 16), max(height, 16))
            depth = frame["depth"].astype(np.float32) * np.float32(0.001)
            x = torch.from_numpy(make_input(depth, frame["color"], modality)[None])
            a = get_task(task).labels(model(x).float().numpy())
            b = get_task(task).labels(rounded(x).float().numpy())
            same += int((a == b).sum())
            total += a.size
    return {"frames": frames, "size": [width, height], "seed": FP16_CHECK_SEED, "pixel_agreement": same / total}


def publish(
    source: str | Path,
    *,
    name: str,
    out: str | Path | None = None,
    fp16: bool = False,
    card_json: str | Path | None = None,
    data: str | Path | None = None,
    version: str = "1",
    description: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Write NAME.safetensors, NAME.json and NAME.md for a checkpoint (or run folder) into `out`; return the card.

    `out` defaults to the package's zoo folder. With `fp16` the weights are stored as float16 after checking that
    the labels of the rounded model match fp32 on at least 99.5 % of pixels (the measured share goes into the
    card). `card_json` is merged into the card (metrics, latency, training.command, description ...). `data` is
    the training dataset folder when its config's data.root does not lead there from here (for its generator).
    """
    check_name(name)
    folder = Path(out) if out is not None else package_dir()
    targets = [folder / f"{name}{suffix}" for suffix in (".safetensors", ".json", ".md")]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise OutputExistsError(f"{existing[0]}: exists; pass --force to replace zoo model {name!r}")
    extra = read_json_object(card_json) if card_json is not None else None

    ckpt = read_checkpoint(source)
    config = ckpt["config"]
    model_name, kwargs = model_spec(config)
    model = build_model(model_name, **kwargs)
    try:
        model.load_state_dict(ckpt["model"], strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{ckpt['path']}: weights do not match model {model_name!r} ({first})") from None
    model.eval()

    fp16_check = None
    if fp16:
        fp16_check = fp16_agreement(model, config)
        fp16_check["threshold"] = FP16_MIN_AGREEMENT
        if fp16_check["pixel_agreement"] < FP16_MIN_AGREEMENT:
            raise HandsegError(
                f"{ckpt['path']}: fp16 weights change the labels of {100 * (1 - fp16_check['pixel_agreement']):.2f} "
                f"% of pixels (at most {100 * (1 - FP16_MIN_AGREEMENT):.1f} % allowed); publish without --fp16"
            )
    state = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous().clone()  # clone: safetensors refuses shared storage
        state[key] = tensor.half() if fp16 and tensor.is_floating_point() else tensor
    blob = save_safetensors(state, metadata={"format": CARD_FORMAT, "name": name})
    if len(blob) > MAX_BYTES:
        hint = "" if fp16 else " (try --fp16)"
        raise HandsegError(
            f"{ckpt['path']}: {name}.safetensors would be {len(blob) / 1e6:.1f} MB, over the zoo's "
            f"{MAX_BYTES / 1e6:.0f} MB limit{hint}"
        )

    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "name": name,
        "version": str(version),
        "description": description,
        "task": config.get("task", "segmentation"),
        "model": {"name": model_name, "kwargs": kwargs},
        "config": config,
        "input": input_contract(config),
        "output": output_contract(config.get("task", "segmentation")),
        "training": _training_info(ckpt, data),
        "metrics": dict.fromkeys(METRIC_SETS),
        "latency": None,
        "params": count_params(model),
        "weights": f"{name}.safetensors",
        "file_bytes": len(blob),
        "dtype": "fp16" if fp16 else "fp32",
        "sha256": sha256_bytes(blob),
        "fp16_check": fp16_check,
        "handseg_version": __version__,
        "torch_version": torch.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
    }
    if extra is not None:
        card = merge_extra(card, extra, str(card_json))
    card = plain(card)
    # Weights first: a kill in between leaves no card, or the old card whose sha256 then refuses the new weights.
    atomic_write_bytes(folder / f"{name}.safetensors", blob)
    write_card(folder, card)
    return card
