"""The fast band repairs and registration give the same pixels as plain whole-image formulas."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from handseg.annotate.align import _lower_quartile, _median, _solve, warp_crop
from handseg.annotate.config import AnnotateConfig
from handseg.annotate.pipeline import nearest_surface
from handseg.annotate.repair import (
    _on_plane,
    ellipse,
    fill_depth_holes,
    fill_depth_neighbours,
    find_planes,
    grow_band,
)


def _scene(seed: int, h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Depth with a table plane, a box touching the left border, dropouts; and a band of the box and a blob."""
    rng = np.random.default_rng(seed)
    yy = np.mgrid[:h, :w][0].astype(np.float32)
    depth = (1 / (1 / 1.5 + yy / h * (1 / 0.5 - 1 / 1.5))).astype(np.float32)
    depth[20:60, 0:50] = 0.45 + rng.normal(0, 0.01, (40, 50)).astype(np.float32)
    depth[30:50, 70:100] = 0.5
    depth[rng.random((h, w)) < 0.15] = 0.0  # dropouts
    band = np.zeros((h, w), bool)
    band[20:60, 0:50] = True
    band[30:50, 70:100] = True
    band &= depth > 0
    return depth, band


def _box_mean_reference(depth: np.ndarray, band: np.ndarray, radius: int, tol_m: float) -> np.ndarray:
    """fill_depth_neighbours as whole-box filters (the original formula)."""
    x, y, w, h = cv2.boundingRect(band.view(np.uint8))
    m = 2 * radius
    box = slice(max(y - m, 0), y + h + m), slice(max(x - m, 0), x + w + m)
    b, d = band[box], depth[box]
    ring = cv2.dilate(b.view(np.uint8), ellipse(2 * radius + 1)).view(bool) & ~b & (d > 0)
    fg = b.astype(np.float32)
    window = (4 * radius + 1, 4 * radius + 1)
    count = cv2.boxFilter(fg, -1, window, normalize=False)
    mean = cv2.boxFilter(d * fg, -1, window, normalize=False) / np.maximum(count, 1)
    out = band.copy()
    out[box] |= ring & (cv2.absdiff(d, mean) < tol_m)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_neighbour_fill_matches_box_filters(seed) -> None:
    depth, band = _scene(seed)
    depth[band & (np.random.default_rng(seed).random(band.shape) < 0.5)] += 0.03  # some neighbours beyond tol
    for radius, tol in ((2, 0.02), (4, 0.04)):
        assert np.array_equal(
            fill_depth_neighbours(depth, band, radius, tol), _box_mean_reference(depth, band, radius, tol)
        )


@pytest.mark.parametrize("seed", [0, 3])
def test_hole_fill_in_the_band_box_matches_a_whole_image_closing(seed) -> None:
    depth, band = _scene(seed)
    for size in (3, 7, 8):
        closed = cv2.morphologyEx(band.view(np.uint8), cv2.MORPH_CLOSE, ellipse(size)).view(bool)
        assert np.array_equal(fill_depth_holes(depth, band, size), band | (closed & (depth <= 0)))
    assert fill_depth_holes(depth, np.zeros_like(band), 7).sum() == 0


@pytest.mark.parametrize("coef", [(1e-4, 2e-3, 0.5), (0.0, 0.0, 12.0), (-2e-3, 1e-3, 0.3)])
def test_plane_test_matches_the_per_pixel_formula(coef) -> None:
    depth, _ = _scene(4)
    depth[5, 5] = 0.05  # valid-looking depth below min_depth_m
    cfg = AnnotateConfig()
    vv, uu = np.mgrid[: depth.shape[0], : depth.shape[1]].astype(np.float64)
    with np.errstate(divide="ignore"):
        plane_z = 1.0 / (coef[0] * uu + coef[1] * vv + coef[2])
    expected = (np.abs(plane_z - depth) < cfg.plane_tol_m + cfg.plane_tol_rel * depth) & (depth > cfg.min_depth_m)
    got = _on_plane(depth, np.array(coef), cfg).view(bool)
    assert np.count_nonzero(got != expected) <= 2  # float32 vs float64 rounding at the tolerance's edge only
    assert not got[depth <= cfg.min_depth_m].any()  # coef (0, 0, 12): a plane 8 cm away must not take missing depth


def test_planes_found_on_a_strided_grid_cover_the_table() -> None:
    depth, band = _scene(5, 240, 320)
    planes = find_planes(depth, AnnotateConfig())
    table = ~np.pad(band, 0) & (depth > 0)
    table[20:60, 0:50] = table[30:50, 70:100] = False
    assert planes.dtype == bool and planes.view(np.uint8).max() == 1
    assert planes[table].mean() > 0.95 and not planes[~table].any()


