"""handseg.loading: one path from a checkpoint, run folder, store name or ONNX file to a model or a Predictor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomllib

from handseg.errors import CheckpointError, ConfigError
from handseg.loading import (
    BACKENDS,
    RUNTIMES,
    STORES,
    LoadedModel,
    TorchPredictor,
    load_weights_into,
    open_model,
    open_predictor,
)

ROOT = Path(__file__).resolve().parents[1]
MODEL = {"name": "dense_attention_seg", "backbone": "resnet18", "backbone_width": 8, "k": 8}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding best.ckpt of a tiny DenseAttentionSeg (random weights)."""
    import torch

    from handseg.config import validate
    from handseg.models import build_model
    from handseg.utils.io import atomic_torch_save

    config = validate({"name": "tiny", "model": dict(MODEL), "data": {"root": "unused", "size": [32, 24]}})
    torch.manual_seed(0)
    model = build_model(**config["model"])
    run = tmp_path_factory.mktemp("loading") / "run"
    run.mkdir()
    atomic_torch_save({"model": model.state_dict(), "config": config}, run / "best.ckpt")
    return run


class ToyStore:
    """A store whose one name, 'toy-model', stands for the tiny run's checkpoint."""

    def __init__(self, run: Path) -> None:
        self.run = run

    def claims(self, ref: Any) -> bool:
        return ref == "toy-model"

    def open(self, name: str) -> LoadedModel:
        loaded = open_model(self.run)
        return LoadedModel(loaded.model, loaded.config, name, {"name": name, "version": "7"})

    def load_into(self, model: Any, name: str, *, model_name: str, modality: str | None = None) -> None:
        load_weights_into(model, self.run, model_name=model_name, modality=modality)


def test_a_run_folder_and_its_checkpoint_give_the_same_model(run_dir: Path) -> None:
    import torch

    a, b = open_model(run_dir), open_model(run_dir / "best.ckpt")
    assert a.source == b.source == str(run_dir / "best.ckpt") and a.card is None
    assert not a.model.training and a.config["model"]["name"] == "dense_attention_seg"
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key])


def test_a_registered_store_answers_for_its_names_everywhere(run_dir: Path) -> None:
    import torch

    from handseg.models import build_model

    STORES.register("toy", ToyStore(run_dir))
    try:
        loaded = open_model("toy-model")
        assert loaded.card == {"name": "toy-model", "version": "7"} and loaded.source == "toy-model"
        assert isinstance(open_predictor("toy-model"), TorchPredictor)
        fresh = build_model(**loaded.config["model"])
        load_weights_into(fresh, "toy-model", model_name="dense_attention_seg")
        assert torch.equal(fresh.state_dict()["classifier.weight"], loaded.model.state_dict()["classifier.weight"])
    finally:
        STORES.unregister("toy")
    with pytest.raises(CheckpointError, match="toy-model: no checkpoint, run folder or zoo model of that name"):
        open_model("toy-model")


def test_init_weights_of_another_architecture_are_refused(run_dir: Path) -> None:
    from handseg.models import build_model

    with pytest.raises(CheckpointError, match="holds model 'dense_attention_seg', this config trains 'fcn32s'"):
        load_weights_into(build_model("fcn32s", backbone="resnet18", backbone_width=8), run_dir, model_name="fcn32s")


def test_a_depth_model_starts_an_rgbd_model_that_ignores_colour_until_trained(run_dir: Path) -> None:
    import torch

    from handseg.models import build_model

    depth_model = open_model(run_dir).model
    rgbd = build_model(**MODEL, in_channels=4).eval()
    load_weights_into(rgbd, run_dir, model_name="dense_attention_seg", modality="rgbd")
    stem = rgbd.state_dict()["backbone.conv1.weight"]
    assert stem.shape[1] == 4 and torch.count_nonzero(stem[:, :3]) == 0
    torch.manual_seed(1)
    depth = torch.randn(2, 1, 24, 32)
    colour = torch.randn(2, 3, 24, 32) * 5  # any colour: its weights start at zero
    with torch.inference_mode():
        expected = depth_model(depth)
        assert torch.allclose(rgbd(torch.cat([colour, depth], 1)), expected, atol=1e-5)


def test_input_channels_that_cannot_be_adapted_are_refused_by_name(run_dir: Path) -> None:
    from handseg.models import build_model

    with pytest.raises(CheckpointError, match="a depth model shares no input channel with a rgb model"):
        rgb = build_model(**MODEL, in_channels=3)
        load_weights_into(rgb, run_dir, model_name="dense_attention_seg", modality="rgb")
    with pytest.raises(CheckpointError, match=r"best.ckpt: weights do not fit this config's model"):
        load_weights_into(build_model(**MODEL, in_channels=4), run_dir, model_name="dense_attention_seg")


def test_every_graph_backend_is_registered_and_gives_the_labels_of_pytorch(run_dir: Path) -> None:
    from handseg.tasks import get_task

    assert set(RUNTIMES.names()) == set(BACKENDS) - {"auto", "pytorch"}
    torch_predictor = open_predictor(run_dir, threads=1, device="cpu")
    graph = open_predictor(run_dir, "onnxruntime", threads=1)
    assert type(graph).__name__ == "OnnxPredictor" and graph.config == torch_predictor.config
    x = np.random.default_rng(0).standard_normal((1, 1, 24, 32)).astype(np.float32)
    a, b = torch_predictor.logits(x), graph.logits(x)
    np.testing.assert_allclose(a, b, atol=1e-3)
    assert (get_task("segmentation").labels(a) == get_task("segmentation").labels(b)).mean() > 0.99


def test_unknown_backends_and_pytorch_for_an_onnx_file_are_refused(run_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown backend 'tensorrt'"):
        open_predictor(run_dir, "tensorrt")
    with pytest.raises(ConfigError, match="runs with --backend onnxruntime or openvino, not pytorch"):
        open_predictor(run_dir / "model.onnx", "pytorch")


def test_the_import_contracts_ignore_no_imports() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert contracts and all(not contract.get("ignore_imports") for contract in contracts)
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    below = layers[layers.index("handseg.loading") + 1 :]
    assert not any(p in layer for layer in below for p in ("engine", "export", "zoo"))
