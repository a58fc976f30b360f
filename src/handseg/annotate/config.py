"""Parameters of every auto-annotation step in one dataclass, read from and written to YAML."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from handseg.config import read_yaml
from handseg.errors import ConfigError
from handseg.registry import COLOUR_SPLITTERS


@dataclass
class AnnotateConfig:
    """All parameters of the annotation pipeline (see configs/annotate.yaml for what each one does)."""

    # 0. (ours) remove large planes (table, wall) first: RANSAC on inverse depth, which is affine in (u, v) on a plane
    plane_count: int = 2  # planes to look for; 0 = off
    plane_min_share: float = 0.05  # a plane must cover this share of the image to be removed
    plane_min_border: float = 0.1  # ... and this share of the image border (a held box face does not reach it)
    plane_tol_m: float = 0.008  # inlier if |depth - plane depth| < tol_m + tol_rel * depth
    plane_tol_rel: float = 0.01
    plane_iterations: int = 32
    # 0b. (ours) surfaces thicker than a hand or held object (a torso or head nearer than the hand) are left out,
    # like the planes: pixels more than body_radius_m inside their depth-continuous surface, grown back by it
    body_radius_m: float = 0.075  # 0 = off
    # 1. nearest-surface depth band
    min_depth_m: float = 0.1  # valid depth range; pixels outside count as missing
    max_depth_m: float = 3.0
    near_quantile: float = 0.002  # nearest surface = this quantile of valid depth (rejects isolated noise)
    near_min_pixels: int = 150  # ... or the depth of the n-th nearest valid pixel, whichever is farther
    band_m: float = 0.16  # keep pixels up to this far behind the nearest surface
    front_margin_m: float = 0.03  # and up to this far in front of it (closer = flying pixels)
    # 1a. (ours) when no skin-coloured segment (HSV thresholds of step 3, opened) of near_skin_min_px pixels lies in
    # that band, the band starts at the nearest such segment instead: the hand need not be the nearest surface (a
    # torso or table edge nearer than it, a camera over the shoulder); 0 = off (the paper's nearest surface)
    near_skin_min_px: int = 0
    # 1b. (ours) grow the band along depth-continuous surfaces (e.g. a forearm reaching back); 0 = off
    grow_max_m: float = 0.6  # how far behind the nearest surface growth may reach
    grow_jump_m: float = 0.008  # neighbours are connected if their depth differs by < jump_m + jump_rel * depth
    grow_jump_rel: float = 0.02
    grow_min_overlap: int = 50  # a depth-continuous segment joins if it shares this many pixels with the band
    grow_min_share: float = 0.02  # ... and this share of its own pixels (keeps a table or wall out)
    grow_contact_px: int = 8  # also join surfaces with grow_min_overlap pixels this close (Chebyshev) to the band ...
    grow_contact_max_share: float = 0.1  # ... that cover at most this share of the image
    neighbour_fill_px: int = 4  # pixels this close to the band join it if their depth is near the band's there ...
    neighbour_fill_tol_m: float = 0.04  # ... within this many metres of its local mean (0 px = off)
    hole_close_px: int = 5  # pixels without depth inside a closing of the band join it (0 = off)
    edge_fill_px: int = 2  # pixels without depth join the band if their (2 px + 1)^2 window is mostly band (0 = off)
    edge_fill_share: float = 0.4  # ... at least this share of it
    # 2. color-to-depth misalignment repair: a similarity (or integer shift) putting color edges on the band's edges
    align_search_px: int = 8  # search radius in pixels; 0 = no repair
    align_step_px: int = 1
    align_points: int = 600  # outline points used by the sub-pixel fit
    align_subpixel: int = 1  # 1 = fit a sub-pixel similarity (shift, rotation, scale), 0 = integer shift search
    # 3-3c. which colour splitter tells hand from object (handseg.annotate.splitters): "hsv" (3 and 3b),
    # "colour_model" (3c), "auto" (3c when a colour model is given, else 3 and 3b) or a registered one
    colour_splitter: str = "auto"
    # 3. HSV skin thresholds, OpenCV ranges: hue 0..179 (wraps: hue_lo > hue_hi means [hue_lo, 179] + [0, hue_hi])
    hue_lo: int = 170
    hue_hi: int = 25
    sat_lo: int = 30
    sat_hi: int = 200
    val_lo: int = 50
    val_hi: int = 255
    # 3b. (ours) per-frame colour refinement: Gaussian models of this frame's hand and object colours (CIELAB),
    # started from the HSV split, each band pixel re-assigned to the likelier one; rounds = 0 turns it off
    refine_rounds: int = 4
    refine_lightness_weight: float = 0.6  # weight of L against a, b (lighting varies more than chroma)
    refine_min_pixels: int = 200  # both classes need this many pixels to refine
    # 3c. (ours) calibrated colour model (written by `handseg annotate --calibrate`): HSV histograms of labelled
    # hand and object pixels; when set it replaces 3 and 3b, with this frame's own histograms mixed in
    colour_model: str = ""  # path of the .npz; relative paths are relative to the YAML file; "" = off
    colour_adapt_rounds: int = 2  # re-estimate this frame's hand/object histograms this many times; 0 = off
    colour_adapt_weight: float = 1.0  # weight of the frame's own log ratio against the calibrated one
    colour_border_px: int = 12  # band pixels this close to the image border are taken as forearm; 0 = off ...
    colour_border_weight: float = 0.7  # ... and colours common there and rare elsewhere in the band lean to hand
    # 3d. (ours) band pixels within depth_snap_px of the hand/object colour boundary join the side whose surface
    # (mean depth of the sure pixels of each side in a depth_snap_window_px square) they lie on
    depth_snap_px: int = 1  # 0 = off
    depth_snap_window_px: int = 9
    depth_snap_min_step_m: float = 0.005  # only where the two surfaces differ by more than this
    # 4. morphology per mask (elliptic kernels, size in pixels; 0 or 1 = skip)
    hand_open_px: int = 3
    hand_close_px: int = 5
    object_open_px: int = 3
    object_close_px: int = 5
    # 5. contour filter: keep segment s if N(s) > theta and perimeter(s)^2 / N(s) < phi
    theta: int = 40
    phi: float = 150.0
    # 6. band pixels left unlabelled after steps 4-5 that touch a kept segment join it (0 = off)
    fill_unassigned_px: int = 3
    # 2b. (ours, real D400 depth) colour decides the band's depth edges (handseg.annotate.edges): rim pixels within
    # edge_colour_px of the band's edge that look like the background nearby leave it (stereo edge fattening) ...
    edge_colour_px: int = 2  # 0 = off
    edge_colour_radius_px: int = 5  # local colour means: this radius inside the band, 2x + rim outside
    shadow_fill_px: int = 0  # ... and pixels without depth beside the band that look like it join it (stereo shadow)
    # 7. (ours) the held object touches the hand: object segments with no pixel within contact_px of the hand at a
    # depth within contact_m of it are clutter (objects the arm passes over) and become background
    contact_px: int = 4  # 0 = off
    contact_m: float = 0.1

    def __post_init__(self) -> None:
        checks = [
            (0 <= self.min_depth_m < self.max_depth_m, "min_depth_m must be >= 0 and < max_depth_m"),
            (0 <= self.near_quantile < 1, "near_quantile must be in [0, 1)"),
            (self.plane_count >= 0 and self.plane_iterations >= 1, "plane_count >= 0 and plane_iterations >= 1"),
            (0 < self.plane_min_share <= 1, "plane_min_share must be in (0, 1]"),
            (0 <= self.plane_min_border <= 1, "plane_min_border must be in [0, 1]"),
            (self.plane_tol_m >= 0 and self.plane_tol_rel >= 0, "plane_tol_m and plane_tol_rel must be >= 0"),
            (self.near_min_pixels >= 1, "near_min_pixels must be >= 1"),
            (self.band_m > 0, "band_m must be > 0"),
            (self.front_margin_m >= 0, "front_margin_m must be >= 0"),
            (self.near_skin_min_px >= 0, "near_skin_min_px must be >= 0"),
            (self.grow_max_m >= 0 and self.grow_jump_m >= 0 and self.grow_jump_rel >= 0, "grow_* must be >= 0"),
            (self.grow_min_overlap >= 1, "grow_min_overlap must be >= 1"),
            (0 <= self.grow_min_share <= 1, "grow_min_share must be in [0, 1]"),
            (self.hole_close_px >= 0 and self.edge_fill_px >= 0, "hole_close_px and edge_fill_px must be >= 0"),
            (0 < self.edge_fill_share <= 1, "edge_fill_share must be in (0, 1]"),
            (self.neighbour_fill_px >= 0 and self.neighbour_fill_tol_m >= 0, "neighbour_fill_* must be >= 0"),
            (self.align_search_px >= 0 and self.align_step_px >= 1, "align_search_px >= 0 and align_step_px >= 1"),
            (self.align_points >= 30 and self.align_subpixel in (0, 1), "align_points >= 30, align_subpixel 0 or 1"),
            (self.grow_contact_px >= 0 and 0 <= self.grow_contact_max_share <= 1, "grow_contact_* out of range"),
            (0 <= self.hue_lo <= 179 and 0 <= self.hue_hi <= 179, "hue_lo and hue_hi must be in 0..179"),
            (0 <= self.sat_lo <= self.sat_hi <= 255, "need 0 <= sat_lo <= sat_hi <= 255"),
            (0 <= self.val_lo <= self.val_hi <= 255, "need 0 <= val_lo <= val_hi <= 255"),
            (self.theta >= 0 and self.phi > 0, "theta must be >= 0 and phi > 0"),
            (self.refine_rounds >= 0 and self.refine_min_pixels >= 3, "refine_rounds >= 0, refine_min_pixels >= 3"),
            (self.refine_lightness_weight >= 0, "refine_lightness_weight must be >= 0"),
            (self.fill_unassigned_px >= 0, "fill_unassigned_px must be >= 0"),
            (self.colour_adapt_rounds >= 0 and self.colour_adapt_weight >= 0, "colour_adapt_* must be >= 0"),
            (self.colour_border_px >= 0 and self.colour_border_weight >= 0, "colour_border_* must be >= 0"),
            (self.depth_snap_px >= 0 and self.depth_snap_min_step_m >= 0, "depth_snap_* must be >= 0"),
            (self.depth_snap_window_px >= 3, "depth_snap_window_px must be >= 3"),
            (self.edge_colour_px >= 0 and self.shadow_fill_px >= 0, "edge_colour_px and shadow_fill_px must be >= 0"),
            (self.body_radius_m >= 0, "body_radius_m must be >= 0"),
            (self.edge_colour_radius_px >= 1, "edge_colour_radius_px must be >= 1"),
            (self.contact_px >= 0 and self.contact_m > 0, "contact_px must be >= 0 and contact_m > 0"),
        ]
        if self.colour_splitter not in COLOUR_SPLITTERS:
            known = ", ".join(COLOUR_SPLITTERS.names())
            checks.append((False, f"colour_splitter: unknown {self.colour_splitter!r}; known: {known}"))
        for name in ("hand_open_px", "hand_close_px", "object_open_px", "object_close_px"):
            checks.append((getattr(self, name) >= 0, f"{name} must be >= 0"))
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"annotate config: {message}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path | None = None) -> AnnotateConfig:
        """Build from a dict, naming `source` on unknown keys or wrong types."""
        where = f"{source}: " if source else ""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}annotate config must be a mapping, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"{where}unknown annotate option(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if known[key].type == "str":
                if not isinstance(value, str):
                    raise ConfigError(f"{where}{key} must be a string, got {value!r}")
                values[key] = value
                continue
            kind = float if known[key].type == "float" else int
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{where}{key} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"{where}{key} must be a finite number, got {value!r}")
            if kind is int and (float(value) != int(value) or abs(value) >= 2**31):
                raise ConfigError(f"{where}{key} must be an integer below 2**31, got {value!r}")
            values[key] = kind(value)
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{where}{exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> AnnotateConfig:
        """Read a YAML file (the top-level mapping, or its `annotate:` entry)."""
        path = Path(path)
        data = read_yaml(path)
        if isinstance(data, dict) and isinstance(data.get("annotate"), dict):
            data = data["annotate"]
        cfg = cls.from_dict(data, path)
        if cfg.colour_model and not Path(cfg.colour_model).is_absolute():  # relative to the YAML file
            cfg = replace(cfg, colour_model=str(path.parent / cfg.colour_model))
        if cfg.colour_model and not Path(cfg.colour_model).is_file():
            raise ConfigError(f"{path}: colour_model: {cfg.colour_model}: file not found")
        return cfg

    def dump_yaml(self, comment: str = "") -> str:
        """YAML text of this config under an `annotate:` key, with an optional header comment."""
        header = "".join(f"# {line}\n" for line in comment.splitlines())
        return header + yaml.safe_dump({"annotate": self.to_dict()}, sort_keys=False)
