"""The demo's first step: a zoo model on fresh synthetic frames and on a 'real' dataset, scored and pictured."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from handseg.data.format import HandsegDataset
from handseg.experiments.showcase import showcase
from handseg.zoo import Segmenter


def test_showcase_scores_match_a_hand_count_and_pictures_are_written(zoo: Path, zoo_data: Path, tmp_path: Path):
    result = showcase(tmp_path / "show", "tiny", frames=2, size=(80, 60), real=zoo_data, real_split="val")
    assert result["synthetic"]["frames"] == 2 and result["real"]["frames"] == len(HandsegDataset(zoo_data, "val"))
    for name in ("synthetic", "real"):
        picture = cv2.imread(str(tmp_path / "show" / result[name]["picture"]))
        assert picture is not None and picture.shape[1] > 300
    # the real-set figure is the confusion over all its frames, ignore pixels left out
    segmenter = Segmenter("tiny")
    inter = {1: 0, 2: 0}
    union = {1: 0, 2: 0}
    for sample in HandsegDataset(zoo_data, "val"):
        pred, truth = segmenter.predict(sample["depth"]), sample["label"]
        keep = truth != 255
        for c in (1, 2):
            inter[c] += int(((pred == c) & (truth == c) & keep).sum())
            union[c] += int((((pred == c) | (truth == c)) & keep).sum())
    expected = [100 * inter[c] / union[c] for c in (1, 2) if union[c]]
    assert result["real"]["miou_hand_object"] == pytest.approx(float(np.mean(expected)))
    # the synthetic set is also scored without the forearm: its own scores
    no_forearm = result["synthetic"]["forearm_not_scored"]
    assert set(no_forearm) == {"hand_iu", "object_iu", "miou_hand_object"}
    # object truth is unchanged; only forearm pixels predicted "object" leave the union, so object IU cannot fall
    assert no_forearm["object_iu"] >= result["synthetic"]["object_iu"] - 1e-9


def test_demo_skips_the_zoo_step_without_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from handseg.experiments.demo import DemoSettings, _zoo_step

    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(tmp_path))
    settings = DemoSettings.quick()
    settings.zoo_model = "no-such-model"
    assert _zoo_step(tmp_path, settings, {}) is None
