"""Colour splitters: the step of auto-annotation that tells hand from held object by colour, chosen by name.

A splitter gets a ColourCrop (the band's box of one frame's colour, aligned to depth) and returns which pixels
look like hand. Add one with `@register_colour_splitter("name")`; the annotate config's `colour_splitter` and
`handseg annotate --colour-splitter` then accept the name (see docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from handseg.annotate.colour_model import ColourModel, classify, load_colour_model
from handseg.annotate.config import AnnotateConfig
from handseg.annotate.repair import refine_skin
from handseg.errors import ConfigError
from handseg.registry import COLOUR_SPLITTERS

_RGB = np.dtype((np.void, 3))  # one RGB pixel as a single item


@dataclass(frozen=True)
class ColourCrop:
    """What a colour splitter sees: the band's box of one frame's colour and the band in it."""

    color: np.ndarray  # h x w x 3 (RGB) or x 4 (RGBA, alpha ignored) uint8, aligned to the depth grid
    band: np.ndarray  # bool h x w: the pixels to split (the others are background whatever the splitter says)
    cfg: AnnotateConfig
    rows: slice  # where the box lies in the full image ...
    cols: slice
    image_shape: tuple[int, int]  # ... of this height and width
    model: ColourModel | None = None  # a calibrated colour model given by the caller (else cfg.colour_model)

    def rgb(self) -> np.ndarray:
        """The colour without alpha (h x w x 3)."""
        return self.color if self.color.shape[2] == 3 else cv2.cvtColor(self.color, cv2.COLOR_RGBA2RGB)

    def colour_model(self) -> ColourModel | None:
        """The caller's colour model, else the file named by cfg.colour_model (cached), else None."""
        if self.model is None and self.cfg.colour_model:
            return load_colour_model(self.cfg.colour_model)
        return self.model

    def near_border(self, margin: int) -> np.ndarray:
        """Pixels of the box within `margin` of the full image's border."""
        h, w = self.image_shape
        y = np.arange(self.rows.start, self.rows.stop)[:, None]
        x = np.arange(self.cols.start, self.cols.stop)[None, :]
        return (y < margin) | (y >= h - margin) | (x < margin) | (x >= w - margin)


ColourSplitter = Callable[[ColourCrop], np.ndarray]  # -> bool h x w, True where the pixel looks like hand


def register_colour_splitter(name: str, **info: object) -> Callable[[ColourSplitter], ColourSplitter]:
    """Decorator registering a colour splitter under `name`."""
    return COLOUR_SPLITTERS.register(name, **info)


def split_colours(crop: ColourCrop) -> np.ndarray:
    """Hand-looking pixels of the crop by the splitter the config names."""
    return COLOUR_SPLITTERS.get(crop.cfg.colour_splitter)(crop)


def skin_mask(color: np.ndarray, cfg: AnnotateConfig) -> np.ndarray:
    """Skin-coloured pixels by HSV thresholds (OpenCV hue 0..179; hue_lo > hue_hi wraps around red)."""
    return skin_in_hsv(cv2.cvtColor(color, cv2.COLOR_RGB2HSV), cfg)


def skin_in_hsv(hsv: np.ndarray, cfg: AnnotateConfig) -> np.ndarray:
    """skin_mask of pixels already converted to OpenCV HSV."""
    if cfg.hue_lo <= cfg.hue_hi:
        mask = cv2.inRange(hsv, (cfg.hue_lo, cfg.sat_lo, cfg.val_lo), (cfg.hue_hi, cfg.sat_hi, cfg.val_hi))
    else:
        upper = cv2.inRange(hsv, (cfg.hue_lo, cfg.sat_lo, cfg.val_lo), (179, cfg.sat_hi, cfg.val_hi))
        lower = cv2.inRange(hsv, (0, cfg.sat_lo, cfg.val_lo), (cfg.hue_hi, cfg.sat_hi, cfg.val_hi))
        mask = cv2.bitwise_or(upper, lower)
    return mask.view(bool)


@register_colour_splitter("hsv")
def hsv_split(crop: ColourCrop) -> np.ndarray:
    """The HSV skin thresholds, then this frame's CIELAB hand and object colours (refine_rounds)."""
    rgb = crop.rgb()
    return refine_skin(rgb, crop.band, skin_mask(rgb, crop.cfg), crop.cfg)


def model_split(crop: ColourCrop, model: ColourModel) -> np.ndarray:
    """The calibrated colour model adapted to this frame; the HSV test decides colours it never saw."""
    cfg, band = crop.cfg, crop.band
    channels = crop.color.shape[2]
    item = _RGB if channels == 3 else np.uint32  # whole pixels as single items: a fast gather
    pixels = np.ascontiguousarray(crop.color).view(item)[..., 0][band].view(np.uint8).reshape(1, -1, channels)
    skin = np.zeros(band.shape, bool)
    border = crop.near_border(cfg.colour_border_px)[band] if cfg.colour_border_px else None
    hsv = cv2.cvtColor(pixels, cv2.COLOR_RGB2HSV)  # (alpha ignored) the skin test and the colour model share it
    skin[band] = classify(
        pixels[0], skin_in_hsv(hsv, cfg)[0], model, rounds=cfg.colour_adapt_rounds, weight=cfg.colour_adapt_weight,
        border=border, border_weight=cfg.colour_border_weight, hsv=hsv,
    )  # fmt: skip
    return skin


@register_colour_splitter("colour_model")
def colour_model_split(crop: ColourCrop) -> np.ndarray:
    """The calibrated colour model (annotate option colour_model, written by `handseg annotate --calibrate`)."""
    model = crop.colour_model()
    if model is None:
        raise ConfigError("colour splitter 'colour_model' needs a colour model: set the annotate option colour_model "
                          "(written by handseg annotate --calibrate)")  # fmt: skip
    return model_split(crop, model)


@register_colour_splitter("auto")
def auto_split(crop: ColourCrop) -> np.ndarray:
    """colour_model when a colour model is given, else hsv."""
    model = crop.colour_model()
    return hsv_split(crop) if model is None else model_split(crop, model)
