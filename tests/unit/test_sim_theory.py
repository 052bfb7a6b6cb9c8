"""The simulator against queueing theory: Erlang C, Little's law, Zipf + TTL hit ratio."""

from __future__ import annotations

import math
import random

import numpy as np

from sandbox.config import config_from_mapping
from sandbox.workload.spec import LoadSpec
from simulator.calibration import Calibration
from simulator.random_streams import zipf_weights
from simulator.runner import Model, simulate

# No network, proxy or connection costs: what remains is the pool and the service times.
_BARE = {
    "network_rtt_ms": 0.0,
    "proxy_overhead_ms": 0.0,
    "proxy_connect_ms": 0.0,
    "db_connect_ms": 0.0,
    "sync_commit_ms": 0.0,
    "redis_op_ms": 0.0,
}


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with offered load a = lambda/mu."""
    top = offered**servers / math.factorial(servers) * servers / (servers - offered)
    bottom = sum(offered**k / math.factorial(k) for k in range(servers)) + top
    return top / bottom


def test_proxy_pool_matches_erlang_c() -> None:
    # Offered load 3.5 on 5 pooled connections (utilisation 0.7), 210k borrows. Across
    # seeds the estimates scatter by about +-1.5% (waiting share) and +-4% (mean wait);
    # the seed is fixed so the test is deterministic.
    servers, service_s, rate = 5, 0.01, 350.0
    config = config_from_mapping(
        {
            "database": {"max_connections": 100, "multi_az": False, "read_replicas": 0},
            "proxy": {"max_connections_percent": 5, "connection_borrow_timeout": 3600},
        }
    )
    calibration = Calibration(
        **_BARE, db_read_ms=service_s * 1000, db_service_distribution="exponential", db_workers=64
    )
    spec = LoadSpec(
        rate=rate, duration=600, read_ratio=1.0, strategy="none", concurrency=10_000, timeout=1e6
    )
    result = simulate(config, [("erlang", spec)], calibration=calibration, seed=7)
    assert result.pool_size == servers
    offered = rate * service_s
    waits = erlang_c(servers, offered)
    mean_wait = waits * service_s / (servers - offered)
    stats = result.proxy_stats
    assert abs(stats["waited_share"] - waits) / waits < 0.05, (stats, waits)
    assert abs(stats["mean_borrow_wait_s"] - mean_wait) / mean_wait < 0.05, (stats, mean_wait)


def test_littles_law_on_the_models_output() -> None:
    # L (time-average requests in the system, sampled at random instants) = lambda * W.
    config = config_from_mapping({"database": {"read_replicas": 0}})
    spec = LoadSpec(rate=2000, duration=60, concurrency=10_000, timeout=1e6)
    model = Model(config, [("little", spec)], Calibration(), seed=3)
    samples: list[int] = []

    def probe(_: object) -> None:
        model.app.slots.drain(model.engine.now)
        samples.append(model.app.slots.used)

    sampler = random.Random(11)
    t = 1.0
    while t < 59.0:  # Poisson sampling instants see time averages (PASTA)
        model.engine.at(t, probe)
        t += sampler.expovariate(200.0)
    result = model.run()
    outcomes = result.outcomes
    inside = (outcomes.t0 >= 1.0) & (outcomes.t0 < 59.0)
    arrival_rate = np.count_nonzero(inside) / 58.0
    mean_time = float(outcomes.latency[inside].mean())
    measured = float(np.mean(samples))
    assert abs(measured - arrival_rate * mean_time) / (arrival_rate * mean_time) < 0.05


def test_hit_ratio_of_zipf_keys_with_a_ttl() -> None:
    # Key k with Poisson rate l_k and a fixed TTL T: one miss per cycle, then l_k*T hits,
    # so its hit ratio is l_k*T / (1 + l_k*T); weight by popularity.
    keys, exponent, rate, ttl = 2000, 1.0, 2000.0, 2.0
    spec = LoadSpec(
        rate=rate,
        duration=100,
        read_ratio=1.0,
        keys=keys,
        zipf=exponent,
        ttl=ttl,
        ttl_jitter=0.0,
        strategy="cache-aside",
        concurrency=10_000,
    )
    calibration = Calibration(**_BARE, db_read_ms=0.001)
    result = simulate(config_from_mapping({}), [("zipf", spec)], calibration=calibration)
    popularity = zipf_weights(keys, exponent)
    per_key = rate * popularity * ttl
    expected = float(np.sum(popularity * per_key / (1.0 + per_key)))
    assert abs(result.summary.cache.hit_ratio - expected) < 0.01, (
        result.summary.cache.hit_ratio,
        expected,
    )


def test_client_distributions_add_their_calibrated_percentiles() -> None:
    # Cache hits only (one key, long TTL, warm after the first request): each request is
    # start delay + one round trip. With the network at 0 and the Redis CPU at 0, latency
    # is exactly the two calibrated distributions summed, so its mean is their means' sum.
    start = {0: 0.0, 50: 1.0, 100: 2.0}  # uniform 0-2 ms: mean 1 ms
    extra = {0: 0.0, 90: 0.0, 100: 10.0}  # 0, or uniform 0-10 ms one time in ten: 0.5 ms
    spec = LoadSpec(rate=2000, duration=50, read_ratio=1.0, keys=1, ttl=3600, concurrency=64)
    config = config_from_mapping({})
    plain = simulate(config, [("hits", spec)], calibration=Calibration(**_BARE), seed=3)
    loaded = simulate(
        config,
        [("hits", spec)],
        calibration=Calibration(
            **_BARE, start_delay_percentiles_ms=start, round_trip_extra_percentiles_ms=extra
        ),
        seed=3,
    )
    assert plain.summary.latency_ms.mean < 0.01
    assert abs(loaded.summary.latency_ms.mean - 1.5) < 0.05, loaded.summary.latency_ms
    # p99 of the sum: the round-trip tail dominates (10% of requests reach 0-10 ms).
    assert 7.0 < loaded.summary.latency_ms.p99 < 11.0, loaded.summary.latency_ms


def test_proxy_opens_server_connections_one_at_a_time() -> None:
    # 1,000 reads/s of 0.1 ms each need a tenth of a connection; a new server connection
    # takes 20 ms. Like PgBouncer, the proxy opens one connection at a time and hands the
    # first to everyone who queued behind it, so the 20 requests arriving while it opens
    # share it (with the one or two opened meanwhile) instead of opening one each; every
    # request is still answered.
    calibration = Calibration(**{**_BARE, "db_connect_ms": 20.0}, db_read_ms=0.1, db_workers=64)
    spec = LoadSpec(rate=1000, duration=5, read_ratio=1.0, strategy="none", concurrency=64)
    result = simulate(config_from_mapping({}), [("burst", spec)], calibration=calibration, seed=5)
    assert result.summary.errors == 0 and result.summary.ops > 4_900, result.summary
    assert max(result.peak_db_connections.values()) <= 3, result.peak_db_connections
