"""The HTML report: escaping, missing figures refused, and a clean render in headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from handseg.utils.io import atomic_write_png
from handseg.viz.report import Figure, Section, Table, render_html, write_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


def _report(tmp_path: Path) -> Path:
    atomic_write_png(tmp_path / "img" / "a.png", np.full((20, 30, 3), 200, np.uint8))
    sections = [
        Section(
            "Metrics <b>",
            paragraphs=["x < y & z"],
            tables=[Table(["model", "mIoU"], [["dense", 0.91234], ["nan", float("nan")]], caption="t")],
            figures=[Figure("img/a.png", "overlay")],
        )
    ]
    return write_report(tmp_path / "report.html", "Demo", sections, meta="m")


def test_render_escapes_and_formats(tmp_path: Path) -> None:
    text = _report(tmp_path).read_text()
    assert "Metrics &lt;b&gt;" in text and "x &lt; y &amp; z" in text
    assert "<td>0.912</td>" in text and "<td>–</td>" in text


def test_missing_figure_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.png"):
        write_report(tmp_path / "r.html", "t", [Section("s", figures=[Figure("nope.png")])])
    assert "<figure" not in render_html("t", [Section("s")])


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
def test_report_renders_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    report = _report(tmp_path)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}"))
        page.goto(report.as_uri())
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(tmp_path / "shot.png"), full_page=True)
        browser.close()
    assert errors == []
    assert (tmp_path / "shot.png").stat().st_size > 1000
