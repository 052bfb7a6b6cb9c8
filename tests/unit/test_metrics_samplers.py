"""Samplers turn what the servers report into samples: rates of counters, gauges, lag."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.metrics.samplers.base import Rates
from sandbox.metrics.samplers.cpu import CpuSampler, tree_ticks
from sandbox.metrics.samplers.postgres import NodeCounters, node_samples
from sandbox.metrics.samplers.proxy import proxy_counters, proxy_samples
from sandbox.metrics.samplers.redis import redis_samples, replication_lag
from sandbox.metrics.schema import Sample
from sandbox.process import ProcStat
from sandbox.supervisor.collection import build_collector
from sandbox.supervisor.events import EventLog
from tests.unit.conftest import MakeCluster


def values(samples: list[Sample]) -> dict[str, float]:
    return {s.metric: s.value for s in samples}


def test_rates_are_per_second_and_restart_after_a_reset() -> None:
    rates = Rates()
    assert rates.rate("x", 100, now=10.0) is None  # nothing to compare with yet
    assert rates.rate("x", 130, now=12.0) == 15.0
    assert rates.rate("x", 5, now=13.0) is None  # the server restarted: counter went down
    assert rates.rate("x", 8, now=14.0) == 3.0
    assert rates.rate("x", 9, now=14.0) is None  # no time passed


def test_postgres_node_gauges_now_counters_from_the_second_reading() -> None:
    rates = Rates()
    first = NodeCounters(3, 1000.0, 50.0, 10.0, 20.0, None)
    assert values(node_samples("db-a", first, rates, 100.0)) == {"DatabaseConnections": 3.0}
    second = NodeCounters(5, 1600.0, 70.0, 14.0, 26.0, None)
    assert values(node_samples("db-a", second, rates, 102.0)) == {
        "DatabaseConnections": 5.0,
        "TransactionsPerSecond": 300.0,
        "ReadIOPS": 10.0,
        "WriteIOPS": 5.0,  # (4 blocks + 6 WAL writes) in 2 s
    }
    replica = node_samples("db-r", NodeCounters(0, None, None, None, None, 1.5), rates, 103.0)
    assert values(replica) == {"DatabaseConnections": 0.0, "ReplicaLag": 1.5}


POOL_COLUMNS = [
    "database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
    "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle",
    "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode",
]  # fmt: skip
STAT_COLUMNS = ["database", "total_xact_count", "total_query_count", "total_wait_time"]
DB_COLUMNS = ["name", "database", "paused", "disabled"]


def pools(active: int, waiting: int, servers: int, maxwait_us: int = 0) -> tuple:  # type: ignore[type-arg]
    return POOL_COLUMNS, [
        ("app_database", "dbadmin", active, waiting, 0, 0, servers, 0, 0, 1, 0, 0, 0,
         maxwait_us // 1_000_000, maxwait_us % 1_000_000, "transaction"),
        # The admin console's own pool: never counted.
        ("pgbouncer", "pgbouncer", 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "statement"),
    ]  # fmt: skip


def stats(xacts: int, queries: int, wait_us: int) -> tuple:  # type: ignore[type-arg]
    # The console reports these as numeric: Decimal in psycopg.
    return STAT_COLUMNS, [
        ("app_database", Decimal(xacts), Decimal(queries), Decimal(wait_us)),
        ("pgbouncer", Decimal(99), Decimal(99), Decimal(0)),
    ]


def databases(paused: int = 0) -> tuple:  # type: ignore[type-arg]
    return DB_COLUMNS, [("app_database", "app_database", paused, 0), ("pgbouncer", "x", 0, 0)]


def test_proxy_counts_clients_servers_queries_and_borrow_latency() -> None:
    rates = Rates()
    first = proxy_counters(pools(3, 1, 2), stats(100, 120, 5_000), databases())
    assert (first.clients, first.servers, first.paused) == (4, 3, False)
    assert values(proxy_samples("proxy", first, 20, rates, 10.0)) == {
        "ClientConnections": 4.0,
        "DatabaseConnections": 3.0,
        "MaxDatabaseConnectionsAllowed": 20.0,
        "AvailabilityPercentage": 100.0,
    }
    second = proxy_counters(pools(3, 0, 2), stats(300, 520, 45_000), databases())
    got = values(proxy_samples("proxy", second, 20, rates, 12.0))
    assert got["QueryRequests"] == 200.0  # 400 queries in 2 s
    assert got["DatabaseConnectionsBorrowLatency"] == 200.0  # 40 ms waited over 200 xacts
    # No transaction finished, a client has been waiting 1.5 s: that is the latency.
    stuck = proxy_counters(pools(0, 5, 2, 1_500_000), stats(300, 520, 45_000), databases(1))
    got = values(proxy_samples("proxy", stuck, 20, rates, 13.0))
    assert got["DatabaseConnectionsBorrowLatency"] == 1_500_000.0
    assert got["AvailabilityPercentage"] == 0.0  # paused: holding queries


def test_proxy_state_command_marks_a_global_pause() -> None:
    state = (["key", "value"], [("active", "yes"), ("paused", "yes"), ("suspended", "no")])
    assert proxy_counters(pools(0, 0, 0), stats(0, 0, 0), databases(), state).paused


REDIS_INFO = {
    "role": "master",
    "connected_clients": 9,
    "keyspace_hits": 10,
    "keyspace_misses": 4,
    "evicted_keys": 0,
    "total_net_input_bytes": 1000,
    "total_net_output_bytes": 5000,
}


def test_redis_hits_misses_and_traffic_are_per_second_rates() -> None:
    rates = Rates()
    assert values(redis_samples("r1", REDIS_INFO, rates, 1.0)) == {"CurrConnections": 9.0}
    later = {**REDIS_INFO, "keyspace_hits": 40, "keyspace_misses": 6, "evicted_keys": 2}
    later |= {"total_net_input_bytes": 3000, "total_net_output_bytes": 9000}
    assert values(redis_samples("r1", later, rates, 3.0)) == {
        "CacheHits": 15.0,
        "CacheMisses": 1.0,
        "Evictions": 1.0,
        "NetworkBytesIn": 1000.0,
        "NetworkBytesOut": 2000.0,
        "CurrConnections": 9.0,
    }


@pytest.mark.parametrize(
    ("info", "primary_offset", "primary_rate", "lag"),
    [
        ({"role": "master"}, 500.0, 10.0, None),
        ({"role": "slave", "master_link_status": "up", "slave_repl_offset": 500}, 500.0, 9.0, 0),
        ({"role": "slave", "master_link_status": "up", "slave_repl_offset": 300}, 500.0, 100.0, 2),
        ({"role": "slave", "master_link_status": "up", "slave_repl_offset": 1}, None, None, None),
        (
            {"role": "slave", "master_link_status": "down", "master_link_down_since_seconds": 7},
            None,
            None,
            7.0,
        ),
    ],
)
def test_redis_replication_lag(
    info: dict[str, object], primary_offset: float, primary_rate: float, lag: float | None
) -> None:
    assert replication_lag(info, primary_offset, primary_rate) == lag


def test_cpu_counts_the_whole_process_tree_as_a_share_of_all_cpus() -> None:
    tables = iter(
        [
            {10: ProcStat(1, 100), 11: ProcStat(10, 50), 12: ProcStat(11, 5), 99: ProcStat(1, 7)},
            # Child 12 exited; its time moved into 11's cutime: the sum keeps growing.
            {10: ProcStat(1, 150), 11: ProcStat(10, 105), 99: ProcStat(1, 900)},
        ]
    )
    sampler = CpuSampler(
        lambda: [("db-a", 10), ("gone", 12345), ("off", None)], lambda: next(tables), cpus=2
    )
    assert tree_ticks(10, {10: ProcStat(1, 1), 11: ProcStat(10, 2)}) == 3
    assert sampler.sample(0.0) == []
    hertz = sampler._hertz
    (sample,) = sampler.sample(1.0)
    assert sample.source == "db-a" and sample.metric == "CPUUtilization"
    assert sample.value == pytest.approx(100.0 * 100 / hertz / 2)


def test_collector_has_one_sampler_per_node_and_can_be_turned_off(
    make_cluster: MakeCluster,
) -> None:
    cluster = make_cluster()
    events = EventLog(cluster.state.events_file)
    collector = build_collector(cluster, events)
    assert collector is not None and collector.interval_s == 1.0
    names = {sampler.name for sampler in collector.samplers}
    assert set(cluster.postgres) | set(cluster.redis) | {"app-db-proxy", "cpu"} == names
    collector.stop()
    assert (
        build_collector(make_cluster({"timing": {"metrics_interval_s": 0}}, "off"), events) is None
    )
