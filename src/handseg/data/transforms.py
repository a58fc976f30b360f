"""Joint augmentation of depth, color, labels and amodal part maps (albumentations 2 plus flips and depth noise).

Every random choice of one sample comes from one integer seed, so a sample's augmentation depends only on
(run seed, epoch, index): the same in any worker process and after a resume. Geometry is applied to all
arrays together: labels, part maps and depth use nearest-neighbour interpolation (no invented classes, no
depths between a surface and a missing pixel), color uses bilinear. Pixels shifted in from outside the
frame are 255 (ignore) in labels, 0 in part maps, 0 (missing) in depth and black in color.
A horizontal flip swaps the left- and right-hand part maps, since a mirrored left hand looks like a right hand.
Visible part maps (`visible_parts`) follow resizes and flips; `Augment` drops them (training does not use them).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from handseg.data.format import IGNORE_INDEX

AUGMENT_KEYS = (
    "crop_scale", "hflip", "vflip", "rotate", "translate", "scale", "color_jitter", "depth_noise_m", "hole_fill"
)  # fmt: skip


def resize_sample(sample: dict[str, Any], size: tuple[int, int]) -> dict[str, Any]:
    """The sample resized to `size` (width, height): nearest for depth/labels/parts, area for color."""
    width, height = size
    out = dict(sample)
    if sample["depth"].shape == (height, width):
        return out
    nearest = cv2.INTER_NEAREST
    out["depth"] = cv2.resize(sample["depth"], (width, height), interpolation=nearest)
    if sample.get("color") is not None:
        out["color"] = cv2.resize(sample["color"], (width, height), interpolation=cv2.INTER_AREA)
    if sample.get("label") is not None:
        out["label"] = cv2.resize(sample["label"].astype(np.uint8), (width, height), interpolation=nearest)
    for key in ("parts", "visible_parts"):
        if sample.get(key) is not None:
            maps = [cv2.resize(p.astype(np.uint8), (width, height), interpolation=nearest) for p in sample[key]]
            out[key] = np.stack(maps)
    return out


def add_depth_noise(depth_m: np.ndarray, std_m: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise (metres) on valid pixels; missing pixels (0) stay 0 and valid ones stay positive."""
    if std_m <= 0:
        return depth_m
    noisy = depth_m + rng.normal(0.0, std_m, depth_m.shape).astype(np.float32)
    return np.where(depth_m > 0, np.maximum(noisy, 1e-4), 0.0).astype(np.float32)


def fill_missing_depth(depth_m: np.ndarray) -> np.ndarray:
    """Every missing pixel (0) takes the depth of its nearest valid pixel; a frame without valid depth stays as is."""
    missing = (depth_m <= 0).astype(np.uint8)
    if not missing.any() or missing.all():
        return depth_m
    nearest = cv2.distanceTransformWithLabels(missing, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)[1]
    values = np.zeros(int(nearest.max()) + 1, np.float32)
    values[nearest[missing == 0]] = depth_m[missing == 0]
    return values[nearest]


def hflip_sample(sample: dict[str, Any], swap_hands: bool = True) -> dict[str, Any]:
    """Mirror every array left-right; the two part maps trade places (left hand <-> right hand)."""
    out = dict(sample)
    for key in ("depth", "color", "label"):
        if sample.get(key) is not None:
            out[key] = np.ascontiguousarray(sample[key][:, ::-1])
    for key in ("parts", "visible_parts"):
        if sample.get(key) is not None:
            parts = sample[key][:, :, ::-1]
            out[key] = np.ascontiguousarray(parts[::-1] if swap_hands else parts)
    return out


def vflip_sample(sample: dict[str, Any]) -> dict[str, Any]:
    """Mirror every array top-bottom."""
    out = dict(sample)
    for key in ("depth", "color", "label"):
        if sample.get(key) is not None:
            out[key] = np.ascontiguousarray(sample[key][::-1])
    for key in ("parts", "visible_parts"):
        if sample.get(key) is not None:
            out[key] = np.ascontiguousarray(sample[key][:, ::-1])
    return out


