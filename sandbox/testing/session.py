"""A sandbox for one test session: started in a private state dir on free ports, or an
already running one attached to by its state dir (never stopped by the tests)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from sandbox.client import ControlClient
from sandbox.statedir import StateDir
from sandbox.topology import PORT_SPAN, port_is_free

_BASE_CANDIDATES = 40  # port blocks tried per worker before giving up


def worker_index() -> tuple[int, int]:
    """This pytest-xdist worker's index and the number of workers (0 and 1 without xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")
    return (int(worker) if worker.isdigit() else 0), (int(count) if count.isdigit() else 1)


def free_port_base(first: int) -> int:
    """The first block of :data:`PORT_SPAN` free ports for this worker.

    Workers take interleaved blocks (worker ``i`` of ``n`` tries ``first + (i + k*n) *
    PORT_SPAN``), so two workers never pick the same block."""
    index, count = worker_index()
    for k in range(_BASE_CANDIDATES):
        base = first + (index + k * count) * PORT_SPAN
        if base + PORT_SPAN > 32768:
            break
        if all(port_is_free(port) for port in range(base, base + PORT_SPAN)):
            return base
    raise RuntimeError(
        f"no block of {PORT_SPAN} free ports from {first} for worker {index}; "
        "set the ini option rdsbox_port_base to a free range below 32768"
    )


@dataclass
class SessionSandbox:
    """A running sandbox the fixtures talk to; ``owned`` when this session started it."""

    state_dir: Path
    owned: bool
    port_base: int | None = None
    _tmp_root: Path | None = field(default=None, repr=False)

    @property
    def client(self) -> ControlClient:
        """The control API client (status, env, faults)."""
        return ControlClient(StateDir(self.state_dir))

    def status(self) -> dict[str, Any]:
        """What `rdsbox status --json` prints."""
        return self.client.status()

    def env(self) -> dict[str, str]:
        """What `rdsbox env --json` prints."""
        return self.client.env()

    @cached_property
    def db_credentials(self) -> dict[str, Any]:
        """The database secret, read from Secrets Manager as an application would."""
        from sandbox.services.moto import secrets_client

        env = self.env()
        answer = secrets_client(env).get_secret_value(SecretId=env["DB_SECRET_ARN"])
        return dict(json.loads(answer["SecretString"]))

    @classmethod
    def attach(cls, state_dir: Path) -> SessionSandbox:
        """Use the sandbox running in ``state_dir``; it must be up."""
        box = cls(StateDir.resolve(state_dir).root, owned=False)
        box.status()  # NotRunningError, with what to do, when nothing runs there
        return box

    @classmethod
    def start(
        cls, first_port: int, config: Path | None = None, profile: str | None = None
    ) -> SessionSandbox:
        """Start a new sandbox in a temporary state dir on free ports.

        ``config`` is a config file, or a Terraform directory."""
        index, _ = worker_index()
        root = Path(tempfile.mkdtemp(prefix=f"rdsbox-pytest-gw{index}-", dir="/tmp"))
        # When tests run as root, PostgreSQL runs as an unprivileged user who must be able
        # to reach the state dir below this directory.
        root.chmod(0o711)
        box = cls(root / "state", owned=True, port_base=free_port_base(first_port))
        box._tmp_root = root
        argv = ["--port-base", str(box.port_base), "up", "--json"]
        if config is not None and config.is_dir():
            argv += ["--terraform", str(config)]
        elif config is not None:
            argv = ["--config", str(config), *argv]
        if profile:
            argv += ["--profile", profile]
        result = box.rdsbox(*argv)
        if result.returncode != 0:
            box.stop()
            raise RuntimeError(f"rdsbox up failed ({result.returncode}): {result.stderr.strip()}")
        return box

    def rdsbox(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the rdsbox CLI on this sandbox's state dir."""
        return subprocess.run(
            [sys.executable, "-m", "sandbox", "--state-dir", str(self.state_dir), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )

    def stop(self) -> None:
        """Stop and delete a sandbox this session started; leave an attached one alone."""
        if not self.owned:
            return
        self.rdsbox("down", "--purge")
        if self._tmp_root is not None:
            shutil.rmtree(self._tmp_root, ignore_errors=True)
