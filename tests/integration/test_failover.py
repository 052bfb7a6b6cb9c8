"""Failover for real: Multi-AZ promotion, proxy hold, rejoin, Redis failover, faults."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from tests.support import Sandbox, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ha_box(make_sandbox: Callable[..., Sandbox]) -> Iterator[Sandbox]:
    """A default-topology sandbox of its own: these tests change its roles."""
    box = make_sandbox()
    box.up()
    yield box
    box.down("--purge")


def _primary(status: dict[str, Any], kind: str = "postgres") -> dict[str, Any]:
    (primary,) = [c for c in status["components"] if c["kind"] == kind and c["role"] == "primary"]
    return primary


def _settled(box: Sandbox) -> dict[str, Any]:
    """Wait until every component is healthy and the standby is synchronous again."""

    def ready() -> dict[str, Any]:
        # Raising says why it is not ready yet: wait_for reports the last exception.
        status = box.status()
        unhealthy = [c["name"] for c in status["components"] if not c["healthy"]]
        decisions = (box.state_dir / "logs" / "supervisor.log").read_text().splitlines()[-6:]
        for name in unhealthy:
            log = box.state_dir / "logs" / f"{name}.log"
            decisions += [
                line for line in log.read_text().splitlines()[-40:] if "starting up" not in line
            ][-12:]
        assert status.get("healthy"), f"unhealthy: {unhealthy}; last decisions: {decisions}"
        with box.db(status["endpoints"]["writer"]["port"]) as conn:
            rows = dict(
                conn.execute(
                    "SELECT application_name, state || '/' || sync_state FROM pg_stat_replication"
                ).fetchall()
            )
        (standby,) = box.component(status, "postgres", "standby")
        settled = rows.get(standby["name"]) == "streaming/sync" and len(rows) == 3
        assert settled, f"pg_stat_replication: {rows}"
        return status

    return wait_for(ready, timeout=60, interval=0.2)


def _fault(box: Sandbox, *args: str) -> str:
    return json.loads(box.rdsbox("fault", *args, "--json", check=True).stdout)["done"]


def test_acknowledged_commits_survive_three_unplanned_failovers(ha_box: Sandbox) -> None:
    status = _settled(ha_box)
    proxy = status["endpoints"]["proxy"]["port"]
    with ha_box.db(proxy) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS ledger (n int PRIMARY KEY)")
    acknowledged: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        n, conn = 0, None
        while not stop.is_set():
            try:
                conn = conn or ha_box.db(proxy)
                n += 1
                conn.execute("INSERT INTO ledger VALUES (%s)", (n,))
                acknowledged.append(n)
            except psycopg.Error:
                conn = None  # not acknowledged: the number may or may not be there

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    primaries = []
    try:
        for _ in range(3):
            before = len(acknowledged)
            wait_for(lambda b=before: len(acknowledged) > b + 20)
            old = _primary(ha_box.status())["name"]
            _fault(ha_box, "kill", old)
            status = _settled(ha_box)
            primaries.append(_primary(status)["name"])
            assert primaries[-1] != old
            (standby,) = ha_box.component(status, "postgres", "standby")
            assert standby["name"] == old  # the old primary came back as the standby
    finally:
        stop.set()
        thread.join(timeout=30)
    assert len(acknowledged) > 60
    with ha_box.db(status["endpoints"]["writer"]["port"]) as conn:
        stored = {row[0] for row in conn.execute("SELECT n FROM ledger")}
    assert set(acknowledged) <= stored
    events = ha_box.rdsbox("events", check=True).stdout
    assert events.count("Multi-AZ instance failover completed") >= 3


def test_idle_proxy_connections_survive_a_failover(ha_box: Sandbox) -> None:
    status = _settled(ha_box)
    idle = [ha_box.db(status["endpoints"]["proxy"]["port"]) for _ in range(3)]
    for conn in idle:
        conn.execute("SELECT 1")
    old = _primary(status)["name"]
    _fault(ha_box, "kill", old)
    wait_for(lambda: _primary(ha_box.status())["name"] != old, timeout=30)
    for conn in idle:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        assert row == (False,)
        conn.close()


def test_replicas_follow_the_new_primary(ha_box: Sandbox) -> None:
    status = _settled(ha_box)
    with ha_box.db(status["endpoints"]["proxy"]["port"]) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS followed (v text)")
        conn.execute("INSERT INTO followed VALUES ('after failovers')")
    for replica in ha_box.component(status, "postgres", "replica"):
        wait_for(
            lambda r=replica: (
                ha_box.db(r["port"]).execute("SELECT count(*) FROM followed").fetchone() == (1,)
            )
        )


def test_a_planned_failover_swaps_primary_and_standby(ha_box: Sandbox) -> None:
    status = _settled(ha_box)
    old = _primary(status)["name"]
    (standby,) = ha_box.component(status, "postgres", "standby")
    assert "stopped primary" in _fault(ha_box, "db-failover")
    status = _settled(ha_box)
    assert _primary(status)["name"] == standby["name"]
    assert ha_box.component(status, "postgres", "standby")[0]["name"] == old


def test_redis_failover_moves_the_cache_primary_endpoint(ha_box: Sandbox) -> None:
    status = _settled(ha_box)
    old = _primary(status, "redis")
    _fault(ha_box, "kill", old["name"])
    new = wait_for(
        lambda: (p := _primary(ha_box.status(), "redis"))["name"] != old["name"] and p, timeout=30
    )
    cache = ha_box.cache(status["endpoints"]["cache_primary"]["port"])
    wait_for(lambda: cache.set("after-failover", "yes"), timeout=15)
    assert ha_box.cache(new["port"]).get("after-failover") == b"yes"
    # The old primary comes back as a replica of the new one.
    wait_for(
        lambda: ha_box.cache(old["port"]).info("replication").get("master_port") == new["port"],
        timeout=30,
    )
    wait_for(lambda: ha_box.cache(old["port"]).get("after-failover") == b"yes", timeout=45)


def test_hang_stop_start_and_reset_apply_and_undo(ha_box: Sandbox) -> None:
    status = _settled(ha_box)
    replica = ha_box.component(status, "postgres", "replica")[0]["name"]
    assert "hung" in _fault(ha_box, "hang", replica, "--for", "4")
    wait_for(
        lambda: (
            not next(c for c in ha_box.status()["components"] if c["name"] == replica)["healthy"]
        )
    )
    wait_for(
        lambda: next(c for c in ha_box.status()["components"] if c["name"] == replica)["healthy"],
        timeout=20,
    )
    _fault(ha_box, "stop", replica)
    wait_for(lambda: ha_box.status()["endpoint_router"]["routes"]["reader"] != [])
    assert replica not in ha_box.status()["endpoint_router"]["routes"]["reader"]
    _fault(ha_box, "start", replica)
    wait_for(lambda: replica in ha_box.status()["endpoint_router"]["routes"]["reader"], timeout=30)
    reader = ha_box.db(status["endpoints"]["reader"]["port"])
    _fault(ha_box, "reset", "reader")
    with pytest.raises(psycopg.OperationalError):
        reader.execute("SELECT 1")


def test_unknown_faults_and_targets_get_one_line(ha_box: Sandbox) -> None:
    for args, words in (
        (["kill", "nope"], ["nope", "app-primary-db-a"]),
        (["reset", "nowhere"], ["nowhere", "cache_reader"]),
    ):
        result = ha_box.rdsbox("fault", *args)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1
        for word in words:
            assert word in result.stderr
    assert ha_box.rdsbox("fault", "explode").returncode == 2


def test_a_hung_primary_is_fenced_and_replaced(ha_box: Sandbox) -> None:
    status = _settled(ha_box)
    old = _primary(status)
    _fault(ha_box, "hang", old["name"], "--for", "30")
    new = wait_for(
        lambda: (p := _primary(ha_box.status()))["name"] != old["name"] and p, timeout=30
    )
    # The hung node was killed (fenced), then rejoined as the standby: one primary only.
    status = _settled(ha_box)
    assert _primary(status)["name"] == new["name"]
    (standby,) = ha_box.component(status, "postgres", "standby")
    assert standby["name"] == old["name"]
