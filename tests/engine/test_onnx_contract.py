"""An exported ONNX file describes its input; the README's plain-onnxruntime example gives `predict`'s labels."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from handseg.cli import main
from handseg.data.preprocess import DEPTH_CENTER_M, DEPTH_SCALE_M
from handseg.utils.io import atomic_write_png, read_png

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_example() -> str:
    """The python block after the `<!-- onnx-example -->` marker in README.md."""
    match = re.search(r"<!-- onnx-example -->\n```python\n(.*?)```", README.read_text(), re.S)
    assert match, "README.md lost its onnx-example block"
    return match.group(1)


def test_export_writes_the_input_contract(trained_run: tuple[Path, dict], tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    assert main(["export", str(trained_run[0]), "--onnx", str(onnx), "--size", "64x48"]) == 0
    meta = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert meta["handseg.modality"] == "depth" and meta["handseg.task"] == "segmentation"
    assert float(meta["handseg.input.depth_center_m"]) == DEPTH_CENTER_M
    assert float(meta["handseg.input.depth_scale_m"]) == DEPTH_SCALE_M
    assert float(meta["handseg.input.missing_depth"]) == 0.0
    assert meta["handseg.input.depth_units"] == "metres"
    assert json.loads(meta["handseg.input.size"]) == [64, 48]
    assert json.loads(meta["handseg.output.classes"]) == ["background", "hand", "object"]
    assert meta["handseg.version"]
    assert "handseg.zoo.name" not in meta  # not a zoo model
    text = README.read_text()
    listed = text[text.index("**The input contract in the ONNX metadata**") : text.index("<!-- onnx-example -->")]
    keys = re.findall(r"`(handseg\.[a-z_.]+)`", listed)
    assert len(keys) > 15
    for key in keys:
        if key.startswith(("handseg.input.color", "handseg.output.part", "handseg.zoo")):
            continue  # keys of colour, amodal and zoo models
        assert key in meta, f"README lists {key} but the export lacks it"


def test_contract_of_rgb_amodal_and_zoo_models() -> None:
    from handseg.export.contract import input_contract

    config = {"task": "amodal", "data": {"modality": "rgb", "size": [128, 128]}}
    meta = input_contract(config, {"name": "x", "version": 2})
    assert json.loads(meta["handseg.input.channels"]) == ["red", "green", "blue"]
    assert "handseg.input.depth_center_m" not in meta
    assert len(json.loads(meta["handseg.output.part_names"])) == 17
    assert len(json.loads(meta["handseg.input.color_mean"])) == 3
    assert (meta["handseg.zoo.name"], meta["handseg.zoo.version"]) == ("x", "2")


def test_readme_onnxruntime_example_reproduces_predict(
    trained_run: tuple[Path, dict], tiny_dataset: Path, tmp_path: Path
) -> None:
    code = _readme_example()
    assert "handseg" not in re.sub(r"\"handseg\.[a-z_.]+\"|\(handseg\.[a-z_.]+\)", "", code)  # no handseg import
    work = tmp_path / "work"
    work.mkdir()
    assert main(["export", str(trained_run[0]), "--onnx", str(work / "model.onnx"), "--size", "64x48"]) == 0
    # A frame at another size than the training size (64x48), so both resizes of the contract are exercised.
    depth = cv2.resize(read_png(tiny_dataset / "depth" / "f001.png"), (90, 70), interpolation=cv2.INTER_NEAREST)
    atomic_write_png(work / "depth.png", depth)
    script = code + "\nnp.save('labels.npy', labels)\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-c", script], cwd=work, env=env, check=True, timeout=120)
    ours = np.load(work / "labels.npy")
    out = tmp_path / "pred"
    assert main(["predict", str(work / "model.onnx"), str(work / "depth.png"), "--out", str(out), "--no-progress"]) == 0
    theirs = read_png(out / "label" / "depth.png")
    assert ours.shape == theirs.shape == (70, 90)
    assert set(np.unique(theirs)) >= {1, 2}  # the model finds the hand and the object, so the check means something
    assert (ours == theirs).mean() > 0.999
