"""RDS Proxy metrics of the PgBouncer standing in for it, from its admin console.

``ClientConnections`` and ``DatabaseConnections`` are the client and server connections of
``SHOW POOLS``; ``QueryRequests`` is the per-second rate of ``SHOW STATS``'s
``total_query_count``; ``DatabaseConnectionsBorrowLatency`` is the mean time a transaction
waited for a server connection over the last interval (``total_wait_time`` /
``total_xact_count``), or the longest current wait when no transaction finished;
``MaxDatabaseConnectionsAllowed`` is the pool size; ``AvailabilityPercentage`` is 100 while
the console answers, the proxy's target (the writer) is running and the proxy is not paused
(it holds queries during a failover: ``SHOW STATE`` where PgBouncer has it, 1.21+, and the
per-database ``paused``/``disabled`` flags), else 0. The admin console's own
pseudo-database ``pgbouncer`` is left out everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg

from sandbox.metrics.samplers.base import Rates, samples_of
from sandbox.metrics.schema import Sample
from sandbox.services.pgbouncer import PgBouncer, console_query

Table = tuple[Sequence[str], Sequence[tuple[object, ...]]]
"""A console answer: column names and rows."""

_ADMIN_DB = "pgbouncer"
_CLIENT_COLUMNS = ("cl_active", "cl_waiting", "cl_active_cancel_req", "cl_waiting_cancel_req")
_SERVER_COLUMNS = (
    "sv_active",
    "sv_active_cancel",
    "sv_being_canceled",
    "sv_idle",
    "sv_used",
    "sv_tested",
    "sv_login",
)


@dataclass(frozen=True)
class ProxyCounters:
    """One reading of the proxy's console."""

    clients: int
    servers: int
    queries: float
    transactions: float
    wait_us: float
    #: Longest wait of a client waiting right now, in microseconds.
    max_wait_us: float
    paused: bool


def _records(table: Table) -> list[dict[str, object]]:
    columns, rows = table
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    return [r for r in records if r.get("database") != _ADMIN_DB]


def _number(record: dict[str, object], column: str) -> float:
    # The console's counters arrive as int, Decimal (numeric) or text, depending on type.
    value = record.get(column)
    if value is None or value == "":
        return 0.0
    return float(str(value))


def proxy_counters(
    pools: Table, stats: Table, databases: Table, state: Table | None = None
) -> ProxyCounters:
    """Sum ``SHOW POOLS`` and ``SHOW STATS`` over the pools; ``SHOW DATABASES`` and
    ``SHOW STATE`` (None where PgBouncer lacks it) say whether the proxy is paused."""
    pool_rows, stat_rows = _records(pools), _records(stats)
    held = any(_number(r, "paused") or _number(r, "disabled") for r in _records(databases))

    def total(records: list[dict[str, object]], columns: Sequence[str]) -> float:
        return sum(_number(r, c) for r in records for c in columns)

    max_wait = max(
        (_number(r, "maxwait") * 1e6 + _number(r, "maxwait_us") for r in pool_rows), default=0.0
    )
    flags = {str(key): str(value) for key, value, *_ in state[1]} if state else {}
    return ProxyCounters(
        clients=int(total(pool_rows, _CLIENT_COLUMNS)),
        servers=int(total(pool_rows, _SERVER_COLUMNS)),
        queries=total(stat_rows, ("total_query_count",)),
        transactions=total(stat_rows, ("total_xact_count",)),
        wait_us=total(stat_rows, ("total_wait_time",)),
        max_wait_us=max_wait,
        paused=held or flags.get("paused") == "yes" or flags.get("suspended") == "yes",
    )


def proxy_samples(
    source: str, counters: ProxyCounters, pool_size: int, rates: Rates, now: float
) -> list[Sample]:
    """The proxy's samples: gauges as read, counters as per-second rates."""
    queries = rates.rate("queries", counters.queries, now)
    transactions = rates.rate("transactions", counters.transactions, now)
    waited = rates.rate("wait_us", counters.wait_us, now)
    borrow: float | None = None
    if transactions is not None and waited is not None:
        borrow = waited / transactions if transactions > 0 else counters.max_wait_us
    return samples_of(
        source,
        now,
        {
            "ClientConnections": float(counters.clients),
            "DatabaseConnections": float(counters.servers),
            "QueryRequests": queries,
            "DatabaseConnectionsBorrowLatency": borrow,
            "MaxDatabaseConnectionsAllowed": float(pool_size),
            "AvailabilityPercentage": 0.0 if counters.paused else 100.0,
        },
    )


class ProxySampler:
    """Samples the proxy over its own console connection (never the supervisor's)."""

    def __init__(self, proxy: PgBouncer, target_up: Callable[[], bool]) -> None:
        self.proxy = proxy
        self.name = proxy.name
        #: Whether the database server the proxy forwards to is running.
        self._target_up = target_up
        self._rates = Rates()
        self._console: psycopg.Connection | None = None
        #: Whether this PgBouncer knows SHOW STATE (1.21+); learnt at the first try.
        self._has_state = True

    def sample(self, now: float) -> list[Sample]:
        """The proxy's samples; only AvailabilityPercentage 0 while it does not answer."""
        try:
            if self._console is None or self._console.closed:
                self._console = self.proxy.open_console(timeout=1.0)
            commands = ("SHOW POOLS", "SHOW STATS", "SHOW DATABASES")
            pools, stats, databases = (console_query(self._console, c) for c in commands)
            state = self._state(self._console)
        except psycopg.Error:
            self.close()
            return [Sample(now, self.name, "AvailabilityPercentage", 0.0)]
        counters = proxy_counters(pools, stats, databases, state)
        samples = proxy_samples(self.name, counters, self.proxy.pool.pool_size, self._rates, now)
        if not self._target_up():
            samples = [s for s in samples if s.metric != "AvailabilityPercentage"]
            samples.append(Sample(now, self.name, "AvailabilityPercentage", 0.0))
        return samples

    def _state(self, console: psycopg.Connection) -> Table | None:
        if not self._has_state:
            return None
        try:
            return console_query(console, "SHOW STATE")
        except psycopg.Error as exc:
            if "invalid command" not in str(exc):
                raise
            self._has_state = False
            return None

    def close(self) -> None:
        """Close the sampler's console connection."""
        if self._console is not None:
            with contextlib.suppress(psycopg.Error):
                self._console.close()
            self._console = None
