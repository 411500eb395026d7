"""The explorer's web server: the standard library's ``http.server`` (see docs/explorer.md for why).

GET routes: ``/`` (the page), ``/static/NAME`` (its script and style), ``/api/info`` (JSON: what the
run's model offers), ``/api/timing`` (JSON: milliseconds per recent action) and ``/api/ACTION?...`` for
each action of :data:`genlab.explorer.session.ACTIONS` (a PNG; the clip action an animated GIF). A bad
parameter is a 400, an unknown route or action a 404, another method a 405, each with a JSON
``{"error": message}``; an unexpected failure is a 500 with its one-line reason, and the server keeps serving.
"""
from __future__ import annotations

import errno
import json
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from genlab.errors import ConfigError
from genlab.explorer.session import ACTIONS, BadRequest, Explorer

HOST = "127.0.0.1"
STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {"index.html": "text/html; charset=utf-8", "explorer.js": "text/javascript; charset=utf-8",
                "explorer.css": "text/css; charset=utf-8"}
MAX_QUERY = 4096


class Handler(BaseHTTPRequestHandler):
    server: ExplorerServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        if len(url.query) > MAX_QUERY:
            return self._error(HTTPStatus.REQUEST_URI_TOO_LONG, "query too long")
        path = url.path
        explorer = self.server.explorer
        if path in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, (STATIC / "index.html").read_bytes(), STATIC_TYPES["index.html"])
        if path.startswith("/static/"):
            name = path.removeprefix("/static/")
            if name not in STATIC_TYPES:
                return self._error(HTTPStatus.NOT_FOUND, f"no static file '{name[:60]}'")
            return self._send(HTTPStatus.OK, (STATIC / name).read_bytes(), STATIC_TYPES[name])
        if path == "/api/info":
            return self._send(HTTPStatus.OK, json.dumps(explorer.info()).encode(), "application/json")
        if path == "/api/timing":
            return self._send(HTTPStatus.OK, json.dumps(explorer.timing()).encode(), "application/json")
        if path.startswith("/api/"):
            action = path.removeprefix("/api/")
            if action not in ACTIONS:
                return self._error(HTTPStatus.NOT_FOUND, f"unknown action '{action[:60]}' (actions: "
                                                         f"{', '.join(ACTIONS)})")
            try:
                query = parse_qs(url.query, keep_blank_values=True, strict_parsing=False, max_num_fields=20)
                body = ACTIONS[action](explorer, query)
            except (BadRequest, ValueError) as e:
                return self._error(HTTPStatus.BAD_REQUEST, str(e))
            except Exception as e:  # noqa: BLE001 - a failed request must not stop the server
                return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(e).__name__}: {e}")
            return self._send(HTTPStatus.OK, body, "image/gif" if body.startswith(b"GIF8") else "image/png")
        return self._error(HTTPStatus.NOT_FOUND, f"no page '{path[:60]}'")

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not allowed (the explorer is read-only)")

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815


class ExplorerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port in use is refused, not shared

    def __init__(self, explorer: Explorer, port: int, verbose: bool = False):
        self.explorer, self.verbose = explorer, verbose
        try:
            super().__init__((HOST, port), Handler)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} is in use on {HOST}; pick another with --port") from None
            if e.errno == errno.EACCES:
                raise ConfigError(f"port {port} needs more privileges on {HOST}; pick one above 1023") from None
            raise

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def serve(run_dir: str | Path, port: int = 8000, verbose: bool = False) -> None:
    """Serve the explorer of a run until Ctrl-C. The port is checked before the model is loaded."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be in 0..65535, got {port}")
    if port and not port_free(port):
        raise ConfigError(f"port {port} is in use on {HOST}; pick another with --port")
    explorer = Explorer(run_dir)
    server = ExplorerServer(explorer, port, verbose)
    print(f"genlab explore: {explorer.model.registry_name} run {run_dir} at {server.url} (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
