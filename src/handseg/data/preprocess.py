"""Model inputs from samples: the one place that fixes how depth and color are normalised."""

from __future__ import annotations

import numpy as np

# Depth d (metres, 0 = missing) enters the network as (d - DEPTH_CENTER_M) / DEPTH_SCALE_M, so a missing pixel
# reads as depth 0 (-2.4): no special case, the same in training, prediction, export and streaming.
DEPTH_CENTER_M = 0.6
DEPTH_SCALE_M = 0.25
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def depth_to_input(depth_m: np.ndarray) -> np.ndarray:
    """HxW metres -> 1xHxW float32 network input."""
    depth_m = np.asarray(depth_m, np.float32)
    return ((depth_m - DEPTH_CENTER_M) / DEPTH_SCALE_M)[None]


def color_to_input(color: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> 3xHxW float32 network input (ImageNet normalisation)."""
    rgb = np.asarray(color, np.float32) / 255.0
    return ((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)


def make_input(depth_m: np.ndarray | None, color: np.ndarray | None, modality: str) -> np.ndarray:
    """Stack the channels a model expects: modality is 'depth' (1), 'rgb' (3) or 'rgbd' (4)."""
    if modality == "depth":
        return depth_to_input(depth_m)
    if modality == "rgb":
        return color_to_input(color)
    if modality == "rgbd":
        return np.concatenate([color_to_input(color), depth_to_input(depth_m)])
    raise ValueError(f"unknown modality {modality!r} (depth, rgb or rgbd)")


# The input channels of each modality, in the order make_input stacks them.
CHANNELS = {"depth": ("depth",), "rgb": ("red", "green", "blue"), "rgbd": ("red", "green", "blue", "depth")}


def input_channels(modality: str) -> int:
    """Channels of a modality."""
    return len(CHANNELS[modality])
