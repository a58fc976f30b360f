"""Every file entry point over generated bad files: manifests, split lists, configs, annotate configs,
checkpoints, ONNX metadata, input images and review files. Each case: one-line error naming the file or key,
exit 1 or 2, no traceback, nothing written."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handseg.data.format import CLASSES, PART_NAMES, DatasetWriter, Intrinsics, Manifest
from handseg.utils.io import atomic_write_png

SETTINGS = settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def write_dataset(root: Path) -> Path:
    """Two 32x24 depth frames with labels and colour, both in train and val."""
    writer = DatasetWriter(root, Manifest(name="t", sensor=Intrinsics(width=32, height=24), has_parts=False))
    for k in range(2):
        depth = np.full((24, 32), 500 + k, np.uint16)
        writer.write(f"f{k}", depth, label=np.zeros((24, 32), np.uint8), color=np.zeros((24, 32, 3), np.uint8))
    writer.finish({"train": ["f0", "f1"], "val": ["f0", "f1"]})
    return root


def dataset_commands(ckpt: Path) -> list[list[str]]:
    """Commands that read the dataset folder `data` (relative to the case's folder)."""
    return [
        ["show", "data", "--out", "sheet.png"],
        ["eval", str(ckpt), "data", "--out", "ev", "--no-progress"],
        ["predict", str(ckpt), "data", "--out", "o", "--no-progress"],
        ["convert", "data", "dst", "--format", "handseg-v1", "--no-progress"],
        ["annotate", "data", "ann", "--quiet"],
    ]


def _valid(field: str, value: Any) -> bool:
    return {
        "classes": lambda v: v == list(CLASSES),
        "part_names": lambda v: (
            isinstance(v, list) and len(v) == len(PART_NAMES) and all(isinstance(x, str) for x in v)
        ),
        "has_color": lambda v: isinstance(v, bool),
        "name": lambda v: isinstance(v, str),
        "generator": lambda v: v is None or isinstance(v, dict),
        "format": lambda v: v == "handseg-v1",
        "sensor": lambda v: False,  # a random JSON value is never a complete sensor entry
    }[field](value)


MANIFEST_FIELDS = ["classes", "part_names", "has_color", "name", "generator", "format", "sensor"]
SENSOR_BAD = {
    "width": [0, -1, "x", None, 1e10, [], 1e300],
    "fx": [0, -5, "x", None, math.nan, math.inf],
    "depth_scale_m": [0, -1, math.nan, math.inf, "x", None, {}],
}


@pytest.mark.parametrize("command", range(5), ids=["show", "eval", "predict", "convert", "annotate"])
@SETTINGS
@given(data=st.data())
def test_manifest_fields(fuzz, tiny_ckpt_file, command, data) -> None:
    field = data.draw(st.sampled_from(MANIFEST_FIELDS), label="field")
    value = data.draw(JSON.filter(lambda v: not _valid(field, v)), label="value")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest_path = write_dataset(root / "data") / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest[field] = value
        manifest_path.write_text(json.dumps(manifest))
        fuzz.run(dataset_commands(tiny_ckpt_file)[command], root, ["manifest.json"])


@pytest.mark.parametrize("key, value", [(k, v) for k, values in SENSOR_BAD.items() for v in values])
def test_manifest_sensor_values(fuzz, tiny_ckpt_file, tmp_path, key, value) -> None:
    manifest_path = write_dataset(tmp_path / "data") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["sensor"][key] = value
    manifest_path.write_text(json.dumps(manifest))
    for argv in dataset_commands(tiny_ckpt_file)[:4]:
        fuzz.run(argv, tmp_path, ["manifest.json"])


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe\x00", b"[]", b"null", b"5", b'"handseg-v1"', b"[" * 100000, b'{"format": "handseg-v1"}', "dir"],
)
def test_manifest_whole_file(fuzz, tiny_ckpt_file, tmp_path, content) -> None:
    manifest_path = write_dataset(tmp_path / "data") / "manifest.json"
    manifest_path.unlink()
    if content == "dir":
        manifest_path.mkdir()
    else:
        manifest_path.write_bytes(content)
    for argv in dataset_commands(tiny_ckpt_file):
        fuzz.run(argv, tmp_path, ["manifest.json"])


@SETTINGS
@given(content=st.binary(max_size=64))
def test_split_file_bytes(fuzz, tiny_ckpt_file, content) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(root / "data")
        (root / "data" / "splits" / "val.txt").write_bytes(b"\xff" + content)  # never valid UTF-8
        fuzz.run(["eval", str(tiny_ckpt_file), "data", "--out", "ev", "--no-progress"], root, ["val.txt"])
        fuzz.run(["show", "data", "--split", "val", "--out", "s.png"], root, ["val.txt"])


BASE_CONFIG = {
    "model": {"name": "unet", "width": 8, "depth": 2},
    "data": {"root": "no-such-data", "size": [32, 24], "workers": 0},
    "train": {"max_steps": 1, "batch_size": 2},
    "runtime": {"accelerator": "cpu"},
}
BAD_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "optim.lr": st.floats(max_value=0.0)
    | st.floats(min_value=10.5)
    | st.just(math.nan)
    | st.text(min_size=1, max_size=3),
    "optim.weight_decay": st.floats(max_value=-1e-9) | st.floats(min_value=1.5) | st.just(math.inf),
    "seed": st.integers(max_value=-1) | st.integers(min_value=2**32) | st.floats(0.1, 0.9),
    "model.width": st.integers(max_value=0) | st.floats(0.1, 0.9) | st.text(min_size=1, max_size=3),
    "model.k": st.integers(),  # unet has no k
    "data.size": st.lists(st.integers(), max_size=3).filter(
        lambda v: not (len(v) == 2 and all(16 <= x <= 4096 for x in v))
    ),
    "augment.crop_scale": st.floats(1.01, 1e6) | st.lists(st.floats(1.01, 9), min_size=2, max_size=2) | st.just([0, 1]),
    "augment.hflip": st.floats(1.01, 1e9) | st.floats(max_value=-1e-9),
    "augment.rotate": st.floats(181, 1e9) | st.floats(max_value=-1e-9),
    "train.batch_size": st.integers(max_value=0),
    "train.max_steps": st.integers(max_value=0) | st.floats(0.1, 0.9),
    "data.workers": st.integers(max_value=-1) | st.integers(min_value=65),
    "runtime.devices": st.integers(max_value=0) | st.integers(min_value=1025),
    "runtime.accelerator": st.text(min_size=1, max_size=5).filter(
        lambda t: t not in ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
    ),
    "data.synthetic": st.integers() | st.text(max_size=3),
    "loss.name": st.text(min_size=1, max_size=6).filter(
        lambda t: t.isidentifier() and t not in ("ce", "dice", "focal")
    ),
}


