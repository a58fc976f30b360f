"""`handseg zoo card NAME --logit-bias`: the offset reaches every load by name, stale metrics go, weights stay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import handseg
from handseg.cli import main


def test_logit_bias_on_a_card_changes_the_decision_not_the_weights(
    published: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    zoo = tmp_path / "zoo"
    shutil.copytree(published, zoo)
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(zoo))
    (tmp_path / "m.json").write_text(json.dumps({"frames": 2, "miou_hand_object": 0.5, "iu": [0.9, 0.6, 0.4]}))
    assert main(["zoo", "card", "tiny", "--metrics", f"synthetic={tmp_path / 'm.json'}"]) == 0
    before = handseg.load_model("tiny")
    sha = json.loads((zoo / "tiny.json").read_text())["sha256"]
    x = torch.randn(1, 1, 48, 64)

    assert main(["zoo", "card", "tiny", "--logit-bias", "0,-1.5,-1.5"]) == 0
    card = json.loads((zoo / "tiny.json").read_text())
    assert card["model"]["kwargs"]["logit_bias"] == [0.0, -1.5, -1.5] == card["config"]["model"]["logit_bias"]
    assert card["metrics"] == {} and card["sha256"] == sha  # figures of the old decision are gone, weights kept
    assert "logit_bias" in (zoo / "tiny.md").read_text()
    after = handseg.load_model("tiny")
    with torch.no_grad():
        diff = (after(x) - before(x))[0, :, 0, 0]
    assert diff.tolist() == pytest.approx([0.0, -1.5, -1.5], abs=1e-5)
    assert main(["zoo", "verify", "tiny"]) == 0

    assert main(["zoo", "card", "tiny", "--logit-bias", "0,1"]) == 1  # wrong length: refused, card unchanged
    assert "3 output channels" in capsys.readouterr().err
    assert json.loads((zoo / "tiny.json").read_text()) == card
    assert main(["zoo", "card", "tiny", "--logit-bias", "0,a,1"]) == 1
    assert (
        main(["zoo", "card", "tiny", "--logit-bias", "0,-1,-1", "--metrics", f"synthetic={tmp_path / 'm.json'}"]) == 1
    )
    assert "measured again" in capsys.readouterr().err

    assert main(["zoo", "card", "tiny", "--logit-bias", "none"]) == 0
    assert "logit_bias" not in json.loads((zoo / "tiny.json").read_text())["model"]["kwargs"]
    with torch.no_grad():
        assert torch.allclose(handseg.load_model("tiny")(x), before(x))
