"""The load generator on real servers: rate, honest latency, error kinds, metrics, CLI."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from sandbox.metrics.store import MetricsStore
from sandbox.workload.endpoints import Endpoints
from sandbox.workload.loadgen import run_load
from sandbox.workload.spec import LoadSpec
from tests.support import Sandbox, listening

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env(sandbox: Sandbox) -> dict[str, str]:
    return sandbox.env()


def test_the_open_loop_holds_its_rate_and_writes_the_series(
    env: dict[str, str], tmp_path: Path
) -> None:
    spec = LoadSpec(rate=200, duration=3, keys=50, concurrency=4, workers=2, seed=7)
    store = MetricsStore(tmp_path / "metrics.db")
    summary = run_load(spec, env, clock=lambda: 1_000_000.0, store=store, table="users_rate")
    assert summary.errors == 0, summary.errors_by_kind
    assert summary.ops == 600
    assert abs(summary.throughput - 200) <= 10, summary.throughput
    assert summary.reads + summary.writes == 600
    assert 0.8 <= summary.reads / 600 <= 0.97
    assert summary.cache.hits > summary.cache.misses > 0
    assert summary.stale_reads == 0
    samples = store.query(sources=["load"])
    store.close()
    # One set per second, stamped by the injected clock at the end of each second.
    assert {s.ts for s in samples} >= {1_000_001.0, 1_000_002.0, 1_000_003.0}
    assert {s.metric for s in samples} >= {
        "Requests",
        "Errors",
        "RequestLatencyP50",
        "RequestLatencyP95",
        "RequestLatencyP99",
        "RequestLatencyMax",
        "CacheHits",
        "CacheMisses",
        "CacheHitRatio",
        "StaleReads",
    }
    assert sum(s.value for s in samples if s.metric == "Requests") == 600
    assert sum(s.value for s in samples if s.metric == "CacheHits") == summary.cache.hits


def test_latency_counts_a_stall_from_each_requests_intended_start(
    env: dict[str, str], sandbox: Sandbox
) -> None:
    """A 0.6 s lock on the table stalls the two connections; the ~60 requests due during
    the stall wait too, and an open loop must count that wait (a client measuring from
    when it actually sent would report two slow requests and a clean p95)."""
    endpoints = Endpoints.from_env(env)
    table = "users_stall"
    stalled = threading.Event()

    def stall() -> None:
        with endpoints.connect_db("writer") as conn:
            conn.autocommit = False
            conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE".encode())
            threading.Event().wait(0.6)  # the injected delay itself
            conn.commit()
        stalled.set()

    def on_progress(_: str) -> None:
        if not stalled.is_set() and not getattr(on_progress, "started", False):
            on_progress.started = True  # type: ignore[attr-defined]
            threading.Thread(target=stall, daemon=True).start()

    spec = LoadSpec(
        rate=100, duration=3, keys=20, strategy="none", path="writer", concurrency=2, read_ratio=1
    )
    summary = run_load(spec, env, progress=on_progress, table=table)
    assert stalled.is_set()
    assert summary.errors == 0, summary.errors_by_kind
    assert summary.latency_ms.max >= 500, summary.latency_ms
    assert summary.latency_ms.p95 >= 250, summary.latency_ms
    assert summary.latency_ms.p50 < 100, summary.latency_ms
    # Both threads sat in the stalled query (service time) while the requests due behind
    # them waited for a thread (start delay): the latency splits into the two.
    assert summary.start_delay_ms.max >= 250, summary.start_delay_ms
    assert summary.percentiles_ms["service"][100.0] >= 250, summary.percentiles_ms["service"]
    assert summary.start_delay_ms.p50 < 50, summary.start_delay_ms


def test_latency_includes_an_injected_endpoint_latency(
    env: dict[str, str], sandbox: Sandbox
) -> None:
    """`rdsbox fault latency writer --ms 40`: every request through the writer endpoint
    (a read without the cache: one round trip) takes 40 ms more."""
    spec = LoadSpec(rate=40, duration=2, keys=20, strategy="none", path="writer", read_ratio=1)
    sandbox.rdsbox("fault", "latency", "writer", "--ms", "40", "--for", "30", check=True)
    try:
        slowed = run_load(spec, env)
    finally:
        sandbox.rdsbox("fault", "clear", check=True)
    assert slowed.errors == 0, slowed.errors_by_kind
    assert 40 <= slowed.latency_ms.p50 < 100, slowed.latency_ms
    assert run_load(spec, env).latency_ms.p50 < 30


def test_refused_connections_are_counted_by_kind(env: dict[str, str], sandbox: Sandbox) -> None:
    closed = sandbox.port_base + 49
    assert not listening(closed)
    spec = LoadSpec(
        rate=40,
        duration=1,
        keys=10,
        strategy="none",
        path="reader",
        read_ratio=1,
        connections="per-request",
    )
    summary = run_load(spec, {**env, "DB_READER_PORT": str(closed)}, table="users_refused")
    assert summary.ops == 0
    assert summary.errors_by_kind == {"refused": 40}


def _run_cli(sandbox: Sandbox, *args: str) -> Any:
    return sandbox.rdsbox("load", *args, timeout=60)


def test_load_json_prints_the_summary_contract(sandbox: Sandbox) -> None:
    result = _run_cli(
        sandbox, "--duration", "1", "--rate", "50", "--keys", "20", "--strategy", "write-behind",
        "--read-ratio", "0.5", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ops" not in result.stderr  # no progress lines with --json
    summary = json.loads(result.stdout)
    assert set(summary) >= {"ops", "errors", "throughput", "latency_ms", "cache", "errors_by_kind"}
    assert set(summary["latency_ms"]) >= {"p50", "p95", "p99", "max"}
    assert set(summary["cache"]) == {"hits", "misses", "hit_ratio"}
    assert set(summary["start_delay_ms"]) >= {"p50", "p95", "p99", "max", "mean"}
    assert "percentiles_ms" not in summary  # kept for the calibration, not printed
    assert summary["ops"] == 50 and summary["errors"] == 0
    store = MetricsStore(sandbox.state_dir / "metrics.db")
    backlog = store.query(metrics=["WriteBehindBacklog"], sources=["load"])
    store.close()
    assert backlog  # the write-behind backlog is a series


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--rate", "-5"], ["--rate", "greater than 0"]),
        (["--strategy", "write-around"], ["--strategy", "cache-aside"]),
        (["--duration", "soon"], ["--duration", "number"]),
    ],
)
def test_a_bad_load_option_is_one_line(sandbox: Sandbox, args: list[str], words: list[str]) -> None:
    result = _run_cli(sandbox, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr
