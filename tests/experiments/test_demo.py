"""The quick demo runs end to end and its report renders in headless Chromium (screenshot taken)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from handseg.cli import main

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    return out


def test_demo_writes_every_artifact(demo_dir: Path) -> None:
    for name in ("report.html", "model.onnx", "summary.json", "run/best.ckpt", "figures/attention.png",
                 "figures/contour.png", "eval/contour/per_frame.csv", "eval/ce/metrics.json"):  # fmt: skip
        assert (demo_dir / name).is_file(), name
    summary = json.loads((demo_dir / "summary.json").read_text())
    assert set(summary["metrics"]) == {"ce", "contour"}
    assert 0.0 <= summary["metrics"]["contour"]["pixel_acc"] <= 1.0
    assert summary["latency"]["onnxruntime_ms"] > 0


def test_demo_refuses_existing_output_without_force(demo_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--quick", "--out", str(demo_dir)]) == 1
    assert "--force" in capsys.readouterr().err


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
def test_demo_report_renders_in_chromium(demo_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    shot = demo_dir / "report_screenshot.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}"))
        page.goto((demo_dir / "report.html").as_uri())
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert errors == []
    assert any("Attention maps" in h for h in headings) and any("Contour maps" in h for h in headings)
    assert shot.stat().st_size > 10_000
    docs = os.environ.get("HANDSEG_DOCS_IMG")  # refresh docs/img/demo_report.png when asked
    if docs:
        shutil.copy(shot, Path(docs) / "demo_report.png")
