"""A local (127.0.0.1) HTTP server for reviewing a dataset's frames; serves only the dataset's own images by id."""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from handseg.annotate.review.diagnostics import diagnostics_payload
from handseg.annotate.review.store import DECISIONS, ReviewStore, frame_ids
from handseg.annotate.runner import render_overlay
from handseg.data.format import Manifest
from handseg.errors import DataError, HandsegError
from handseg.utils.io import encode_png, read_png
from handseg.viz.overlay import colorize_depth, colorize_labels

HOST = "127.0.0.1"
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript", "style.css": "text/css"}
IMAGE_KINDS = ("overlay", "color", "depth", "label")
TOKEN_HEADER = "X-Handseg-Token"
MAX_BODY = 4096
_IMAGE_PATH = re.compile(r"^/img/(overlay|color|depth|label)/([A-Za-z0-9_-][A-Za-z0-9_.-]*)\.png$")


def _static(name: str) -> bytes:
    return resources.files("handseg.annotate").joinpath("static", name).read_bytes()


class ReviewApp:
    """The dataset, its decisions and how to draw each frame; shared by all request threads."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        if not (self.root / "depth").is_dir():
            raise DataError(root, "not a handseg-v1 dataset (no depth/ folder)")
        self.ids = frame_ids(self.root)
        if not self.ids:
            raise DataError(self.root / "depth", "no frames to review")
        self.id_set = set(self.ids)
        self.store = ReviewStore(self.root)
        self.token = secrets.token_urlsafe(24)  # embedded in the page, required on every POST
        self.port = 0  # set by ReviewServer once bound (for the Host and Origin checks)
        manifest = self.root / "manifest.json"
        self.name = self.root.name
        self.depth_scale_m = 0.001
        if manifest.exists():
            m = Manifest.load(self.root)
            self.name, self.depth_scale_m = m.name, m.sensor.depth_scale_m

    def file(self, kind: str, sample_id: str) -> Path | None:
        """root/kind/<id>.png if it is a real file inside that folder (no symlink escape), else None."""
        if sample_id not in self.id_set:
            return None
        path = (self.root / kind / f"{sample_id}.png").resolve()
        # The real path must lie in the dataset's own kind/ folder: a symlinked file or folder pointing elsewhere
        # (overlays -> /elsewhere) is refused, not followed.
        if path.parent != self.root / kind or not path.is_file():
            return None
        return path

    def page(self) -> bytes:
        """index.html with this server's token in a meta tag (app.js sends it back on POST)."""
        html = _static("index.html").decode("utf-8")
        meta = f'<meta name="handseg-token" content="{self.token}">'
        return html.replace('<meta charset="utf-8">', f'<meta charset="utf-8">\n  {meta}', 1).encode("utf-8")

    def allowed_hosts(self) -> set[str]:
        """Host header values of a same-origin request (a DNS-rebinding page sends its own host name)."""
        return {f"{HOST}:{self.port}", f"localhost:{self.port}"}

    def frames(self) -> dict[str, Any]:
        """The frame list with decisions, for the page."""
        return {
            "dataset": self.name,
            "ids": self.ids,
            "decisions": dict(self.store.decisions),
            "counts": self.store.counts(self.ids),
        }

    def image(self, kind: str, sample_id: str) -> bytes | None:
        """PNG bytes of one picture of a frame (None if the frame or its files are missing)."""
        if kind in ("overlay", "color"):
            stored = self.file("overlays" if kind == "overlay" else "color", sample_id)
            if stored is not None:
                return stored.read_bytes()
        depth_path = self.file("depth", sample_id)
        if depth_path is None:
            return None
        depth = read_png(depth_path).astype(np.float32) * np.float32(self.depth_scale_m)
        label_path = self.file("label", sample_id)
        label = read_png(label_path) if label_path else np.zeros(depth.shape, np.uint8)
        if kind == "depth":
            return encode_png(colorize_depth(depth))
        if kind == "label":
            return encode_png(colorize_labels(label))
        if kind == "color":
            return None

        color_path = self.file("color", sample_id)
        color = read_png(color_path, color=True) if color_path else colorize_depth(depth)
        return encode_png(render_overlay(color, depth, label))


def _unsafe(raw_path: str) -> bool:
    """True for paths that try to leave the site: '..' segments (raw or percent-encoded), backslashes, NUL."""
    decoded = raw_path
    for _ in range(3):  # catch double encoding (%252e%252e) too
        decoded = unquote(decoded)
    return any(seg == ".." for seg in re.split(r"[/\\]", decoded)) or "\\" in decoded or "\x00" in decoded


