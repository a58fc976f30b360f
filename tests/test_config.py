"""Config loading: inherit, defaults, --set overrides with YAML types, validation errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from handseg.config import apply_overrides, diff_configs, load_config, load_raw, validate
from handseg.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_inherit_merges_child_over_parent(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "model: {name: unet, width: 8}\ntrain: {batch_size: 8, epochs: 3}\n")
    child = write(tmp_path / "child.yaml", "inherit: base.yaml\ntrain: {epochs: 5}\nmodel: {width: 4}\n")
    cfg = load_config(child)
    assert cfg["model"] == {"name": "unet", "width": 4, "in_channels": 1, "num_classes": 3}
    assert cfg["train"]["batch_size"] == 8 and cfg["train"]["epochs"] == 5
    assert cfg["optim"]["lr"] == pytest.approx(1e-3)  # default filled


def test_inherit_cycle_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "inherit: b.yaml\n")
    write(tmp_path / "b.yaml", "inherit: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_raw(tmp_path / "a.yaml")


def test_overrides_are_yaml_typed(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "model: {name: unet}\n")
    cfg = load_config(
        path,
        ["optim.lr=1e-4", "train.max_steps=20", "data.size=[64, 48]", "runtime.compile=true", "model.width=4"],
    )
    assert cfg["optim"]["lr"] == pytest.approx(1e-4) and isinstance(cfg["optim"]["lr"], float)
    assert cfg["train"]["max_steps"] == 20
    assert cfg["data"]["size"] == [64, 48]
    assert cfg["runtime"]["compile"] is True
    assert cfg["model"]["width"] == 4


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("train.batchsize=4", "train.batchsize"),
        ("train.batch_size=four", "train.batch_size"),
        ("train.batch_size=0", "train.batch_size"),
        ("data.modality=thermal", "data.modality"),
        ("task=pose", "task"),
        ("optim.lr=fast", "optim.lr"),
        ("runtime.precision=8", "runtime.precision"),
        ("augment.hflip=2", "augment.hflip"),
        ("model.num_classes=5", "model.num_classes"),
        ("data.crop=face", "data.crop"),
        ("data.crop_margin=5", "data.crop_margin"),
        ("data.forearm=arm", "data.forearm"),
        ("task=amodal data.forearm=ignore", "data.forearm"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, override: str, key: str) -> None:
    path = write(tmp_path / "c.yaml", "model: {name: unet}\n")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(path, override.split())


def test_malformed_override_and_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "model: {name: unet}\n")
    with pytest.raises(ConfigError, match="key=value"):
        load_config(path, ["train.max_steps"])
    bad = write(tmp_path / "bad.yaml", "model: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_amodal_task_derives_channels() -> None:
    cfg = validate(
        {"task": "amodal", "model": {"name": "unet"}, "data": {"modality": "rgb"}, "loss": {"name": "amodal_ce"}}
    )
    assert cfg["model"]["in_channels"] == 3 and cfg["model"]["num_classes"] == 34


def test_hand_crop_option() -> None:
    cfg = validate({"task": "amodal", "model": {"name": "unet"}, "data": {"crop": "hands", "crop_margin": 0.3}})
    assert cfg["data"]["crop"] == "hands" and cfg["data"]["crop_margin"] == 0.3
    assert validate({"model": {"name": "unet"}})["data"]["crop"] is None


def test_diff_ignores_runtime_keys() -> None:
    a = validate({"model": {"name": "unet"}})
    b = apply_overrides(a, ["runtime.devices=2", "data.workers=0", "optim.lr=0.01"])
    assert diff_configs(a, validate(b)) == ["optim.lr: 0.001 -> 0.01"]


def test_override_inside_phase_list() -> None:
    cfg = {"model": {"name": "unet"}, "phases": [{"name": "a"}, {"name": "b", "train": {"max_steps": 9}}]}
    out = apply_overrides(cfg, ["phases.1.train.max_steps=3", "phases.0.loss.name=ce"])
    assert out["phases"][1]["train"]["max_steps"] == 3 and out["phases"][0]["loss"] == {"name": "ce"}
    with pytest.raises(ConfigError, match="out of range"):
        apply_overrides(cfg, ["phases.5.train.max_steps=3"])


def test_phases_are_validated() -> None:
    with pytest.raises(ConfigError, match="train.bogus"):
        validate({"model": {"name": "unet"}, "phases": [{"name": "a"}, {"train": {"bogus": 1}}]})


def test_every_shipped_config_is_valid() -> None:
    folders = ("table2", "table3", "amodal")
    configs = sorted(p for folder in folders for p in (ROOT / "configs" / folder).glob("*.yaml"))
    assert len(configs) >= 2 * (9 + 5), "configs/ lacks Table 2 / amodal rows"
    from handseg.models import list_models

    for path in configs:
        cfg = load_config(path)
        assert cfg["model"]["name"] in list_models(), path
        assert cfg["name"] == path.stem, path
        if path.stem.endswith("_cpu"):
            assert cfg["data"]["size"][0] <= 160 and cfg["train"]["max_steps"], path
