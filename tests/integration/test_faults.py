"""Faults that impair without failing over: latency, blackhole, replica lag, secret
rotation, and the manual promotion of a read replica on a single-AZ instance."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from sandbox.services.moto import secrets_client
from tests.support import Sandbox, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def box(make_sandbox: Callable[..., Sandbox]) -> Iterator[Sandbox]:
    """A sandbox of its own: faults change its password and its endpoints' behaviour."""
    sandbox = make_sandbox()
    sandbox.up()
    yield sandbox
    sandbox.down("--purge")


@pytest.fixture(autouse=True)
def _cleared(box: Sandbox) -> Iterator[None]:
    yield
    box.rdsbox("fault", "clear", check=True)


def _fault(box: Sandbox, *args: str) -> str:
    return str(json.loads(box.rdsbox("fault", *args, "--json", check=True).stdout)["done"])


def _ports(box: Sandbox) -> dict[str, int]:
    endpoints = box.status()["endpoints"]
    return {name: e["port"] for name, e in endpoints.items() if e and "port" in e}


def _round_trip_ms(conn: psycopg.Connection, n: int = 5) -> float:
    conn.execute("SELECT 1")  # the first query may still pay for the connection
    times = []
    for _ in range(n):
        start = time.perf_counter()
        conn.execute("SELECT 1")
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def test_latency_is_added_to_each_round_trip_and_undoes_itself(box: Sandbox) -> None:
    ports = _ports(box)
    with box.db(ports["proxy"]) as before:  # open before the fault: the proxy keeps it
        assert "80 ms latency on writer" in _fault(box, "latency", "writer", "--ms", "80")
        assert "for 8 s" in _fault(box, "latency", "proxy", "--ms", "40", "--for", "8")
        assert box.status()["faults"]["network"] == {
            "writer": "80 ms latency",
            "proxy": "40 ms latency",
        }
        with box.db(ports["writer"]) as writer:
            assert 76 <= _round_trip_ms(writer) <= 120
        assert 38 <= _round_trip_ms(before) <= 80
        with box.db(ports["reader"]) as reader:  # another endpoint is untouched
            assert _round_trip_ms(reader) < 20
        # The proxy's fault ends by itself; the client's connection stays usable.
        wait_for(lambda: _round_trip_ms(before) < 20, timeout=15)
    _fault(box, "clear")
    with box.db(ports["writer"]) as writer:
        assert _round_trip_ms(writer) < 20


