"""Starting, stopping, restarting, killing the supervisor, two sandboxes side by side."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable

import pytest

from tests.support import Sandbox, listening, pid_alive, wait_for

pytestmark = pytest.mark.integration

# Smallest topology that still has every kind of server: keeps lifecycle tests quick.
SMALL = {
    "database": {"multi_az": False, "read_replicas": 1, "max_connections": 50},
    "cache": {"num_cache_clusters": 2},
}


def _pids(status: dict[str, object]) -> list[int]:
    components = status["components"]
    assert isinstance(components, list)
    pids = [int(c["pid"]) for c in components if c["pid"]]
    router = status["endpoint_router"]
    assert isinstance(router, dict)
    return [*pids, int(router["pid"]), int(status["supervisor"]["pid"])]  # type: ignore[index]


def _assert_nothing_left(box: Sandbox, pids: list[int]) -> None:
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=10)
    assert not [p for p in box.all_ports() if listening(p)]
    assert list(box.processes()) == []


def test_down_stops_everything_and_up_resumes_with_the_data(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    box = make_sandbox(SMALL)
    status = box.up()
    with box.db(status["endpoints"]["proxy"]["port"]) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    pids = _pids(status)
    down = box.down()
    assert "stopped cleanly" in down.stdout
    _assert_nothing_left(box, pids)
    assert box.rdsbox("status").returncode == 3
    status = box.up()
    with box.db(status["endpoints"]["writer"]["port"]) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (7,)
    (replica,) = box.component(status, "postgres", "replica")
    wait_for(lambda: box.db(replica["port"]).execute("SELECT v FROM kept").fetchone() == (7,))
    box.down("--purge")
    assert not box.state_dir.exists()


def test_down_cleans_up_after_the_supervisor_was_sigkilled(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    box = make_sandbox(SMALL)
    status = box.up()
    pids = _pids(status)
    os.kill(status["supervisor"]["pid"], signal.SIGKILL)
    wait_for(lambda: not pid_alive(status["supervisor"]["pid"]))
    # The servers outlive their supervisor (own process groups)...
    assert all(pid_alive(p) for p in pids[:-1])
    result = box.rdsbox("down", "--json", check=True)
    assert json.loads(result.stdout)["swept"]
    _assert_nothing_left(box, pids)


def test_two_sandboxes_run_side_by_side(
    sandbox: Sandbox, make_sandbox: Callable[..., Sandbox]
) -> None:
    other = make_sandbox(SMALL)
    other_status = other.up()
    try:
        main_status = sandbox.status()
        assert main_status["healthy"] and other.status()["healthy"]
        assert main_status["state_dir"] != other_status["state_dir"]
        with other.db(other_status["endpoints"]["proxy"]["port"]) as conn:
            conn.execute("CREATE TABLE only_here (v int)")
        with sandbox.db(main_status["endpoints"]["proxy"]["port"]) as conn:
            assert conn.execute("SELECT to_regclass('only_here')").fetchone() == (None,)
        assert other.credentials()["db_password"] != sandbox.credentials()["db_password"]
    finally:
        other.down("--purge")
    assert sandbox.status()["healthy"]