def _grow_reference(depth: np.ndarray, band: np.ndarray, near_m: float, cfg: AnnotateConfig) -> np.ndarray:
    """grow_band with every component's statistics (the original formula)."""
    valid = (depth > cfg.min_depth_m) & (depth <= near_m + cfg.grow_max_m)
    thr = np.float32(cfg.grow_jump_m) + np.float32(cfg.grow_jump_rel) * depth
    jump_x, jump_y = np.abs(np.diff(depth, axis=1)) > thr[:, 1:], np.abs(np.diff(depth, axis=0)) > thr[1:]
    v = valid.copy()
    v[:, 1:] &= ~jump_x
    v[:, :-1] &= ~jump_x
    v[1:] &= ~jump_y
    v[:-1] &= ~jump_y
    count, labels, stats, _ = cv2.connectedComponentsWithStats(v.view(np.uint8), connectivity=4)
    overlap, size = np.bincount(labels[band], minlength=count), stats[:, cv2.CC_STAT_AREA]
    joined = (overlap >= cfg.grow_min_overlap) & (overlap >= cfg.grow_min_share * size)
    if cfg.grow_contact_px > 0:
        near = cv2.dilate(band.view(np.uint8), np.ones((2 * cfg.grow_contact_px + 1,) * 2, np.uint8)).view(bool)
        contact = np.bincount(labels[near & ~band], minlength=count)
        joined |= (contact >= cfg.grow_min_overlap) & (size <= cfg.grow_contact_max_share * depth.size)
    joined[0] = False
    return band | joined[labels]


@pytest.mark.parametrize("contact_px", [0, 8])
def test_growth_matches_the_whole_image_formula(contact_px) -> None:
    cfg = AnnotateConfig(grow_contact_px=contact_px)
    depth, band = _scene(9)
    depth[55:70, 40:128] = np.linspace(0.7, 0.95, 88, dtype=np.float32)  # a forearm behind the box
    band = band & (depth < 0.6)
    assert np.array_equal(grow_band(depth, band, 0.45, cfg), _grow_reference(depth, band, 0.45, cfg))


def test_growth_survives_more_components_than_16_bit_labels() -> None:
    h, w = 384, 384
    depth = np.full((h, w), 0.5, np.float32)
    depth[(np.indices((h, w)).sum(axis=0) % 2) == 1] = 0.0  # a checkerboard: 73k separate valid pixels
    depth[:40, :40] = 0.5
    band = np.zeros((h, w), bool)
    band[:10, :10] = True
    cfg = AnnotateConfig(grow_contact_px=0)
    out = grow_band(depth, band, 0.5, cfg)
    assert np.array_equal(out, _grow_reference(depth, band, 0.5, cfg)) and out[5:35, 5:35].all()


def test_nearest_surface_is_the_quantile_of_the_strided_valid_depth() -> None:
    rng = np.random.default_rng(6)
    cfg = AnnotateConfig()
    for shape in ((480, 640), (37, 53)):
        depth = rng.choice(np.float32([0.0, 0.4, 0.41, 0.9, 5.0]), shape) + rng.normal(0, 0.001, shape).astype(
            np.float32
        )
        depth[depth < 0.05] = 0
        sub = depth[::2, ::2]
        valid = np.sort(sub[(sub > cfg.min_depth_m) & (sub < cfg.max_depth_m)])
        k = min(max(int(cfg.near_quantile * valid.size), cfg.near_min_pixels // 4 - 1, 0), valid.size - 1)
        assert nearest_surface(depth, cfg) == float(valid[k])
    assert nearest_surface(np.zeros((8, 8), np.float32), cfg) is None


def test_warp_crop_matches_opencv_on_three_channels() -> None:
    rng = np.random.default_rng(7)
    color = cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), np.uint8), (5, 5), 0)
    m = cv2.getRotationMatrix2D((80, 60), 0.7, 1.01)
    m[:, 2] += (2.3, -1.6)
    for rows, cols in (
        (slice(10, 90), slice(20, 140)),
        (slice(0, 120), slice(0, 160)),
        (slice(100, 120), slice(0, 30)),
    ):
        shifted = m.copy()
        shifted[:, 2] += m[:, :2] @ (cols.start, rows.start)
        size = (cols.stop - cols.start, rows.stop - rows.start)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        expected = cv2.warpAffine(color, shifted, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        got = warp_crop(color, m, rows, cols)
        assert got.shape == expected.shape and np.abs(got.astype(int) - expected).max() <= 1


def test_registration_statistics_match_numpy() -> None:
    rng = np.random.default_rng(8)
    for n in (7, 8, 33):
        values = rng.integers(0, 50, (20, n)).astype(np.float64)
        assert np.allclose(_median(values, axis=1), np.median(values, axis=1))
        assert np.isclose(_lower_quartile(values[0]), np.percentile(values[0], 25))
    rows, target = rng.normal(size=(200, 5)), rng.normal(size=200)
    k = 0.7 / 0.005
    lhs = np.vstack([rows, [[k, 0, 0, 0, 0], [0, k, 0, 0, 0]]])
    assert np.allclose(_solve(rows, target), np.linalg.lstsq(lhs, np.r_[target, k, 0.0], rcond=None)[0])
