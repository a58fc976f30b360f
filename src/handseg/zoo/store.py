"""The model zoo on disk: where cards and weights live, reading a card, loading its checked weights.

A zoo model NAME is three files in one folder: NAME.safetensors (the weights, no pickle), NAME.json (the card:
config, input contract, metrics, sha256 of the weights) and NAME.md (the card for people). Folders are searched
in order: each entry of $HANDSEG_ZOO_PATH (os.pathsep-separated), then the package's own `weights/` folder; the
first folder holding NAME.json wins.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load as load_safetensors

from handseg.errors import CheckpointError, ConfigError, DataError
from handseg.loading import STORES, LoadedModel, adapt_input_channels
from handseg.models import build_model
from handseg.models.registry import WEIGHTS

ZOO_ENV = "HANDSEG_ZOO_PATH"
CARD_FORMAT = "handseg-zoo-card/1"
# Lowercase letters, digits, '-' and '_' (no dots or slashes), so a zoo name is never mistaken for a file name.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CARD_KEYS = ("format", "name", "version", "task", "model", "config", "input", "weights", "sha256", "dtype", "metrics")


def package_dir() -> Path:
    """The zoo folder shipped inside the package (src/handseg/weights)."""
    return Path(__file__).resolve().parent.parent / "weights"


def search_path() -> list[Path]:
    """Zoo folders in search order: $HANDSEG_ZOO_PATH entries, then the package folder."""
    extra = [Path(p).expanduser() for p in os.environ.get(ZOO_ENV, "").split(os.pathsep) if p.strip()]
    return [*extra, package_dir()]


def is_zoo_name(ref: Any) -> bool:
    """Whether `ref` is spelled like a zoo name and names no existing file or folder."""
    if not isinstance(ref, str | Path):
        return False
    text = str(ref)
    return bool(NAME_RE.match(text)) and not Path(text).exists()


def check_name(name: str) -> str:
    """`name` if it is a valid zoo name, else a ConfigError saying what a name may hold."""
    if not NAME_RE.match(name):
        raise ConfigError(f"zoo name {name!r}: use 1-64 lowercase letters, digits, '-' or '_' (starting alphanumeric)")
    return name


@dataclass(frozen=True)
class ZooModel:
    """One zoo entry: its card (dict) and the paths of its card and weights files."""

    name: str
    card: dict[str, Any]
    card_path: Path
    weights_path: Path

    @property
    def config(self) -> dict[str, Any]:
        """The training config stored in the card (model, data.modality, data.size, task, ...)."""
        return self.card["config"]


def read_json_object(path: str | Path, *, kind: str | None = None) -> dict[str, Any]:
    """A JSON file holding an object; DataError naming the file otherwise (`kind`, e.g. "zoo card", names it)."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, f"{kind or 'file'} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = f"not a {kind}" if kind else "not valid JSON"
        raise DataError(path, f"{problem} ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise DataError(path, f"not a {kind} (a JSON object expected)" if kind else "a JSON object expected")
    return obj


def read_card(path: str | Path) -> dict[str, Any]:
    """A card's JSON, checked for the keys loading needs; DataError naming the file otherwise."""
    path = Path(path)
    card = read_json_object(path, kind="zoo card")
    if card.get("format") != CARD_FORMAT:
        raise DataError(path, f"not a zoo card (its 'format' is {card.get('format')!r}, not {CARD_FORMAT!r})")
    missing = [key for key in CARD_KEYS if key not in card]
    if missing:
        raise DataError(path, f"zoo card lacks {', '.join(missing)}")
    if card["name"] != path.stem:
        raise DataError(path, f"zoo card names model {card['name']!r} but the file is {path.name}")
    model, config = card["model"], card["config"]
    if not isinstance(model, dict) or not model.get("name") or not isinstance(model.get("kwargs"), dict):
        raise DataError(path, "zoo card's 'model' needs 'name' and 'kwargs'")
    if not isinstance(config, dict) or not isinstance(config.get("data"), dict):
        raise DataError(path, "zoo card's 'config' needs a 'data' section")
    return card


def find_model(name: str) -> ZooModel | None:
    """The first zoo entry called `name` on the search path, or None."""
    for folder in search_path():
        card_path = folder / f"{name}.json"
        if card_path.is_file():
            card = read_card(card_path)
            return ZooModel(name, card, card_path, folder / str(card["weights"]))
    return None


def get_model(name: str) -> ZooModel:
    """The zoo entry `name`; CheckpointError listing the zoo when there is none."""
    entry = find_model(str(name))
    if entry is None:
        known = ", ".join(m.name for m in list_pretrained()) or "none installed"
        raise CheckpointError(
            f"{name}: no checkpoint, run folder or zoo model of that name (zoo models: {known}; "
            f"folders searched: {', '.join(str(p) for p in search_path())})"
        )
    return entry


def list_pretrained() -> list[ZooModel]:
    """Every zoo entry on the search path (a name shadowed by an earlier folder is listed once), sorted by name."""
    found: dict[str, ZooModel] = {}
    for folder in search_path():
        if not folder.is_dir():
            continue
        for card_path in sorted(folder.glob("*.json")):
            if card_path.stem in found or not NAME_RE.match(card_path.stem) or not _claims_card(card_path):
                continue  # other JSON files may share a user's folder
            card = read_card(card_path)
            found[card_path.stem] = ZooModel(card_path.stem, card, card_path, folder / str(card["weights"]))
    return [found[name] for name in sorted(found)]


def _claims_card(path: Path) -> bool:
    """Whether a JSON file says it is a zoo card (a broken card that says so is then reported, not skipped)."""
    try:
        return CARD_FORMAT.encode() in path.read_bytes()
    except OSError:
        return False


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def read_weights(entry: ZooModel, *, verify: bool = True) -> dict[str, Any]:
    """The state dict (torch tensors as stored: fp16 or fp32) of a zoo entry, its sha256 checked against the card."""
    path = entry.weights_path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"weights file {path}: not found (named by its card {entry.card_path})") from None
    except OSError as exc:
        raise CheckpointError(f"weights file {path}: cannot read ({exc.strerror or exc})") from None
    if verify:
        actual, expected = sha256_bytes(data), str(entry.card["sha256"])
        if actual != expected:
            raise CheckpointError(
                f"weights file {path}: sha256 {actual[:16]}... does not match its card {entry.card_path} "
                f"({expected[:16]}...); the file is damaged or was replaced: publish it again"
            )
    try:
        return load_safetensors(data)
    except Exception as exc:  # safetensors raises its own error types for a damaged header
        raise CheckpointError(f"weights file {path}: not a readable safetensors file ({exc})") from None


