"""The review page's on-screen controls, label opacity, zoom, diagnostics and risk order (headless Chromium);
the Label Studio export of rejected frames; the warning when --finalize leaves a split empty."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from handseg.annotate.review.diagnostics import risk
from handseg.annotate.review.labelstudio import export_rejected, label_polygons
from handseg.annotate.review.server import ReviewServer
from handseg.annotate.review.store import ReviewStore
from handseg.cli import main
from handseg.errors import OutputExistsError
from handseg.utils.io import read_png

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
DIAGNOSTICS = """id,near_m,hand_px,object_px,shift_dx,shift_dy,ms
f000,0.41,900,800,0.5,0.0,12
f001,0.42,850,40,0.2,0.1,11
f002,0.40,870,700,6.0,3.0,13
f003,0.43,880,750,0.0,0.0,10
"""


def test_risk_reasons() -> None:
    assert risk({"hand_px": 900.0, "object_px": 800.0, "shift_dx": 0.5, "shift_dy": 0.0}) == (0.0, [])
    score, reasons = risk({"hand_px": 900.0, "object_px": 40.0, "shift_dx": 0.0, "shift_dy": 0.0})
    assert score > 1 and reasons == ["small object (40 px)"]
    assert "large registration shift" in risk({"hand_px": 9.0, "object_px": 500.0, "shift_dx": 6.0})[1][0]


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_buttons_opacity_zoom_diagnostics_and_risk_order(scene_dataset: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    (scene_dataset / "diagnostics.csv").write_text(DIAGNOSTICS)
    errors: list[str] = []
    server = ReviewServer(scene_dataset, port=0).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(server.url)
            page.wait_for_selector("body[data-ready='1']")
            page.wait_for_function("document.body.dataset.drawn === 'f000'", timeout=15000)
            assert "nothing unusual" in page.text_content("#risk")
            assert "hand_px" in page.text_content("#diag-table")
            # Opacity: 0 shows the raw image, 100 the label colours; the canvas pixels change with the slider.
            pixel = (
                "(() => { const c = document.getElementById('mix'); const d = c.getContext('2d')"
                ".getImageData(0, 0, c.width, c.height).data; let s = 0; for (const v of d) s += v; return s; })()"
            )
            page.fill("#opacity", "0")
            page.dispatch_event("#opacity", "input")
            raw = page.evaluate(pixel)
            page.fill("#opacity", "100")
            page.dispatch_event("#opacity", "input")
            assert page.evaluate(pixel) != raw
            shown = "document.getElementById('mix').clientWidth"  # without the border
            width = page.evaluate(shown)
            page.select_option("#zoom", "4")
            assert page.evaluate(shown) == 2 * width  # 2x -> 4x
            page.screenshot(path=str(tmp_path / "review_page.png"), full_page=True)
            # Buttons decide and move, as the keys do.
            page.click("#btn-accept")
            page.wait_for_function("Number(document.body.dataset.saved || 0) >= 1")
            assert page.text_content("#frame-id") == "f001"
            page.click("#btn-reject")
            page.wait_for_function("Number(document.body.dataset.saved || 0) >= 2")
            page.click("#btn-prev")
            page.click("#btn-undo")
            page.wait_for_function("Number(document.body.dataset.saved || 0) >= 3")
            assert ReviewStore(scene_dataset).decisions == {"f000": "accept"}
            # Highest risk first: f001 (a 40 px object), then f002 (registration shift 6.7 px).
            page.select_option("#order", "risk")
            titles = page.eval_on_selector_all("#strip span", "cells => cells.map(c => c.title)")
            assert titles[:2] == ["f001", "f002"] and len(titles) == 4
            page.click("#strip span:first-child")
            assert page.text_content("#frame-id") == "f001" and page.get_attribute("#risk", "class") == "high"
            page.click("#btn-next")  # moves in risk order, not file order
            assert page.text_content("#frame-id") == "f002"
            assert "large registration shift" in page.text_content("#risk")
            browser.close()
    finally:
        server.shutdown()
    assert errors == []
    docs = os.environ.get("HANDSEG_DOCS_IMG")
    if docs:
        shutil.copy(tmp_path / "review_page.png", Path(docs) / "review_page.png")


def test_label_studio_export_of_rejected_frames(scene_dataset: Path, tmp_path: Path) -> None:
    store = ReviewStore(scene_dataset)
    store.set("f001", "reject")
    store.set("f002", "accept")
    out = tmp_path / "tasks.json"
    prefix = "/data/local-files/?d="
    assert main(["review", str(scene_dataset), "--export-rejected", str(out), "--image-prefix", prefix]) == 0
    tasks = json.loads(out.read_text())
    assert [t["data"]["handseg_id"] for t in tasks] == ["f001"]
    assert tasks[0]["data"]["image"].startswith("/data/local-files/?d=/")
    results = tasks[0]["predictions"][0]["result"]
    assert {r["value"]["polygonlabels"][0] for r in results} == {"hand", "object"}
    assert all(0 <= x <= 100 and 0 <= y <= 100 for r in results for x, y in r["value"]["points"])
    assert "PolygonLabels" in out.with_suffix(".xml").read_text()
    with pytest.raises(OutputExistsError):
        export_rejected(scene_dataset, out)
    label = read_png(scene_dataset / "label" / "f001.png")
    assert len(label_polygons(label)) >= 2


def test_finalize_warns_about_an_empty_split(scene_dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ReviewStore(scene_dataset).set("f000", "accept")  # one accepted frame: val gets none
    assert main(["review", str(scene_dataset), "--finalize", "--force"]) == 0
    err = capsys.readouterr().err
    assert "splits/val.txt is empty" in err and "splits/train.txt is empty" not in err
