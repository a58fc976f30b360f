"""`handseg experiment amodal`: rows train on hand crops, the table has visible/hidden columns and the ETH order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handseg.cli import main
from handseg.experiments.table_report import amodal_order_check


@pytest.mark.slow
def test_quick_amodal_rows_train_on_hand_crops(tmp_path: Path) -> None:
    out, results = tmp_path / "runs", tmp_path / "results"
    argv = ["experiment", "amodal", "--quick", "--workers", "1", "--out", str(out), "--results-dir", str(results),
            "--rows", "unet_ce", "unet_dice_ce", "-q"]  # fmt: skip
    assert main(argv) == 0
    manifest = json.loads((out / "data-amodal" / "manifest.json").read_text())
    assert manifest["generator"]["crop"]["mode"] == "hands" and not (out / "data").exists()
    table = (results / "amodal.md").read_text()
    assert "| visible parts | hidden parts |" in table and "ETH ablation order (U-Net, CE < U-Net, Dice+CE)" in table
    # the header describes crops at the rows' own size and batch, not the segmentation rows' resolution or phases
    assert "hand-centred crops at each row config's size" in table and "read at" not in table
    assert "contour rows" not in table and "batch 8" not in table
    rows = json.loads((results / "amodal.json").read_text())["rows"]
    assert [r["row"]["key"] for r in rows] == ["unet_ce", "unet_dice_ce"]
    assert all("hidden_miou" in r["metrics"] and "visible_miou" in r["metrics"] for r in rows)


def test_amodal_order_check() -> None:
    def row(key: str, miou: float) -> dict:
        return {"row": {"key": key, "label": key}, "metrics": {"miou": miou}}

    rising = [row("unet_ce", 0.1), row("unet_dice_ce", 0.2), row("unet_resnet50_scse_dice_ce", 0.3)]
    assert "holds here (10.00, 20.00, 30.00)" in amodal_order_check(rising)
    assert "does not hold" in amodal_order_check([row("unet_ce", 0.3), row("unet_dice_ce", 0.2)])
    assert "not checked" in amodal_order_check([row("unet_ce", 0.3)])


def test_amodal_data_must_be_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["experiment", "amodal", "--amodal-data", str(tmp_path / "none"), "--out", str(tmp_path / "runs"),
            "--results-dir", str(tmp_path / "res")]  # fmt: skip
    assert main(argv) == 1
    assert "--amodal-data" in capsys.readouterr().err and not (tmp_path / "runs").exists()