def test_blackhole_accepts_and_never_answers(box: Sandbox) -> None:
    ports = _ports(box)
    _fault(box, "blackhole", "writer", "--for", "30")
    start = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="timeout"):
        psycopg.connect(
            host="127.0.0.1",
            port=ports["writer"],
            user="dbadmin",
            password=box.credentials()["db_password"],
            dbname="app_database",
            connect_timeout=1,
        )
    assert time.monotonic() - start >= 0.9  # it timed out: nothing refused or reset it
    cache = box.cache(ports["cache_primary"])
    assert cache.ping()
    _fault(box, "blackhole", "cache_primary")
    with pytest.raises(Exception, match=r"[Tt]imeout"):
        box.cache(ports["cache_primary"]).ping()
    _fault(box, "clear")
    with box.db(ports["writer"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert box.cache(ports["cache_primary"]).ping()


def test_replica_lag_appears_and_clears(box: Sandbox) -> None:
    status = box.status()
    replica = box.component(status, "postgres", "replica")[0]
    with box.db(status["endpoints"]["writer"]["port"]) as primary:
        primary.execute("CREATE TABLE IF NOT EXISTS lag_probe (n int)")
        wait_for(lambda: _replica_count(box, replica["port"]) is not None)
        assert "paused WAL replay" in _fault(box, "replica-lag", replica["name"], "--for", "3")
        primary.execute("INSERT INTO lag_probe VALUES (1)")
        wait_for(lambda: _replica_count(box, replica["port"]) == 0, timeout=5)
        time.sleep(0.5)  # a paused replica must still not show the row
        assert _replica_count(box, replica["port"]) == 0
        wait_for(lambda: _replica_count(box, replica["port"]) == 1, timeout=15)
    events = box.rdsbox("events").stdout
    assert "WAL replay paused" in events and "WAL replay resumed" in events


def _replica_count(box: Sandbox, port: int) -> int | None:
    with box.db(port) as conn:
        row = conn.execute("SELECT count(*) FROM lag_probe").fetchone()
    return None if row is None else int(row[0])


def test_secret_rotation_under_load_through_the_proxy(box: Sandbox) -> None:
    env = box.env()
    port = int(env["DB_PROXY_PORT"])
    secrets = secrets_client(env)

    def current_password() -> str:
        value = secrets.get_secret_value(SecretId=env["DB_SECRET_ARN"])["SecretString"]
        return str(json.loads(value)["password"])

    old = current_password()
    errors: list[str] = []
    queries = [0]
    stop = threading.Event()

    def pooled() -> None:  # a long-lived pooled connection, as an application server keeps
        with box.db(port, old) as conn:
            while not stop.is_set():
                try:
                    conn.execute("SELECT 1")
                    queries[0] += 1
                except psycopg.Error as exc:
                    errors.append(f"pooled: {exc}")

    def per_request() -> None:  # Lambda style: fetch the secret, connect, query, close;
        password = current_password()  # on a refused login, fetch it again (AWS's advice)
        while not stop.is_set():
            try:
                with box.db(port, password) as conn:
                    conn.execute("SELECT 1")
            except psycopg.OperationalError as exc:
                if "authentication failed" not in str(exc):
                    errors.append(f"per-request: {exc}")
                password = current_password()
                with box.db(port, password) as conn:
                    conn.execute("SELECT 1")

    threads = [threading.Thread(target=f) for f in (pooled, pooled, per_request)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: queries[0] > 50)
        assert "rotated" in _fault(box, "rotate-secret")
        before = queries[0]
        wait_for(lambda: queries[0] > before + 50)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert errors == []
    _old_refused_new_accepted(box, env, old, current_password())


def _old_refused_new_accepted(box: Sandbox, env: dict[str, str], old: str, new: str) -> None:
    assert new != old
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        box.db(int(env["DB_WRITER_PORT"]), old).close()
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        box.db(int(env["DB_PROXY_PORT"]), old).close()
    with box.db(int(env["DB_PROXY_PORT"]), new) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    steps = [line for line in box.rdsbox("events").stdout.splitlines() if "Secret:" in line]
    assert [s.split()[2] for s in steps][-4:] == [
        "createSecret:",
        "setSecret:",
        "testSecret:",
        "finishSecret:",
    ]


def test_bad_fault_options_get_one_line(box: Sandbox) -> None:
    for args, expected in (
        (["replica-lag", "app-primary-db-a", "--for", "1"], "is not a read replica"),
        (["latency", "writer", "--ms", "-5"], "--ms"),
        (["blackhole", "nowhere"], "unknown endpoint 'nowhere'"),
    ):
        result = box.rdsbox("fault", *args)
        assert result.returncode == 2, result
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = box.rdsbox("promote-replica", "app-primary-db-replica-0")
    assert result.returncode == 2 and "Multi-AZ" in result.stderr


def test_promote_replica_on_a_single_az_instance(make_sandbox: Callable[..., Sandbox]) -> None:
    single = make_sandbox(
        {
            "database": {"multi_az": False, "read_replicas": 1},
            "cache": {"num_cache_clusters": 1, "automatic_failover_enabled": False},
        }
    )
    single.up()
    try:
        status = single.status()
        old = box_primary(status)
        (replica,) = single.component(status, "postgres", "replica")
        assert (
            "promoted"
            in json.loads(
                single.rdsbox("promote-replica", replica["name"], "--json", check=True).stdout
            )["done"]
        )

        def moved() -> dict[str, Any]:
            now = single.status()
            assert box_primary(now)["name"] == replica["name"]
            assert now["endpoint_router"]["routes"]["writer"] == [replica["name"]]
            (rejoined,) = single.component(now, "postgres", "replica")
            assert rejoined["name"] == old["name"] and rejoined["healthy"]
            return now

        now = wait_for(moved, timeout=60, interval=0.2)
        with single.db(now["endpoints"]["proxy"]["port"]) as conn:
            conn.execute("CREATE TABLE promoted (n int)")
        with single.db(now["endpoints"]["writer"]["port"]) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
            wait_for(
                lambda: (
                    conn.execute(
                        "SELECT state FROM pg_stat_replication WHERE application_name = %s",
                        (old["name"],),
                    ).fetchone()
                    == ("streaming",)
                ),
                timeout=30,
            )
    finally:
        single.down("--purge")


def box_primary(status: dict[str, Any]) -> dict[str, Any]:
    (primary,) = [
        c for c in status["components"] if c["kind"] == "postgres" and c["role"] == "primary"
    ]
    return primary