class Augment:
    """Training-time augmentation to a fixed size, configured by the config's `augment` section."""

    def __init__(self, size: tuple[int, int], params: dict[str, Any] | None = None, swap_hands: bool = True) -> None:
        import albumentations as A  # ~1.6 s to import: only training augments

        self.size = (int(size[0]), int(size[1]))
        self.params = {key: 0.0 for key in AUGMENT_KEYS} | {"crop_scale": None} | dict(params or {})
        unknown = set(self.params) - set(AUGMENT_KEYS)
        if unknown:
            raise ValueError(f"unknown augmentation keys: {sorted(unknown)}")
        self.swap_hands = swap_hands
        width, height = self.size
        p = self.params
        ops: list[Any] = []
        if p["crop_scale"]:
            aspect = width / height
            ops.append(
                A.RandomResizedCrop(
                    size=(height, width),
                    scale=tuple(p["crop_scale"]),
                    ratio=(aspect * 0.9, aspect / 0.9),
                    interpolation=cv2.INTER_LINEAR,
                    mask_interpolation=cv2.INTER_NEAREST,
                )
            )
        else:
            ops.append(A.Resize(height, width, interpolation=cv2.INTER_AREA, mask_interpolation=cv2.INTER_NEAREST))
        if p["rotate"] or p["translate"] or p["scale"]:
            ops.append(
                A.Affine(
                    scale=(1 - p["scale"], 1 + p["scale"]),
                    translate_percent=(-p["translate"], p["translate"]),
                    rotate=(-p["rotate"], p["rotate"]),
                    interpolation=cv2.INTER_LINEAR,
                    mask_interpolation=cv2.INTER_NEAREST,
                    border_mode=cv2.BORDER_CONSTANT,
                    fill=0,
                    fill_mask=IGNORE_INDEX,
                    p=1.0,
                )
            )
        self.color_jitter = p["color_jitter"]
        if self.color_jitter:
            j = self.color_jitter
            ops.append(A.ColorJitter(brightness=j, contrast=j, saturation=j, hue=min(j, 0.5) / 10, p=1.0))
        targets = {"depth": "mask", "label": "mask", "parts_l": "mask", "parts_r": "mask", "outside": "mask"}
        self.compose = A.Compose(ops, additional_targets=targets, seed=0)

    def __call__(self, sample: dict[str, Any], seed: int) -> dict[str, Any]:
        """The augmented sample at the configured size; `seed` fixes every random choice."""
        rng = np.random.default_rng(seed)
        self.compose.set_random_seed(int(rng.integers(2**31)))
        if self.params["hole_fill"] and rng.random() < self.params["hole_fill"]:  # no draw when off: same streams
            sample = dict(sample, depth=fill_missing_depth(sample["depth"]))
        height, width = sample["depth"].shape
        color = sample.get("color")
        image = color if color is not None else np.zeros((height, width, 3), np.uint8)
        data = {"image": image, "depth": sample["depth"], "outside": np.zeros((height, width), np.uint8)}
        if sample.get("label") is not None:
            data["label"] = sample["label"].astype(np.uint8)
        if sample.get("parts") is not None:
            data["parts_l"] = sample["parts"][0].astype(np.uint8)
            data["parts_r"] = sample["parts"][1].astype(np.uint8)
        res = self.compose(**data)
        outside = res["outside"] == IGNORE_INDEX
        out = dict(sample)
        out.pop("visible_parts", None)  # not warped: dropped rather than left misaligned
        out["depth"] = np.where(outside, 0.0, res["depth"]).astype(np.float32)
        out["color"] = res["image"] if color is not None else None
        if sample.get("label") is not None:
            out["label"] = res["label"].astype(np.int64)
        if sample.get("parts") is not None:
            parts = np.stack([res["parts_l"], res["parts_r"]]).astype(np.int64)
            parts[:, outside] = 0
            out["parts"] = parts
        if rng.random() < self.params["hflip"]:
            out = hflip_sample(out, self.swap_hands)
        if rng.random() < self.params["vflip"]:
            out = vflip_sample(out)
        out["depth"] = add_depth_noise(out["depth"], float(self.params["depth_noise_m"]), rng)
        return out
