"""docs/extending.md: a toy model, reader, colour splitter and callback added through the public seams only
(registries), each then used by the unchanged commands and APIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from handseg.annotate.config import AnnotateConfig
from handseg.annotate.splitters import ColourCrop, register_colour_splitter
from handseg.cli import main
from handseg.data.format import HandsegDataset, Intrinsics, Sample
from handseg.data.readers import READERS, Reader, register_reader
from handseg.engine.callbacks import CALLBACKS, Callback, register_callback
from handseg.engine.runlog import read_metrics_csv
from handseg.engine.train import train
from handseg.errors import ConfigError
from handseg.export.onnx import export_onnx
from handseg.models import MODELS, build_model, list_models, model_io, register_model
from handseg.registry import COLOUR_SPLITTERS
from handseg.utils.io import atomic_write_png


class ToyNet(nn.Module):
    """A 1x1 convolution: the smallest segmentation model."""

    def __init__(self, in_channels: int = 1, num_classes: int = 3, hidden: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@pytest.fixture
def toy_model() -> Any:
    register_model("toy_net")(ToyNet)
    yield
    MODELS.unregister("toy_net")


def test_add_a_model(toy_model: Any, tmp_path: Path) -> None:
    assert "toy_net" in list_models(task="segmentation")
    in_channels, classes = model_io("toy_net")
    model = build_model("toy_net", in_channels=in_channels, num_classes=classes, hidden=2)
    assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 3, 8, 8)
    report = export_onnx(model, tmp_path / "toy.onnx", in_channels, trace_size=(32, 24))
    assert max(report["max_abs_diff"].values()) < 1e-3


class ToyReader(Reader):
    """A folder holding toy.txt: N frames of constant depth, the left half hand."""

    name = "toy"

    def __init__(self, root: str | Path, skip_bad: bool = False) -> None:
        super().__init__(root, skip_bad)
        self.intrinsics = Intrinsics(width=16, height=12)
        self.ids = [f"t{k}" for k in range(int((self.root / "toy.txt").read_text()))]
        self.has_label = True

    @classmethod
    def detect(cls, root: Path) -> bool:
        return (root / "toy.txt").is_file()

    def load(self, sample_id: str) -> Sample:
        label = np.zeros((12, 16), np.int64)
        label[:, :8] = 1
        depth = np.full((12, 16), 0.5, np.float32)
        return {"id": sample_id, "depth": depth, "color": None, "label": label, "parts": None,
                "intrinsics": self.intrinsics}  # fmt: skip


@pytest.fixture
def toy_reader() -> Any:
    register_reader(priority=1)(ToyReader)
    yield
    READERS.unregister("toy")


def test_add_a_reader(toy_reader: Any, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "toy.txt").write_text("3")
    assert main(["convert", str(src), str(tmp_path / "auto"), "--no-progress"]) == 0  # detected
    assert main(["convert", str(src), str(tmp_path / "out"), "--format", "toy", "--no-progress"]) == 0
    dataset = HandsegDataset(tmp_path / "out", split=None)
    assert len(dataset) == 3 and (dataset[0]["label"][:, :8] == 1).all()


def blue_is_hand(crop: ColourCrop) -> np.ndarray:
    """Hand where blue outweighs red (gloves)."""
    rgb = crop.rgb().astype(np.int16)
    return rgb[..., 2] > rgb[..., 0]


@pytest.fixture
def toy_splitter() -> Any:
    register_colour_splitter("blue_glove")(blue_is_hand)
    yield
    COLOUR_SPLITTERS.unregister("blue_glove")


def test_add_a_colour_splitter(toy_splitter: Any, tmp_path: Path) -> None:
    depth = np.full((64, 80), 1500, np.uint16)  # a far wall (mm) ...
    depth[16:48, 16:64] = 500  # ... and a near block: its left half skin-coloured, its right half blue
    color = np.full((64, 80, 3), 200, np.uint8)
    color[16:48, 16:40], color[16:48, 40:64] = (210, 150, 120), (40, 70, 200)
    atomic_write_png(tmp_path / "in" / "depth" / "f.png", depth)
    atomic_write_png(tmp_path / "in" / "color" / "f.png", color)
    labels = {}
    for name in ("auto", "blue_glove"):
        out = tmp_path / name
        assert main(["annotate", str(tmp_path / "in"), str(out), "--colour-splitter", name, "--quiet"]) == 0
        labels[name] = HandsegDataset(out, split=None)[0]["label"]
        assert AnnotateConfig.load(out / "annotate.yaml").colour_splitter == name  # the run records its splitter
    skin, blue = (slice(18, 46), slice(18, 38)), (slice(18, 46), slice(42, 62))
    assert (labels["auto"][skin] == 1).all() and (labels["auto"][blue] == 2).all()
    assert (labels["blue_glove"][skin] == 2).all() and (labels["blue_glove"][blue] == 1).all()
    (tmp_path / "glove.yaml").write_text("colour_splitter: blue_glove\n")
    assert AnnotateConfig.load(tmp_path / "glove.yaml").colour_splitter == "blue_glove"
    with pytest.raises(ConfigError, match="known: .*blue_glove"):
        AnnotateConfig(colour_splitter="red_glove")


class LossFloor(Callback):
    """Logs the lowest training loss so far (its state resumes with the run)."""

    def __init__(self) -> None:
        self.lowest = float("inf")

    def after_step(self, trainer: Any, logs: dict[str, Any] | None) -> None:
        if logs is not None:
            self.lowest = min(self.lowest, logs["loss"])
            logs["lowest_loss"] = self.lowest

    def state_dict(self) -> dict[str, Any]:
        return {"lowest": self.lowest}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lowest = state["lowest"]


@pytest.fixture
def loss_floor() -> Any:
    register_callback("loss_floor")(LossFloor)
    yield
    CALLBACKS.unregister("loss_floor")


def test_add_a_callback(loss_floor: Any, tiny_dataset: Path, tmp_path: Path, tiny_config: Any) -> None:
    config = {**tiny_config(tiny_dataset, max_steps=4, val_every_steps=0), "callbacks": [{"name": "loss_floor"}]}
    train(config, tmp_path / "run", progress=False)
    rows = [r for r in read_metrics_csv(tmp_path / "run" / "metrics.csv") if r["kind"] == "train"]
    assert rows and all(r["lowest_loss"] == min(q["loss"] for q in rows[: k + 1]) for k, r in enumerate(rows))
