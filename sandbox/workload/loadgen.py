"""The load generator's core: ``run_load(spec, env) -> LoadSummary``.

Workers are processes (so every core drives load); each reports its stats once a second.
The parent merges them, prints progress, writes the per-second series into the metrics
store (source ``load``, times from the injected clock), runs the write-behind flusher and
samples the replica lag the consistency checker allows on the reader path.

Counting: ``ops`` are successful requests, ``errors`` failed ones (by kind); ``throughput``
is ``ops`` per second of the run; the latency percentiles cover every request, failed ones
included, from its intended start.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import redis

from sandbox.errors import RdsboxError
from sandbox.metrics.schema import LOAD_SOURCE, Sample
from sandbox.metrics.store import MetricsStore, MetricsStoreError
from sandbox.workload.cache import CacheOps
from sandbox.workload.consistency import AckLog, SharedLag
from sandbox.workload.db import TABLE, seed_users
from sandbox.workload.endpoints import Endpoints
from sandbox.workload.recorder import TICK_S, Stats, longest_gap, percentiles, summarize
from sandbox.workload.spec import CacheSummary, LoadSpec, LoadSummary
from sandbox.workload.worker import Worker, WorkerPlan
from sandbox.workload.writebehind import Flusher, WriteBehindQueue, count_lost

_READY_TIMEOUT = 60.0
_DRAIN_TIMEOUT = 10.0
_LAG_SQL = (
    "SELECT COALESCE(max(extract(epoch FROM replay_lag)), 0)::float8 FROM pg_stat_replication"
)


class LoadError(RdsboxError):
    """A load run could not start or its workers failed."""


def _worker_main(
    plan: WorkerPlan, acks: AckLog, lag: SharedLag, start: Any, t0: Any, out: Any
) -> None:
    try:
        worker = Worker(plan, acks, lag)
        worker.prepare()
    except Exception as exc:
        out.put(("failed", plan.index, f"{exc.__class__.__name__}: {exc}"))
        return
    out.put(("ready", plan.index, None))
    start.wait()
    elapsed = 0.0
    try:
        elapsed = worker.run(t0.value, lambda k, stats: out.put(("tick", plan.index, (k, stats))))
    finally:
        out.put(("done", plan.index, elapsed))  # even after a crash: the parent must not wait
        worker.close()


def interval_samples(ts: float, stats: Stats, backlog: int | None) -> list[Sample]:
    """The ``load`` series of one second."""
    latency = stats.latency()
    counts = stats.counts
    lookups = counts["hits"] + counts["misses"]
    values = {
        "Requests": counts["ops"] + counts["errors"],
        "Errors": counts["errors"],
        "RequestLatencyP50": latency.p50,
        "RequestLatencyP95": latency.p95,
        "RequestLatencyP99": latency.p99,
        "RequestLatencyMax": latency.max,
        "CacheHits": counts["hits"],
        "CacheMisses": counts["misses"],
        "StaleReads": counts["stale"],
    }
    if lookups:
        values["CacheHitRatio"] = 100.0 * counts["hits"] / lookups
    if backlog is not None:
        values["WriteBehindBacklog"] = backlog
    return [Sample(ts, LOAD_SOURCE, metric, float(v)) for metric, v in values.items()]


def progress_line(second: int, total: Stats, interval: Stats, backlog: int | None) -> str:
    """One line of live progress."""
    counts, latency = interval.counts, interval.latency()
    lookups = counts["hits"] + counts["misses"]
    line = (
        f"[{second + 1:>4}s] ops {total.counts['ops']:>8}  errors {total.counts['errors']:>6}  "
        f"{counts['ops']:>6}/s  p99 {latency.p99:8.2f} ms"
    )
    if lookups:
        line += f"  hits {100.0 * counts['hits'] / lookups:5.1f}%"
    line += f"  stale {total.counts['stale']}"
    if backlog is not None:
        line += f"  backlog {backlog}"
    return line


class _Run:
    """The parent's side of one run."""

    def __init__(self, spec: LoadSpec, endpoints: Endpoints, table: str) -> None:
        self.spec = spec
        self.endpoints = endpoints
        self.table = table
        self.flusher: Flusher | None = None
        self.queue: WriteBehindQueue | None = None
        self.lag_conn: psycopg.Connection | None = None
        self.stop = threading.Event()
        self.lost = 0

    def setup(self, lag: SharedLag) -> None:
        spec, endpoints = self.spec, self.endpoints
        write_path = endpoints.write_path(spec.path)
        with endpoints.connect_db(write_path, spec.timeout) as conn:
            seed_users(conn, spec.keys, self.table)
        if spec.strategy == "write-behind":
            self.queue = WriteBehindQueue(
                CacheOps(endpoints.connect_cache(spec.timeout), self.table)
            )
            self.flusher = Flusher(
                self.queue,
                lambda: endpoints.connect_db(write_path, spec.timeout),
                int(spec.ttl * 1000),
                table=self.table,
            )
        if spec.path == "reader":
            self.lag_conn = endpoints.connect_db("writer", spec.timeout)
            self.sample_lag(lag)

    def start_flusher(self) -> None:
        if self.flusher is not None:
            flusher = self.flusher
            threading.Thread(target=flusher.run, args=(self.stop,), daemon=True).start()

    def backlog(self) -> int | None:
        if self.queue is None:
            return None
        try:
            return self.queue.backlog()
        except Exception:
            return None

    def _count_lost(self, acks: AckLog) -> int:
        """Acknowledged updates the database never got (0 when it cannot be asked)."""
        spec, endpoints = self.spec, self.endpoints
        try:
            with endpoints.connect_db(endpoints.write_path(spec.path), spec.timeout) as conn:
                return count_lost(conn, acks.latest(), self.table)
        except psycopg.Error:
            return 0

    def sample_lag(self, lag: SharedLag) -> None:
        if self.lag_conn is None:
            return
        with contextlib.suppress(psycopg.Error):
            row = self.lag_conn.execute(_LAG_SQL).fetchone()
            lag.observe(float(row[0]) if row else 0.0)

    def finish(self, acks: AckLog | None = None) -> None:
        self.stop.set()
        if self.flusher is not None:
            with contextlib.suppress(Exception):
                self.flusher.drain(_DRAIN_TIMEOUT)
            self.flusher.close()
            if acks is not None:
                self.lost = self._count_lost(acks)
        if self.lag_conn is not None:
            self.lag_conn.close()


