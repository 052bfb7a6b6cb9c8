"""Static checks of a compose file, so CI catches a broken container backend without a
Docker engine (`rdsbox compose-check FILE`).

Rules: the file parses and has services; every service has a health check; every published
port binds 127.0.0.1; every image is pinned to a version (a tag with a digit, or a digest;
never ``latest``); the ``.env`` beside the file defines exactly the `rdsbox env` variables
(:data:`~sandbox.client_env.ENV_NAMES`) plus container settings (``RDSBOX_*``,
``COMPOSE_*``), and every variable the file uses; the services are the native backend's
components (same names) plus the endpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sandbox.backends.compose_env import (
    ENDPOINTS_SERVICE,
    ENV_FILE_NAME,
    SETTING_PREFIXES,
    component_ports,
    read_env_file,
    references,
)
from sandbox.client_env import ENV_NAMES
from sandbox.config import SandboxConfig
from sandbox.topology import Topology

LOOPBACK = "127.0.0.1"


def check_compose(path: Path, config: SandboxConfig | None = None) -> list[str]:
    """Every rule ``path`` (and the ``.env`` beside it) breaks, one sentence each; empty
    when the file is fine. ``config`` gives the expected components (default topology)."""
    try:
        text = path.read_text()
        document = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        return [f"{path}: cannot be read as YAML ({' '.join(str(exc).split())})"]
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict) or not services:
        return [f"{path}: has no services"]
    problems = _check_env(path, references(text))
    for name, service in services.items():
        if not isinstance(service, dict):
            problems.append(f"service {name}: is not a mapping")
            continue
        problems += [f"service {name}: {what}" for what in _check_service(service)]
    expected = {*component_ports(Topology(config or SandboxConfig())), ENDPOINTS_SERVICE}
    for name in sorted(expected - set(services)):
        problems.append(f"component {name} of the native backend has no service of that name")
    for name in sorted(set(services) - expected):
        problems.append(
            f"service {name}: not a component of the native backend "
            f"(expected names: {', '.join(sorted(expected))})"
        )
    return problems


def _check_service(service: dict[str, Any]) -> list[str]:
    problems = []
    health = service.get("healthcheck")
    if not isinstance(health, dict) or not health.get("test") or health.get("disable"):
        problems.append("has no healthcheck (add healthcheck.test)")
    image = service.get("image")
    if not isinstance(image, str) or not image_pinned(image):
        problems.append(
            f"image {image!r} is not pinned to a version (use a tag with a version number, "
            f"e.g. postgres:15.13, never latest)"
        )
    if service.get("network_mode") == "host":
        problems.append("uses network_mode: host, which listens on every interface")
    for port in service.get("ports") or []:
        if not _loopback_only(port):
            problems.append(
                f"publishes {port!r} beyond {LOOPBACK}; write it as "
                f'"{LOOPBACK}:HOST_PORT:CONTAINER_PORT"'
            )
    return problems


def image_pinned(image: str) -> bool:
    """Whether an image reference names a version: a digest, or a tag (not latest) with a
    digit in it."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return tag != "latest" and any(ch.isdigit() for ch in tag)


def _loopback_only(port: Any) -> bool:
    if isinstance(port, dict):  # long syntax
        return port.get("host_ip") == LOOPBACK
    # Short syntax: IP:HOST:CONTAINER; anything shorter binds every interface.
    parts = str(port).split(":")
    return len(parts) == 3 and parts[0] == LOOPBACK


def _check_env(path: Path, used: set[str]) -> list[str]:
    env_path = path.parent / ENV_FILE_NAME
    if not env_path.exists():
        return [f"{env_path}: missing (it defines the `rdsbox env` variables for clients)"]
    defined = read_env_file(env_path)
    problems = [
        f"{env_path}: lacks {name}, which `rdsbox env` prints"
        for name in ENV_NAMES
        if name not in defined
    ]
    problems += [
        f"{env_path}: defines {name}, which `rdsbox env` does not print; use a name from "
        f"`rdsbox env` or prefix it with {' or '.join(SETTING_PREFIXES)}"
        for name in defined
        if name not in ENV_NAMES and not name.startswith(SETTING_PREFIXES)
    ]
    problems += [
        f"{path}: uses ${{{name}}}, which {ENV_FILE_NAME} does not define"
        for name in sorted(used - set(defined))
    ]
    return problems
