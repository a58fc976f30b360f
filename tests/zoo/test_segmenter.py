"""Segmenter: labels of depth maps at their own size from a zoo name or a checkpoint; probabilities; batches."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from handseg import Segmenter
from handseg.data.preprocess import make_input
from handseg.data.synth import render_frame
from handseg.errors import ConfigError


def odd_depth() -> np.ndarray:
    """A 251 x 333 synthetic depth map in metres (no stride divides either side)."""
    frame = render_frame(5, 0, 333, 251)
    return frame["depth"].astype(np.float32) * np.float32(0.001)


def reference_labels(model: torch.nn.Module, depth: np.ndarray) -> np.ndarray:
    """The documented recipe by hand: nearest resize to 64x48, normalise, argmax, nearest resize back."""
    small = cv2.resize(depth, (64, 48), interpolation=cv2.INTER_NEAREST)
    with torch.no_grad():
        logits = model(torch.from_numpy(make_input(small, None, "depth")[None]))
    labels = logits.argmax(1)[0].numpy().astype(np.uint8)
    return cv2.resize(labels, (depth.shape[1], depth.shape[0]), interpolation=cv2.INTER_NEAREST)


def test_predict_on_an_odd_sized_array(zoo: Path) -> None:
    segmenter = Segmenter("tiny")
    assert segmenter.size == (64, 48) and segmenter.task == "segmentation" and segmenter.card["name"] == "tiny"
    depth = odd_depth()
    labels = segmenter.predict(depth)
    assert labels.shape == (251, 333) and labels.dtype == np.uint8
    assert len(np.unique(labels)) >= 2  # the tiny model's labels vary, so the comparison below means something
    np.testing.assert_array_equal(labels, reference_labels(segmenter.model, depth))
    proba = segmenter.predict_proba(depth)
    assert proba.shape == (3, 251, 333) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(0), 1.0, atol=1e-5)
    native = depth[:48, :64].copy()  # at the training size nothing is resized: argmax of the probabilities = labels
    np.testing.assert_array_equal(segmenter.predict_proba(native).argmax(0), segmenter.predict(native))


def test_batches_missing_depth_and_checkpoints(zoo: Path, tiny_ckpt: Path) -> None:
    segmenter = Segmenter("tiny16", batch_size=2)
    depth = odd_depth()
    crop = depth[:100, :77].copy()
    single = [segmenter.predict(depth), segmenter.predict(crop)]
    listed = segmenter.predict([depth, crop, depth])
    assert [a.shape for a in listed] == [(251, 333), (100, 77), (251, 333)]
    for got, want in zip(listed, [*single, single[0]]):
        np.testing.assert_array_equal(got, want)
    stacked = segmenter.predict(np.stack([depth, depth]))
    assert stacked.shape == (2, 251, 333) and np.array_equal(stacked[1], single[0])
    holes = depth.copy()
    holes[:50] = np.nan  # NaN counts as missing, as 0 does
    zeros = depth.copy()
    zeros[:50] = 0
    np.testing.assert_array_equal(segmenter.predict(holes), segmenter.predict(zeros))
    from_run = Segmenter(tiny_ckpt)  # a run folder works as well as a zoo name
    assert from_run.card is None
    np.testing.assert_array_equal(from_run.predict(depth), Segmenter("tiny").predict(depth))


def test_bad_input_gets_a_clear_error(zoo: Path) -> None:
    segmenter = Segmenter("tiny")
    with pytest.raises(ConfigError, match=r"must be float metres, got uint16 .*0\.001 for millimetres"):
        segmenter.predict(np.zeros((48, 64), np.uint16))
    with pytest.raises(ConfigError, match=r"HxW array of metres, got shape \(2, 48, 64, 1\)"):
        segmenter.predict(np.zeros((2, 48, 64, 1), np.float32))  # a 3-D array is a batch, a 4-D one is wrong


def test_test_time_augmentation(zoo: Path) -> None:
    from handseg import TTASpec

    plain, averaged = Segmenter("tiny"), Segmenter("tiny", tta=TTASpec(flip=True))
    native = np.ascontiguousarray(odd_depth()[:48, :64])  # the training size: no resize, so views mirror exactly
    mirrored = np.ascontiguousarray(native[:, ::-1])
    want = (plain.predict_proba(native) + plain.predict_proba(mirrored)[:, :, ::-1]) / 2
    np.testing.assert_allclose(averaged.predict_proba(native), want, atol=1e-5)
    np.testing.assert_array_equal(averaged.predict(native), want.argmax(0))
    assert not np.array_equal(plain.predict(native), averaged.predict(native))  # the mirror view changes labels
    assert averaged.predict(odd_depth()).shape == (251, 333)


def test_eval_reports_a_zoo_model_by_its_zoo_name(zoo: Path, zoo_data: Path) -> None:
    from handseg.engine.evaluate import evaluate

    metrics = evaluate("tiny16", zoo_data, split="val", progress=False)
    assert metrics["name"] == "tiny16"  # not the name in its training config
