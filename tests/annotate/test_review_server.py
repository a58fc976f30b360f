"""The review server without a browser: API, atomic saves, restarts, and refusal of paths outside the dataset."""

from __future__ import annotations

import http.client
import json
import os

import numpy as np
import pytest

from handseg.annotate.review.server import ReviewServer
from handseg.annotate.review.store import ReviewStore
from handseg.errors import DataError
from handseg.utils.io import atomic_write_png


def _request(server: ReviewServer, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    """Send `path` byte for byte (no client-side normalisation of '..')."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Handseg-Token": server.token} if data else {}
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    result = response.status, response.read()
    conn.close()
    return result


@pytest.fixture
def server(scene_dataset):
    srv = ReviewServer(scene_dataset, port=0).start()
    yield srv
    srv.shutdown()


def test_server_binds_to_localhost_and_lists_frames(server) -> None:
    assert server.httpd.server_address[0] == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")
    status, body = _request(server, "GET", "/api/frames")
    data = json.loads(body)
    assert status == 200 and data["ids"] == ["f000", "f001", "f002", "f003"] and data["decisions"] == {}
    for path in ("/", "/static/app.js", "/static/style.css"):
        assert _request(server, "GET", path)[0] == 200


@pytest.mark.parametrize("kind", ["overlay", "color", "depth", "label"])
def test_frame_images_are_pngs(server, kind) -> None:
    status, body = _request(server, "GET", f"/img/{kind}/f001.png")
    assert status == 200 and body.startswith(b"\x89PNG")


def test_decisions_are_saved_at_once_and_survive_a_restart(scene_dataset, server) -> None:
    assert _request(server, "POST", "/api/decision", {"id": "f000", "decision": "accept"})[0] == 200
    assert json.loads((scene_dataset / "review.json").read_text())["decisions"] == {"f000": "accept"}
    assert _request(server, "POST", "/api/decision", {"id": "f001", "decision": "reject"})[0] == 200
    status, body = _request(server, "POST", "/api/decision", {"id": "f000", "decision": None})
    assert status == 200 and json.loads(body)["counts"] == {"accepted": 0, "rejected": 1, "unreviewed": 3}
    server.shutdown()
    again = ReviewServer(scene_dataset, port=0).start()
    try:
        assert json.loads(_request(again, "GET", "/api/frames")[1])["decisions"] == {"f001": "reject"}
    finally:
        again.shutdown()
    assert not list(scene_dataset.glob(".review.json.*"))  # no temp files left behind


@pytest.mark.parametrize(
    "body", [{"id": "nope", "decision": "accept"}, {"id": "f000", "decision": "maybe"}, {"decision": "accept"}]
)
def test_bad_decisions_are_rejected(server, scene_dataset, body) -> None:
    assert _request(server, "POST", "/api/decision", body)[0] == 400
    assert not (scene_dataset / "review.json").exists()


@pytest.mark.parametrize(
    "path",
    [
        "/../manifest.json",
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2fconfig.py",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/img/color/..%2F..%2Fmanifest.png",
        "/img/color/%252e%252e%252fmanifest.png",
        "/img/color/..\\..\\manifest.png",
        "/img/color//etc/passwd.png",
        "/img/secret/f000.png",
        "/img/color/f999.png",
        "/manifest.json",
        "/review.json",
        "/static/__init__.py",
    ],
)
def test_paths_outside_the_dataset_are_refused(server, path) -> None:
    status, body = _request(server, "GET", path)
    assert status in (403, 404)
    assert b"handseg-v1" not in body and b"root:" not in body


def test_symlinks_out_of_the_dataset_are_refused(scene_dataset, tmp_path) -> None:
    secret = tmp_path / "secret.png"
    atomic_write_png(secret, np.full((120, 160), 7, np.uint16))
    os.symlink(secret, scene_dataset / "depth" / "evil.png")
    os.symlink(secret, scene_dataset / "color" / "evil.png")
    srv = ReviewServer(scene_dataset, port=0).start()
    try:
        for kind in ("color", "depth", "overlay", "label"):
            assert _request(srv, "GET", f"/img/{kind}/evil.png")[0] == 404
        assert _request(srv, "GET", "/img/color/f000.png")[0] == 200
    finally:
        srv.shutdown()


def test_corrupt_review_file_is_a_clear_error(scene_dataset) -> None:
    (scene_dataset / "review.json").write_text("{not json")
    with pytest.raises(DataError, match=r"review\.json: not valid JSON"):
        ReviewStore(scene_dataset)
    with pytest.raises(DataError, match="no depth"):
        ReviewServer(scene_dataset / "label")
