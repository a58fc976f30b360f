"""Hand-centred crops: the box, alignment of every map with the image, padding, left/right, the recorded crop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handseg.cli import main
from handseg.data.crop import crop_arrays, crop_to_hands, cropped_intrinsics, finish_frame, hands_box
from handseg.data.format import HandsegDataset, Intrinsics
from handseg.data.synth import generate_dataset, render_frame
from handseg.data.torch_dataset import SegmentationDataset
from handseg.data.transforms import hflip_sample, resize_sample
from handseg.metrics import hidden_mask


def two_hands(h: int = 120, w: int = 160) -> dict:
    """Left hand (parts 1, 5) on the left, right hand (parts 1, 8) on the right, the right one hiding a strip of
    the left; depth, colour and labels encode the same regions so any misalignment shows."""
    parts = np.zeros((2, h, w), np.int64)
    parts[0, 40:70, 30:70] = 1
    parts[0, 30:40, 30:50] = 5
    parts[1, 50:80, 60:100] = 1
    parts[1, 80:95, 80:100] = 8
    visible = parts.copy()
    visible[0, 50:70, 60:70] = 0  # behind the right hand
    hand = (parts > 0).any(0)
    label = hand.astype(np.int64)
    depth = np.where(hand, 0.5, 0.9).astype(np.float32)
    color = np.zeros((h, w, 3), np.uint8)
    color[hand] = (200, 150, 120)
    return {"id": "x", "depth": depth, "color": color, "label": label, "parts": parts, "visible_parts": visible,
            "intrinsics": Intrinsics().scaled(w, h)}  # fmt: skip


def test_box_is_square_centred_and_covers_both_hands_with_the_margin() -> None:
    sample = two_hands()
    (x0, y0, x1, y1), empty = hands_box(sample["parts"], (64, 64), margin=0.25)
    assert not empty
    assert x1 - x0 == y1 - y0 == 105  # hands span x 30..99, y 30..94: 70 * 1.5
    assert (x0 + x1) / 2 == pytest.approx(65, abs=0.5) and (y0 + y1) / 2 == pytest.approx(62.5, abs=0.5)
    (bx0, by0, bx1, by1), _ = hands_box(sample["parts"], (64, 32), margin=0.0)
    assert (bx1 - bx0) == 2 * (by1 - by0) and bx1 - bx0 >= 70 and by1 - by0 >= 65
    box, empty = hands_box(np.zeros((2, 120, 160), np.int64), (64, 64))
    assert empty and box == (20, 0, 140, 120)


@pytest.mark.parametrize("size", [(64, 64), (50, 37), (200, 200)])
def test_every_map_stays_aligned_and_hands_keep_their_side(size: tuple[int, int]) -> None:
    sample = two_hands()
    out = crop_to_hands(sample, size, margin=0.3)
    assert out["depth"].shape == out["label"].shape == (size[1], size[0]) and out["parts"].shape == (
        2,
        size[1],
        size[0],
    )
    hand = (out["parts"] > 0).any(0)
    assert np.array_equal(out["label"] == 1, hand)
    assert np.array_equal(out["depth"] == np.float32(0.5), hand)
    assert np.array_equal(
        hidden_mask(out["parts"], out["visible_parts"]).any(0), (out["parts"][0] > 0) & (out["visible_parts"][0] == 0)
    )
    # colour is area-averaged: pixels well inside the hands keep the skin colour exactly
    inner = hand.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            inner &= np.roll(hand, (dy, dx), (0, 1))
    assert inner.any() and (out["color"][inner] == (200, 150, 120)).all()
    cols_left, cols_right = np.nonzero(out["parts"][0])[1], np.nonzero(out["parts"][1])[1]
    assert cols_left.mean() < cols_right.mean()
    assert set(np.unique(out["parts"][0])) == {0, 1, 5} and set(np.unique(out["parts"][1])) == {0, 1, 8}
    x0, y0, x1, y1 = out["crop"]["box"]
    assert out["crop"]["scale"] == pytest.approx([size[0] / (x1 - x0), size[1] / (y1 - y0)])
    assert out["crop"]["source_size"] == [160, 120] and out["intrinsics"].width == size[0]


def test_nearest_sampling_reads_the_source_pixel_under_each_output_pixel() -> None:
    ys, xs = np.mgrid[0:40, 0:50]
    sample = {"depth": (xs * 100 + ys).astype(np.float32)}
    out = crop_arrays(sample, (5, 3, 35, 33), (20, 20))  # scale 2/3: output j reads 5 + floor((j + 0.5) * 1.5)
    j = np.arange(20)
    expected = (5 + np.floor((j + 0.5) * 1.5))[None, :] * 100 + (3 + np.floor((j + 0.5) * 1.5))[:, None]
    assert np.array_equal(out["depth"], expected.astype(np.float32))


def test_a_box_past_the_border_is_padded() -> None:
    sample = two_hands()
    out = crop_arrays(sample, (-40, -20, 40, 60), (80, 80))  # scale 1: 40 columns and 20 rows outside
    assert (out["depth"][:20] == 0).all() and (out["depth"][:, :40] == 0).all()
    assert (out["label"][:20] == 255).all() and (out["label"][:, :40] == 255).all()
    assert (out["parts"][:, :, :40] == 0).all() and (out["color"][:20] == 0).all()
    assert np.array_equal(out["depth"][20:, 40:], sample["depth"][:60, :40])
    assert np.array_equal(out["color"][20:, 40:], sample["color"][:60, :40])


def test_cropped_camera_projects_points_to_the_cropped_pixels() -> None:
    intr = Intrinsics()
    box, size = (100, 50, 400, 350), (128, 128)
    crop = cropped_intrinsics(intr, box, size)
    point = np.array([0.05, -0.02, 0.6])
    u, v = intr.fx * point[0] / point[2] + intr.cx, intr.fy * point[1] / point[2] + intr.cy
    cu, cv = crop.fx * point[0] / point[2] + crop.cx, crop.fy * point[1] / point[2] + crop.cy
    scale = 128 / 300
    assert cu == pytest.approx((u + 0.5 - 100) * scale - 0.5) and cv == pytest.approx((v + 0.5 - 50) * scale - 0.5)


def test_generated_crops_match_the_render_cut_at_the_recorded_box(tmp_path: Path) -> None:
    out = generate_dataset(
        tmp_path / "crops", 3, seed=4, size=(64, 64), crop="hands", render_size=(320, 240), progress=False
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["generator"]["crop"] == {"mode": "hands", "size": [64, 64], "margin": 0.15}
    assert manifest["sensor"]["width"] == 64
    dataset = HandsegDataset(out, split=None)
    for k, sample_id in enumerate(dataset.ids):
        sample, scene = dataset.load(sample_id), dataset.scene(sample_id)
        crop = scene["crop"]
        assert crop["source_size"] == [320, 240] and crop["size"] == [64, 64]
        frame = finish_frame(render_frame(4, k, 320, 240), {"visible_parts": True})
        again = crop_arrays(frame, tuple(crop["box"]), (64, 64))
        assert np.array_equal(sample["parts"], again["parts"])
        assert np.array_equal(sample["visible_parts"], again["visible_parts"])
        assert np.array_equal(sample["label"], again["label"])
        assert np.array_equal((sample["depth"] * 1000).round().astype(np.uint16), again["depth"])
        assert (sample["visible_parts"] <= 16).all()  # no forearm id
        seen = sample["visible_parts"] > 0
        assert np.array_equal(sample["parts"][seen], sample["visible_parts"][seen])


def test_plain_synth_writes_no_visible_maps_unless_asked(tmp_path: Path) -> None:
    plain = generate_dataset(tmp_path / "plain", 1, size=(64, 48), progress=False)
    assert not list((plain / "parts").glob("*_visible.png"))
    assert "visible_parts" not in HandsegDataset(plain, split=None)[0]
    asked = generate_dataset(tmp_path / "asked", 1, size=(64, 48), visible_parts=True, progress=False)
    assert HandsegDataset(asked, split=None)[0]["visible_parts"].shape == (2, 48, 64)
    with pytest.raises(Exception, match="render_size"):
        generate_dataset(tmp_path / "bad", 1, size=(64, 48), render_size=(320, 240), progress=False)
    with pytest.raises(Exception, match="crop"):
        generate_dataset(tmp_path / "bad2", 1, size=(64, 48), crop="face", progress=False)


def test_synth_cli_crop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    args = ["synth", str(out), "--frames", "2", "--crop", "hands", "--size", "48x48", "--render-size", "160x120"]
    assert main([*args, "--quiet"]) == 0
    assert "48x48, hand crops of 160x120 renders" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "parts").iterdir())[:4] == [
        "000000_l.png",
        "000000_l_visible.png",
        "000000_r.png",
        "000000_r_visible.png",
    ]
    assert main(["synth", str(tmp_path / "d"), "--frames", "1", "--render-size", "160x120", "--quiet"]) == 1
    assert "--render-size" in capsys.readouterr().err
    assert main(["show", str(out), "--split", "all", "--out", str(tmp_path / "s.png"), "--occlusion"]) == 0
    assert "hidden part pixels %" in capsys.readouterr().out


class _Reader(list):
    """A list of samples standing in for a dataset reader."""


def test_training_dataset_crops_and_carries_visible_maps() -> None:
    reader = _Reader([two_hands()])
    ds = SegmentationDataset(reader, "amodal", "rgb", (64, 64), crop="hands")
    item = ds[0]
    assert item["input"].shape == (3, 64, 64) and item["target"].shape == (2, 64, 64)
    assert item["visible"].shape == (2, 64, 64) and set(np.unique(item["visible"].numpy())) <= {0, 1, 5, 8}
    assert ds.sample(0)["crop"]["mode"] == "hands"
    augmented = SegmentationDataset(reader, "amodal", "rgb", (64, 64), augment={"hflip": 1.0}, crop="hands")[(0, 3)]
    assert (augmented["visible"] == 255).all()  # augmentation drops them rather than misalign them
    with pytest.raises(Exception, match="data.crop"):
        SegmentationDataset(reader, "amodal", "rgb", (64, 64), crop="face")


def test_resize_and_flip_move_visible_maps_with_the_parts() -> None:
    sample = two_hands()
    flipped = hflip_sample(sample)
    assert np.array_equal(flipped["visible_parts"][1], sample["visible_parts"][0][:, ::-1])
    small = resize_sample(sample, (80, 60))
    assert small["visible_parts"].shape == (2, 60, 80)
    assert np.array_equal(
        small["visible_parts"] > 0, (small["parts"] > 0) & ~hidden_mask(small["parts"], small["visible_parts"])
    )
