"""The collector's CloudWatch-style metrics, from a real sandbox: every named metric
appears for the right components, and the load-driven ones move with load."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import Sandbox, wait_for

pytestmark = pytest.mark.integration

QUERIES = 300
HITS, MISSES = 300, 40


def read_metrics(box: Sandbox, *args: str) -> list[dict[str, Any]]:
    result = box.rdsbox("metrics", *args, check=True)
    return list(json.loads(result.stdout))


def series(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[float]]:
    found: dict[tuple[str, str], list[float]] = defaultdict(list)
    for record in records:
        found[record["source"], record["metric"]].append(record["value"])
    return found


def test_metrics_move_with_load(sandbox: Sandbox) -> None:
    status = sandbox.status()
    names = {(c["kind"], c["role"]): c["name"] for c in status["components"]}
    pg_primary, proxy = names["postgres", "primary"], names["pgbouncer", "proxy"]
    cache_primary = names["redis", "primary"]
    since = datetime.fromtimestamp(time.time() - 1, UTC).isoformat()

    # Cache reads, counted.
    cache = sandbox.cache(status["endpoints"]["cache_primary"]["port"])
    for key in range(10):
        cache.set(f"metrics-test:{key}", "v")
    for i in range(HITS):
        assert cache.get(f"metrics-test:{i % 10}") == b"v"
    for i in range(MISSES):
        assert cache.get(f"metrics-test:missing:{i}") is None
    # Queries through the proxy on five client connections, until the metrics show them:
    # PostgreSQL publishes a busy backend's counters about once a second (an idle one's
    # within 10 s), so the load keeps going while we look.
    clients = [sandbox.db(status["endpoints"]["proxy"]["port"]) for _ in range(5)]
    stop, executed = threading.Event(), [0]

    def query_load() -> None:
        while not stop.is_set():
            clients[executed[0] % len(clients)].execute("SELECT 1")
            executed[0] += 1

    loader = threading.Thread(target=query_load)
    loader.start()

    def loaded() -> dict[tuple[str, str], list[float]]:
        got = series(read_metrics(sandbox, "--since", since))
        # Rates are per second and sampled once a second: their sum is the count.
        figures = {
            "QueryRequests": sum(got[proxy, "QueryRequests"]),
            "CacheHits": sum(got[cache_primary, "CacheHits"]),
            "CacheMisses": sum(got[cache_primary, "CacheMisses"]),
            "ClientConnections": max(got[proxy, "ClientConnections"], default=0),
        }
        # Raising says which figure is short: wait_for reports the last exception.
        assert figures["QueryRequests"] >= QUERIES, figures
        assert figures["CacheHits"] >= HITS * 0.8 and figures["CacheMisses"] >= MISSES * 0.8
        assert figures["ClientConnections"] >= len(clients), figures
        # TransactionsPerSecond is only required to appear: PostgreSQL 15 backends flush
        # their counters with nowait locks, and under a hot loop like this one they can
        # keep failing to for up to a minute (PGSTAT_MAX_INTERVAL), so its rise lags.
        assert (pg_primary, "TransactionsPerSecond") in got, figures
        return got

    try:
        got = wait_for(loaded, timeout=45, interval=0.5)
    finally:
        stop.set()
        loader.join()
        for conn in clients:
            conn.close()

    # The figures are those of our load (the shared sandbox may see a little more).
    assert sum(got[proxy, "QueryRequests"]) < executed[0] * 1.2 + 100
    assert sum(got[cache_primary, "CacheHits"]) < HITS * 1.5 + 50
    assert max(got[pg_primary, "CPUUtilization"]) > 0
    assert max(got[proxy, "DatabaseConnections"]) >= 1
    # The same store, in the other formats.
    prometheus = sandbox.rdsbox("metrics", "--format", "prometheus", "--metric", "QueryRequests")
    assert "# TYPE rdsbox_query_requests gauge" in prometheus.stdout
    assert f'rdsbox_query_requests{{source="{proxy}"}} ' in prometheus.stdout
    csv = sandbox.rdsbox("metrics", "--format", "csv", "--source", proxy, "--since", "10s")
    lines = csv.stdout.splitlines()
    assert lines[0] == "ts,source,metric,value,unit" and all(proxy in line for line in lines[1:])


def test_every_named_metric_appears_for_its_components(sandbox: Sandbox) -> None:
    status = sandbox.status()
    names = {(c["kind"], c["role"]): c["name"] for c in status["components"]}
    pg_primary, standby = names["postgres", "primary"], names["postgres", "standby"]
    replicas = [c["name"] for c in sandbox.component(status, "postgres", "replica")]
    proxy = names["pgbouncer", "proxy"]
    cache_primary = names["redis", "primary"]
    cache_replicas = [c["name"] for c in sandbox.component(status, "redis", "replica")]

    def sampled() -> dict[tuple[str, str], list[float]]:
        got = series(read_metrics(sandbox, "--since", "10s"))
        # Counters become rates from a series' second sample on.
        rates = [(pg_primary, "TransactionsPerSecond"), (cache_primary, "CacheHits")]
        return got if all(key in got for key in rates) else {}

    got = wait_for(sampled, timeout=10)
    assert (proxy, "DatabaseConnections") in got
    assert (pg_primary, "DatabaseConnections") in got
    assert set(got[proxy, "AvailabilityPercentage"]) == {100.0}
    (pool_size,) = set(got[proxy, "MaxDatabaseConnectionsAllowed"])
    assert pool_size > 0
    assert (proxy, "DatabaseConnectionsBorrowLatency") in got
    for node in [pg_primary, *replicas]:
        for metric in ("DatabaseConnections", "TransactionsPerSecond", "ReadIOPS", "WriteIOPS"):
            assert (node, metric) in got, (node, metric)
    for node in [standby, *replicas]:
        assert (node, "ReplicaLag") in got and min(got[node, "ReplicaLag"]) >= 0
    for node in [pg_primary, standby, *replicas, cache_primary, *cache_replicas]:
        assert (node, "CPUUtilization") in got, node
    for node in [cache_primary, *cache_replicas]:
        for metric in ("CurrConnections", "Evictions", "NetworkBytesIn", "NetworkBytesOut"):
            assert (node, metric) in got, (node, metric)
    assert max(got[cache_primary, "NetworkBytesIn"]) > 0  # the Sentinels' pings at least
    for node in cache_replicas:
        assert (node, "ReplicationLag") in got