@SETTINGS
@given(data=st.data())
def test_config_values(fuzz, data) -> None:
    key = data.draw(st.sampled_from(sorted(BAD_KEYS)), label="key")
    value = data.draw(BAD_KEYS[key], label="value")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config: dict[str, Any] = json.loads(json.dumps(BASE_CONFIG))
        node = config
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        (root / "c.yaml").write_text(yaml.safe_dump(config))
        fuzz.run(["train", "c.yaml", "--no-progress"], root, [key])


@pytest.mark.parametrize(
    "text, name",
    [("inherit: 5\n", "inherit"), ("inherit: [1, 2]\n", "inherit"), ("inherit: missing.yaml\n", "missing.yaml"),
     ("inherit: c.yaml\n", "inherit cycle"), ("- a\n- b\n", "c.yaml"), ("a: [\n", "c.yaml"), ("\xff", "c.yaml"),
     ("optim: 5\n", "optim"), ("bogus: 1\n", "bogus")],
)  # fmt: skip
def test_config_files(fuzz, tmp_path, text, name) -> None:
    (tmp_path / "c.yaml").write_bytes(text.encode("latin-1"))
    fuzz.run(["train", "c.yaml", "--no-progress"], tmp_path, [name])


ANNOTATE_BAD = [math.inf, -math.inf, math.nan, "x", [1], {"a": 1}, None, -1, 1e30]


@pytest.mark.parametrize("key", ["theta", "phi", "band_m", "hue_lo", "plane_count", "max_depth_m", "colour_model"])
@pytest.mark.parametrize("value", ANNOTATE_BAD, ids=[repr(v) for v in ANNOTATE_BAD])
def test_annotate_config(fuzz, tmp_path, key, value) -> None:
    if value == 1e30 and key in ("phi", "band_m", "max_depth_m"):
        pytest.skip("a large finite value is allowed here")
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"annotate": {key: value}}))
    fuzz.run(["annotate", "in", "out", "--config", "a.yaml"], tmp_path, [key])


