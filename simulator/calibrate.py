"""`rdsbox sim calibrate`: measure the model's figures in a running sandbox.

Each figure is the trimmed mean (slowest 5% dropped: a loaded laptop's scheduler
stalls are not service time) of ``samples`` sequential round trips on one connection:

- ``network_rtt_ms``: Redis PING (the cheapest round trip there is);
- ``redis_op_ms``: GET/SET minus the round trip;
- ``db_read_ms`` / ``db_write_ms``: primary-key SELECT / UPDATE (autocommit) on the writer
  endpoint minus the round trip, the write with ``synchronous_commit = local``;
  ``sync_commit_ms``: the same write with the synchronous standby, minus that;
  ``db_service_cv``: the spread of the reads;
- ``proxy_overhead_ms``: a read through the proxy minus the same read direct;
- ``db_connect_ms`` / ``proxy_connect_ms``: a new connection (TCP, SCRAM, backend start)
  direct / through the proxy, closed again;
- ``retries``: 0, the reference application's (it gives a failed request up; the next
  request reconnects);
- ``start_delay_percentiles_ms`` / ``round_trip_extra_percentiles_ms`` (with ``load_rate``):
  a short open-loop run of the real load generator (reads by primary key, no cache, 32
  threads) gives how late requests start and how long each round trip takes under load;
  the extra is that minus the quiet read above (the client's share of a loaded laptop:
  thread wake-ups, the GIL, CPU shared with the servers);
- with ``failover``: one ``db-failover``, timed to the first commit through the proxy and
  the writer endpoint (:mod:`simulator.downtime`); ``promote_s`` is what the proxy path
  took beyond the timing profile's ``promotion_delay_s + proxy_detection_s``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import yaml

from sandbox.config import TimingProfile
from sandbox.workload.db import seed_users
from sandbox.workload.endpoints import Endpoints
from sandbox.workload.loadgen import run_load
from sandbox.workload.spec import LoadSpec
from sandbox.workload.spec import Path as DbPath
from simulator.calibration import Calibration
from simulator.downtime import WriteProbe

_KEYS = 100
_READ = b"SELECT name FROM users WHERE id = %s"
_WRITE = b"UPDATE users SET updated_at = now() WHERE id = %s"
Progress = Callable[[str], None]


def trimmed_mean(values: list[float], drop: float = 0.05) -> float:
    """Mean without the slowest ``drop`` share (at least one value kept)."""
    ordered = sorted(values)
    kept = ordered[: max(1, len(ordered) - int(len(ordered) * drop))]
    return statistics.fmean(kept)


def _timed(action: Callable[[int], object], samples: int) -> list[float]:
    """Milliseconds of ``samples`` calls of ``action(i)``, one after another."""
    times = []
    for index in range(samples):
        began = time.perf_counter()
        action(index)
        times.append((time.perf_counter() - began) * 1000.0)
    return times


def measure(
    endpoints: Endpoints,
    samples: int = 200,
    progress: Progress | None = None,
) -> dict[str, float]:
    """Round-trip and connection figures (trimmed means, ms) of the sandbox's endpoints."""
    say = progress or (lambda _line: None)
    figures: dict[str, float] = {}
    cache = endpoints.connect_cache(timeout=5.0)
    try:
        say("redis round trips")
        figures["redis_ping"] = trimmed_mean(_timed(lambda _i: cache.ping(), samples))
        figures["redis_set"] = trimmed_mean(
            _timed(lambda i: cache.set(f"rdsbox:calibrate:{i % _KEYS}", "x" * 64), samples)
        )
        figures["redis_get"] = trimmed_mean(
            _timed(lambda i: cache.get(f"rdsbox:calibrate:{i % _KEYS}"), samples)
        )
    finally:
        cache.close()
    with endpoints.connect_db("writer") as conn:
        seed_users(conn, _KEYS)
    paths: tuple[DbPath, ...] = ("writer", "proxy")
    for path in paths:
        say(f"database round trips ({path})")
        with endpoints.connect_db(path) as conn:
            figures.update(_db_figures(conn, path, samples))
        say(f"new connections ({path})")
        figures[f"{path}_connect"] = trimmed_mean(
            _timed(partial(_connect, endpoints, path), max(5, samples // 20))
        )
    return figures


def _connect(endpoints: Endpoints, path: DbPath, _index: int) -> None:
    """Open and close one connection."""
    endpoints.connect_db(path).close()


def _db_figures(conn: psycopg.Connection, path: str, samples: int) -> dict[str, float]:
    """Reads and writes on one connection (the writer's also with a local-only commit)."""

    def read(i: int) -> object:
        return conn.execute(_READ, (1 + i % _KEYS,))

    def write(i: int) -> object:
        return conn.execute(_WRITE, (1 + i % _KEYS,))

    reads = sorted(_timed(read, samples))
    kept = reads[: max(2, len(reads) - len(reads) // 20)]  # as trimmed_mean
    mean = statistics.fmean(kept)
    figures = {
        f"{path}_read": mean,
        f"{path}_read_cv": statistics.pstdev(kept) / max(1e-9, mean),
        f"{path}_write": trimmed_mean(_timed(write, samples)),
    }
    if path == "writer":
        # Without waiting for the synchronous standby: the difference is its commit cost.
        conn.execute(b"SET synchronous_commit = local")
        figures["writer_write_local"] = trimmed_mean(_timed(write, samples))
    return figures


def measure_client(
    env: Mapping[str, str], rate: float, seconds: float, figures: dict[str, float]
) -> dict[str, dict[float, float]]:
    """Client distributions under an open-loop load of ``rate`` reads/s for ``seconds``
    (needs ``figures`` from :func:`measure`): percentile -> ms of the start delay and of
    each round trip's time beyond the quiet read."""
    path: DbPath = "proxy" if "proxy_read" in figures else "writer"
    spec = LoadSpec(
        rate=rate,
        duration=seconds,
        read_ratio=1.0,
        keys=_KEYS,
        strategy="none",
        path=path,
        concurrency=32,
        timeout=5.0,
    )
    measured = run_load(spec, env).percentiles_ms
    quiet = figures[f"{path}_read"]
    return {
        "start_delay_percentiles_ms": measured["start_delay"],
        "round_trip_extra_percentiles_ms": {
            p: max(0.0, ms - quiet) for p, ms in measured["service"].items()
        },
    }


def calibration_from(
    figures: dict[str, float],
    downtime_s: dict[str, float | None] | None = None,
    timing: TimingProfile | None = None,
    source: str = "",
    client: Mapping[str, dict[float, float]] | None = None,
    crash: bool = False,
) -> Calibration:
    """The calibration the measured ``figures`` (see :func:`measure`) and ``client``
    distributions (see :func:`measure_client`) imply."""
    rtt = figures["redis_ping"]
    values: dict[str, Any] = {
        "source": source or f"rdsbox sim calibrate, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "network_rtt_ms": rtt,
        "redis_op_ms": max(0.0, (figures["redis_get"] + figures["redis_set"]) / 2 - rtt),
        "db_read_ms": max(0.01, figures["writer_read"] - rtt),
        "db_service_cv": min(10.0, figures["writer_read_cv"]),
        "db_write_ms": max(0.01, figures["writer_write_local"] - rtt),
        "sync_commit_ms": max(0.0, figures["writer_write"] - figures["writer_write_local"]),
        "proxy_overhead_ms": max(0.0, figures["proxy_read"] - figures["writer_read"]),
        "db_connect_ms": figures["writer_connect"],
        "proxy_connect_ms": figures["proxy_connect"],
        # The sandbox's clients are rdsbox's reference application, which does not retry
        # a failed request (its next request reconnects): model the same clients.
        "retries": 0,
    }
    for name, distribution in (client or {}).items():
        if len(distribution) >= 2:
            values[name] = {p: round(ms, 4) for p, ms in distribution.items()}
    proxy_downtime = (downtime_s or {}).get("proxy")
    if proxy_downtime is not None and timing is not None:
        # A planned failover has no detection delay (simulator.failures), a crash has
        # crash_detection_s: the rest of the proxy path's downtime is the promotion work.
        fixed = timing.promotion_delay_s + timing.proxy_detection_s
        if crash:
            fixed += timing.crash_detection_s
        values["promote_s"] = max(0.0, proxy_downtime - fixed)
    return Calibration.model_validate({k: _round(v) for k, v in values.items()})


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def measure_failover(
    endpoints: Endpoints, fault: Callable[[], object], limit_s: float = 120.0
) -> dict[str, float | None]:
    """Apply ``fault`` (a db-failover) with a write probe on the proxy and on the writer
    endpoint; the seconds each took to commit again."""
    paths: tuple[DbPath, ...] = (
        ("proxy", "writer") if "proxy" in endpoints.db_hosts else ("writer",)
    )
    probes = {path: WriteProbe(endpoints, path, limit_s) for path in paths}
    for probe in probes.values():
        probe.start()
    try:
        fault()
    finally:
        for probe in probes.values():
            probe.fault_done()
    return {path: probe.result() for path, probe in probes.items()}


def write_calibration(calibration: Calibration, path: Path) -> None:
    """Store ``calibration`` as YAML (the format :func:`load_calibration` reads)."""
    data = calibration.model_dump(exclude_defaults=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
