"""The review page in headless Chromium: keys accept/reject/move, decisions persist across a server restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handseg.annotate.review.server import ReviewServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]


def _decisions(root: Path) -> dict[str, str]:
    return json.loads((root / "review.json").read_text())["decisions"]


def _open(browser, server: ReviewServer, errors: list[str]):
    page = browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    return page


def _press(page, key: str, saves: int | None = None) -> None:
    page.keyboard.press(key)
    if saves is not None:  # wait until the page has the server's confirmation of this many saves
        page.wait_for_function(f"Number(document.body.dataset.saved || 0) >= {saves}")


def test_review_page_keys_and_restart(scene_dataset) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    server = ReviewServer(scene_dataset, port=0).start()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = _open(browser, server, errors)
            assert page.text_content("#frame-id") == "f000"
            page.wait_for_function("document.getElementById('overlay').complete", timeout=15000)  # loaded machine
            _press(page, "a", saves=1)  # accept f000, move to f001
            _press(page, "r", saves=2)  # reject f001, move to f002
            assert _decisions(scene_dataset) == {"f000": "accept", "f001": "reject"}
            _press(page, "n")
            _press(page, "ArrowRight")  # stays on the last frame
            assert page.text_content("#frame-id") == "f003"
            _press(page, "a", saves=3)
            _press(page, "p")
            _press(page, "ArrowLeft")
            assert page.text_content("#frame-id") == "f001"
            _press(page, "a", saves=4)  # change f001's mind
            assert _decisions(scene_dataset) == {"f000": "accept", "f001": "accept", "f003": "accept"}
            assert "3 accepted, 0 rejected, 1 to review" in page.text_content("#counts")
            for bad in ("%2e%2e/%2e%2e/etc/passwd", "img/color/..%2f..%2fmanifest.json", "static/..%2f..%2fcli.py"):
                assert page.request.get(server.url + bad).status in (403, 404)
            image = page.evaluate(
                "fetch(document.getElementById('overlay').src).then(r => r.headers.get('content-type'))"
            )
            assert image == "image/png"

            server.shutdown()  # a key pressed while the server is down is reported, not silently lost
            _press(page, "r")
            page.wait_for_selector("#save-status.error")
            assert _decisions(scene_dataset)["f001"] == "accept"

            server = ReviewServer(scene_dataset, port=0).start()
            page = _open(browser, server, errors)
            assert page.text_content("#frame-id") == "f002"  # opens at the first frame not reviewed
            assert page.get_attribute("#decision", "data-decision") == ""
            _press(page, "p")
            assert page.get_attribute("#decision", "data-decision") == "accept"  # f001, from review.json
            _press(page, "p")
            _press(page, "u", saves=1)  # undo f000
            assert _decisions(scene_dataset) == {"f001": "accept", "f003": "accept"}
            classes = page.eval_on_selector_all("#strip span", "cells => cells.map(c => c.className.trim())")
            assert classes == ["current", "accept", "", "accept"]
            assert [e for e in errors if "Failed to fetch" not in e and "ERR_CONNECTION" not in e] == []
            assert "NOT SAVED" not in page.text_content("#save-status")
        finally:
            browser.close()
            server.shutdown()
