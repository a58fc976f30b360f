"""Publishing into the zoo: card fields, safetensors round trip (fp32 exact, fp16 close), refusals, card updates."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from handseg.cli import main
from handseg.data.preprocess import DEPTH_CENTER_M, DEPTH_SCALE_M
from handseg.data.synth.generate import GENERATOR_VERSION
from handseg.engine.checkpoint import read_checkpoint
from handseg.errors import ConfigError, DataError, HandsegError, OutputExistsError
from handseg.zoo import load_pretrained, publish


def test_card_holds_what_design_section_8_asks(published: Path, tiny_ckpt: Path, zoo_data: Path) -> None:
    card = json.loads((published / "tiny.json").read_text())
    blob = (published / "tiny.safetensors").read_bytes()
    assert card["name"] == "tiny" and card["version"] == "1" and card["task"] == "segmentation"
    assert card["sha256"] == hashlib.sha256(blob).hexdigest() and card["file_bytes"] == len(blob)
    assert card["dtype"] == "fp32" and card["fp16_check"] is None
    ckpt = read_checkpoint(tiny_ckpt)
    assert card["config"] == json.loads(json.dumps(ckpt["config"]))  # the full training config
    assert card["model"]["name"] == "dense_attention_seg" and card["model"]["kwargs"]["backbone_width"] == 8
    assert card["params"] == sum(v.numel() for k, v in ckpt["model"].items() if "running" not in k and "num_b" not in k)
    inp = card["input"]
    assert inp["modality"] == "depth" and inp["units"] == "metres" and inp["size"] == [64, 48]
    assert inp["missing_depth"] == 0.0
    depth_norm = inp["normalisation"]["depth"]
    assert (depth_norm["center_m"], depth_norm["scale_m"]) == (DEPTH_CENTER_M, DEPTH_SCALE_M)
    assert depth_norm["missing_input"] == pytest.approx(-DEPTH_CENTER_M / DEPTH_SCALE_M)
    training = card["training"]
    assert training["generator_version"] == GENERATOR_VERSION and training["dataset"] == zoo_data.name
    assert training["recipe"] == "tiny_zoo" and training["step"] == 1 and training["command"] is None
    assert card["metrics"] == {"synthetic": None, "synthetic_no_forearm": None, "dexycb": None}
    assert card["latency"] is None
    text = (published / "tiny.md").read_text()
    assert card["sha256"] in text and "(depth_m - 0.6) / 0.25" in text and "64x48" in text


def test_fp32_round_trip_is_exact(published: Path, tiny_ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(published))
    original = read_checkpoint(tiny_ckpt)["model"]
    model, _, _ = load_pretrained("tiny")
    loaded = model.state_dict()
    assert loaded.keys() == original.keys()
    for key, value in original.items():
        assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value), key


def test_fp16_round_trip_within_tolerance(published: Path, tiny_ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(published))
    card = json.loads((published / "tiny16.json").read_text())
    assert card["dtype"] == "fp16"
    assert card["file_bytes"] < 0.55 * json.loads((published / "tiny.json").read_text())["file_bytes"]
    check = card["fp16_check"]
    assert check["frames"] >= 3 and check["size"] == [64, 48] and 0.995 <= check["pixel_agreement"] <= 1.0
    original = read_checkpoint(tiny_ckpt)["model"]
    model, _, _ = load_pretrained("tiny16")
    for key, value in model.state_dict().items():
        assert value.dtype == original[key].dtype, key  # computed in fp32 again
        if value.is_floating_point():
            torch.testing.assert_close(value, original[key], rtol=1e-3, atol=1e-4)
        else:
            assert torch.equal(value, original[key]), key


def test_fp16_refused_when_labels_change(tiny_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import handseg.zoo.publishing as module

    monkeypatch.setattr(module, "FP16_MIN_AGREEMENT", 1.01)  # unreachable: every fp16 model must be refused
    with pytest.raises(HandsegError, match="fp16 weights change the labels"):
        publish(tiny_ckpt, name="half", out=tmp_path, fp16=True)
    assert list(tmp_path.iterdir()) == []


def test_refuses_files_over_the_size_limit(tiny_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import handseg.zoo.publishing as module

    monkeypatch.setattr(module, "MAX_BYTES", 1_000_000)
    with pytest.raises(HandsegError, match=r"would be 4\.\d MB, over the zoo's 1 MB limit \(try --fp16\)"):
        publish(tiny_ckpt, name="big", out=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_no_overwrite_without_force_and_bad_names(tiny_ckpt: Path, tmp_path: Path) -> None:
    publish(tiny_ckpt, name="m", out=tmp_path)
    first = (tmp_path / "m.json").read_text()
    with pytest.raises(OutputExistsError, match="pass --force"):
        publish(tiny_ckpt, name="m", out=tmp_path, version="2")
    assert (tmp_path / "m.json").read_text() == first
    card = publish(tiny_ckpt, name="m", out=tmp_path, version="2", force=True)
    assert card["version"] == "2" and json.loads((tmp_path / "m.json").read_text())["version"] == "2"
    for bad in ("Das-RT", "das.rt", "a/b", "-x", ""):
        with pytest.raises(ConfigError, match="zoo name"):
            publish(tiny_ckpt, name=bad, out=tmp_path)


def test_card_json_merged_and_protected_keys_refused(tiny_ckpt: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra.json"
    extra.write_text(
        json.dumps(
            {
                "metrics": {"synthetic": {"miou_hand_object": 0.81, "frames": 100}},
                "latency": {"cpu_320x240_ms": 12.5},
                "training": {"command": "handseg train configs/realtime_cpu.yaml"},
                "description": "Real-time DenseAttentionSeg.",
            }
        )
    )
    card = publish(tiny_ckpt, name="m", out=tmp_path / "zoo", card_json=extra)
    assert card["metrics"]["synthetic"] == {"miou_hand_object": 0.81, "frames": 100}
    assert card["metrics"]["synthetic_no_forearm"] is None and card["metrics"]["dexycb"] is None
    assert card["latency"] == {"cpu_320x240_ms": 12.5}
    assert card["training"]["command"] == "handseg train configs/realtime_cpu.yaml"
    assert card["training"]["step"] == 1  # merged, not replaced
    md = (tmp_path / "zoo" / "m.md").read_text()
    assert "81.00 %" in md and "Real-time DenseAttentionSeg." in md and "handseg train configs/realtime_cpu" in md
    extra.write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(DataError, match=r"extra\.json: may not set sha256"):
        publish(tiny_ckpt, name="n", out=tmp_path / "zoo", card_json=extra)
    extra.write_text(json.dumps({"metrics": {"real": {}}}))
    with pytest.raises(DataError, match="unknown set"):
        publish(tiny_ckpt, name="n", out=tmp_path / "zoo", card_json=extra)


def test_cli_publish_card_update_and_listing(tiny_ckpt: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    zoo = tmp_path / "zoo"
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(zoo))
    assert main(["zoo", "publish", str(tiny_ckpt), "--name", "das-test", "--out", str(zoo), "--fp16"]) == 0
    out = capsys.readouterr().out
    assert "das-test.safetensors" in out and "fp16" in out and "% of pixels" in out
    metrics = tmp_path / "metrics.json"  # as `handseg eval` writes it
    metrics.write_text(json.dumps({"miou_hand_object": 0.7512, "mean_iu": 0.8, "frames": 12, "confusion": [[1]]}))
    assert main(["zoo", "card", "das-test", "--metrics", f"dexycb={metrics}"]) == 0
    card = json.loads((zoo / "das-test.json").read_text())
    assert card["metrics"]["dexycb"] == {"miou_hand_object": 0.7512, "mean_iu": 0.8, "frames": 12}
    assert card["metrics"]["synthetic"] is None
    assert "75.12 %" in (zoo / "das-test.md").read_text()
    capsys.readouterr()
    assert main(["models", "--pretrained"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("das-test"))
    assert row.split() == ["das-test", "segmentation", "depth", "64x48", "0.99", "2.0", "fp16", "-", "-", "75.1"]
    assert main(["zoo", "card", "das-test", "--metrics", "real=x.json"]) == 1
    assert "metrics set 'real'" in capsys.readouterr().err
    assert main(["zoo", "verify"]) == 0


def test_card_shows_the_scores_per_scene_family(tiny_ckpt: Path, tmp_path: Path, monkeypatch) -> None:
    zoo = tmp_path / "zoo"
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(zoo))
    assert main(["zoo", "publish", str(tiny_ckpt), "--name", "das-fam", "--out", str(zoo)]) == 0
    metrics = tmp_path / "metrics.json"  # as `handseg eval` writes it for synthetic frames
    group = {"miou_hand_object": 0.4321, "frames": 3, "confusion": [[1, 0], [0, 1]]}
    metrics.write_text(
        json.dumps(
            {
                "miou_hand_object": 0.5,
                "frames": 5,
                "group_by": "family",
                "groups": {"tabletop": group, "closeup": {**group, "miou_hand_object": 0.6}},
            }
        )
    )
    assert main(["zoo", "card", "das-fam", "--metrics", f"synthetic={metrics}"]) == 0
    card = json.loads((zoo / "das-fam.json").read_text())
    assert card["metrics"]["synthetic"]["groups"]["tabletop"] == {"miou_hand_object": 0.4321, "frames": 3}
    text = (zoo / "das-fam.md").read_text()
    assert "By family, synthetic:" in text and "| tabletop | 3 | 43.21 %" in text and "| closeup | 3 | 60.00 %" in text
