"""The container backend: `rdsbox up --backend docker` runs ``compose/docker-compose.yml``
through testcontainers' compose driver, with an env file generated from the configuration
(its port base, the passwords of the state dir).

The state dir holds ``docker.json`` (the compose project) and ``compose.env`` (0600); `status`
and `env` answer from them and from `docker compose ps`, in the native backend's shapes.
There is no supervisor: no DB failover and no faults (Sentinel still fails Redis over).
The container libraries are imported only here and only when needed (the ``docker`` extra).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import TYPE_CHECKING, Any

from sandbox.backends import DOCKER_RECORD
from sandbox.backends.compose_check import check_compose
from sandbox.backends.compose_env import (
    COMPOSE_DIR,
    COMPOSE_FILE,
    ENDPOINTS_SERVICE,
    component_ports,
    compose_variables,
    read_env_file,
    write_env_file,
)
from sandbox.client_env import ENV_NAMES
from sandbox.config import SandboxConfig
from sandbox.credentials import Credentials
from sandbox.errors import (
    BackendUnavailableError,
    ComponentFailedError,
    ConfigError,
    NotRunningError,
)
from sandbox.services.base import HOST
from sandbox.statedir import StateDir
from sandbox.tls import tls_enabled
from sandbox.topology import Topology

if TYPE_CHECKING:
    from testcontainers.compose import DockerCompose

    from sandbox.supervisor.cluster import Progress

ENV_FILE_NAME = "compose.env"
_ENGINE_TIMEOUT_S = 3


def require_engine() -> None:
    """Raise :class:`BackendUnavailableError` (one line, what to do) unless the container
    libraries are installed, a Docker engine answers and the compose plugin is there."""
    import os

    native = "or use the native backend: rdsbox up --backend native"
    try:
        import docker
        import testcontainers.compose  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the docker backend needs the 'docker' extra ({exc.name} is missing): "
            f"pip install 'rdsbox[docker]', {native}"
        ) from exc
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        docker.from_env(timeout=_ENGINE_TIMEOUT_S).ping()
    except Exception as exc:
        raise BackendUnavailableError(
            f"no Docker engine is reachable at {where}: start Docker (or point DOCKER_HOST "
            f"at one), {native}"
        ) from exc
    found = shutil.which("docker")
    plugin = found and subprocess.run(
        [found, "compose", "version"], capture_output=True, check=False, timeout=30
    )
    if not plugin or plugin.returncode != 0:
        raise BackendUnavailableError(
            f"the docker CLI with its compose plugin is needed (`docker compose version` "
            f"failed): install docker-compose-plugin, {native}"
        )


def _component_kinds(topology: Topology) -> dict[str, tuple[str, str]]:
    """(kind, role) of every component, roles as started (no control plane moves them)."""
    kinds: dict[str, tuple[str, str]] = {}
    for name in topology.postgres_nodes:
        role = "replica" if name in topology.replicas else "primary"
        if name in topology.multi_az_pair[1:]:
            role = "standby"
        kinds[name] = ("postgres", role)
    if topology.config.proxy.enabled:
        kinds[topology.config.proxy.name] = ("pgbouncer", "proxy")
    for i, name in enumerate(topology.redis_nodes):
        kinds[name] = ("redis", "primary" if i == 0 else "replica")
    kinds.update({name: ("sentinel", "sentinel") for name in topology.sentinels})
    for name in component_ports(topology):
        kinds.setdefault(name, ("moto", "secrets"))
    return kinds


class DockerSandbox:
    """A sandbox run by the docker backend, known by its state dir."""

    def __init__(self, state: StateDir) -> None:
        self.state = state

    @property
    def record(self) -> dict[str, Any]:
        """The compose project, env file and secret ARN of this sandbox."""
        return dict(json.loads((self.state.root / DOCKER_RECORD).read_text()))

    @property
    def config(self) -> SandboxConfig:
        """The configuration it was started with."""
        return SandboxConfig.model_validate_json(self.state.config_file.read_text())

    def _compose(self) -> DockerCompose:
        from testcontainers.compose import DockerCompose

        return DockerCompose(
            context=str(COMPOSE_DIR),
            compose_file_name=COMPOSE_FILE.name,
            env_file=str(self.state.root / ENV_FILE_NAME),
            wait=True,
        )

    @classmethod
    def start(cls, config: SandboxConfig, state: StateDir, progress: Progress) -> DockerSandbox:
        """Check, then `docker compose up --wait`; returns once every service is healthy."""
        if tls_enabled(config):
            # The compose file's containers have no certificates; only the native backend
            # makes the sandbox CA (sandbox/tls.py).
            raise ConfigError(
                "proxy.require_tls / cache.transit_encryption_enabled: TLS is emulated by the "
                "native backend only; use --backend native or turn TLS off"
            )
        require_engine()
        if not COMPOSE_FILE.is_file():
            raise BackendUnavailableError(
                f"the docker backend runs {COMPOSE_FILE}, which is missing: use rdsbox from "
                f"a source checkout (pip install -e '.[docker]'), or --backend native"
            )
        problems = check_compose(COMPOSE_FILE, config)
        if problems:
            raise ConfigError(
                f"the docker backend runs the topology of {COMPOSE_FILE} and this "
                f"configuration differs ({problems[0]}); use --backend native for it"
            )
        state.ensure()
        Topology(config).check_ports_free()
        state.config_file.write_text(config.model_dump_json(indent=2))
        credentials = Credentials.load_or_create(state.credentials_file)
        values = compose_variables(config, credentials, f"rdsbox-{config.port_base}")
        write_env_file(state.root / ENV_FILE_NAME, values)
        box = cls(state)
        progress("containers", "docker compose up --wait (the first run pulls the images)")
        try:
            box._compose().start()
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
            raise ComponentFailedError(
                f"docker compose up failed: {detail[-1] if detail else exc}; see "
                f"`docker compose -p rdsbox-{config.port_base} logs`"
            ) from exc
        from sandbox.services.moto import secrets_client

        secret = secrets_client(values).describe_secret(SecretId=config.secret.name)
        record = {"backend": "docker", "project": values["COMPOSE_PROJECT_NAME"]}
        record["secret_arn"] = str(secret["ARN"])
        (state.root / DOCKER_RECORD).write_text(json.dumps(record, indent=2))
        return box

    def env(self) -> dict[str, str]:
        """The `rdsbox env` variables (same names and meaning as the native backend's)."""
        values = read_env_file(self.state.root / ENV_FILE_NAME)
        values["DB_SECRET_ARN"] = str(self.record["secret_arn"])
        return {name: values[name] for name in ENV_NAMES}

    def status(self) -> dict[str, Any]:
        """The `rdsbox status --json` object, as the native backend's (pids are None;
        ``container`` names each component's container)."""
        require_engine()
        running = {c.Service: c for c in self._compose().get_containers() if c.Service}
        if not running:
            raise NotRunningError(
                f"the docker sandbox of {self.state.root} has no running containers; "
                f"start it with `rdsbox up --backend docker`"
            )
        config = self.config
        topology = Topology(config)

        def healthy(name: str) -> bool:
            container = running.get(name)
            return container is not None and container.Health == "healthy"

        kinds = _component_kinds(topology)
        components = [
            {
                "name": name,
                "kind": kinds[name][0],
                "role": kinds[name][1],
                "host": HOST,
                "port": port,
                "pid": None,
                "healthy": healthy(name),
                "container": running[name].Name if name in running else None,
            }
            for name, port in component_ports(topology).items()
        ]
        env = self.env()

        def address(endpoint: str) -> dict[str, Any]:
            return {"host": HOST, "port": topology.port(endpoint)}

        router = running.get(ENDPOINTS_SERVICE)
        return {
            "components": components,
            "endpoints": {
                "writer": address("writer"),
                "reader": address("reader"),
                "proxy": address("proxy"),
                "cache_primary": address("cache_primary"),
                "cache_reader": address("cache_reader"),
                "secrets_manager": {"url": env["AWS_ENDPOINT_URL"]},
            },
            "running": True,
            "healthy": healthy(ENDPOINTS_SERVICE) and all(c["healthy"] for c in components),
            "backend": "docker",
            "state_dir": str(self.state.root),
            "profile": config.profile,
            "port_base": config.port_base,
            "supervisor": None,
            "compose_project": self.record["project"],
            "endpoint_router": {
                "kind": "haproxy",
                "pid": None,
                "container": router.Name if router else None,
                "healthy": healthy(ENDPOINTS_SERVICE),
                "routes": {
                    "writer": [topology.multi_az_pair[0]],
                    "reader": list(topology.replicas),
                    "cache_primary": [topology.redis_nodes[0]],
                    "cache_reader": list(topology.redis_nodes[1:]),
                },
            },
            "secret_arn": env["DB_SECRET_ARN"],
            "observed_at": time.time(),
        }

    def stop(self, purge: bool) -> dict[str, Any]:
        """Stop the containers (keeping their volumes), or with ``purge`` remove them, their
        volumes and the state dir. Returns a summary in `rdsbox down --json`'s shape."""
        require_engine()
        self._compose().stop(down=purge)
        if purge:
            shutil.rmtree(self.state.root)
        return {
            "state_dir": str(self.state.root),
            "backend": "docker",
            "was_running": True,
            "graceful": True,
            "swept": [],
            "purged": purge,
        }