class ReviewHandler(BaseHTTPRequestHandler):
    """Routes: /, /static/<file>, /api/frames, /img/<kind>/<id>.png, POST /api/decision."""

    server_version = "handseg-review"
    app: ReviewApp  # set on the subclass built by ReviewServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no line per request."""

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"))

    def _error(self, status: HTTPStatus) -> None:
        self._json(status, {"error": status.phrase})

    def do_GET(self) -> None:
        """Serve the page, its static files, the frame list and frame images."""
        raw = self.path
        if _unsafe(raw) or not self._same_host():
            return self._error(HTTPStatus.FORBIDDEN)
        path = urlsplit(raw).path
        if path in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, self.app.page(), STATIC_FILES["index.html"])
        if path.startswith("/static/"):
            name = path[len("/static/") :]
            if name not in STATIC_FILES:
                return self._error(HTTPStatus.NOT_FOUND)
            return self._send(HTTPStatus.OK, _static(name), STATIC_FILES[name])
        if path == "/api/diagnostics":  # diagnostics.csv with a risk score per frame (review/diagnostics.py)
            return self._json(HTTPStatus.OK, diagnostics_payload(self.app.root, self.app.ids))
        if path == "/api/frames":
            return self._json(HTTPStatus.OK, self.app.frames())
        match = _IMAGE_PATH.match(path)
        if match is None:
            return self._error(HTTPStatus.NOT_FOUND)
        try:
            body = self.app.image(match.group(1), match.group(2))
        except HandsegError as exc:
            return self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)})
        if body is None:
            return self._error(HTTPStatus.NOT_FOUND)
        return self._send(HTTPStatus.OK, body, "image/png")

    do_HEAD = do_GET

    def _same_host(self) -> bool:
        return self.headers.get("Host", "") in self.app.allowed_hosts()

    def _refusal(self) -> HTTPStatus | None:
        """Why a POST is not accepted from this page's own origin (None when it is)."""
        if not self._same_host():
            return HTTPStatus.FORBIDDEN
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.app.allowed_hosts()}:
            return HTTPStatus.FORBIDDEN
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":  # a cross-site form or text/plain POST needs no CORS preflight
            return HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        if not hmac.compare_digest(self.headers.get(TOKEN_HEADER, ""), self.app.token):
            return HTTPStatus.FORBIDDEN
        return None

    def _decision(self) -> tuple[str, str | None] | None:
        """The body's {"id": str, "decision": "accept" | "reject" | null}, or None for anything else."""
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if not 0 < length <= MAX_BODY:
            return None
        try:
            data = json.loads(self.rfile.read(length))
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, nesting deeper than the parser goes
            return None
        if not isinstance(data, dict) or set(data) != {"id", "decision"}:
            return None
        sample_id, decision = data["id"], data["decision"]
        if not isinstance(sample_id, str) or sample_id not in self.app.id_set:
            return None
        if decision is not None and (not isinstance(decision, str) or decision not in DECISIONS):
            return None
        return sample_id, decision

    def do_POST(self) -> None:
        """POST /api/decision {"id": ..., "decision": "accept" | "reject" | null}: saved before the reply."""
        if _unsafe(self.path) or urlsplit(self.path).path != "/api/decision":
            return self._error(HTTPStatus.NOT_FOUND)
        refusal = self._refusal()
        if refusal is not None:
            return self._error(refusal)
        parsed = self._decision()
        if parsed is None:
            return self._error(HTTPStatus.BAD_REQUEST)
        sample_id, decision = parsed
        try:
            decisions = self.app.store.set(sample_id, decision)
        except OSError as exc:
            return self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"cannot save review.json: {exc}"})
        self._json(HTTPStatus.OK, {"id": sample_id, "decision": decisions.get(sample_id),
                                   "counts": self.app.store.counts(self.app.ids)})  # fmt: skip


class _Server(ThreadingHTTPServer):
    """A thread per request and a listen backlog that holds a burst of a few hundred requests."""

    daemon_threads = True
    request_queue_size = 512


class ReviewServer:
    """The review web server for one dataset, bound to 127.0.0.1."""

    def __init__(self, root: str | Path, port: int = 0) -> None:
        self.app = ReviewApp(root)
        handler = type("BoundReviewHandler", (ReviewHandler,), {"app": self.app})
        try:
            self.httpd = _Server((HOST, port), handler)
        except OSError as exc:
            raise HandsegError(f"cannot listen on {HOST}:{port} ({exc.strerror or exc})") from None
        except OverflowError:
            raise HandsegError(f"--port {port}: must be 0..65535") from None
        self.port = self.app.port = self.httpd.server_address[1]
        self.token = self.app.token
        self.url = f"http://{HOST}:{self.port}/"
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """Serve until shutdown() or Ctrl-C."""
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> ReviewServer:
        """Serve in a background thread (for tests and notebooks)."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()
