"""The input/output contract of a model as flat string metadata (ONNX metadata_props, zoo cards).

Every value is a string (ONNX metadata is string to string); lists and numbers are JSON. The constants come from
handseg.data.preprocess, the one place that fixes the normalisation, so a contract cannot drift from the code.
"""

from __future__ import annotations

import json
from typing import Any

from handseg import __version__
from handseg.data.preprocess import DEPTH_CENTER_M, DEPTH_SCALE_M, IMAGENET_MEAN, IMAGENET_STD
from handseg.tasks import get_task

PREFIX = "handseg."
CHANNELS = {"depth": ["depth"], "rgb": ["red", "green", "blue"], "rgbd": ["red", "green", "blue", "depth"]}


def input_contract(config: dict[str, Any], zoo: dict[str, Any] | None = None) -> dict[str, str]:
    """Metadata keys (all prefixed 'handseg.') describing how to feed the model and read its output."""
    data = config.get("data") or {}
    modality = data.get("modality", "depth")
    task = config.get("task", "segmentation")
    width, height = data.get("size", [640, 480])
    meta: dict[str, Any] = {
        "version": __version__,
        "task": task,
        "modality": modality,
        "input.layout": "NCHW float32",
        "input.channels": CHANNELS[modality],
        "input.size": [int(width), int(height)],  # the training size [width, height]; the graph takes any size
        "input.resize": "resize each frame to input.size (depth: nearest, colour: area), "
        "then resize the logits back to the frame's size (bilinear) before the argmax",
    }
    if modality in ("depth", "rgbd"):
        meta |= {
            "input.depth_units": "metres",
            "input.depth_formula": "(depth_m - depth_center_m) / depth_scale_m",
            "input.depth_center_m": DEPTH_CENTER_M,
            "input.depth_scale_m": DEPTH_SCALE_M,
            "input.missing_depth": 0.0,  # depth_m of a pixel without a measurement, before the formula
        }
    if modality in ("rgb", "rgbd"):
        meta |= {
            "input.color_units": "8-bit RGB",
            "input.color_formula": "(rgb / 255 - color_mean) / color_std",
            "input.color_mean": [round(float(v), 6) for v in IMAGENET_MEAN],
            "input.color_std": [round(float(v), 6) for v in IMAGENET_STD],
        }
    meta |= get_task(task).output_metadata()
    for key in ("name", "version"):
        if zoo and zoo.get(key) is not None:
            meta[f"zoo.{key}"] = zoo[key]
    return {PREFIX + key: value if isinstance(value, str) else json.dumps(value) for key, value in meta.items()}
