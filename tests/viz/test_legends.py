"""Pictures people can read: legends on every overlay, greyscale depth under labels, captions at display size."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from handseg.engine.predict import write_prediction
from handseg.engine.report import _render
from handseg.utils.io import read_png
from handseg.viz.overlay import LABEL_COLORS, PART_COLORS, colorbar, legend_strip, to_display, with_legend
from handseg.viz.report import Figure, Section, write_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _has_colour(image: np.ndarray, colour: np.ndarray) -> bool:
    return bool((image.reshape(-1, 3) == colour).all(axis=1).any())


def _sample(width: int = 160, height: int = 120) -> dict:
    _, xx = np.mgrid[0:height, 0:width]
    depth = (0.5 + 0.002 * xx).astype(np.float32)
    label = np.zeros((height, width), np.uint8)
    label[30:70, 30:80], label[40:60, 90:120] = 1, 2
    color = np.zeros((height, width, 3), np.uint8)
    color[..., 1] = 200  # a green colour image: must not appear under a depth model's labels
    return {"id": "f0", "depth": depth, "color": color, "label": label}


def test_legend_strips_name_every_colour() -> None:
    labels = legend_strip(320, "labels")
    assert labels.shape[1] == 320 and all(_has_colour(labels, c) for c in LABEL_COLORS)
    parts = legend_strip(320, "parts")
    assert all(_has_colour(parts, c) for c in PART_COLORS[1:])
    assert parts.shape[0] > labels.shape[0]  # 16 names wrap onto several rows at this width
    with pytest.raises(ValueError):
        legend_strip(100, "nope")


def test_prediction_overlay_has_a_legend_and_grey_depth(tmp_path: Path) -> None:
    sample = _sample()
    sample["color"] = None  # a depth model's input
    write_prediction(tmp_path, "f0", sample, sample["label"], "segmentation", overlays=True)
    picture = read_png(tmp_path / "overlay" / "f0.png", color=True)
    assert picture.shape[0] > 120  # the legend strip below the panels
    assert _has_colour(picture[120:], LABEL_COLORS[1]) and _has_colour(picture[120:], LABEL_COLORS[2])
    background = picture[:120, :160][sample["label"] == 0]
    assert (background[:, 0] == background[:, 1]).all() and (background[:, 1] == background[:, 2]).all()


def test_eval_frames_of_a_depth_model_show_depth_at_display_size() -> None:
    sample = _sample()
    depth_pic = _render(sample, sample["label"], "segmentation", "f0", modality="depth")
    rgb_pic = _render(sample, sample["label"], "segmentation", "f0", modality="rgb")
    panel = depth_pic[: 2 * 120, : 2 * 160]  # 160 px panels are drawn at 320 px, captions included
    assert depth_pic.shape[1] >= 3 * 320
    grey = panel[np.repeat(np.repeat(sample["label"], 2, 0), 2, 1) == 0]
    assert (grey[:, 0] == grey[:, 2]).all()  # greyscale depth, not the green colour image
    assert (rgb_pic[200:240, 10:60, 1] == 200).all()  # an RGB model's frames show its colour input
    assert _has_colour(depth_pic[240:], LABEL_COLORS[1])  # legend


def test_to_display_and_colorbar() -> None:
    small = np.zeros((12, 16, 3), np.uint8)
    assert to_display(small, 320).shape == (240, 320, 3)
    assert to_display(np.zeros((10, 400, 3), np.uint8), 320).shape == (10, 400, 3)
    bar = colorbar(100, 0.0, 1.0)
    assert bar.shape[0] == 100 and bar[2, 10].sum() > bar[97, 10].sum()  # bright (high) at the top
    assert with_legend(small, "labels").shape[0] > 12


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
def test_overlay_and_sheet_render_in_chromium(tmp_path: Path, synth_dataset) -> None:
    """Screenshots for docs/img (copied there when HANDSEG_DOCS_IMG names the folder)."""
    from playwright.sync_api import sync_playwright

    from handseg.data.format import HandsegDataset
    from handseg.utils.io import atomic_write_png
    from handseg.viz.contact_sheet import contact_sheet

    dataset = HandsegDataset(synth_dataset)
    sample = dataset[0]
    pred = sample["label"].copy()
    pred[: pred.shape[0] // 3] = 0  # a visibly imperfect prediction
    atomic_write_png(tmp_path / "img" / "overlay.png", _render(sample, pred, "segmentation", f"{sample['id']}"))
    atomic_write_png(tmp_path / "img" / "parts.png", _render(sample, sample["parts"], "amodal", sample["id"]))
    atomic_write_png(tmp_path / "img" / "sheet.png", contact_sheet(dataset, 2))
    sections = [Section("Overlay", figures=[Figure("img/overlay.png", "labels over greyscale depth, with a legend")]),
                Section("Amodal parts", figures=[Figure("img/parts.png", "the 16 parts of each hand")]),
                Section("Contact sheet", figures=[Figure("img/sheet.png", "handseg show")])]  # fmt: skip
    page_path = write_report(tmp_path / "legends.html", "Legends", sections)
    shots = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(page_path.as_uri())
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        # Shown no larger than drawn: the browser never scales the captions up.
        assert page.evaluate("Array.from(document.images).every(i => i.width <= i.naturalWidth)")
        for name, selector in (("overlay_legend", "img[src='img/overlay.png']"),
                               ("parts_legend", "img[src='img/parts.png']"),
                               ("contact_sheet_legend", "img[src='img/sheet.png']")):  # fmt: skip
            shots[name] = tmp_path / f"{name}.png"
            page.locator(selector).screenshot(path=str(shots[name]))
        browser.close()
    for path in shots.values():
        assert read_png(path, color=True).shape[0] > 50
    docs = os.environ.get("HANDSEG_DOCS_IMG")
    if docs:
        for name, path in shots.items():
            shutil.copy(path, Path(docs) / f"{name}.png")


def test_caption_outline_stays_around_its_text_along_a_long_line() -> None:
    """The dark outline hugs the light text: it must not drift (OpenCV 5 widens thick glyphs' advance)."""
    from handseg.viz.overlay import put_text

    image = np.full((40, 400, 3), 120, np.uint8)
    put_text(image, "000123 mIoU 65.73 and a long caption", org=(4, 24))
    light = np.nonzero((image > 200).all(axis=2).any(axis=0))[0]
    dark = np.nonzero((image < 40).all(axis=2).any(axis=0))[0]
    assert light.size and dark.size
    assert abs(int(dark.max()) - int(light.max())) <= 3 and abs(int(dark.min()) - int(light.min())) <= 3


def test_colour_legend_draws_each_colour_and_wraps_into_rows() -> None:
    from handseg.viz.overlay import colour_legend

    items = [(f"error kind {k}", (40 * k, 255 - 40 * k, 17)) for k in range(6)]
    wide, narrow = colour_legend(2000, items), colour_legend(200, items)
    assert wide.shape[1] == 2000 and narrow.shape[1] == 200
    assert narrow.shape[0] > wide.shape[0], "a narrow strip wraps its cells into more rows"
    for strip in (wide, narrow):
        for _, colour in items:
            assert (strip == np.array(colour, np.uint8)).all(axis=2).sum() >= 100, f"the box of {colour} is drawn"
