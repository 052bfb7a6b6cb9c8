"""The container backend's compose files, checked statically (no Docker engine needed):
the shipped file passes, and each broken copy fails with a sentence naming the rule."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.backends.compose_check import check_compose, image_pinned
from sandbox.backends.compose_env import (
    COMPOSE_DIR,
    COMPOSE_FILE,
    ENV_FILE_NAME,
    compose_variables,
    read_env_file,
)
from sandbox.client_env import ENV_NAMES
from sandbox.config import SandboxConfig
from sandbox.credentials import Credentials
from tests.support import RDSBOX

Mutation = Callable[[dict[str, Any], dict[str, str]], None]


def test_shipped_compose_file_passes() -> None:
    assert check_compose(COMPOSE_FILE) == []
    result = subprocess.run(
        [RDSBOX, "compose-check", str(COMPOSE_FILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": ok")


def test_env_file_is_rdsbox_env_at_the_default_port_base() -> None:
    """compose/.env holds exactly what compose_variables() gives the default configuration
    (the generated passwords aside), so its ports are the native backend's ports."""
    shipped = read_env_file(COMPOSE_DIR / ENV_FILE_NAME)
    credentials = Credentials("p1", "p2", "t3", "c4")
    expected = compose_variables(SandboxConfig(), credentials, "rdsbox")
    assert set(shipped) == set(expected)
    secrets = {"RDSBOX_DB_PASSWORD", "RDSBOX_REPLICATION_PASSWORD", "REDIS_AUTH_TOKEN"}
    assert {k: v for k, v in shipped.items() if k not in secrets} == {
        k: v for k, v in expected.items() if k not in secrets
    }
    assert [name for name in shipped if name in ENV_NAMES] == list(ENV_NAMES)


def test_compose_variables_follow_the_port_base() -> None:
    config = SandboxConfig().with_overrides(port_base=20000)
    values = compose_variables(config, Credentials("p1", "p2", "t3", "c4"), "x")
    assert values["DB_PROXY_PORT"] == "20003"
    assert values["AWS_ENDPOINT_URL"] == "http://127.0.0.1:20006"
    assert values["RDSBOX_PORT_APP_PRIMARY_DB_REPLICA_1"] == "20013"
    assert values["RDSBOX_PORT_APP_REDIS_CLUSTER_SENTINEL_3"] == "20042"
    assert values["REDIS_AUTH_TOKEN"] == "t3"


def _drop_healthcheck(doc: dict[str, Any], env: dict[str, str]) -> None:
    del doc["services"]["app-db-proxy"]["healthcheck"]


def _all_interfaces(doc: dict[str, Any], env: dict[str, str]) -> None:
    doc["services"]["app-redis-cluster-001"]["ports"] = [
        "${RDSBOX_PORT_APP_REDIS_CLUSTER_001}:6379"
    ]


def _long_syntax_any_ip(doc: dict[str, Any], env: dict[str, str]) -> None:
    doc["services"]["secrets-manager"]["ports"] = [{"target": 5000, "published": 15406}]


def _latest(doc: dict[str, Any], env: dict[str, str]) -> None:
    doc["services"]["app-redis-cluster-002"]["image"] = "redis:latest"


def _untagged(doc: dict[str, Any], env: dict[str, str]) -> None:
    doc["services"]["endpoints"]["image"] = "haproxy"


def _missing_client_variable(doc: dict[str, Any], env: dict[str, str]) -> None:
    del env["DB_READER_ENDPOINT"]


def _foreign_variable(doc: dict[str, Any], env: dict[str, str]) -> None:
    env["DB_PASSWORD"] = "x"


def _undefined_reference(doc: dict[str, Any], env: dict[str, str]) -> None:
    doc["services"]["app-db-proxy"]["environment"]["DB_NAME"] = "${DATABASE}"


def _missing_component(doc: dict[str, Any], env: dict[str, str]) -> None:
    del doc["services"]["app-redis-cluster-002"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_drop_healthcheck, "service app-db-proxy: has no healthcheck"),
        (_all_interfaces, "service app-redis-cluster-001: publishes"),
        (_long_syntax_any_ip, "service secrets-manager: publishes"),
        (_latest, "image 'redis:latest' is not pinned"),
        (_untagged, "image 'haproxy' is not pinned"),
        (_missing_client_variable, "lacks DB_READER_ENDPOINT, which `rdsbox env` prints"),
        (_foreign_variable, "defines DB_PASSWORD, which `rdsbox env` does not print"),
        (_undefined_reference, "uses ${DATABASE}, which .env does not define"),
        (_missing_component, "component app-redis-cluster-002 of the native backend has no"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "rule",
)
def test_a_broken_copy_fails(tmp_path: Path, mutate: Mutation, expected: str) -> None:
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    env = read_env_file(COMPOSE_DIR / ENV_FILE_NAME)
    mutate(doc, env)
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(doc, sort_keys=False))
    (tmp_path / ENV_FILE_NAME).write_text("".join(f"{k}={v}\n" for k, v in env.items()))

    problems = check_compose(broken)
    assert any(expected in problem for problem in problems), problems
    assert len(problems) == 1, problems  # one thing broken, one complaint


def test_cli_fails_on_a_broken_copy(tmp_path: Path) -> None:
    shutil.copy(COMPOSE_DIR / ENV_FILE_NAME, tmp_path / ENV_FILE_NAME)
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("redis:7.0.15", "redis:latest"))
    result = subprocess.run(
        [RDSBOX, "compose-check", str(broken)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines and all("image 'redis:latest' is not pinned" in line for line in lines)


def test_unreadable_yaml_fails(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  a: [unclosed\n")
    assert "cannot be read as YAML" in check_compose(broken)[0]


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("postgres:15.13", True),
        ("edoburu/pgbouncer:v1.25.1-p0", True),
        ("localhost:5000/redis", False),
        ("redis:alpine", False),
        ("redis@sha256:" + "0" * 64, True),
    ],
)
def test_image_pinned(image: str, pinned: bool) -> None:
    assert image_pinned(image) is pinned


def test_mounted_configs_are_valid(tmp_path: Path) -> None:
    """What the containers run: shell scripts parse, and HAProxy accepts its config."""
    for script in sorted(COMPOSE_DIR.glob("*/*.sh")):
        shell = "bash" if script.read_text().startswith("#!/usr/bin/env bash") else "sh"
        subprocess.run([shell, "-n", str(script)], check=True)
    compile((COMPOSE_DIR / "moto" / "seed_secret.py").read_text(), "seed_secret.py", "exec")
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    result = subprocess.run(
        [haproxy, "-c", "-f", str(COMPOSE_DIR / "haproxy" / "haproxy.cfg")],
        capture_output=True,
        text=True,
        env={"REDIS_AUTH_TOKEN": "x", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
