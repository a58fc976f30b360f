"""Band repairs of ours: occluded surfaces joining, depth-neighbour fill, ragged edge dropouts."""

from __future__ import annotations

import numpy as np

from handseg.annotate.config import AnnotateConfig
from handseg.annotate.pipeline import depth_band, nearest_surface
from handseg.annotate.repair import fill_depth_neighbours, fill_edge_dropouts, grow_band


def test_surface_the_band_occludes_joins_only_with_contact_growth() -> None:
    depth = np.full((120, 160), 1.2, np.float32)  # wall, 70 cm behind the object: beyond grow_max_m
    depth[40:80, 40:80] = 0.50  # held object
    depth[50:70, 80:160] = np.linspace(0.75, 0.95, 80, dtype=np.float32)  # forearm from behind it to the border
    depth[50:70, 80:82] = 0.0  # dropouts at the occlusion edge
    cfg = AnnotateConfig(plane_count=0)
    near = nearest_surface(depth, cfg)
    band = depth_band(depth, near, cfg)
    assert not band[60, 100]
    plain = grow_band(depth, band, near, AnnotateConfig(plane_count=0, grow_contact_px=0))
    contact = grow_band(depth, band, near, cfg)
    assert not plain[60, 100] and contact[52:68, 84:158].all()
    assert not contact[10, 10] and not contact[100, 150]  # the wall stays out


def test_depth_neighbours_join_but_a_far_surface_does_not() -> None:
    depth = np.full((60, 80), 1.0, np.float32)
    depth[20:40, 20:40] = 0.50
    depth[20:40, 40:43] = 0.52  # grazing side of the same surface, 2 cm further
    band = np.zeros(depth.shape, bool)
    band[20:40, 20:40] = True
    out = fill_depth_neighbours(depth, band, radius=4, tol_m=0.04)
    assert out[20:40, 40:43].all() and out.sum() == band.sum() + 60
    assert np.array_equal(fill_depth_neighbours(depth, band, radius=0, tol_m=0.04), band)


def test_ragged_dropouts_at_the_edge_are_filled_isolated_ones_are_not() -> None:
    depth = np.full((60, 80), 1.0, np.float32)
    band = np.zeros(depth.shape, bool)
    band[10:50, 10:40] = True
    rng = np.random.default_rng(0)
    ragged = (rng.random(40) < 0.5).nonzero()[0] + 10
    band[ragged, 39] = False  # the band's edge column lost half its pixels
    depth[ragged, 39] = 0.0
    depth[30, 70] = 0.0  # a lone dropout far from the band
    out = fill_edge_dropouts(depth, band, radius=2, share=0.4)
    assert out[ragged[(ragged > 11) & (ragged < 48)], 39].all()
    assert not out[30, 70] and not out[:, 41:].any()
