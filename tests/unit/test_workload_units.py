"""The load generator's pieces that need no server: key popularity, error kinds, cache
entries, histogram merging, option parsing and the acknowledged-write log."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import psycopg
import pytest
import redis

from sandbox.cli.load import parse_spec
from sandbox.errors import ConfigError
from sandbox.workload.cache import decode, encode
from sandbox.workload.consistency import AckLog, SharedLag, StalenessChecker
from sandbox.workload.db import User
from sandbox.workload.errors import classify
from sandbox.workload.recorder import Recorder, Stats
from sandbox.workload.worker import ZipfKeys


def test_zipf_keys_favour_low_ranks_and_zero_is_uniform() -> None:
    rng = random.Random(1)
    skewed = ZipfKeys(100, 1.1)
    draws = [skewed.draw(rng) for _ in range(20_000)]
    assert min(draws) == 1 and max(draws) <= 100
    assert draws.count(1) > 10 * draws.count(50)
    uniform = ZipfKeys(10, 0.0)
    counts = [0] * 11
    for _ in range(10_000):
        counts[uniform.draw(rng)] += 1
    assert all(800 < c < 1200 for c in counts[1:])


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (psycopg.OperationalError('connection to server at "127.0.0.1", port 1 failed: '
                                  "Connection refused"), "refused"),
        (psycopg.OperationalError("FATAL: sorry, too many clients already"), "refused"),
        (psycopg.OperationalError("server closed the connection unexpectedly"), "reset"),
        (psycopg.OperationalError('FATAL:  password authentication failed for user "x"'), "auth"),
        (psycopg.OperationalError("ERROR: query_wait_timeout"), "timeout"),
        (psycopg.errors.UniqueViolation("duplicate key"), "sql"),
        (redis.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."),
         "refused"),
        (redis.ConnectionError("Connection reset by peer"), "reset"),
        (redis.TimeoutError("Timeout reading from socket"), "timeout"),
        (redis.AuthenticationError("invalid password"), "auth"),
        (redis.ResponseError("WRONGTYPE"), "sql"),
        (ValueError("boom"), "other"),
    ],
)  # fmt: skip
def test_errors_are_classified(exc: BaseException, kind: str) -> None:
    assert classify(exc) == kind


def test_cache_entries_round_trip_and_tombstones_have_no_row() -> None:
    user = User(
        7, "Ada", "ada@example.com", datetime(2024, 1, 2, tzinfo=UTC), 1_700_000_000_123_456
    )
    entry = decode(encode(user.version, user.as_json(), 99, 3))
    assert entry.user == user
    assert (entry.version, entry.expires_at_ms, entry.delta_ms) == (user.version, 99, 3)
    tombstone = decode(encode(5, None, 0, 0))
    assert tombstone.user is None and tombstone.version == 5


def test_interval_stats_merge_across_the_wire() -> None:
    merged = Stats()
    for latency in (0.001, 0.002):
        recorder = Recorder()
        for _ in range(99):
            recorder.record(latency, read=True, hit=True)
        recorder.record(0.5, read=False, error="timeout")
        merged.add(Stats.from_wire(recorder.take_interval().to_wire()))
    assert merged.counts["ops"] == 198 and merged.counts["errors"] == 2
    assert merged.counts["hits"] == 198 and merged.counts["writes"] == 2
    assert merged.errors_by_kind["timeout"] == 2
    latency = merged.latency()
    assert 0.99 <= latency.p50 <= 2.01
    assert 499 <= latency.max <= 501


def test_load_options_are_checked_with_one_line_errors() -> None:
    spec = parse_spec({"rate": "50", "strategy": "write-behind", "path": "reader"})
    assert (spec.rate, spec.strategy, spec.path) == (50.0, "write-behind", "reader")
    with pytest.raises(ConfigError, match=r"^--read-ratio '2': .*less than or equal to 1"):
        parse_spec({"read_ratio": "2"})
    with pytest.raises(ConfigError, match=r"^--connections 'lambda'"):
        parse_spec({"connections": "lambda"})


def test_a_read_is_stale_only_past_the_allowance() -> None:
    acks, lag = AckLog(10), SharedLag()
    acks.record(3, version=100, acked_at=10.0)
    acks.record(3, version=90, acked_at=9.0)  # an older write acknowledged late is kept second
    strict = StalenessChecker(acks)
    assert strict.check(3, 100, started_at=11.0) is False
    assert strict.check(3, 90, started_at=11.0) is True
    assert strict.check(3, 90, started_at=9.5) is False  # the newer write came after
    assert strict.check(3, None, started_at=11.0) is False
    lagging = StalenessChecker(acks, lag)
    lag.observe(2.0)
    assert lagging.check(3, 90, started_at=11.0) is False  # within the replica's lag
    assert lagging.check(3, 90, started_at=12.5) is True
    assert strict.stale == 1 and lagging.stale == 1
