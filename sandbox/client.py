"""Talking to a running sandbox's supervisor through its control API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from sandbox.errors import ControlApiError, NotRunningError
from sandbox.services.base import HOST
from sandbox.statedir import StateDir
from sandbox.supervisor.cleanup import supervisor_record


class ControlClient:
    """Authenticated JSON requests to one sandbox's supervisor."""

    def __init__(self, state: StateDir) -> None:
        self.state = state

    def _address(self) -> tuple[int, str]:
        if supervisor_record(self.state) is None:
            raise NotRunningError(
                f"no sandbox is running in {self.state.root}; start one with `rdsbox up` "
                f"(or pick another with --state-dir / RDSBOX_STATE_DIR)"
            )
        try:
            port = int(json.loads(self.state.control_file.read_text())["port"])
            token = self.state.token_file.read_text().strip()
        except (OSError, ValueError, KeyError) as exc:
            raise NotRunningError(
                f"the sandbox in {self.state.root} is still starting or stopping "
                f"({exc.__class__.__name__}); try again in a moment"
            ) from exc
        return port, token

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 10.0
    ) -> Any:
        """Send one request; return the decoded JSON answer."""
        port, token = self._address()
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://{HOST}:{port}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            raise ControlApiError(f"control API {method} {path}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ControlApiError(
                f"control API of {self.state.root} did not answer ({exc}); "
                f"see {self.state.supervisor_log}"
            ) from exc

    def status(self) -> dict[str, Any]:
        """`GET /v1/status`."""
        return dict(self.request("GET", "/v1/status"))

    def env(self) -> dict[str, str]:
        """`GET /v1/env`."""
        return dict(self.request("GET", "/v1/env"))

    def fault(
        self, fault: str, target: str | None = None, seconds: float | None = None
    ) -> dict[str, Any]:
        """`POST /v1/fault`: apply one fault (see `rdsbox fault --help`); the answer's
        ``done`` says what was done."""
        body = {"fault": fault, "target": target, "seconds": seconds}
        return dict(self.request("POST", "/v1/fault", body, timeout=120))

    def shutdown(self) -> None:
        """`POST /v1/shutdown`."""
        self.request("POST", "/v1/shutdown", {})
