"""Backends that run a sandbox: native processes (the supervisor, the default) or
containers (``compose/docker-compose.yml``, through testcontainers).

Commands that read a sandbox (`status`, `env`, `demo`) or stop it (`down`) look for a
docker record first: a state dir started with ``--backend docker`` holds its compose
project, and such a sandbox has no supervisor to ask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.statedir import StateDir

if TYPE_CHECKING:
    from sandbox.backends.docker import DockerSandbox

#: The docker backend's record in a state dir (compose project, secret ARN).
DOCKER_RECORD = "docker.json"


def docker_sandbox(state: StateDir) -> DockerSandbox | None:
    """The docker-backend sandbox of ``state``, or None when ``state`` is native (or new).
    Native state dirs never import the docker backend (`rdsbox status` stays quick)."""
    if not (state.root / DOCKER_RECORD).exists():
        return None
    from sandbox.backends.docker import DockerSandbox

    return DockerSandbox(state)


def sandbox_status(state: StateDir) -> dict[str, Any]:
    """`rdsbox status --json` of the sandbox in ``state``, whichever backend runs it."""
    box = docker_sandbox(state)
    if box is not None:
        return box.status()
    from sandbox.client import ControlClient

    return ControlClient(state).status()


def sandbox_env(state: StateDir) -> dict[str, str]:
    """`rdsbox env` of the sandbox in ``state``, whichever backend runs it."""
    box = docker_sandbox(state)
    if box is not None:
        return box.env()
    from sandbox.client import ControlClient

    return ControlClient(state).env()