def run_load(
    spec: LoadSpec,
    env: Mapping[str, str],
    *,
    clock: Callable[[], float] = time.time,
    store: MetricsStore | None = None,
    progress: Callable[[str], None] | None = None,
    table: str = TABLE,
) -> LoadSummary:
    """Drive ``spec`` against the endpoints in ``env`` (`rdsbox env --json`); the summary."""
    endpoints = Endpoints.from_env(env)
    ctx = multiprocessing.get_context("fork")
    acks, lag = AckLog(spec.keys, ctx), SharedLag(ctx)
    run = _Run(spec, endpoints, table)
    try:
        run.setup(lag)
    except (psycopg.Error, redis.RedisError) as exc:
        run.finish()
        raise LoadError(f"cannot prepare the load run: {exc}".splitlines()[0]) from exc
    start, t0, out = ctx.Event(), ctx.RawValue("d", 0.0), ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker_main,
            args=(WorkerPlan(spec, endpoints, w, table), acks, lag, start, t0, out),
            daemon=True,
        )
        for w in range(spec.workers)
    ]
    for proc in procs:
        proc.start()
    try:
        _await_ready(out, spec.workers)
        clock_start = clock()
        t0.value = time.monotonic() + 0.05
        start.set()
        run.start_flusher()
        total, elapsed = _collect(spec, run, out, lag, clock_start, store, progress)
    finally:
        run.finish(acks)
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
    counts = total.counts
    lookups = counts["hits"] + counts["misses"]
    gap, _ = longest_gap((t * TICK_S for t in total.write_ok), 0.0, elapsed)
    return LoadSummary(
        ops=counts["ops"],
        errors=counts["errors"],
        throughput=counts["ops"] / elapsed if elapsed > 0 else 0.0,
        latency_ms=total.latency(),
        cache=CacheSummary(
            hits=counts["hits"],
            misses=counts["misses"],
            hit_ratio=counts["hits"] / lookups if lookups else 0.0,
        ),
        errors_by_kind={k: v for k, v in total.errors_by_kind.items() if v},
        duration_s=elapsed,
        reads=counts["reads"],
        writes=counts["writes"],
        stale_reads=counts["stale"],
        started_at=clock_start,
        longest_write_gap_s=gap if counts["writes"] else 0.0,
        lost_writes=run.lost,
        start_delay_ms=summarize(total.start_delay),
        percentiles_ms={
            "latency": percentiles(total.histogram),
            "start_delay": percentiles(total.start_delay),
            "service": percentiles(total.service),
        },
        write_ok_ticks=sorted(total.write_ok),
    )


def _await_ready(out: Any, workers: int) -> None:
    ready = 0
    deadline = time.monotonic() + _READY_TIMEOUT
    while ready < workers:
        try:
            kind, index, detail = out.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty as exc:
            raise LoadError(f"load workers did not start within {_READY_TIMEOUT:g} s") from exc
        if kind == "failed":
            raise LoadError(f"load worker {index} could not connect: {detail}")
        ready += kind == "ready"


def _collect(
    spec: LoadSpec,
    run: _Run,
    out: Any,
    lag: SharedLag,
    clock_start: float,
    store: MetricsStore | None,
    progress: Callable[[str], None] | None,
) -> tuple[Stats, float]:
    """Merge the workers' ticks until all are done; emit each complete second."""
    total = Stats()
    pending: dict[int, list[Stats]] = defaultdict(list)
    emitted, done, elapsed = 0, 0, 0.0
    deadline = time.monotonic() + spec.duration + spec.timeout + 30

    writable = [store]  # emptied when the store fails: the load goes on without series

    def emit(second: int) -> None:
        interval = Stats()
        for stats in pending.pop(second, []):
            interval.add(stats)
        total.add(interval)
        backlog = run.backlog()
        if writable and writable[0] is not None:
            try:
                writable[0].write(interval_samples(clock_start + second + 1, interval, backlog))
            except MetricsStoreError as exc:  # a full disk must not end the run
                writable.clear()
                if progress is not None:
                    progress(f"metrics paused for the rest of this run: {exc}")
        if progress is not None:
            progress(progress_line(second, total, interval, backlog))
        run.sample_lag(lag)

    # The last second each worker reported; a second is complete once every worker still
    # running has reported it.
    last = dict.fromkeys(range(spec.workers), -1)
    while done < spec.workers:
        try:
            kind, index, detail = out.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty as exc:
            raise LoadError("load workers stopped reporting") from exc
        if kind == "tick":
            second, wire = detail
            pending[second].append(Stats.from_wire(wire))
            last[index] = second
        elif kind == "done":
            done += 1
            elapsed = max(elapsed, float(detail))
            del last[index]
        while pending and all(s >= emitted for s in last.values()):
            emit(emitted)
            emitted += 1
    for second in sorted(pending):
        emit(second)
    return total, elapsed
