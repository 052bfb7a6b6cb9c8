"""What every page shares: the sandbox's state dir, its control API client, a metrics
reader and a worker pool for control-API calls, one set per state dir for all sessions
(``st.cache_resource``).

The state dir comes from ``RDSBOX_STATE_DIR`` (`rdsbox dashboard` sets it), else
``.rdsbox`` in the working directory: the same rule as every `rdsbox` command.
``RDSBOX_DASHBOARD_UP_ARGS`` (a JSON list of global options such as ``--port-base``)
is what the page's start button adds to `rdsbox up`.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard.timeseries import MetricsReader
from sandbox.client import ControlClient
from sandbox.errors import RdsboxError
from sandbox.jobs import Job
from sandbox.statedir import StateDir
from sandbox.topology import Topology

UP_ARGS_ENV = "RDSBOX_DASHBOARD_UP_ARGS"


@dataclass(frozen=True)
class Handles:
    """Shared, thread-safe handles on one sandbox."""

    state: StateDir
    client: ControlClient
    metrics: MetricsReader
    #: Control-API calls run here, so that a click never waits for a failover.
    pool: ThreadPoolExecutor

    def job(self, name: str) -> Job:
        """A background `rdsbox` command of this sandbox (``load``, ``scenario``, ``up``);
        only the load stops with the sandbox."""
        return Job(self.state, name, swept=name == "load")

    def status(self) -> dict[str, Any] | None:
        """`rdsbox status --json`, or None when no sandbox runs (or it does not answer)."""
        from sandbox.backends import sandbox_status

        try:
            return sandbox_status(self.state)
        except RdsboxError:
            return None

    def topology(self) -> Topology | None:
        """Names and ports of the sandbox as last started (None if it never was): what
        the metric sources are called, also while the sandbox is down."""
        from sandbox.config import SandboxConfig

        try:
            return Topology(SandboxConfig.model_validate_json(self.state.config_file.read_text()))
        except (OSError, ValueError):
            return None


@st.cache_resource(show_spinner=False)
def _handles(root: str) -> Handles:
    state = StateDir.resolve(root)
    return Handles(
        state,
        ControlClient(state),
        MetricsReader(state.metrics_file),
        ThreadPoolExecutor(max_workers=4, thread_name_prefix="rdsbox-dashboard"),
    )


def handles() -> Handles:
    """The handles of the sandbox this dashboard shows."""
    return _handles(str(StateDir.resolve(None).root))


def up_args() -> list[str]:
    """Global options the start button passes to `rdsbox up` (from the environment)."""
    raw = os.environ.get(UP_ARGS_ENV, "")
    try:
        args = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [str(a) for a in args] if isinstance(args, list) else []
