"""The sandboxes a scenario runs on: started for it in a temporary state dir on free
ports (the same code path as `rdsbox up`), or the user's running one when its
configuration is the one the variant asks for (``--use-running``)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sandbox.client import ControlClient
from sandbox.config import SandboxConfig
from sandbox.config.loader import config_from_mapping
from sandbox.errors import ComponentFailedError
from sandbox.statedir import StateDir
from sandbox.testing.session import free_port_base

HEALTHY_TIMEOUT = 300.0
DEFAULT_FIRST_PORT = 26000


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in, nested mappings key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def variant_config(base: SandboxConfig, *overrides: Mapping[str, Any]) -> SandboxConfig:
    """``base`` with the scenario's and the variant's overrides (one-line errors)."""
    data: dict[str, Any] = base.model_dump()
    for override in overrides:
        data = merge(data, override)
    return config_from_mapping(data, source="scenario config")


def same_topology(a: SandboxConfig, b: SandboxConfig) -> bool:
    """Whether two configurations start the same sandbox (ports aside)."""
    return a.model_dump(exclude={"port_base"}) == b.model_dump(exclude={"port_base"})


class RunSandbox:
    """A sandbox a scenario uses; :meth:`close` stops it when the scenario started it."""

    def __init__(self, state: StateDir, config: SandboxConfig, owned: bool) -> None:
        self.state = state
        self.config = config
        self.owned = owned
        self.client = ControlClient(state)

    @classmethod
    def start(
        cls, config: SandboxConfig, first_port: int, progress: Callable[[str], None]
    ) -> RunSandbox:
        """Start ``config`` in a new temporary state dir on the first free port block."""
        from sandbox.supervisor.launch import launch_background, preflight

        root = Path(tempfile.mkdtemp(prefix="rdsbox-scn-", dir="/tmp"))
        root.chmod(0o711)  # PostgreSQL runs as `postgres` when we are root
        state = StateDir(root / "state")
        config = config.with_overrides(port_base=free_port_base(first_port))
        box = cls(state, config, owned=True)
        progress(f"starting a sandbox (profile {config.profile}) on ports {config.port_base}+")
        began = time.monotonic()
        try:
            launch_background(preflight(config, state), lambda c, s: None)
        except BaseException:
            box.close()
            raise
        progress(f"sandbox healthy in {time.monotonic() - began:.1f} s")
        return box

    @classmethod
    def attach(cls, state: StateDir) -> RunSandbox:
        """The sandbox running in ``state`` (NotRunningError when none)."""
        ControlClient(state).status()
        config = SandboxConfig.model_validate_json(state.config_file.read_text())
        return cls(state, config, owned=False)

    def wait_healthy(self, timeout: float = HEALTHY_TIMEOUT) -> dict[str, Any]:
        """Poll the status until every component is healthy (e.g. after a failover)."""
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.client.status()
            if status.get("healthy"):
                return status
            time.sleep(0.2)
        unhealthy = [c["name"] for c in status.get("components", []) if not c.get("healthy")]
        raise ComponentFailedError(
            f"the sandbox in {self.state.root} is not healthy after {timeout:g} s "
            f"({', '.join(unhealthy)}); see {self.state.supervisor_log}"
        )

    def close(self) -> None:
        """Stop and delete a sandbox the scenario started; leave the user's alone."""
        if not self.owned:
            return
        from sandbox.supervisor.shutdown import shut_down

        try:
            if self.state.root.exists():
                shut_down(self.state, purge=True)
        finally:
            shutil.rmtree(self.state.root.parent, ignore_errors=True)
