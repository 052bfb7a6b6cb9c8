"""The supervisor's control API: HTTP on 127.0.0.1, every request carries the bearer token.

Routes (JSON in and out): ``GET /v1/status``, ``GET /v1/env``, ``GET /v1/decisions``,
``POST /v1/shutdown``. The token lives in the state dir's ``control.token`` (0600).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.services.base import HOST

log = logging.getLogger("rdsbox.api")

Handler = Callable[[dict[str, Any]], tuple[int, Any]]

#: Request bodies are small JSON objects; a larger one is refused unread.
MAX_BODY_BYTES = 65536


class ControlApi:
    """A tiny routed HTTP server; handlers return (status, JSON-able body)."""

    def __init__(self, port: int, token: str, routes: dict[tuple[str, str], Handler]) -> None:
        self.token = token
        self.routes = routes
        api = self

        class RequestHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.handle(self, "GET")

            def do_POST(self) -> None:
                api.handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

        self.server = ThreadingHTTPServer((HOST, port), RequestHandler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        """Authenticate, route, answer."""
        supplied = request.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {self.token}".encode()):
            self._answer(request, 401, {"error": "missing or wrong token (see control.token)"})
            return
        path = request.path.split("?", 1)[0]
        handler = self.routes.get((method, path))
        if handler is None:
            self._answer(request, 404, {"error": f"no route {method} {path}"})
            return
        try:
            length = int(request.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY_BYTES:
                raise ValueError(f"Content-Length must be 0..{MAX_BODY_BYTES}")
            body = json.loads(request.rfile.read(length) or b"{}") if length else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
        except (ValueError, RecursionError) as exc:
            # RecursionError: JSON nested thousands deep.
            self._answer(request, 400, {"error": _one_line(f"bad request body: {exc}")})
            return
        try:
            status, answer = handler(body)
        except Exception as exc:
            log.exception("control API handler failed")
            status, answer = 500, {"error": _one_line(str(exc))}
        self._answer(request, status, answer)

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            # One line whatever the message quotes (a target given with a newline in it).
            body = {**body, "error": _one_line(body["error"])}
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())
