"""A calibrated hand-vs-object colour model: HSV histograms of labelled pixels, adapted to each frame's colours."""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from handseg.errors import DataError
from handseg.utils.io import atomic_write_bytes

BINS = (45, 32, 16)  # hue (4 OpenCV units per bin), saturation (8), value (16)
SIZE = BINS[0] * BINS[1] * BINS[2]
CLIP = 6.0  # log-likelihood ratios are clipped to +-CLIP: no single colour is certain
FALLBACK = 2.0  # |log ratio| given to colours the calibration never saw, signed by the HSV skin test
MIN_PIXELS = 200  # per-frame adaptation needs this many pixels of each class
FRAME_SIGMA = 1.5  # smoothing (bins) of one frame's histograms


def hsv_bins(hsv: np.ndarray) -> np.ndarray:
    """Histogram bin (int32) of OpenCV HSV values (... x 3 uint8): hue // 4, saturation // 8, value // 16."""
    h, s, v = hsv[..., 0] >> 2, hsv[..., 1] >> 3, hsv[..., 2] >> 4
    return (h.astype(np.int32) << 9) | (s.astype(np.int32) << 4) | v  # (h * BINS[1] + s) * BINS[2] + v


def bin_index(color: np.ndarray) -> np.ndarray:
    """Histogram bin (int32 HxW) of every RGB pixel."""
    return hsv_bins(cv2.cvtColor(np.ascontiguousarray(color), cv2.COLOR_RGB2HSV))