CKPT_CONFIGS = [
    5, None, [], "x", {"model": 5}, {"model": {"name": 5}}, {"model": {}},
    {"model": {"name": "unet"}, "task": "x"}, {"model": {"name": "unet"}, "data": 5},
    {"model": {"name": "unet"}, "data": {"size": [1000000, 1]}}, {"model": {"name": "unet"}, "data": {"modality": "x"}},
    {"model": {"name": "nope"}}, {"model": {"name": "unet", "width": "x"}}, {"model": {"name": "unet", "bogus": 1}},
]  # fmt: skip


@pytest.mark.parametrize("config", CKPT_CONFIGS, ids=[json.dumps(c)[:30] for c in CKPT_CONFIGS])
def test_checkpoint_configs(fuzz, tmp_path, config) -> None:
    import torch

    torch.save({"model": {}, "config": config}, tmp_path / "bad.ckpt")
    write_dataset(tmp_path / "data")
    atomic_write_png(tmp_path / "a.png", np.full((24, 32), 500, np.uint16))
    for argv in (["eval", "bad.ckpt", "data", "--out", "ev"], ["predict", "bad.ckpt", "a.png", "--out", "o"],
                 ["export", "bad.ckpt", "--onnx", "m.onnx"]):  # fmt: skip
        fuzz.run(argv, tmp_path, ["bad.ckpt"])


@SETTINGS
@given(content=st.binary(max_size=200))
def test_checkpoint_bytes(fuzz, content) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bad.ckpt").write_bytes(content)
        fuzz.run(["export", "bad.ckpt", "--onnx", "m.onnx"], root, ["bad.ckpt"])


def _onnx(path: Path, channels: int, metadata: str | None) -> None:
    """An identity 'model' (N x C x H x W in, the same out) with optional handseg metadata."""
    import onnx
    from onnx import TensorProto, helper

    shape = ["N", channels, "H", "W"]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["logits"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, shape)],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if metadata is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = "handseg_config", metadata
    onnx.save(model, str(path))


GOOD_META = {"model": {"name": "unet"}, "task": "segmentation", "data": {"modality": "rgb", "size": [32, 24]}}
ONNX_CASES = [
    (1, None), (1, "not json"), (1, "[1, 2]"), (1, "5"), (1, '{"model": 5}'), (1, "{"), (1, "[" * 100000),
    (1, json.dumps(GOOD_META)),  # rgb config, but the graph takes 1 channel
    (3, json.dumps({**GOOD_META, "data": {"modality": "depth", "size": [32, 24]}})),
    (1, json.dumps({**GOOD_META, "task": "x"})),
]  # fmt: skip


@pytest.mark.parametrize("channels, metadata", ONNX_CASES, ids=[str(m)[:20] for _, m in ONNX_CASES])
def test_onnx_metadata(fuzz, tmp_path, channels, metadata) -> None:
    _onnx(tmp_path / "m.onnx", channels, metadata)
    atomic_write_png(tmp_path / "frames" / "a.png", np.full((24, 32), 500, np.uint16))
    fuzz.run(["predict", "m.onnx", "frames", "--out", "o", "--no-progress"], tmp_path, ["m.onnx"])
    fuzz.run(["stream", "frames", "--onnx", "m.onnx", "--no-progress"], tmp_path, ["m.onnx"])


BAD_ARRAYS = st.one_of(
    st.tuples(st.sampled_from(["int8", "uint8", "int32", "float16", "bool", "complex64"]), st.just((24, 32))),
    st.tuples(st.just("uint16"), st.sampled_from([(32,), (2, 24, 32, 1), (3, 3), (24, 32, 5), (9000, 8)])),
)


@SETTINGS
@given(spec=BAD_ARRAYS, content=st.binary(max_size=64), suffix=st.sampled_from([".png", ".npy", ".tif"]))
def test_predict_inputs(fuzz, tiny_ckpt_file, spec, content, suffix) -> None:
    dtype, shape = spec
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        np.save(root / "arr.npy", np.zeros(shape, dtype))
        (root / f"raw{suffix}").write_bytes(content)
        for name in ("arr.npy", f"raw{suffix}"):
            fuzz.run(["predict", str(tiny_ckpt_file), name, "--out", "o", "--no-progress"], root, [name])


@SETTINGS
@given(content=st.binary(max_size=64) | JSON.map(lambda v: json.dumps(v).encode()))
def test_review_file(fuzz, content) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(root / "data")
        (root / "data" / "review.json").write_bytes(content)
        fuzz.run(["review", "data", "--finalize", "--force"], root, ["review.json"])
