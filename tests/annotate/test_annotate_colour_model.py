"""The calibrated colour model: fitting, fallback to the HSV test, per-frame adaptation, saving and bad files."""

from __future__ import annotations

import numpy as np
import pytest

from handseg.annotate.colour_model import (
    SIZE,
    ColourModel,
    FrameHistograms,
    adapt,
    bin_index,
    classify,
    load_colour_model,
    log_ratio,
)
from handseg.errors import DataError

SKIN, BLUE, GREEN = (210, 150, 120), (40, 70, 200), (60, 200, 80)


def _pixels(rgb: tuple[int, int, int], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.array(rgb) + rng.normal(0, 5, (n, 1, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def model() -> ColourModel:
    colours = np.concatenate([_pixels(SKIN, 3000, 0), _pixels(BLUE, 3000, 1)])
    return ColourModel.fit(bin_index(colours).ravel(), np.arange(6000) < 3000)


def test_fitted_model_separates_calibrated_colours_and_falls_back_to_hsv(model) -> None:
    skin, blue, green = (bin_index(_pixels(c, 200, 5)).ravel() for c in (SKIN, BLUE, GREEN))
    unsure = np.zeros(200, bool)
    assert (model.llr(skin, unsure) > 1).mean() > 0.95 and (model.llr(blue, unsure) < -1).mean() > 0.95
    assert not model.known[green].any()  # never calibrated: the HSV skin test decides, either way
    assert (model.llr(green, np.ones(200, bool)) > 0).all() and (model.llr(green, unsure) < 0).all()


def test_classify_splits_hand_and_object_pixels(model) -> None:
    pixels = np.concatenate([_pixels(SKIN, 400, 2), _pixels(BLUE, 400, 3)])[:, 0]
    hand = classify(pixels, np.zeros(800, bool), model, rounds=2, weight=1.0)
    assert hand[:400].mean() > 0.95 and hand[400:].mean() < 0.05


def test_adaptation_moves_a_doubtful_colour_to_the_class_around_it() -> None:
    # bins 0..2 of one colour neighbourhood: the calibrated ratio calls bin 2 hand (weakly), but in this frame
    # everything around it is object, so this frame's own histograms pull it over
    bins = np.concatenate([np.full(2000, 1000), np.full(2000, 5000), np.full(300, 5016)])
    llr = np.concatenate([np.full(2000, 3.0), np.full(2000, -3.0), np.full(300, 0.2)]).astype(np.float32)
    assert np.array_equal(adapt(llr, bins, rounds=0, weight=1.0), llr)
    adapted = adapt(llr, bins, rounds=2, weight=1.0)
    assert (adapted[:2000] > 0).all() and (adapted[2000:] < 0).all()


def test_save_load_round_trip_and_bad_files(model, tmp_path) -> None:
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = load_colour_model(path)
    assert np.array_equal(loaded.ratio, model.ratio) and np.array_equal(loaded.known, model.known)
    assert loaded.hand_pixels == 3000 and loaded.ratio.shape == (SIZE,)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.npz: not a colour model"):
        ColourModel.load(bad)
    np.savez(tmp_path / "short.npz", ratio=np.zeros(10, np.float32), known=np.zeros(10, bool), bins=[1, 2, 5],
             sigma=1.0, pixels=[1, 1])  # fmt: skip
    with pytest.raises(DataError, match="short.npz: colour model has bins"):
        ColourModel.load(tmp_path / "short.npz")
    with pytest.raises(DataError, match="missing.npz: colour model file not found"):
        load_colour_model(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="both hand and object"):
        ColourModel.fit(np.zeros(5, np.int64), np.ones(5, bool))


def test_forearm_colours_at_the_image_border_lean_to_hand() -> None:
    doubtful, blue = (bin_index(np.uint8([[c]]))[0, 0] for c in ((150, 90, 140), BLUE))
    ratio = np.zeros(SIZE, np.float32)
    ratio[doubtful], ratio[blue] = -0.3, -4.0  # the calibration saw this colour slightly more on objects
    model = ColourModel(ratio, np.ones(SIZE, bool), 2.0, 1, 1)
    pixels = np.uint8([(150, 90, 140)] * 1200 + [BLUE] * 1200)
    border = np.arange(2400) < 600  # half of the doubtful pixels lie at the image border: a forearm
    skin = np.zeros(2400, bool)
    assert not classify(pixels, skin, model, rounds=0, weight=1.0).any()
    hand = classify(pixels, skin, model, rounds=0, weight=1.0, border=border, border_weight=0.5)
    assert hand[:1200].all() and not hand[1200:].any()


@pytest.mark.parametrize("sigma", [1.5, 2.0])
def test_frame_histograms_give_the_whole_grid_log_ratio_at_the_frame_bins(sigma) -> None:
    rng = np.random.default_rng(7)
    # clusters at the hue ends (it wraps) and at the saturation and value ends (reflected), plus scattered bins
    pixels = np.concatenate([_pixels(c, 500, i) for i, c in enumerate([(250, 5, 8), (255, 0, 40), (3, 3, 3), SKIN])])
    bins = np.concatenate([bin_index(pixels).ravel(), rng.integers(0, SIZE, 300)])
    is_hand = rng.random(len(bins)) < 0.4
    hist = FrameHistograms(bins, sigma)
    assert np.array_equal(hist.total[hist.index[:50]], np.bincount(bins, minlength=SIZE)[bins[:50]])
    hand = hist.counts(is_hand)
    fast = hist.log_ratio(hand, hist.total - hand)[hist.index]
    hand_all = np.bincount(bins[is_hand], minlength=SIZE)
    whole = log_ratio(hand_all, np.bincount(bins, minlength=SIZE) - hand_all, sigma)[bins]
    np.testing.assert_allclose(fast, whole, atol=2e-4)
    assert np.abs(whole).max() > 1  # the test is not trivially near zero


def test_classify_by_bin_and_skin_pairs_matches_the_per_pixel_formula() -> None:
    rng = np.random.default_rng(3)
    pixels = np.concatenate([_pixels(SKIN, 900, 4), _pixels(BLUE, 900, 5), _pixels((150, 90, 140), 600, 6)])[:, 0]
    skin = rng.random(len(pixels)) < 0.3
    border = rng.random(len(pixels)) < 0.25
    model = ColourModel(rng.normal(0, 1, SIZE).astype(np.float32), rng.random(SIZE) < 0.8, 2.0, 1, 1)
    bins = bin_index(pixels[:, None]).ravel()
    hist = FrameHistograms(bins)
    forearm = hist.counts(border)
    llr = model.llr(bins, skin) + np.float32(0.7) * np.take(hist.log_ratio(forearm, hist.total - forearm), hist.index)
    expected = adapt(llr, bins, rounds=2, weight=1.0) > 0
    got = classify(pixels, skin, model, rounds=2, weight=1.0, border=border, border_weight=0.7)
    assert np.array_equal(got, expected) and 0.05 < got.mean() < 0.95
