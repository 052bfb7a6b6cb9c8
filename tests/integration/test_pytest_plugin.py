"""The pytest plugin, used from an outside mini project (pytester, in a subprocess so the
plugin is loaded through its pytest11 entry point, as a user's project would load it)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.topology import port_is_free
from tests.support import Sandbox

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.integration

TINY = """
database: {multi_az: false, read_replicas: 0, max_connections: 40}
cache: {num_cache_clusters: 1, automatic_failover_enabled: false}
"""

CLIENT_TESTS = """
import json
from pathlib import Path


def test_env(rdsbox_sandbox, rdsbox_env):
    assert rdsbox_env["DB_NAME"] == "app_database"
    Path("sandbox.json").write_text(json.dumps(
        {"state_dir": str(rdsbox_sandbox.state_dir), "port_base": rdsbox_sandbox.port_base,
         "owned": rdsbox_sandbox.owned}))


def test_db_writes(rdsbox_db):
    rdsbox_db.execute("CREATE TABLE plugin_t (v int)")
    rdsbox_db.execute("INSERT INTO plugin_t VALUES (1)")
    assert rdsbox_db.execute("SELECT count(*) FROM plugin_t").fetchone() == (1,)


def test_db_was_rolled_back(rdsbox_db):
    assert rdsbox_db.execute("SELECT to_regclass('plugin_t')").fetchone() == (None,)


def test_cache_writes(rdsbox_cache):
    rdsbox_cache.set("plugin:key", "v")
    assert rdsbox_cache.get("plugin:key") == "v"


def test_cache_was_cleaned(rdsbox_cache):
    assert rdsbox_cache.get("plugin:key") is None


def test_fault_left_active(rdsbox_faults, rdsbox_sandbox):
    node = next(c["name"] for c in rdsbox_sandbox.status()["components"] if c["kind"] == "redis")
    assert rdsbox_faults.hang(node, 300)  # the sentence saying what was done
    Path("hung.txt").write_text(node)


def test_fault_was_cleared(rdsbox_cache):
    # Without `fault clear` after the previous test the node would stay frozen for 300 s.
    assert rdsbox_cache.ping()
"""


def _first_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    offset = int(worker) * 1000 if worker.isdigit() else 0
    return int(os.environ.get("RDSBOX_TEST_PORT_BASE", "24000")) + offset + 600


def _project(pytester: pytest.Pytester, ini: str = "") -> None:
    pytester.makeini(f"[pytest]\nrdsbox_port_base = {_first_port()}\n{ini}")
    pytester.path.joinpath("tiny.yaml").write_text(TINY)


def test_started_sandbox_and_client_fixtures_clean_up(pytester: pytest.Pytester) -> None:
    _project(pytester)
    pytester.makepyfile(test_clients=CLIENT_TESTS)
    result = pytester.runpytest_subprocess(
        "--rdsbox-config", "tiny.yaml", "--rdsbox-profile", "fast", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=7)

    info = json.loads((pytester.path / "sandbox.json").read_text())
    assert info["owned"] is True
    # Stopped and deleted at the end of the session.
    assert not Path(info["state_dir"]).exists()
    assert all(port_is_free(p) for p in range(info["port_base"], info["port_base"] + 50))


def test_attaches_to_a_running_sandbox_and_leaves_it_running(
    pytester: pytest.Pytester, make_sandbox: Callable[..., Sandbox]
) -> None:
    # A sandbox of its own: in the full suite, attaching to the long-running shared one
    # was once followed by every PostgreSQL node failing its health check (not yet
    # reproduced in isolation; see the session note).
    sandbox = make_sandbox()
    sandbox.up()
    _project(pytester, f"rdsbox_state_dir = {sandbox.state_dir}\n")
    pytester.makepyfile(
        test_attach=f"""
def test_attached(rdsbox_sandbox, rdsbox_env, rdsbox_db):
    assert not rdsbox_sandbox.owned
    assert rdsbox_env["DB_PROXY_PORT"] == "{sandbox.port_base + 3}"
    rdsbox_db.execute("CREATE TABLE attached_t (v int)")
"""
    )
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        status = sandbox.status()
        assert status["healthy"]
        with sandbox.db(status["endpoints"]["writer"]["port"]) as conn:
            assert conn.execute("SELECT to_regclass('attached_t')").fetchone() == (None,)
    finally:
        sandbox.down("--purge")


def test_xdist_workers_get_their_own_sandboxes(pytester: pytest.Pytester) -> None:
    _project(pytester, "rdsbox_config = tiny.yaml\n")
    pytester.makepyfile(
        test_workers="""
import json, os
from pathlib import Path

import pytest


@pytest.mark.parametrize("n", [1, 2])
def test_worker(n, rdsbox_sandbox, rdsbox_cache):
    rdsbox_cache.set("shared-name", n)
    worker = os.environ["PYTEST_XDIST_WORKER"]
    Path(f"{worker}.json").write_text(json.dumps(
        [str(rdsbox_sandbox.state_dir), rdsbox_sandbox.port_base]))
"""
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)

    seen = [json.loads(p.read_text()) for p in sorted(pytester.path.glob("gw*.json"))]
    assert len(seen) == 2
    (dir_a, base_a), (dir_b, base_b) = seen
    assert dir_a != dir_b and abs(base_a - base_b) >= 50