def smooth_histograms(counts: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (in bins) of k flat histograms (k x SIZE) over the 3-D HSV grid; hue wraps around."""
    k = counts.shape[0]
    hist = counts.reshape(k, *BINS).astype(np.float32)
    if sigma <= 0:
        return hist.reshape(k, SIZE)
    pad = int(np.ceil(3 * sigma))
    ksize = 2 * pad + 1
    # hue x saturation as an image with one channel per (histogram, value bin) ...
    image = np.ascontiguousarray(hist.transpose(1, 2, 0, 3)).reshape(BINS[0], BINS[1], k * BINS[2])
    wrapped = np.concatenate([image[-pad:], image, image[:pad]], axis=0)  # hue is circular
    blurred = cv2.GaussianBlur(wrapped, (ksize, ksize), sigma, borderType=cv2.BORDER_REFLECT)[pad:-pad]
    # ... then value along the rows of a 2-D view
    kernel = cv2.getGaussianKernel(ksize, sigma).astype(np.float32)
    rows = np.ascontiguousarray(blurred.reshape(-1, BINS[2]))
    rows = cv2.sepFilter2D(rows, -1, kernel, np.ones(1, np.float32), borderType=cv2.BORDER_REFLECT)
    return rows.reshape(BINS[0], BINS[1], k, BINS[2]).transpose(2, 0, 1, 3).reshape(k, SIZE)


def smooth_histogram(counts: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (in bins) of one flat histogram over the 3-D HSV grid; hue wraps around."""
    return smooth_histograms(counts[None], sigma)[0]


def _clipped_log_ratio(hand: np.ndarray, obj: np.ndarray, hand_total: float, obj_total: float) -> np.ndarray:
    """Clipped log of hand over object histograms, each normalised by its total (modifies the inputs)."""
    hand /= max(hand_total, 1e-12)
    obj /= max(obj_total, 1e-12)
    return np.clip(np.log(hand + 1e-9) - np.log(obj + 1e-9), -CLIP, CLIP).astype(np.float32)


def log_ratio(hand_counts: np.ndarray, object_counts: np.ndarray, sigma: float) -> np.ndarray:
    """Clipped log of smoothed, normalised hand over object histograms (float32, one value per bin)."""
    hand, obj = smooth_histograms(np.stack([hand_counts, object_counts]), sigma)
    return _clipped_log_ratio(hand, obj, float(hand.sum()), float(obj.sum()))


@lru_cache(maxsize=4)
def _axis_kernels(sigma: float) -> tuple[np.ndarray, ...]:
    """Gaussian blur along hue (circular), saturation and value (reflected at the ends) as one matrix per axis."""
    pad = int(np.ceil(3 * sigma))
    taps = np.arange(-pad, pad + 1)
    weights = cv2.getGaussianKernel(2 * pad + 1, sigma).ravel()
    kernels = []
    for n, circular in zip(BINS, (True, False, False)):
        j = np.arange(n)[:, None] + taps
        j = j % n if circular else np.where(j < 0, -j - 1, np.where(j >= n, 2 * n - 1 - j, j))
        m = np.zeros((n, n))
        np.add.at(m, (np.repeat(np.arange(n), len(taps)), j.ravel()), np.tile(weights, n))
        kernels.append(m.astype(np.float32))
    return tuple(kernels)


def _weighted_bincount(values: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """np.bincount with integer weights, as integers."""
    return np.bincount(values, weights, minlength=length).astype(np.int64)


class FrameHistograms:
    """One frame's HSV histograms, smoothed on the grid of the hues, saturations and values that occur in it.

    A frame's pixels fill a few hundred of the SIZE bins; the blur of smooth_histograms, needed only at those bins,
    takes the same sums over that much smaller grid (empty bins add nothing).
    """

    def __init__(self, bins: np.ndarray, sigma: float = FRAME_SIGMA, weights: np.ndarray | None = None) -> None:
        total = np.bincount(bins, minlength=SIZE) if weights is None else _weighted_bincount(bins, weights, SIZE)
        occupied = np.flatnonzero(total > 0)
        lookup = np.zeros(SIZE, np.int32)
        lookup[occupied] = np.arange(len(occupied))
        self.sigma = sigma
        self.weights = weights  # pixels per item of bins (None: one each)
        self.index = np.take(lookup, bins)  # per item: its bin's position among the occupied bins
        self.total = total[occupied]  # pixels per occupied bin
        coords = (occupied // (BINS[1] * BINS[2]), occupied // BINS[2] % BINS[1], occupied % BINS[2])
        axes, positions = [], []  # per axis: the values that occur, and each occupied bin's position among them
        for c, n in zip(coords, BINS):
            present = np.bincount(c, minlength=n) > 0
            axes.append(np.flatnonzero(present))
            positions.append(np.take(np.cumsum(present) - 1, c))
        h, s, v = positions
        self.shape = tuple(len(a) for a in axes)
        self._cells = np.ravel_multi_index((h, s, v), self.shape)  # grid cell (h, s, v) of each occupied bin
        self._cells_shv = np.ravel_multi_index((s, h, v), (self.shape[1], self.shape[0], self.shape[2]))
        self._kernels = [k.take(a, 0).take(a, 1) for k, a in zip(_axis_kernels(sigma), axes)]

    def counts(self, mask: np.ndarray) -> np.ndarray:
        """Pixels per occupied bin among the items where mask is True."""
        if self.weights is None:
            return np.bincount(np.compress(mask, self.index), minlength=len(self.total))
        return _weighted_bincount(np.compress(mask, self.index), np.compress(mask, self.weights), len(self.total))

    def smooth(self, counts: np.ndarray) -> np.ndarray:
        """smooth_histograms of k histograms (k x occupied bins), at the occupied bins."""
        k = counts.shape[0]
        nh, ns, nv = self.shape
        kh, ks, kv = self._kernels
        grid = np.zeros((k, nh * ns * nv), np.float32)
        grid[:, self._cells] = counts
        # stacks of small products: one big product would make OpenBLAS start threads, which costs more than it saves
        x = grid.reshape(k * nh, ns, nv) @ kv.T  # value
        x = ks @ x  # saturation
        x = kh @ x.reshape(k, nh, ns, nv).transpose(0, 2, 1, 3)  # hue; now (k, s, h, v)
        return x.reshape(k, -1)[:, self._cells_shv]

    def log_ratio(self, hand_counts: np.ndarray, object_counts: np.ndarray) -> np.ndarray:
        """log_ratio at the occupied bins (the smoothed histograms keep their pixel counts as sums)."""
        hand, obj = self.smooth(np.stack([hand_counts, object_counts]))
        return _clipped_log_ratio(hand, obj, float(hand_counts.sum()), float(object_counts.sum()))


@dataclass
class ColourModel:
    """Log-likelihood ratio of hand over object for every HSV bin, fitted on labelled pixels."""

    ratio: np.ndarray  # float32 (SIZE,)
    known: np.ndarray  # bool (SIZE,): bins near colours seen during calibration
    sigma: float
    hand_pixels: int
    object_pixels: int
    _table: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def fit(cls, bins: np.ndarray, is_hand: np.ndarray, sigma: float = 2.0) -> ColourModel:
        """Fit on the bin indices (see bin_index) of labelled hand (True) and object (False) pixels."""
        if not is_hand.any() or is_hand.all():
            raise ValueError("the colour model needs both hand and object pixels")
        hand = np.bincount(bins[is_hand], minlength=SIZE)
        obj = np.bincount(bins[~is_hand], minlength=SIZE)
        support = smooth_histogram(hand + obj, sigma)
        known = support > 1e-3 * float(support.max())
        return cls(log_ratio(hand, obj, sigma), known, float(sigma), int(is_hand.sum()), int((~is_hand).sum()))

    @property
    def table(self) -> np.ndarray:
        """Log ratio per bin (first SIZE: skin test failed, next SIZE: passed); unseen colours get -+FALLBACK."""
        if self._table is None:
            self._table = np.concatenate([np.where(self.known, self.ratio, np.float32(sign * FALLBACK))
                                          for sign in (-1, 1)]).astype(np.float32)  # fmt: skip
        return self._table

    def llr(self, bins: np.ndarray, skin: np.ndarray) -> np.ndarray:
        """Per-pixel hand-vs-object log ratio; colours never seen in calibration fall back to the HSV skin test."""
        return self.table[bins + SIZE * skin]

    def save(self, path: str | Path) -> None:
        """Write as .npz, atomically."""
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, ratio=self.ratio, known=self.known, bins=np.array(BINS), sigma=self.sigma,
            pixels=np.array([self.hand_pixels, self.object_pixels]),
        )  # fmt: skip
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> ColourModel:
        """Read a model written by save, naming the file on any problem."""
        path = Path(path)
        if not path.is_file():
            raise DataError(path, "colour model file not found")
        try:
            with np.load(path) as data:
                ratio, known, bins = data["ratio"], data["known"], tuple(int(b) for b in data["bins"])
                sigma, pixels = float(data["sigma"]), data["pixels"]
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(path, f"not a colour model (.npz with ratio, known, bins, sigma, pixels): {exc}") from None
        if bins != BINS or ratio.shape != (SIZE,) or known.shape != (SIZE,):
            raise DataError(path, f"colour model has bins {bins} and {ratio.shape[0]} values; expected {BINS}")
        if ratio.dtype != np.float32 or known.dtype != bool or not np.isfinite(ratio).all():
            raise DataError(path, "colour model values must be finite float32 ratios and a boolean mask")
        return cls(ratio, known, sigma, int(pixels[0]), int(pixels[1]))


@lru_cache(maxsize=4)
def _cached_load(path: str, mtime_ns: int) -> ColourModel:
    return ColourModel.load(path)


def load_colour_model(path: str | Path) -> ColourModel:
    """ColourModel.load, cached per file (and modification time)."""
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        raise DataError(Path(path), "colour model file not found (annotate option colour_model)")
    return _cached_load(str(path), info.st_mtime_ns)


def adapt(
    llr: np.ndarray,
    bins: np.ndarray,
    *,
    rounds: int,
    weight: float,
    sigma: float = FRAME_SIGMA,
    hist: FrameHistograms | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Add this frame's own hand-vs-object histogram ratio, re-estimated from the current split, `rounds` times.

    `hist` is FrameHistograms(bins, sigma, weights) if the caller already has it; `weights` counts the pixels each
    item of llr and bins stands for (None: one each).
    """
    current = llr
    total = len(llr) if weights is None else int(weights.sum())
    for _ in range(rounds):
        is_hand = current > 0
        n_hand = int(np.count_nonzero(is_hand)) if weights is None else int(weights.sum(where=is_hand))
        if min(n_hand, total - n_hand) < MIN_PIXELS:
            break
        if hist is None or hist.sigma != sigma:
            hist = FrameHistograms(bins, sigma, weights)
        hand = hist.counts(is_hand)
        current = llr + np.float32(weight) * np.take(hist.log_ratio(hand, hist.total - hand), hist.index)
    return current


def classify(
    pixels: np.ndarray,
    skin: np.ndarray,
    model: ColourModel,
    *,
    rounds: int,
    weight: float,
    border: np.ndarray | None = None,
    border_weight: float = 0.0,
    hsv: np.ndarray | None = None,
) -> np.ndarray:
    """Hand (True) or object for N RGB pixels (N x 3 uint8): the calibrated ratio, adapted to these pixels' colours.

    `skin` is the HSV skin test of the same pixels, used for colours the calibration never saw. `border` marks the
    pixels near the image border: there the band is nearly always a forearm entering the view, so colours common
    there and rare elsewhere lean towards hand (by border_weight times their log ratio). `hsv` is the pixels'
    OpenCV HSV values (any shape with N x 3 values) if the caller already has them.
    """
    if hsv is None:
        hsv = cv2.cvtColor(np.ascontiguousarray(pixels).reshape(1, -1, 3), cv2.COLOR_RGB2HSV)  # one row
    # a pixel's class follows from its bin and skin test alone: work on the (bin, skin) pairs that occur
    keys = (hsv_bins(hsv.reshape(-1, 3)) << 1) | skin
    per_key = np.bincount(keys, minlength=2 * SIZE)
    present = np.flatnonzero(per_key)
    lookup = np.zeros(2 * SIZE, np.int32)
    lookup[present] = np.arange(len(present))
    item = np.take(lookup, keys)  # per pixel: its pair's position among the pairs
    bins, count = present >> 1, per_key[present]
    llr = np.take(model.table, bins + SIZE * (present & 1))
    hist = None
    if border is not None and border_weight > 0 and min(int(border.sum()), int((~border).sum())) >= MIN_PIXELS:
        hist = FrameHistograms(bins, weights=count)
        forearm = _weighted_bincount(hist.index, np.bincount(np.compress(border, item), minlength=len(bins)),
                                     len(hist.total))  # fmt: skip
        llr = llr + np.float32(border_weight) * np.take(hist.log_ratio(forearm, hist.total - forearm), hist.index)
    return np.take(adapt(llr, bins, rounds=rounds, weight=weight, hist=hist, weights=count) > 0, item)
