"""Bad input gets one line, exit status 2, and nothing left running."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import RDSBOX, Sandbox, listening

pytestmark = pytest.mark.integration


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _assert_nothing_running(box: Sandbox) -> None:
    assert list(box.processes()) == []
    assert not [p for p in box.all_ports() if listening(p)]


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"database": {"read_replicas": 99}}, ["database.read_replicas", "0..15"]),
        ({"profile": "slow"}, ["profile", "fast", "aws"]),
        ({"cache": {"num_cache_clusters": 1}}, ["cache.automatic_failover_enabled"]),
        ({"database": {"colour": "blue"}}, ["database.colour", "instance_class"]),
        ({"database": {"instance_class": "db.x9.huge"}}, ["database.instance_class"]),
    ],
)
def test_a_bad_config_value(
    make_sandbox: Callable[..., Sandbox], config: dict[str, object], words: list[str]
) -> None:
    box = make_sandbox(config)
    _assert_one_line_error(box.rdsbox("up"), *words)
    _assert_nothing_running(box)


def test_a_bad_profile_option(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox()
    _assert_one_line_error(box.rdsbox("up", "--profile", "turbo"), "profile", "fast")
    _assert_nothing_running(box)


def test_a_missing_binary(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(RDSBOX_PGBOUNCER="/nonexistent/pgbouncer")
    _assert_one_line_error(
        box.rdsbox("up"), "pgbouncer", "/nonexistent/pgbouncer", "RDSBOX_PGBOUNCER"
    )
    _assert_nothing_running(box)


def test_a_busy_port(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox()
    taken = box.port_base + 30  # the first Redis node's port
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", taken))
        blocker.listen()
        _assert_one_line_error(box.rdsbox("up"), str(taken), "--port-base")
        assert list(box.processes()) == []
        assert not [p for p in box.all_ports() if p != taken and listening(p)]


def test_a_port_base_out_of_range(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox()
    box.port_base = 40000
    _assert_one_line_error(box.rdsbox("up"), "port_base")


def test_an_unknown_command_option() -> None:
    result = subprocess.run(
        [RDSBOX, "up", "--no-such-option"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "No such option" in result.stderr
    assert "Traceback" not in result.stderr


def test_commands_on_a_sandbox_that_is_not_running(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox()
    _assert_one_line_error(box.rdsbox("env"), "no sandbox is running", "rdsbox up")
    assert box.rdsbox("status").returncode == 3
    down = box.rdsbox("down", check=True)
    assert "No sandbox was running" in down.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to another user")
def test_a_state_dir_the_database_user_cannot_reach(
    make_sandbox: Callable[..., Sandbox], state_root: Path
) -> None:
    locked = state_root / "locked"
    locked.mkdir(mode=0o700)
    box = make_sandbox()
    box.state_dir = locked / "sandbox"
    _assert_one_line_error(box.rdsbox("up"), str(locked), "postgres", "--state-dir")
    assert list(box.processes()) == []
