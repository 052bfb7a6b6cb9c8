"""The one metric schema: a sample is (time, source, metric, value).

``source`` is a component name from ``rdsbox status --json`` (``app-primary-db-a``,
``app-db-proxy``, ``app-redis-cluster-001`` ...) or ``load`` for the application side (the
load generator, or the simulator's clients). Metric names are CloudWatch's where CloudWatch
has one; the application side adds its own (``RequestLatencyP50`` ...). Timestamps are
seconds since the epoch from an injected clock, so simulated runs share the schema.
"""

from __future__ import annotations

from dataclasses import dataclass

# name -> unit, as CloudWatch states it. The collector and the simulator emit only these.
METRIC_UNITS: dict[str, str] = {
    # RDS (per database node)
    "DatabaseConnections": "Count",
    "ReplicaLag": "Seconds",
    "CPUUtilization": "Percent",
    "ReadIOPS": "Count/Second",
    "WriteIOPS": "Count/Second",
    "ReadLatency": "Seconds",
    "WriteLatency": "Seconds",
    "TransactionsPerSecond": "Count/Second",
    # RDS Proxy (source: the proxy's name; DatabaseConnections as above)
    "ClientConnections": "Count",
    "QueryRequests": "Count",
    "DatabaseConnectionsBorrowLatency": "Microseconds",
    "MaxDatabaseConnectionsAllowed": "Count",
    "AvailabilityPercentage": "Percent",
    # ElastiCache (per cache node)
    "CacheHits": "Count",
    "CacheMisses": "Count",
    "Evictions": "Count",
    "CurrConnections": "Count",
    "NetworkBytesIn": "Bytes",
    "NetworkBytesOut": "Bytes",
    "ReplicationLag": "Seconds",
    # Application side (source: "load")
    "Requests": "Count",
    "Errors": "Count",
    "RequestLatencyP50": "Milliseconds",
    "RequestLatencyP95": "Milliseconds",
    "RequestLatencyP99": "Milliseconds",
    "RequestLatencyMax": "Milliseconds",
    "CacheHitRatio": "Percent",
    "StaleReads": "Count",
    "WriteBehindBacklog": "Count",
}

LOAD_SOURCE = "load"
"""Source name of the application-side series."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One observation of one metric of one source at one time."""

    ts: float
    source: str
    metric: str
    value: float

    @property
    def unit(self) -> str:
        """CloudWatch unit of the metric ("None" for a name outside the schema)."""
        return METRIC_UNITS.get(self.metric, "None")
