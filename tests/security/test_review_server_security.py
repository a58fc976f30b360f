"""The review server as an attacker meets it: folder symlinks, cross-origin writes, bad bodies, request bursts."""

from __future__ import annotations

import http.client
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from handseg.annotate.review.server import TOKEN_HEADER, ReviewServer
from handseg.utils.io import atomic_write_png


def _dataset(root: Path, frames: int) -> Path:
    """depth/ and label/ of `frames` tiny frames: all the review server needs."""
    for k in range(frames):
        atomic_write_png(root / "depth" / f"f{k:03d}.png", np.full((8, 8), 500 + k, np.uint16))
        atomic_write_png(root / "label" / f"f{k:03d}.png", np.zeros((8, 8), np.uint8))
    return root


def _post(server: ReviewServer, body: bytes, **headers: str) -> int:
    base = {"Content-Type": "application/json", TOKEN_HEADER: server.token, "Host": f"127.0.0.1:{server.port}"}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/api/decision", skip_host=True)
    for key, value in base.items():
        if value is not None:
            conn.putheader(key, value)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    status = conn.getresponse().status
    conn.close()
    return status


def _get(server: ReviewServer, path: str, host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host or f"127.0.0.1:{server.port}")
    conn.endheaders()
    response = conn.getresponse()
    result = response.status, response.read()
    conn.close()
    return result


@pytest.fixture
def server(tmp_path: Path):
    srv = ReviewServer(_dataset(tmp_path / "data", 4), port=0).start()
    yield srv
    srv.shutdown()


def _accept(frame: str = "f000") -> bytes:
    return json.dumps({"id": frame, "decision": "accept"}).encode()


def test_folder_symlink_escaping_the_dataset_is_refused(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data", 2)
    elsewhere = tmp_path / "elsewhere"
    atomic_write_png(elsewhere / "f000.png", np.full((8, 8, 3), 7, np.uint8))  # a file outside the dataset
    os.symlink(elsewhere, data / "overlays")  # the folder itself is the link
    os.symlink(elsewhere, data / "color")
    srv = ReviewServer(data, port=0).start()
    try:
        for kind in ("overlay", "color"):
            status, body = _get(srv, f"/img/{kind}/f000.png")
            stored = (elsewhere / "f000.png").read_bytes()
            assert body != stored  # never the outside file: drawn from depth/label instead, or refused
            assert status in (200, 403, 404)
        assert srv.app.file("overlays", "f000") is None and srv.app.file("color", "f000") is None
        assert srv.app.file("depth", "f000") is not None
    finally:
        srv.shutdown()


def test_page_carries_the_token(server) -> None:
    status, body = _get(server, "/")
    assert status == 200 and f'name="handseg-token" content="{server.token}"'.encode() in body
    other = ReviewServer(server.app.root, port=0)
    try:
        assert other.token != server.token  # per server, random
    finally:
        other.httpd.server_close()


@pytest.mark.parametrize(
    "headers, status",
    [
        ({}, 200),  # same origin, with the token
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Host": "evil.example"}, 403),  # DNS rebinding: the attacker's name resolves to 127.0.0.1
        ({"Content_Type": "text/plain"}, 415),  # a simple cross-site request needs no preflight
        ({"Content_Type": "application/x-www-form-urlencoded"}, 415),
        ({TOKEN_HEADER: None}, 403),
        ({TOKEN_HEADER: "guess"}, 403),
    ],
)
def test_only_same_origin_posts_with_the_token_are_saved(server, headers, status) -> None:
    origin_ok = {"Origin": f"http://127.0.0.1:{server.port}"}
    assert _post(server, _accept(), **{**origin_ok, **headers}) == status
    saved = (server.app.root / "review.json").exists()
    assert saved == (status == 200)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": ["f000"], "decision": "accept"}',
        b'{"id": {"a": 1}, "decision": "accept"}',
        b'{"id": "f000", "decision": ["accept"]}',
        b'{"id": "f000", "decision": {"x": 1}}',
        b'{"id": "f000", "decision": "accept", "extra": 1}',
        b'{"id": 5, "decision": "accept"}',
        b"[" * 2000 + b"]" * 2000,
        b'{"id": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        b"\xff\xfe",
        b"null",
        b"",
        b"x" * 5000,
    ],
)
def test_bad_schema_gets_400_and_the_server_lives_on(server, body) -> None:
    assert _post(server, body) in (400,)
    assert not (server.app.root / "review.json").exists()
    assert _post(server, _accept()) == 200  # still serving


def test_200_concurrent_posts_are_all_acknowledged_and_on_disk(tmp_path: Path) -> None:
    frames = 200
    srv = ReviewServer(_dataset(tmp_path / "data", frames), port=0).start()
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(frames)

    def one(k: int) -> None:
        barrier.wait()  # all at once: the burst a listen backlog of 5 dropped
        try:
            status = _post(srv, json.dumps({"id": f"f{k:03d}", "decision": "reject" if k % 3 else "accept"}).encode())
        except OSError:
            status = -1
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(frames)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        srv.shutdown()
    assert statuses.count(200) == frames
    decisions = json.loads((tmp_path / "data" / "review.json").read_text())["decisions"]
    assert decisions == {f"f{k:03d}": "reject" if k % 3 else "accept" for k in range(frames)}


def test_ctrl_c_exits_130(tmp_path: Path, monkeypatch, capsys) -> None:
    from handseg.annotate.review import server as server_module
    from handseg.cli import main

    def interrupted(self) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module.ReviewServer, "serve_forever", interrupted)
    assert main(["review", str(_dataset(tmp_path / "data", 1)), "--no-browser"]) == 130


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_bad_port_is_a_usage_error(tmp_path: Path, port: str, capsys) -> None:
    from handseg.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["review", str(tmp_path), "--port", port])
    assert exc.value.code == 2 and "--port" in capsys.readouterr().err
