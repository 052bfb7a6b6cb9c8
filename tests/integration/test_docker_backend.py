"""`rdsbox up --backend docker`: without a reachable engine it stops at once with one line
saying so; with one, it runs the compose topology and answers `status --json` and `env`
like the native backend (that test skips, saying why, where no engine is reachable)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pytest

from sandbox.backends.compose_env import component_ports
from sandbox.backends.docker import require_engine
from sandbox.client_env import ENV_NAMES
from sandbox.config import SandboxConfig
from sandbox.errors import BackendUnavailableError
from sandbox.topology import Topology
from tests.support import EXAMPLES, Sandbox, run_example


def test_up_without_an_engine_exits_2_with_one_line(make_sandbox: Callable[..., Sandbox]) -> None:
    # A port nothing listens on: the "no engine" path even where Docker runs.
    box = make_sandbox(DOCKER_HOST="tcp://127.0.0.1:9")
    result = box.rdsbox("up", "--backend", "docker", timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no Docker engine is reachable at tcp://127.0.0.1:9" in lines[0]
    assert "--backend native" in lines[0]
    assert not box.state_dir.exists(), "nothing is prepared before the engine answers"


def _engine_reason() -> str | None:
    try:
        require_engine()
    except BackendUnavailableError as exc:
        return str(exc)
    return None


@pytest.mark.integration
def test_docker_backend_matches_the_native_contract(make_sandbox: Callable[..., Sandbox]) -> None:
    reason = _engine_reason()
    if reason is not None:
        pytest.skip(f"needs a Docker engine, and here: {reason}")
    box = make_sandbox()
    try:
        status = json.loads(box.rdsbox("up", "--backend", "docker", "--json", timeout=900).stdout)
        expected = component_ports(
            Topology(SandboxConfig().with_overrides(port_base=box.port_base))
        )
        assert {c["name"]: c["port"] for c in status["components"]} == expected
        assert status["healthy"] and status["backend"] == "docker"
        assert box.status()["components"] == status["components"]
        env = box.env()
        assert list(env) == list(ENV_NAMES)
        assert env["DB_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
        run_example(box, [sys.executable, "reference_flow.py"], EXAMPLES / "python")
    finally:
        box.rdsbox("down", "--purge", timeout=300)
