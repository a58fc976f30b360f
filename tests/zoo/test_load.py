"""Loading zoo models by name: handseg.load_model, build_model(weights=), sha256 checks, search path, init_from."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import handseg
from handseg.cli import main
from handseg.engine.checkpoint import load_model as load_checkpoint_model
from handseg.errors import CheckpointError, ConfigError, DataError
from handseg.models import build_model
from handseg.zoo import find_model, list_pretrained, package_dir


def test_load_model_by_name_matches_the_checkpoint(zoo: Path, tiny_ckpt: Path) -> None:
    model = handseg.load_model("tiny")
    assert not model.training and model.card["name"] == "tiny" and model.card["sha256"]
    assert model.config["data"]["size"] == [64, 48]
    reference, _ = load_checkpoint_model(tiny_ckpt)
    x = torch.randn(1, 1, 48, 64)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))
    from_ckpt = handseg.load_model(tiny_ckpt)  # a run folder works too; it has no card
    assert from_ckpt.card is None and from_ckpt.config["name"] == "tiny_zoo"


def test_build_model_with_zoo_weights(zoo: Path, tiny_ckpt: Path) -> None:
    model = build_model("dense_attention_seg", weights="tiny")  # the card's options are the defaults
    reference, _ = load_checkpoint_model(tiny_ckpt)
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    with pytest.raises(ConfigError, match="zoo model 'tiny' is a 'dense_attention_seg', not a 'fcn8s'"):
        build_model("fcn8s", weights="tiny")
    with pytest.raises(CheckpointError, match=r"tiny\.safetensors: does not fit model"):
        build_model("dense_attention_seg", weights="tiny", k=16)


def test_sha256_mismatch_is_refused(published: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    zoo = tmp_path / "zoo"
    shutil.copytree(published, zoo)
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(zoo))
    weights = zoo / "tiny.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as info:
        handseg.load_model("tiny")
    message = str(info.value)
    assert message.startswith(f"weights file {weights}: sha256 ")
    assert f"does not match its card {zoo / 'tiny.json'}" in message and "\n" not in message
    assert main(["export", "tiny", "--onnx", str(tmp_path / "t.onnx")]) == 1
    err = capsys.readouterr().err
    assert "does not match its card" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t.onnx").exists()
    assert main(["zoo", "verify", "tiny"]) == 1


def test_search_path_order_and_unknown_names(published: Path, tmp_path: Path, monkeypatch) -> None:
    other = tmp_path / "other"
    shutil.copytree(published, other)
    card = json.loads((other / "tiny.json").read_text())
    card["version"] = "shadow"
    (other / "tiny.json").write_text(json.dumps(card))
    (other / "notes.json").write_text('{"not": "a card"}')  # other JSON files are no zoo entries
    monkeypatch.setenv("HANDSEG_ZOO_PATH", os.pathsep.join([str(other), str(published)]))
    assert find_model("tiny").card["version"] == "shadow"
    names = [m.name for m in list_pretrained()]
    assert names.count("tiny") == 1 and "tiny16" in names and "notes" not in names
    assert package_dir() == Path(handseg.__file__).parent / "weights"
    with pytest.raises(CheckpointError, match=r"nosuch: no checkpoint, run folder or zoo model .*zoo models: .*tiny"):
        handseg.load_model("nosuch")


def test_damaged_card_names_the_file(published: Path, tmp_path: Path, monkeypatch) -> None:
    zoo = tmp_path / "zoo"
    shutil.copytree(published, zoo)
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(zoo))
    card = json.loads((zoo / "tiny.json").read_text())
    del card["sha256"]
    (zoo / "tiny.json").write_text(json.dumps(card))
    with pytest.raises(DataError, match=r"tiny\.json: zoo card lacks sha256"):
        handseg.load_model("tiny")
    (zoo / "tiny.json").write_text('{"format": "handseg-zoo-card/1", ')
    with pytest.raises(DataError, match=r"tiny\.json: not a zoo card \(JSONDecodeError"):
        handseg.load_model("tiny")


def test_init_from_a_zoo_name(zoo: Path, tiny_ckpt: Path) -> None:
    from handseg.engine.checkpoint import read_checkpoint
    from handseg.engine.runtime import build_model_from_config

    config = dict(read_checkpoint(tiny_ckpt)["config"], init_from="tiny")
    model = build_model_from_config(config)
    reference, _ = load_checkpoint_model(tiny_ckpt)
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    wrong = dict(config, model={"name": "fcn8s", "backbone": "resnet18", "backbone_width": 8})
    with pytest.raises(CheckpointError, match="zoo model 'tiny' is a 'dense_attention_seg'"):
        build_model_from_config(wrong)