def load_state_into(model: Any, entry: ZooModel, *, verify: bool = True, modality: str | None = None) -> Any:
    """Copy a zoo entry's weights into `model` (cast to each parameter's dtype); clear error when they do not fit.
    `modality`: the input `model` was built for, when it is not the entry's own (shared channels are copied)."""
    state = read_weights(entry, verify=verify)
    own = model.state_dict()
    own_modality = entry.config.get("data", {}).get("modality", "depth")
    if modality is not None and modality != own_modality:
        state = adapt_input_channels(state, own, own_modality, modality, where=f"zoo model {entry.name!r}")
    cast = {k: v.to(own[k].dtype) if k in own and v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(cast, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(
            f"weights file {entry.weights_path}: does not fit model {entry.card['model']['name']!r} as built ({first})"
        ) from None
    return model


def load_pretrained(name: str, *, verify: bool = True) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(model in eval mode, training config, card) of the zoo model `name`."""
    entry = get_model(name)
    model = build_model(entry.card["model"]["name"], **entry.card["model"]["kwargs"])
    load_state_into(model, entry, verify=verify)
    return model.eval(), entry.config, entry.card


def build_with_weights(name: str, weights: str, kwargs: dict[str, Any]) -> Any:
    """build_model(name, weights=...): the zoo model's card options as defaults (`kwargs` override), its checked
    weights loaded; train mode, as any built model."""
    zoo = get_model(weights)
    if zoo.card["model"]["name"] != name:
        raise ConfigError(f"zoo model {weights!r} is a {zoo.card['model']['name']!r}, not a {name!r}")
    return load_state_into(build_model(name, **{**zoo.card["model"]["kwargs"], **kwargs}), zoo)


WEIGHTS.register("zoo", build_with_weights)


class ZooStore:
    """The zoo as handseg.loading's model store: a zoo name where a checkpoint path may stand."""

    def claims(self, ref: Any) -> bool:
        """Whether `ref` is spelled like a zoo name and names no existing file or folder."""
        return is_zoo_name(ref)

    def open(self, name: str) -> LoadedModel:
        """The zoo model `name` in eval mode, its training config and card."""
        model, config, card = load_pretrained(name)
        return LoadedModel(model, config, name, card)

    def load_into(self, model: Any, name: str, *, model_name: str, modality: str | None = None) -> None:
        """Copy the zoo model's checked weights into `model`, which must be the same architecture (its input
        channels may be another modality's)."""
        entry = get_model(name)
        other = entry.card["model"]["name"]
        if other != model_name:
            raise CheckpointError(f"zoo model {entry.name!r} is a {other!r}, this config trains {model_name!r}")
        load_state_into(model, entry, modality=modality)


STORES.register("zoo", ZooStore())
