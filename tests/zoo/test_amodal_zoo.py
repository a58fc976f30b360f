"""An amodal zoo model is loadable by name in eval, predict, export and stream (two 17-channel part maps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handseg.cli import main
from handseg.utils.io import read_png


@pytest.fixture(scope="module")
def amodal_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 64x64 hand crops with amodal and visible part maps."""
    from handseg.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("amodal_zoo_data") / "crops"
    generate_dataset(root, 4, seed=5, size=(64, 64), crop="hands", render_size=(160, 120), val_fraction=0.5)
    return root


def publish_tiny(data: Path, folder: Path, modality: str) -> Path:
    """An untrained tiny scSE U-Net for `modality` published as 'tinyparts' (fp16) into folder/zoo."""
    import torch

    from handseg.config import validate
    from handseg.models import build_model
    from handseg.utils.io import atomic_torch_save
    from handseg.zoo import publish

    config = validate(
        {
            "name": "tinyparts",
            "task": "amodal",
            "model": {"name": "unet_resnet50_scse", "backbone": "resnet18", "backbone_width": 8,
                      "decoder_channels": [16, 16, 8, 8, 8]},
            "data": {"root": str(data), "modality": modality, "size": [64, 64], "workers": 0},
            "loss": {"name": "amodal_dice_ce"},
            "train": {"batch_size": 2, "max_steps": 1},
            "runtime": {"accelerator": "cpu"},
        }
    )  # fmt: skip
    torch.manual_seed(0)
    model = build_model(config["model"]["name"], **{k: v for k, v in config["model"].items() if k != "name"})
    atomic_torch_save({"model": model.state_dict(), "config": config, "step": 1}, folder / "best.ckpt")
    card = publish(folder / "best.ckpt", name="tinyparts", out=folder / "zoo", fp16=True)
    assert card["task"] == "amodal" and card["dtype"] == "fp16"
    return folder / "zoo"


@pytest.fixture()
def amodal_zoo(amodal_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An untrained tiny depth scSE U-Net published as 'tinyparts' into a zoo on HANDSEG_ZOO_PATH."""
    zoo = publish_tiny(amodal_data, tmp_path, "depth")
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(zoo))
    monkeypatch.chdir(tmp_path)
    return zoo


def test_amodal_model_by_name_in_eval_predict_export_stream(amodal_zoo: Path, amodal_data: Path, tmp_path: Path):
    assert main(["eval", "tinyparts", str(amodal_data), "--out", "ev", "--worst", "1", "-q"]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert {"miou", "hidden_miou", "visible_miou"} <= set(metrics)

    assert main(["predict", "tinyparts", str(amodal_data), "--out", "pred", "-q"]) == 0
    left = sorted((tmp_path / "pred" / "parts").glob("*_l.png"))
    assert len(left) == 4 and read_png(left[0]).shape == (64, 64) and read_png(left[0]).max() <= 16

    assert main(["export", "tinyparts", "--onnx", "parts.onnx", "--size", "64x64"]) == 0
    import onnxruntime as ort

    session = ort.InferenceSession(str(tmp_path / "parts.onnx"), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 1, 64, 64), np.float32)})[0]
    assert logits.shape == (1, 34, 64, 64)

    args = ["stream", str(amodal_data), "--ckpt", "tinyparts", "--max-frames", "2", "--out", "s", "--labels", "-q"]
    assert main(args) == 0
    assert len(list((tmp_path / "s" / "labels").glob("*_r.png"))) == 2


def test_amodal_showcase_scores_and_draws_fresh_crops(amodal_zoo: Path, tmp_path: Path) -> None:
    from handseg.experiments.demo_report import amodal_section
    from handseg.experiments.showcase import amodal_showcase
    from handseg.utils.io import read_png

    result = amodal_showcase(tmp_path / "show", "tinyparts", frames=2, render_size=(160, 120), pictures=2)
    assert result["frames"] == 2 and 0.0 <= result["miou"] <= 1.0 and len(result["per_part"]) == 16
    picture = read_png(tmp_path / "show" / "amodal.png")
    assert picture.shape[0] > 2 * 2 * 64 * 2  # two frames, each two hands of 2x-enlarged 64x64 panels, legends
    section = amodal_section(result)
    assert "hidden %" in section.tables[0].columns and section.figures[0].path == "zoo/amodal.png"


def test_an_rgbd_amodal_model_gets_colour_in_the_showcase_and_predict(
    amodal_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handseg.experiments.showcase import amodal_showcase

    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(publish_tiny(amodal_data, tmp_path, "rgbd")))
    monkeypatch.chdir(tmp_path)
    result = amodal_showcase(tmp_path / "show", "tinyparts", frames=2, render_size=(160, 120), pictures=1)
    assert result["frames"] == 2 and (tmp_path / "show" / "amodal.png").is_file()
    assert main(["predict", "tinyparts", str(amodal_data), "--out", "pred", "-q"]) == 0
    assert len(list((tmp_path / "pred" / "parts").glob("*_l.png"))) == 4
    card_md = (tmp_path / "zoo" / "tinyparts.md").read_text()
    assert 'Segmenter("tinyparts").predict(depth_m, color=rgb)' in card_md  # the card's usage passes colour


def test_amodal_card_shows_part_scores(amodal_zoo: Path, tmp_path: Path) -> None:
    from handseg.zoo import update_card

    per_part = [0.5] * 15 + [float("nan")]
    metrics = {"frames": 4, "miou": 0.41, "miou_left": 0.4, "miou_right": 0.42, "visible_miou": 0.45,
               "hidden_miou": 0.2, "hidden_share": 0.15, "per_part": per_part, "visible_per_part": per_part,
               "hidden_per_part": [0.25] * 16}  # fmt: skip
    (tmp_path / "m.json").write_text(json.dumps(metrics).replace("NaN", "null"))
    update_card("tinyparts", metrics={"synthetic": tmp_path / "m.json"})
    md = (amodal_zoo / "tinyparts.md").read_text()
    assert "| data | frames | part mIoU | left hand | right hand | visible parts | hidden parts |" in md
    assert "| synthetic | 4 | 41.00 % | 40.00 % | 42.00 % | 45.00 % | 20.00 % | 15.00 % |" in md
    assert "| hidden parts | 25.0 | 25.0 |" in md and "| all part pixels | 50.0 |" in md and "| — |" in md
    assert "2xHxW uint8 part maps: left, right" in md


def test_the_shipped_depth_model_starts_an_rgbd_model_by_name() -> None:
    """init_from: amodal-depth in an rgbd config: colour weights start at zero, the outputs are the depth model's."""
    import torch

    from handseg.loading import load_weights_into, open_model
    from handseg.models import build_model

    depth = open_model("amodal-depth")
    kwargs = {k: v for k, v in depth.config["model"].items() if k not in ("name", "in_channels")}
    rgbd = build_model("unet_resnet50_scse", **kwargs, in_channels=4).eval()
    load_weights_into(rgbd, "amodal-depth", model_name="unet_resnet50_scse", modality="rgbd")
    torch.manual_seed(0)
    x = torch.randn(1, 4, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(rgbd(x), depth.model.float()(x[:, 3:]), atol=1e-4)
