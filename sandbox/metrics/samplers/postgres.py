"""RDS metrics of one PostgreSQL node, from its statistics views.

``DatabaseConnections`` counts client backends except rdsbox's own sessions (health checks,
this sampler); ``TransactionsPerSecond`` is the commit + rollback rate of the application
database; ``ReadIOPS`` is the rate of blocks read from the OS (PostgreSQL 15 has no
``pg_stat_io``; a read may come from the page cache), ``WriteIOPS`` the rate of WAL writes
plus data blocks written. ``ReplicaLag`` is measured on a read replica itself (0 when it
has replayed all it received); the Multi-AZ standby takes no connections, as on RDS, so
the primary reports its lag from ``pg_stat_replication``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from sandbox.metrics.samplers.base import METRICS_APP, Rates, samples_of
from sandbox.metrics.schema import Sample
from sandbox.services.postgres import HEALTH_APP, PostgresInstance

_NODE_SQL = """
SELECT
  (SELECT count(*) FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND application_name <> ALL(%(internal)s)),
  (SELECT (xact_commit + xact_rollback)::float8 FROM pg_stat_database WHERE datname = %(db)s),
  (SELECT sum(blks_read)::float8 FROM pg_stat_database),
  (SELECT (buffers_checkpoint + buffers_clean + buffers_backend)::float8 FROM pg_stat_bgwriter),
  (SELECT wal_write::float8 FROM pg_stat_wal),
  CASE WHEN NOT pg_is_in_recovery() THEN NULL
       WHEN pg_last_wal_receive_lsn() IS NULL
         OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0.0
       ELSE COALESCE(EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, 0.0)
  END
"""

_STANDBY_LAG_SQL = """
SELECT COALESCE(EXTRACT(epoch FROM replay_lag)::float8, 0.0)
FROM pg_stat_replication WHERE application_name = %s
"""


@dataclass(frozen=True)
class NodeCounters:
    """One reading of a node's statistics (counters are totals since the stats reset)."""

    connections: int
    transactions: float | None
    blocks_read: float | None
    blocks_written: float | None
    wal_writes: float | None
    #: Seconds behind the primary; None on a primary.
    replica_lag: float | None


def node_samples(source: str, counters: NodeCounters, rates: Rates, now: float) -> list[Sample]:
    """The node's samples: gauges as read, counters as per-second rates."""

    def rate(key: str, value: float | None) -> float | None:
        return None if value is None else rates.rate(key, value, now)

    reads = rate("blocks_read", counters.blocks_read)
    blocks = rate("blocks_written", counters.blocks_written)
    wal = rate("wal_writes", counters.wal_writes)
    writes = None if blocks is None or wal is None else blocks + wal
    lag = None if counters.replica_lag is None else max(0.0, counters.replica_lag)
    return samples_of(
        source,
        now,
        {
            "DatabaseConnections": float(counters.connections),
            "TransactionsPerSecond": rate("transactions", counters.transactions),
            "ReadIOPS": reads,
            "WriteIOPS": writes,
            "ReplicaLag": lag,
        },
    )


class PostgresSampler:
    """Samples one node over its own connection (never the supervisor's)."""

    def __init__(self, node: PostgresInstance, standby: Callable[[], str | None]) -> None:
        self.node = node
        self.name = node.name
        #: Name of the current Multi-AZ standby (its lag is read on the primary).
        self._standby = standby
        self._rates = Rates()
        self._conn: psycopg.Connection | None = None

    def sample(self, now: float) -> list[Sample]:
        """The node's samples; none while it is down or when it is the standby."""
        role = self.node.role
        if role == "standby":
            self.close()  # not readable, like RDS's standby
            return []
        standby = self._standby() if role == "primary" else None
        try:
            conn = self._connection()
            row = conn.execute(
                _NODE_SQL,
                {"internal": [HEALTH_APP, METRICS_APP], "db": self.node.settings.db_name},
            ).fetchone()
            standby_lag = conn.execute(_STANDBY_LAG_SQL, (standby,)).fetchone() if standby else None
        except psycopg.Error:
            self.close()
            return []
        assert row is not None
        samples = node_samples(self.name, NodeCounters(*row), self._rates, now)
        if standby and standby_lag is not None:
            samples.append(Sample(now, standby, "ReplicaLag", max(0.0, float(standby_lag[0]))))
        return samples

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self.node.connect(
                dbname="postgres", timeout=1.0, application_name=METRICS_APP
            )
        return self._conn

    def close(self) -> None:
        """Close the sampler's connection."""
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
